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
import copy
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
    """One method of a model as a module of its own. The model is a submodule, not a bound method: only then
    does torch.export's module stack name its layers, which PT2E's quantiser needs to find the convolutions
    (with a bound method it annotated nothing, and the "int8" graph ran in fp32)."""

    def __init__(self, model: torch.nn.Module, method: str = "forward"):
        super().__init__()
        self.model = model
        self.method = method

    def forward(self, x):
        return getattr(self.model, self.method)(x)


class Bf16Inside(torch.nn.Module):
    """A stage run in bf16 behind an fp32 interface: what an int8 package does where int8 cost too much."""

    def __init__(self, stage: torch.nn.Module):
        super().__init__()
        self.stage = copy.deepcopy(stage).to(torch.bfloat16)  # the fp32 stage stays, the packages' reference

    def forward(self, x):
        return self.stage(x.to(torch.bfloat16)).float()


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
    ap.add_argument("--dtype", choices=["fp32", "bf16", "fp16", "int8"], default="fp32")
    ap.add_argument("--calibration", type=Path, nargs="+", default=[],
                    help="int8: real speech features ([T, n_mels] .npy from `ldmrecon mel`) to calibrate on")
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
        "encode": (Stage(vae, "encode"), (2, 1, 8 * mult, n_mels), {0: batch, 2: mult * steps}, (1, 1, window, n_mels)),
        "decode": (Stage(vae, "decode"), (2, lat, 8, n_mels // mult), {0: batch, 2: steps},
                   (1, lat, window // mult, n_mels // mult)),
        "vocoder": (Stage(voc), (2, 8 * mult, n_mels), {0: batch, 1: frames}, (1, window, n_mels)),
    }


def calibration_inputs(paths, vae, mult: int, chunk: int = 256, max_frames: int = 4096) -> dict:
    """Each stage's inputs for int8 calibration, from real speech features ([T, n_mels] .npy, as
    `ldmrecon mel` writes them): the encoder sees each one whole (at most max_frames) and in chunk-frame
    windows, as ldmrecon's windows give them; the decoder sees the encoder's means and a sample of each
    posterior (what --sample decodes), computed in fp32."""
    import numpy as np
    enc = []
    for p in paths:
        f = torch.from_numpy(np.load(p)).float()
        frames = min(f.shape[0], max_frames) // mult * mult
        if frames >= mult:
            enc.append(f[None, None, :frames])
        enc += [f[None, None, s:s + chunk] for s in range(0, frames - chunk + 1, chunk)]
    if not enc:
        raise SystemExit("compile_models.py: the calibration features are all shorter than the VAE's time multiple")
    lat = vae.latent_channels
    gen = torch.Generator().manual_seed(0)
    dec = []
    for x in enc:
        m = vae.encode(x)
        mean, logvar = m[:, :lat], m[:, lat:]
        dec += [mean, mean + torch.exp(0.5 * logvar) * torch.randn(mean.shape, generator=gen)]
    return {"encode": enc, "decode": dec}


def quantize_int8(module, example, dims, calibration) -> torch.nn.Module:
    """Post-training int8 of one stage through PT2E with the X86 Inductor quantiser: static per-tensor
    activations observed on `calibration`, per-channel weights; convolutions and matmuls run in int8
    (oneDNN's VNNI/AMX kernels once Inductor lowers them), GroupNorm, softmax, SiLU and the residual sums
    stay fp32 between them. Returns the quantised graph, fp32 in and out."""
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e
    from torchao.quantization.pt2e.quantizer.x86_inductor_quantizer import (
        X86InductorQuantizer, get_default_x86_inductor_quantization_config)
    quantizer = X86InductorQuantizer().set_global(get_default_x86_inductor_quantization_config())
    # Convolutions of fewer than 4 input channels (the encoder's first, from the one-channel mel) stay
    # fp32: frozen into a package with dynamic shapes, torch 2.15's int8 kernel for it gave 40 % error
    # (static shapes were right), and they are a sliver of the work.
    for name, m in module.named_modules():
        if isinstance(m, (torch.nn.Conv1d, torch.nn.Conv2d)) and m.in_channels < 4:
            quantizer.set_module_name_qconfig(name, None)
    graph = torch.export.export(module, (example,), dynamic_shapes=(dims,)).module()
    prepared = prepare_pt2e(graph, quantizer)
    for x in calibration:
        prepared(x)
    return convert_pt2e(prepared)


def cpu_has_native_bf16() -> bool:
    """AVX512-BF16 or AMX-BF16: without them oneDNN emulates bf16, slower than fp32."""
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def int8_stage_dtypes() -> dict:
    """What each stage of an int8 package runs in. The vocoder in int8 cost +0.038 log-mel L1 on unseen
    speech with the compact pair (the bound is 0.02), so it runs in bf16 where the CPU has bf16 (which
    costs nothing measurable), else in fp32 (a VNNI CPU without bf16: Cascade Lake, Ice Lake)."""
    return {"encode": "int8", "decode": "int8", "vocoder": "bf16" if cpu_has_native_bf16() else "fp32"}


def int8_specs(specs: dict, calibration: dict, stage_dtypes: dict) -> dict:
    """The stage specs with each module replaced by what an int8 package runs: the VAE's stages quantised
    (calibrated here), the vocoder in bf16 behind an fp32 interface (or fp32, as stage_dtypes says)."""
    out = {}
    for name, (module, example_shape, dims, window_shape) in specs.items():
        if stage_dtypes[name] == "int8":
            module = quantize_int8(module, torch.randn(*example_shape), dims, calibration[name])
        elif stage_dtypes[name] == "bf16":
            module = Bf16Inside(module)
        out[name] = (module, example_shape, dims, window_shape)
    return out


# The most a package of an int8 stage may differ from the fp32 stage, as mean |difference| over mean
# |fp32 output| on calibration speech: int8 itself measured 0.3-1 %; a miscompiled kernel, tens of %.
INT8_MAX_RELATIVE_ERROR = 0.05


def check_package(path: Path, reference, x) -> float:
    """The package's relative error against the fp32 stage on `x` (real speech); exits when it exceeds
    INT8_MAX_RELATIVE_ERROR, so that a broken int8 package is never installed."""
    out = torch._inductor.aoti_load_package(str(path))(x)
    want = reference(x)
    err = ((out - want).abs().mean() / want.abs().mean().clamp_min(1e-12)).item()
    if not err <= INT8_MAX_RELATIVE_ERROR:
        raise SystemExit(f"compile_models.py: {path.name} differs from the fp32 model by {100 * err:.1f} % "
                         f"(at most {100 * INT8_MAX_RELATIVE_ERROR:.0f} %): not installed; compile at --dtype bf16 instead")
    return err


def check_inputs(calibration: dict, window: int, mult: int) -> dict:
    """Per stage, one real input for the any-shape package and one full window for the window package."""
    feat = calibration["encode"][0]                       # [1, 1, T, n_mels], T a multiple of mult
    reps = -(-window // feat.shape[2])
    win = torch.cat([feat] * reps, dim=2)[:, :, :window]
    lat, lat_win = calibration["decode"][0], torch.cat([calibration["decode"][0]] * reps, dim=2)[:, :, :window // mult]
    # Contiguous, as ldmrecon passes them: a package takes the strides it was traced with as given.
    pairs = {"encode": (feat, win), "decode": (lat, lat_win), "vocoder": (feat[:, 0], win[:, 0])}
    return {k: (a.contiguous(), b.contiguous()) for k, (a, b) in pairs.items()}


def compile_package(module, example, dims, path: Path, device: str) -> float:
    """Exports and AOT-compiles one stage into `path`; returns the seconds it took."""
    t0 = time.time()
    ep = torch.export.export(module, (example,), dynamic_shapes=(dims,) if dims else None)
    # Freezing folds the weights in as constants, so oneDNN's convolutions take them pre-packed: measured
    # on AudioLDM2's encoder (2 CPU threads) 957 ms against 1079-1250 ms without.
    configs = {"freezing": True} if device == "cpu" else {}
    torch._inductor.aoti_compile_and_package(ep, package_path=str(path), inductor_configs=configs)
    return round(time.time() - t0, 1)


def choose(manifest: dict, specs: dict, models: Path, out: Path, device, dtype, int8: bool) -> None:
    """Times, on one full window, each stage's TorchScript export, its any-shape package and its window
    package, and records in the manifest which to use (int8, which has no TorchScript form, keeps its
    packages and is timed against fp32 TorchScript, for the record). Compiled kernels win where fusion pays, lose where
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
        verdict = "a" if int8 else faster(times["compiled"], times["torchscript"])
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
    int8 = args.dtype == "int8"
    if int8 and (args.device != "cpu" or not args.calibration):
        raise SystemExit("compile_models.py: --dtype int8 is for the CPU and needs --calibration features")
    # int8 packages take and give fp32; inside, the VAE's convolutions run in int8 and the vocoder in bf16.
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16, "int8": torch.float32}[args.dtype]
    device = torch.device(args.device)
    vae, vmeta = load(args.models / "vae.pt", AutoencoderKL)
    voc, cmeta = load(args.models / "vocoder.pt", SpeechT5HifiGan)
    # The eager modules' attention is already scaled_dot_product_attention on torch 2 (ldmrecon_ops), which
    # torch.export traces at a dynamic length.
    vae, voc = vae.to(device, dtype), voc.to(device, dtype)
    specs = stage_specs(vae, voc, vmeta, cmeta, args.window_frames)
    references = checks = None
    if int8:
        mult = int(vmeta["time_multiple"])
        with torch.no_grad():
            calibration = calibration_inputs(args.calibration, vae, mult)
            references = {name: spec[0] for name, spec in specs.items()}
            checks = check_inputs(calibration, args.window_frames, mult)
            stage_dtypes = int8_stage_dtypes()
            specs = int8_specs(specs, calibration, stage_dtypes)
    manifest = {"format": "ldmrecon-compiled", "format_version": 2, "torch_version": version,
                "device": args.device, "dtype": args.dtype, "cpu_isa": cpu_isa() if args.device == "cpu" else None,
                "gpu_arch": (torch.cuda.get_device_capability() if args.device == "cuda" else None),
                "vae_id": args.vae_id, "vocoder_id": args.vocoder_id, "machine": platform.machine(),
                "max_frames": MAX_FRAMES, "max_batch": MAX_BATCH, "window_frames": args.window_frames,
                "compile_seconds": {}}
    if int8:
        manifest["stage_dtype"] = stage_dtypes
        manifest["calibration_files"] = len(args.calibration)
        manifest["relative_error"] = {}
    args.out.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        for name, (module, example_shape, dims, window_shape) in specs.items():
            s_any = compile_package(module, torch.randn(*example_shape).to(device, dtype), dims,
                                    args.out / f"{name}.pt2", args.device)
            s_win = compile_package(module, torch.randn(*window_shape).to(device, dtype), None,
                                    args.out / f"{name}-window.pt2", args.device)
            manifest["compile_seconds"][name] = round(s_any + s_win, 1)
            if int8:
                x, x_win = checks[name]
                manifest["relative_error"][name] = {
                    "any": round(check_package(args.out / f"{name}.pt2", references[name], x), 5),
                    "window": round(check_package(args.out / f"{name}-window.pt2", references[name], x_win), 5)}
            print(f"compile_models.py: {name} compiled in {s_any} s, its window package in {s_win} s", flush=True)
        choose(manifest, specs, args.models, args.out, device, dtype, int8)
    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
