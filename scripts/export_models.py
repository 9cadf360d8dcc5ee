#!/usr/bin/env python3
"""Export AudioLDM2's VAE and vocoder to TorchScript archives that ldmrecon loads.

  export_models.py cvssp/audioldm2 -o models/audioldm2          # hub id (needs diffusers + transformers)
  export_models.py /path/to/audioldm2 -o models/audioldm2       # a downloaded pipeline folder
  export_models.py --vae-dir DIR/vae --vocoder-dir DIR/vocoder -o OUT   # checkpoint folders, no deps

A pipeline folder holds vae/{config.json, *.safetensors|*.bin} and vocoder/{config.json, ...}. With
diffusers and transformers installed, the upstream models are built too, for every input form (from the
hub, or from the same config and weights), and the project's modules are checked against them (max abs
difference printed). Without them, the checkpoint files are read directly
(.safetensors through a built-in reader, .bin through torch.load), old attention key names included.
Runs with any Python that has torch (Debian: /usr/bin/python3 with python3-torch).
"""
import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ldmrecon_python import ensure_torch  # noqa: E402

ensure_torch()

import torch  # noqa: E402

from ldmrecon_export import (audioldm2_feature, export_pair, find_weights, load_strict,  # noqa: E402
                             read_checkpoint)
from ldmrecon_models import (VAE_DEFAULTS, VOCODER_DEFAULTS, AutoencoderKL, SpeechT5HifiGan,  # noqa: E402
                             convert_vae_state_dict, fold_weight_norm)


def read_config(folder: Path, defaults: dict) -> dict:
    cfg_path = folder / "config.json"
    if not cfg_path.exists():
        raise SystemExit(f"{cfg_path}: missing (every exported model needs its own config.json)")
    raw = json.loads(cfg_path.read_text())
    cfg = {k: raw.get(k, v) for k, v in defaults.items()}
    # AudioLDM2 VAEs use the 'DownEncoderBlock2D'/'UpDecoderBlock2D' pair; refuse anything else.
    for key, want in (("down_block_types", "DownEncoderBlock2D"), ("up_block_types", "UpDecoderBlock2D")):
        if key in raw and any(t != want for t in raw[key]):
            raise SystemExit(f"{cfg_path}: {key} {raw[key]} is not supported (only {want})")
    return cfg


def try_upstream(source: str):
    """Loads the upstream modules of a hub id when diffusers and transformers are installed, else None."""
    try:
        from diffusers import AutoencoderKL as DiffusersVAE  # type: ignore
        from transformers import SpeechT5HifiGan as HFVocoder  # type: ignore
    except ImportError:
        return None
    vae = DiffusersVAE.from_pretrained(source, subfolder="vae").float().eval()
    voc = HFVocoder.from_pretrained(source, subfolder="vocoder").float().eval()
    return vae, voc


def upstream_from(vae_dir: Path, voc_dir: Path, vae_sd: dict, voc_sd: dict):
    """diffusers/transformers modules built from the folders' own config.json and given the weights ours
    loaded (old names renamed, weight norm folded), when both libraries are installed; else None. Any
    difference in the printed parity is then a difference of the modules' code."""
    try:
        from diffusers import AutoencoderKL as DiffusersVAE  # type: ignore
        from transformers import SpeechT5HifiGan as HFVocoder, SpeechT5HifiGanConfig  # type: ignore
    except ImportError:
        return None
    vae = DiffusersVAE.from_config(json.loads((vae_dir / "config.json").read_text()))
    vae.load_state_dict(vae_sd, strict=True)
    voc = HFVocoder(SpeechT5HifiGanConfig(**json.loads((voc_dir / "config.json").read_text())))
    voc.load_state_dict(voc_sd, strict=True)
    return vae.float().eval(), voc.float().eval()


