"""export_models.py from checkpoint files (no diffusers/transformers): old attention names, weight norm,
state-dict checks, and the module layouts against hand-written expectations."""
import json
import subprocess
import sys
import unittest
from pathlib import Path

import torch

from common import FIXTURES, ROOT, TINY, tmpdir
from ldmrecon_export import METADATA_NAME, read_safetensors
from ldmrecon_models import (VAE_DEFAULTS, VOCODER_DEFAULTS, AutoencoderKL, SpeechT5HifiGan,
                             convert_vae_state_dict, fold_weight_norm)

EXPORT = ROOT / "scripts" / "export_models.py"


def export(*args):
    return subprocess.run([sys.executable, str(EXPORT), *map(str, args)], capture_output=True, text=True)


class Export(unittest.TestCase):
    def test_checkpoint_folder_with_old_names_matches_fixture(self):
        ck = FIXTURES / "checkpoint"
        names = read_safetensors(ck / "vae" / "diffusion_pytorch_model.safetensors").keys()
        self.assertTrue(any(".attentions.0.query." in k for k in names), "fixture must use the old names")
        with tmpdir() as d:
            p = export(ck, "-o", d)
            self.assertEqual(p.returncode, 0, p.stderr)
            extra = {METADATA_NAME: ""}
            vae = torch.jit.load(str(Path(d) / "vae.pt"), _extra_files=extra)
            meta = json.loads(extra[METADATA_NAME])
            voc = torch.jit.load(str(Path(d) / "vocoder.pt"))
        ref_vae = torch.jit.load(str(TINY / "vae.pt"))
        ref_voc = torch.jit.load(str(TINY / "vocoder.pt"))
        torch.manual_seed(0)
        x = torch.randn(1, 1, 32, 64) - 4
        with torch.no_grad():
            self.assertEqual((vae(x) - ref_vae(x)).abs().max().item(), 0.0)
            m = torch.randn(1, 20, 64) - 4
            self.assertEqual((voc(m) - ref_voc(m)).abs().max().item(), 0.0)
        self.assertEqual(meta["kind"], "vae")
        self.assertEqual(meta["scaling_factor"], 0.5)
        self.assertEqual(meta["time_multiple"], 4)
        self.assertEqual(meta["feature"]["hop_length"], 160)
        self.assertEqual(meta["feature"]["n_mels"], 64)
        self.assertEqual(meta["feature"]["fmax"], 8000.0)
        for key in ("source", "tool", "torch_version", "config", "format_version"):
            self.assertIn(key, meta)

    def test_wrong_state_dict_is_refused(self):
        with tmpdir() as d:
            bad = Path(d) / "ck"
            for sub in ("vae", "vocoder"):
                (bad / sub).mkdir(parents=True)
                src = FIXTURES / "checkpoint" / sub
                for f in src.iterdir():
                    (bad / sub / f.name).write_bytes(f.read_bytes())
            cfg = json.loads((bad / "vae" / "config.json").read_text())
            cfg["layers_per_block"] = 2  # the weights were made with 1
            (bad / "vae" / "config.json").write_text(json.dumps(cfg))
            p = export(bad, "-o", Path(d) / "out")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("does not match the AudioLDM2 architecture", p.stderr)
        self.assertIn("missing", p.stderr)

    def test_missing_folder_says_what_to_do(self):
        p = export("/nonexistent/pipeline", "-o", "/tmp/x")
        self.assertNotEqual(p.returncode, 0)
        self.assertTrue("not a folder" in p.stderr or "no .safetensors" in p.stderr, p.stderr)


class Layouts(unittest.TestCase):
    """State-dict names and tensor shapes of the full AudioLDM2 configs, as diffusers/transformers name them."""

    def test_vae_names_and_latent_shape(self):
        vae = AutoencoderKL(VAE_DEFAULTS)
        sd = vae.state_dict()
        for k in ("encoder.conv_in.weight", "encoder.down_blocks.0.resnets.1.conv2.weight",
                  "encoder.down_blocks.0.downsamplers.0.conv.weight", "encoder.down_blocks.1.resnets.0.conv_shortcut.weight",
                  "encoder.mid_block.attentions.0.to_q.weight", "encoder.mid_block.attentions.0.to_out.0.bias",
                  "encoder.mid_block.attentions.0.group_norm.weight", "quant_conv.weight", "post_quant_conv.weight",
                  "decoder.up_blocks.0.resnets.2.norm1.weight", "decoder.up_blocks.0.upsamplers.0.conv.weight",
                  "decoder.up_blocks.2.resnets.0.conv_shortcut.weight", "decoder.conv_out.weight"):
            self.assertIn(k, sd)
        self.assertNotIn("encoder.down_blocks.2.downsamplers.0.conv.weight", sd)
        self.assertNotIn("decoder.up_blocks.2.upsamplers.0.conv.weight", sd)
        self.assertEqual(tuple(sd["encoder.conv_out.weight"].shape), (16, 512, 3, 3))
        self.assertEqual(tuple(sd["quant_conv.weight"].shape), (16, 16, 1, 1))
        n = sum(v.numel() for k, v in sd.items())
        self.assertTrue(50e6 < n < 60e6, n)  # "about 55 M parameters"
        small = AutoencoderKL(dict(VAE_DEFAULTS, block_out_channels=[32, 32, 32], layers_per_block=1))
        with torch.no_grad():
            m = small.encode(torch.zeros(2, 1, 48, 64))
        self.assertEqual(tuple(m.shape), (2, 16, 12, 16))

    def test_vocoder_names_and_hop(self):
        voc = SpeechT5HifiGan(VOCODER_DEFAULTS)
        sd = voc.state_dict()
        for k in ("conv_pre.weight", "upsampler.4.weight", "resblocks.14.convs1.2.weight", "resblocks.0.convs2.0.bias",
                  "conv_post.weight", "mean", "scale"):
            self.assertIn(k, sd)
        self.assertEqual(tuple(sd["upsampler.0.weight"].shape), (1024, 512, 16))
        self.assertEqual(tuple(sd["conv_pre.weight"].shape), (1024, 64, 7))
        self.assertEqual(voc.resblocks[4].convs1[1].dilation, (3,))
        self.assertEqual(voc.resblocks[4].convs1[1].padding, (9,))  # k=7, d=3: (7*3 - 3) // 2
        n = sum(v.numel() for k, v in sd.items())
        self.assertTrue(50e6 < n < 60e6, n)

    def test_old_names_and_weight_norm_conversion(self):
        sd = {"encoder.mid_block.attentions.0.query.weight": torch.ones(4, 4, 1, 1),
              "encoder.mid_block.attentions.0.proj_attn.bias": torch.ones(4)}
        out = convert_vae_state_dict(sd)
        self.assertEqual(tuple(out["encoder.mid_block.attentions.0.to_q.weight"].shape), (4, 4))
        self.assertIn("encoder.mid_block.attentions.0.to_out.0.bias", out)
        v = torch.randn(3, 2, 5)
        g = torch.rand(3, 1, 1) + 0.5
        w = fold_weight_norm({"conv.weight_g": g, "conv.weight_v": v})["conv.weight"]
        torch.testing.assert_close(w.norm(dim=(1, 2), keepdim=True), g)


if __name__ == "__main__":
    unittest.main()
