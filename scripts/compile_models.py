#!/usr/bin/env python3
"""Compiles an ldmrecon export folder's models with torch.export + AOTInductor into packages ldmrecon's
PyTorch 2 build loads from C++ (no Python at run time). Driven by `ldmrecon compile`; runs under the
PyTorch 2 environment (scripts/python_env.sh torch), whose torch must be the libtorch ldmrecon was built
against: packages are tied to one torch version, device kind, dtype and CPU instruction set.

  compile_models.py MODELS_DIR OUT_DIR --device cpu|cuda --dtype fp32|bf16|fp16 --vae-id HEX --vocoder-id HEX
                    [--window-frames 1024] [--expect-torch 2.15.0]

Writes OUT_DIR/{encode,decode,vocoder}.pt2 and OUT_DIR/manifest.json. Each stage takes any batch size up
to 1024 and any length ldmrecon's windows use (VAE frames a multiple of its time multiple, up to 16384).
Beside them, OUT_DIR/{stage}-window.pt2: the same stage for exactly one full window (batch 1, --window-frames),
where static shapes let Inductor specialise its loops. Every package is then timed against the TorchScript
export on one full window, in interleaved rounds, and the manifest keeps, per stage, a package only where
it measured reliably faster here (medians further apart than the timings' own spread; "too_noisy" names
the stages where they were not, which keep TorchScript): "use" says compiled or TorchScript for any
shape, "window" names the stages whose full-window package reliably beats both
(the others' window packages are deleted, unless LDMRECON_KEEP_WINDOW_PACKAGES=1: the tests hold every
package to TorchScript, whichever measured faster).
"""
import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ldmrecon_models import AutoencoderKL, SpeechT5HifiGan  # noqa: E402

METADATA = "ldmrecon.json"
MAX_FRAMES, MAX_BATCH = 16384, 1024  # include/ldmrecon/limits.hpp: kMaxWindowFrames, kMaxBatchSize


def load(path: Path, cls):
    extra = {METADATA: ""}
    ts = torch.jit.load(str(path), _extra_files=extra)
    meta = json.loads(extra[METADATA])
    m = cls(meta["config"]).eval()
    m.load_state_dict(ts.state_dict(), strict=True)
    return m, meta