@torch.no_grad()
def compare_with_upstream(ours_vae, ours_voc, up_vae, up_voc, n_mels: int) -> None:
    torch.manual_seed(0)
    x = torch.randn(1, 1, 64, n_mels) * 2 - 5
    a = ours_vae(x)
    b = up_vae(x, sample_posterior=False).sample
    print(f"VAE      max |ours - diffusers|     = {(a - b).abs().max().item():.3e}")
    m = torch.randn(1, 32, n_mels) * 2 - 5
    a = ours_voc(m)
    b = up_voc(m)
    print(f"vocoder  max |ours - transformers|  = {(a - b).abs().max().item():.3e}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("source", nargs="?", help="hub id or pipeline folder (with vae/ and vocoder/)")
    ap.add_argument("-o", "--out", required=True, type=Path, help="output folder for vae.pt and vocoder.pt")
    ap.add_argument("--vae-dir", type=Path, help="folder with the VAE's config.json and weights")
    ap.add_argument("--vocoder-dir", type=Path, help="folder with the vocoder's config.json and weights")
    ap.add_argument("--n-fft", type=int, default=1024)
    ap.add_argument("--win-length", type=int, default=1024)
    ap.add_argument("--fmax", type=float, default=None, help="default: half the sample rate (8000 at 16 kHz)")
    args = ap.parse_args()

    upstream = None
    if args.source and not Path(args.source).exists():
        upstream = try_upstream(args.source)
        if upstream is None:
            raise SystemExit(f"{args.source}: not a folder, and diffusers/transformers are not installed to "
                             "fetch a hub id; download the pipeline and pass its folder instead")
    vae_dir = args.vae_dir or (Path(args.source) / "vae" if args.source else None)
    voc_dir = args.vocoder_dir or (Path(args.source) / "vocoder" if args.source else None)

    if upstream is not None:
        up_vae, up_voc = upstream
        vae_cfg = {k: up_vae.config.get(k, v) for k, v in VAE_DEFAULTS.items()}
        voc_cfg = {k: getattr(up_voc.config, k, v) for k, v in VOCODER_DEFAULTS.items()}
        vae_sd, voc_sd = up_vae.state_dict(), up_voc.state_dict()
    else:
        if vae_dir is None or voc_dir is None:
            ap.error("give a source folder, or both --vae-dir and --vocoder-dir")
        vae_cfg = read_config(vae_dir, VAE_DEFAULTS)
        voc_cfg = read_config(voc_dir, VOCODER_DEFAULTS)
        vae_sd = read_checkpoint(find_weights(vae_dir))
        voc_sd = read_checkpoint(find_weights(voc_dir))

    vae_sd, voc_sd = convert_vae_state_dict(vae_sd), fold_weight_norm(voc_sd)
    vae = AutoencoderKL(vae_cfg)
    load_strict(vae, vae_sd, "VAE")
    voc = SpeechT5HifiGan(voc_cfg)
    load_strict(voc, voc_sd, "vocoder")
    vae.eval()
    voc.eval()
    if upstream is None:
        upstream = upstream_from(vae_dir, voc_dir, vae_sd, voc_sd)
    if upstream is not None:
        compare_with_upstream(vae, voc, upstream[0], upstream[1], int(voc_cfg["model_in_dim"]))

    feature = audioldm2_feature(sample_rate=int(voc_cfg["sampling_rate"]), n_mels=int(voc_cfg["model_in_dim"]),
                                hop_length=int(torch.tensor(voc_cfg["upsample_rates"]).prod().item()),
                                n_fft=args.n_fft, win_length=args.win_length, fmax=args.fmax)
    export_pair(vae, vae_cfg, voc, voc_cfg, args.out, feature, float(vae_cfg["scaling_factor"]),
                source=str(args.source or f"{vae_dir} + {voc_dir}"),
                extra={"weights": "AudioLDM2 (cvssp), see the model card for its licence",
                       "description": f"AudioLDM2 VAE and HiFi-GAN vocoder from {args.source or vae_dir}"})
    print(f"wrote {args.out / 'vae.pt'} and {args.out / 'vocoder.pt'} "
          f"(scaling_factor {vae_cfg['scaling_factor']}, {feature['sample_rate']} Hz, {feature['n_mels']} mels)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
