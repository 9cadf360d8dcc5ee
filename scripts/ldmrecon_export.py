"""Scripting and saving the project's modules as TorchScript archives with ldmrecon's metadata inside.

Shared by export_models.py (real AudioLDM2 weights) and make_test_models.py (random-weight fixtures).
The metadata is one JSON file, ``ldmrecon.json``, stored in the archive's extra files; the C++ loader
reads it and refuses an export without it or one that disagrees with the feature it computes.
"""
import json
import math
import struct
from pathlib import Path
from typing import Dict, Optional

import torch

from ldmrecon_models import AutoencoderKL, SpeechT5HifiGan

EXPORT_FORMAT = "ldmrecon-export"
EXPORT_FORMAT_VERSION = 2  # 2: the VAE's attention calls ldmrecon::attention (ldmrecon_ops.py)
TOOL_VERSION = "0.1.0"
METADATA_NAME = "ldmrecon.json"


def audioldm2_feature(sample_rate: int = 16000, n_mels: int = 64, hop_length: int = 160,
                      n_fft: int = 1024, win_length: int = 1024, fmin: float = 0.0,
                      fmax: Optional[float] = None) -> Dict:
    """The feature the AudioLDM2 models were trained on (SPEC.md section 1)."""
    # ref: AudioLDM2 audioldm2/utils.py default_audioldm_config: 16 kHz, 1024/160/1024, 64 mels, 0-8000 Hz
    return {
        "sample_rate": sample_rate,
        "n_fft": n_fft,
        "win_length": win_length,
        "hop_length": hop_length,
        "window": "hann_periodic",
        "center": True,
        "pad_mode": "reflect",
        "spectrum": "magnitude",
        "n_mels": n_mels,
        "fmin": fmin,
        "fmax": float(fmax if fmax is not None else sample_rate / 2),
        "mel_scale": "slaney",
        "mel_norm": "slaney",
        "compression": "ln",
        "floor": 1e-5,
        "layout": "time_major",
        "waveform_normalisation": "mean_peak_half",
    }


def time_downsampling(vae_cfg: Dict) -> int:
    # ref: diffusers Encoder: one stride-2 downsampler per block but the last
    return 2 ** (len(vae_cfg["block_out_channels"]) - 1)


def save_scripted(module: torch.nn.Module, path: Path, metadata: Dict) -> None:
    module = module.eval().float()
    scripted = torch.jit.script(module)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = dict(metadata)
    meta.update({"format": EXPORT_FORMAT, "format_version": EXPORT_FORMAT_VERSION,
                 "tool": f"ldmrecon scripts {TOOL_VERSION}", "torch_version": torch.__version__,
                 "parameters": int(sum(p.numel() for p in module.parameters()))})
    torch.jit.save(scripted, str(path), _extra_files={METADATA_NAME: json.dumps(meta, indent=1, sort_keys=True)})


def export_pair(vae: AutoencoderKL, vae_cfg: Dict, vocoder: SpeechT5HifiGan, voc_cfg: Dict, out_dir: Path,
                feature: Dict, scaling_factor: float, source: str, extra: Optional[Dict] = None) -> None:
    """Writes vae.pt and vocoder.pt into out_dir, each with its metadata."""
    if int(voc_cfg["model_in_dim"]) != int(feature["n_mels"]):
        raise SystemExit(f"vocoder model_in_dim {voc_cfg['model_in_dim']} != n_mels {feature['n_mels']}")
    hop = int(math.prod(int(u) for u in voc_cfg["upsample_rates"]))
    if hop != int(feature["hop_length"]):
        raise SystemExit(f"vocoder upsampling {hop} != feature hop {feature['hop_length']}")
    common = {"source": source, "feature": feature, "sample_rate": int(feature["sample_rate"]),
              "hop_length": hop}
    if extra:
        common.update(extra)
    save_scripted(vae, out_dir / "vae.pt", dict(common, kind="vae", config=vae_cfg,
                                                 scaling_factor=float(scaling_factor),
                                                 time_multiple=time_downsampling(vae_cfg)))
    save_scripted(vocoder, out_dir / "vocoder.pt", dict(common, kind="vocoder", config=voc_cfg))


# ------------------------------------------------------------------------ checkpoint files, no deps
_SAFETENSORS_DTYPES = {
    "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
    "BOOL": torch.bool,
}


def read_safetensors(path: Path) -> Dict[str, torch.Tensor]:
    """A small reader of the safetensors format (8-byte header size, JSON header, raw little-endian data),
    so exports need neither the safetensors package nor diffusers."""
    data = Path(path).read_bytes()
    if len(data) < 8:
        raise SystemExit(f"{path}: too short to be a safetensors file")
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        raise SystemExit(f"{path}: header size {n} exceeds the file")
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = _SAFETENSORS_DTYPES.get(info["dtype"])
        if dtype is None:
            raise SystemExit(f"{path}: tensor {name} has unsupported dtype {info['dtype']}")
        start, end = info["data_offsets"]
        if not (0 <= start <= end <= len(data) - base):
            raise SystemExit(f"{path}: tensor {name} lies outside the file")
        buf = bytearray(data[base + start: base + end])
        t = torch.frombuffer(buf, dtype=dtype) if end > start else torch.empty(0, dtype=dtype)
        out[name] = t.reshape(info["shape"]).clone()
    return out


def read_checkpoint(path: Path) -> Dict[str, torch.Tensor]:
    path = Path(path)
    if path.suffix == ".safetensors":
        return read_safetensors(path)
    sd = torch.load(str(path), map_location="cpu")
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    return sd


def find_weights(folder: Path) -> Path:
    for name in ("diffusion_pytorch_model.safetensors", "model.safetensors", "diffusion_pytorch_model.bin",
                 "pytorch_model.bin"):
        if (folder / name).exists():
            return folder / name
    cands = sorted(list(folder.glob("*.safetensors")) + list(folder.glob("*.bin")))
    if not cands:
        raise SystemExit(f"{folder}: no .safetensors or .bin weights found")
    return cands[0]


def load_strict(module: torch.nn.Module, sd: Dict[str, torch.Tensor], what: str) -> None:
    missing, unexpected = module.load_state_dict({k: v.float() for k, v in sd.items()}, strict=False)
    if missing or unexpected:
        raise SystemExit(f"{what}: state dict does not match the AudioLDM2 architecture\n"
                         f"  missing: {missing[:8]}{' ...' if len(missing) > 8 else ''}\n"
                         f"  unexpected: {unexpected[:8]}{' ...' if len(unexpected) > 8 else ''}")
