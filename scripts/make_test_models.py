#!/usr/bin/env python3
"""Random-weight exports of the project's AudioLDM2 modules, for tests and benchmarks.

  make_test_models.py -o build/models/tiny              # small config: fast tests, same layouts
  make_test_models.py -o build/models/full --full       # AudioLDM2's config: benchmarks
  make_test_models.py -o DIR --checkpoint-folder CK     # also write CK/{vae,vocoder}/ as a hub-style
                                                        # pipeline folder (config.json + safetensors),
                                                        # to test export_models.py without downloads

The weights are random (seeded): the output is noise, not audio. The metadata says so.
"""
import argparse
import json
import struct
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ldmrecon_python import ensure_torch  # noqa: E402

ensure_torch()

import torch  # noqa: E402

from ldmrecon_export import audioldm2_feature, export_pair  # noqa: E402
from ldmrecon_models import VAE_DEFAULTS, VOCODER_DEFAULTS, AutoencoderKL, SpeechT5HifiGan  # noqa: E402

TINY_VAE = dict(VAE_DEFAULTS, block_out_channels=[16, 32, 32], layers_per_block=1, norm_num_groups=8,
                scaling_factor=0.5)
TINY_VOCODER = dict(VOCODER_DEFAULTS, upsample_initial_channel=64)


def write_safetensors(sd, path: Path, old_attention_names: bool = False) -> None:
    header, blobs, off = {}, [], 0
    for k, v in sd.items():
        if old_attention_names:
            for new, old in (("to_q.", "query."), ("to_k.", "key."), ("to_v.", "value."), ("to_out.0.", "proj_attn.")):
                k = k.replace(".attentions.0." + new, ".attentions.0." + old)
        b = v.detach().float().contiguous().numpy().tobytes()
        header[k] = {"dtype": "F32", "shape": list(v.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-o", "--out", required=True, type=Path)
    ap.add_argument("--full", action="store_true", help="AudioLDM2's full config instead of the tiny one")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--checkpoint-folder", type=Path, help="also write a hub-style pipeline folder here")
    ap.add_argument("--old-attention-names", action="store_true",
                    help="with --checkpoint-folder: use query/key/value/proj_attn names")
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    vae_cfg = dict(VAE_DEFAULTS, scaling_factor=0.5) if args.full else dict(TINY_VAE)
    voc_cfg = dict(VOCODER_DEFAULTS) if args.full else dict(TINY_VOCODER)
    vae = AutoencoderKL(vae_cfg).eval()
    voc = SpeechT5HifiGan(voc_cfg).eval()
    # Small random output weights keep the random VAE's decoded feature near the log-mel range.
    with torch.no_grad():
        vae.decoder.conv_out.bias.fill_(-5.0)
    name = "full" if args.full else "tiny"
    export_pair(vae, vae_cfg, voc, voc_cfg, args.out, audioldm2_feature(), vae_cfg["scaling_factor"],
                source=f"make_test_models.py --seed {args.seed} ({name})",
                extra={"weights": "random (test fixture): output is noise, not audio",
                       "description": f"random-weight {name} fixture of the AudioLDM2 architectures"})
    if args.checkpoint_folder:
        for sub, cfg, mod, fname in (("vae", vae_cfg, vae, "diffusion_pytorch_model.safetensors"),
                                     ("vocoder", voc_cfg, voc, "model.safetensors")):
            d = args.checkpoint_folder / sub
            d.mkdir(parents=True, exist_ok=True)
            (d / "config.json").write_text(json.dumps(cfg))
            write_safetensors(mod.state_dict(), d / fname, args.old_attention_names and sub == "vae")
    print(f"wrote {name} random-weight models to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