class Stage(torch.nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


def interleaved_seconds(runners: dict, x, rounds: int = 7) -> dict:
    """Each runner's call times on x, taken in turn (a round times every runner once, in a rotating order),
    so that a machine growing busier mid-way slows them all alike instead of the one timed last."""
    names = list(runners)
    for fn in runners.values():
        fn(x)  # warm-up (and the profiling executor's first runs)
        fn(x)
    times = {n: [] for n in names}
    for r in range(rounds):
        for n in names[r % len(names):] + names[:r % len(names)]:
            t0 = time.perf_counter()
            runners[n](x)
            times[n].append(time.perf_counter() - t0)
    return times


def median(v) -> float:
    v = sorted(v)
    return v[len(v) // 2] if len(v) % 2 else 0.5 * (v[len(v) // 2 - 1] + v[len(v) // 2])


def spread(v) -> float:
    """The interquartile range: how far apart the middle half of the timings lie."""
    v = sorted(v)
    return v[(3 * len(v)) // 4] - v[len(v) // 4]


def faster(a, b) -> str:
    """"a" when the timings a are reliably faster than b, "b" when b are, None when the two medians are
    closer than either set's own spread: too noisy to choose."""
    ma, mb = median(a), median(b)
    if abs(ma - mb) <= max(spread(a), spread(b)):
        return None
    return "a" if ma < mb else "b"


def cpu_isa() -> str:
    # What Inductor vectorises for: a package made for AVX-512 must not run where only AVX2 is.
    return torch.backends.cpu.get_cpu_capability().lower()


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--dtype", choices=["fp32", "bf16", "fp16"], default="fp32")
    ap.add_argument("--vae-id", required=True)
    ap.add_argument("--vocoder-id", required=True)
    ap.add_argument("--window-frames", type=int, default=1024, help="frames of the window the window packages take")
    ap.add_argument("--expect-torch", help="refuse unless torch.__version__ starts with this")
    return ap.parse_args()


def stage_specs(vae, voc, vmeta, cmeta, window: int):
    """Per stage: the module, an example input of any shape, its dynamic dimensions, and one full window's shape."""
    mult = int(vmeta["time_multiple"])
    n_mels = int(cmeta["config"]["model_in_dim"])
    lat = int(vmeta["config"]["latent_channels"])
    if window % mult:
        raise SystemExit(f"compile_models.py: --window-frames {window} is not a multiple of the VAE's {mult}")
    batch = torch.export.Dim("batch", min=1, max=MAX_BATCH)
    steps = torch.export.Dim("steps", min=1, max=MAX_FRAMES // mult)  # latent frames; VAE frames = mult x
    frames = torch.export.Dim("frames", min=2, max=MAX_FRAMES)
    return {
        "encode": (Stage(vae.encode), (2, 1, 8 * mult, n_mels), {0: batch, 2: mult * steps}, (1, 1, window, n_mels)),
        "decode": (Stage(vae.decode), (2, lat, 8, n_mels // mult), {0: batch, 2: steps},
                   (1, lat, window // mult, n_mels // mult)),
        "vocoder": (Stage(voc), (2, 8 * mult, n_mels), {0: batch, 1: frames}, (1, window, n_mels)),
    }


def compile_package(module, example, dims, path: Path, device: str) -> float:
    """Exports and AOT-compiles one stage into `path`; returns the seconds it took."""
    t0 = time.time()
    ep = torch.export.export(module, (example,), dynamic_shapes={"x": dims} if dims else None)
    # Freezing folds the weights in as constants, so oneDNN's convolutions take them pre-packed: measured
    # on AudioLDM2's encoder (2 CPU threads) 957 ms against 1079-1250 ms without.
    configs = {"freezing": True} if device == "cpu" else {}
    torch._inductor.aoti_compile_and_package(ep, package_path=str(path), inductor_configs=configs)
    return round(time.time() - t0, 1)


def choose(manifest: dict, specs: dict, models: Path, out: Path, device, dtype) -> None:
    """Times, on one full window, each stage's TorchScript export, its any-shape package and its window
    package, and records in the manifest which to use. Compiled kernels win where fusion pays, lose where
    libtorch's own kernels (oneDNN's transposed convolutions, say) beat generated code; static shapes paid
    about 11 % on AudioLDM2's encoder and decoder and nothing on its vocoder (2 CPU threads)."""
    ts_vae, ts_voc = (torch.jit.load(str(models / f), map_location=device).to(dtype).eval()
                      for f in ("vae.pt", "vocoder.pt"))
    ts = {"encode": lambda x: ts_vae.encode(x), "decode": lambda x: ts_vae.decode(x), "vocoder": ts_voc}
    manifest["use"], manifest["window_ms"] = {}, {}
    manifest["window"] = {"frames": manifest["window_frames"], "batch": 1, "stages": []}
    manifest["too_noisy"] = []
    for name, (_, _, _, window_shape) in specs.items():
        x = (torch.randn(*window_shape) * 2 - 5).to(device, dtype)
        times = interleaved_seconds({"compiled": torch._inductor.aoti_load_package(str(out / f"{name}.pt2")),
                                     "window": torch._inductor.aoti_load_package(str(out / f"{name}-window.pt2")),
                                     "torchscript": ts[name]}, x)
        ms = {k: median(v) for k, v in times.items()}
        manifest["window_ms"][name] = {k: round(1e3 * v, 2) for k, v in ms.items()}
        manifest["window_ms"][name]["spread"] = {k: round(1e3 * spread(v), 2) for k, v in times.items()}
        # A package replaces TorchScript only when reliably faster: when the timings cannot tell (a busy
        # machine), TorchScript stays, so the compiled backend is never the slower one by a guess.
        verdict = faster(times["compiled"], times["torchscript"])
        manifest["use"][name] = "compiled" if verdict == "a" else "torchscript"
        window_wins = faster(times["window"], times[manifest["use"][name]]) == "a"
        if verdict is None:
            manifest["too_noisy"].append(name)
        if window_wins:
            manifest["window"]["stages"].append(name)
        elif os.environ.get("LDMRECON_KEEP_WINDOW_PACKAGES") != "1":
            (out / f"{name}-window.pt2").unlink()
        print(f"compile_models.py: {name} on a {manifest['window_frames']}-frame window: compiled {1e3 * ms['compiled']:.1f}"
              f" ms, window package {1e3 * ms['window']:.1f} ms, TorchScript {1e3 * ms['torchscript']:.1f} ms -> "
              f"{manifest['use'][name]}{', window package' if window_wins else ''}"
              f"{' (too noisy to tell: timings overlap; run compile again on an idle machine)' if name in manifest['too_noisy'] else ''}",
              flush=True)


def main() -> int:
    args = parse_args()
    version = torch.__version__.split("+")[0]
    if args.expect_torch and version != args.expect_torch:
        raise SystemExit(f"compile_models.py: this Python has torch {version}, ldmrecon was built against "
                         f"{args.expect_torch}: packages only load in the libtorch that made them")
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[args.dtype]
    device = torch.device(args.device)
    vae, vmeta = load(args.models / "vae.pt", AutoencoderKL)
    voc, cmeta = load(args.models / "vocoder.pt", SpeechT5HifiGan)
    # The eager modules' attention is already scaled_dot_product_attention on torch 2 (ldmrecon_ops), which
    # torch.export traces at a dynamic length.
    vae, voc = vae.to(device, dtype), voc.to(device, dtype)
    specs = stage_specs(vae, voc, vmeta, cmeta, args.window_frames)
    manifest = {"format": "ldmrecon-compiled", "format_version": 2, "torch_version": version,
                "device": args.device, "dtype": args.dtype, "cpu_isa": cpu_isa() if args.device == "cpu" else None,
                "gpu_arch": (torch.cuda.get_device_capability() if args.device == "cuda" else None),
                "vae_id": args.vae_id, "vocoder_id": args.vocoder_id, "machine": platform.machine(),
                "max_frames": MAX_FRAMES, "max_batch": MAX_BATCH, "window_frames": args.window_frames,
                "compile_seconds": {}}
    args.out.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        for name, (module, example_shape, dims, window_shape) in specs.items():
            s_any = compile_package(module, torch.randn(*example_shape).to(device, dtype), dims,
                                    args.out / f"{name}.pt2", args.device)
            s_win = compile_package(module, torch.randn(*window_shape).to(device, dtype), None,
                                    args.out / f"{name}-window.pt2", args.device)
            manifest["compile_seconds"][name] = round(s_any + s_win, 1)
            print(f"compile_models.py: {name} compiled in {s_any} s, its window package in {s_win} s", flush=True)
        choose(manifest, specs, args.models, args.out, device, dtype)
    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
