#!/usr/bin/env python3
"""Compiles an ldmrecon export folder's models with torch.export + AOTInductor into packages ldmrecon's
PyTorch 2 build loads from C++ (no Python at run time). Driven by `ldmrecon compile`; runs under the
PyTorch 2 environment (scripts/python_env.sh torch), whose torch must be the libtorch ldmrecon was built
against: packages are tied to one torch version, device kind, dtype and CPU instruction set.

  compile_models.py MODELS_DIR OUT_DIR --device cpu|cuda --dtype fp32|bf16|fp16 --vae-id HEX --vocoder-id HEX
                    [--expect-torch 2.15.0]

Writes OUT_DIR/{encode,decode,vocoder}.pt2 and OUT_DIR/manifest.json. Each stage takes any batch size up
to 1024 and any length ldmrecon's windows use (VAE frames a multiple of its time multiple, up to 16384).
Each compiled stage is then timed against the TorchScript export on a 1024-frame window (AudioLDM2's
training length), and the manifest's "use" keeps, per stage, whichever measured faster here.
"""
import argparse
import json
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


def median_seconds(fn, x, repeat=5) -> float:
    fn(x)  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def cpu_isa() -> str:
    # What Inductor vectorises for: a package made for AVX-512 must not run where only AVX2 is.
    return torch.backends.cpu.get_cpu_capability().lower()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--dtype", choices=["fp32", "bf16", "fp16"], default="fp32")
    ap.add_argument("--vae-id", required=True)
    ap.add_argument("--vocoder-id", required=True)
    ap.add_argument("--expect-torch", help="refuse unless torch.__version__ starts with this")
    args = ap.parse_args()
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

    mult = int(vmeta["time_multiple"])
    n_mels = int(cmeta["config"]["model_in_dim"])
    lat = int(vmeta["config"]["latent_channels"])
    batch = torch.export.Dim("batch", min=1, max=MAX_BATCH)
    steps = torch.export.Dim("steps", min=1, max=MAX_FRAMES // mult)  # latent frames; VAE frames = mult x
    frames = torch.export.Dim("frames", min=2, max=MAX_FRAMES)
    stages = {
        "encode": (Stage(vae.encode), torch.randn(2, 1, 8 * mult, n_mels), {0: batch, 2: mult * steps}),
        "decode": (Stage(vae.decode), torch.randn(2, lat, 8, n_mels // mult), {0: batch, 2: steps}),
        "vocoder": (Stage(voc), torch.randn(2, 8 * mult, n_mels), {0: batch, 1: frames}),
    }
    manifest = {"format": "ldmrecon-compiled", "format_version": 1, "torch_version": version,
                "device": args.device, "dtype": args.dtype, "cpu_isa": cpu_isa() if args.device == "cpu" else None,
                "gpu_arch": (torch.cuda.get_device_capability() if args.device == "cuda" else None),
                "vae_id": args.vae_id, "vocoder_id": args.vocoder_id, "machine": platform.machine(),
                "max_frames": MAX_FRAMES, "max_batch": MAX_BATCH, "compile_seconds": {}}
    args.out.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        for name, (module, example, dims) in stages.items():
            t0 = time.time()
            ep = torch.export.export(module, (example.to(device, dtype),), dynamic_shapes={"x": dims})
            # Freezing folds the weights in as constants, so oneDNN's convolutions take them pre-packed: measured
            # on AudioLDM2's encoder (2 CPU threads) 957 ms against 1079-1250 ms without.
            configs = {"freezing": True} if args.device == "cpu" else {}
            torch._inductor.aoti_compile_and_package(ep, package_path=str(args.out / f"{name}.pt2"),
                                                     inductor_configs=configs)
            manifest["compile_seconds"][name] = round(time.time() - t0, 1)
            print(f"compile_models.py: {name} compiled in {manifest['compile_seconds'][name]} s", flush=True)
        # Keep what measures faster, per stage: compiled kernels win where fusion pays, lose where libtorch's
        # own kernels (oneDNN's transposed convolutions, say) are better than generated code.
        ts_vae, ts_voc = (torch.jit.load(str(args.models / f), map_location=device).to(dtype).eval()
                          for f in ("vae.pt", "vocoder.pt"))
        ts = {"encode": lambda x: ts_vae.encode(x), "decode": lambda x: ts_vae.decode(x), "vocoder": ts_voc}
        window = {"encode": (1, 1, 1024, n_mels), "decode": (1, lat, 1024 // mult, n_mels // mult),
                  "vocoder": (1, 1024, n_mels)}
        manifest["use"], manifest["window_ms"] = {}, {}
        for name in stages:
            x = (torch.randn(*window[name]) * 2 - 5).to(device, dtype)
            package = torch._inductor.aoti_load_package(str(args.out / f"{name}.pt2"))
            t_c, t_t = median_seconds(package, x), median_seconds(ts[name], x)
            manifest["window_ms"][name] = {"compiled": round(1e3 * t_c, 2), "torchscript": round(1e3 * t_t, 2)}
            manifest["use"][name] = "compiled" if t_c <= t_t else "torchscript"
            print(f"compile_models.py: {name} on a 1024-frame window: compiled {1e3 * t_c:.1f} ms, TorchScript "
                  f"{1e3 * t_t:.1f} ms -> {manifest['use'][name]}", flush=True)
    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
