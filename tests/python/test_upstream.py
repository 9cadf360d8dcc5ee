"""The project's exports held to the real upstream code: diffusers AutoencoderKL and transformers
SpeechT5HifiGan (the PyTorch 2 environment, scripts/python_env.sh torch). Upstream models are built at the
tiny test config and at AudioLDM2's, with seeded random weights, saved the ways checkpoints are found in
the wild, exported through every input form export_models.py accepts, and compared with the original
upstream objects: the TorchScript export in Python, and the C++ binary under test end to end. The exports
are made by torch 2.x here, so with the Debian build this also runs 2.x exports in libtorch 1.13."""
import copy
import subprocess
import sys
import unittest
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from diffusers import AutoencoderKL
from transformers import SpeechT5HifiGan, SpeechT5HifiGanConfig

from common import ROOT, run, tmpdir

EXPORT = ROOT / "scripts" / "export_models.py"
SPEECH = ROOT / "tests" / "data" / "it-agent-user.flac"

# AudioLDM2's published configs (SPEC.md 2) and the tiny test config of the same architecture.
FULL_VAE = dict(block_out_channels=[128, 256, 512], layers_per_block=2, norm_num_groups=32, scaling_factor=0.9227914214134216)
TINY_VAE = dict(block_out_channels=[16, 32, 32], layers_per_block=1, norm_num_groups=8, scaling_factor=0.5)
FULL_VOC = dict(upsample_initial_channel=1024)
TINY_VOC = dict(upsample_initial_channel=64)
# Errors are max |ours - upstream| / max |upstream|, fp32. Measured (2026-11-25, torch 2.15, diffusers
# 0.42.1, transformers 5.24.0): the export in Python at most 2.6e-6 (encoder 4.5e-7, decoder 2.6e-6,
# vocoder 0: the same ops in the same order); the C++ binaries end to end at most 5.6e-6 for the decoded
# feature and 7.1e-5 for the vocoder (libtorch 1.13's oneDNN and 2.15's kernels accumulate in other orders).
TOL = 2e-5
CXX_TOL = 2e-4


def upstream_pair(size, seed=0):
    torch.manual_seed(seed)
    v = FULL_VAE if size == "full" else TINY_VAE
    vae = AutoencoderKL(in_channels=1, out_channels=1, down_block_types=["DownEncoderBlock2D"] * 3,
                        up_block_types=["UpDecoderBlock2D"] * 3, latent_channels=8, sample_size=1024, **v).eval()
    # Random GroupNorm affine and conv biases: default init (ones, zeros) would hide a swapped parameter.
    with torch.no_grad():
        for name, p in vae.named_parameters():
            if "norm" in name or name.endswith("bias"):
                p.add_(0.1 * torch.randn_like(p))
    cfg = SpeechT5HifiGanConfig(model_in_dim=64, sampling_rate=16000, upsample_rates=[5, 4, 2, 2, 2],
                                upsample_kernel_sizes=[16, 16, 8, 4, 4], resblock_kernel_sizes=[3, 7, 11],
                                resblock_dilation_sizes=[[1, 3, 5]] * 3, leaky_relu_slope=0.1, normalize_before=False,
                                **(FULL_VOC if size == "full" else TINY_VOC))
    voc = SpeechT5HifiGan(cfg).eval()
    # transformers' init (std 0.01) leaves the output near 1e-8, where an absolute tolerance checks
    # nothing: weights of std 1/sqrt(fan-in) keep every layer's scale, and the output in tanh's middle.
    with torch.no_grad():
        for name, p in voc.named_parameters():
            if name.endswith("weight") and p.dim() == 3:
                fan_in = p.shape[0] if "upsampler" in name else p.shape[1] * p.shape[2]
                p.normal_(0.0, fan_in ** -0.5)
    return vae, voc


def rename_old_attention(sd, conv_shaped):
    """diffusers' old names (query/key/value/proj_attn), [C,C] or the older [C,C,1,1] shapes."""
    out = {}
    for k, v in sd.items():
        for new, old in (("to_q.", "query."), ("to_k.", "key."), ("to_v.", "value."), ("to_out.0.", "proj_attn.")):
            if ".attentions.0." + new in k:
                k = k.replace(".attentions.0." + new, ".attentions.0." + old)
                if conv_shaped and v.dim() == 2:
                    v = v[:, :, None, None]
        out[k] = v
    return out


def weight_g_v(voc):
    """The vocoder's state dict in torch.nn.utils.weight_norm's old form (weight_g, weight_v)."""
    sd = {}
    for k, v in voc.state_dict().items():
        if k.endswith(".weight") and v.dim() == 3:
            base = k[: -len("weight")]
            sd[base + "weight_g"] = v.norm(dim=(1, 2), keepdim=True)
            sd[base + "weight_v"] = v.clone()
        else:
            sd[k] = v
    return sd


def save_forms(vae, voc, d: Path):
    """Every layout export_models.py takes, written from the same upstream objects. Returns name -> args."""
    forms = {}
    vae.save_pretrained(d / "hub" / "vae")
    voc.save_pretrained(d / "hub" / "vocoder")
    forms["hub folder (safetensors)"] = [d / "hub"]
    vae.save_pretrained(d / "bin" / "vae", safe_serialization=False)
    voc.save_pretrained(d / "bin" / "vocoder", safe_serialization=False)
    forms["hub folder (.bin)"] = [d / "bin"]
    forms["--vae-dir / --vocoder-dir"] = ["--vae-dir", d / "hub" / "vae", "--vocoder-dir", d / "hub" / "vocoder"]
    for conv_shaped in (False, True):
        f = d / f"old{int(conv_shaped)}"
        (f / "vae").mkdir(parents=True)
        (f / "vae" / "config.json").write_text((d / "hub" / "vae" / "config.json").read_text())
        torch.save(rename_old_attention(vae.state_dict(), conv_shaped), f / "vae" / "diffusion_pytorch_model.bin")
        forms[f"old attention names {'[C,C,1,1]' if conv_shaped else '[C,C]'}"] = [
            "--vae-dir", f / "vae", "--vocoder-dir", d / "hub" / "vocoder"]
    # Weight-normed vocoders: the old weight_g/weight_v form and torch's parametrizations (transformers'
    # own apply_weight_norm).
    wn = d / "wn_gv"
    wn.mkdir()
    (wn / "config.json").write_text((d / "hub" / "vocoder" / "config.json").read_text())
    torch.save(weight_g_v(voc), wn / "pytorch_model.bin")
    forms["weight norm (weight_g/weight_v)"] = ["--vae-dir", d / "hub" / "vae", "--vocoder-dir", wn]
    wp = d / "wn_param"
    wp.mkdir()
    (wp / "config.json").write_text((d / "hub" / "vocoder" / "config.json").read_text())
    normed = copy.deepcopy(voc)
    normed.apply_weight_norm()
    assert any("parametrizations" in k for k in normed.state_dict())
    torch.save(normed.state_dict(), wp / "pytorch_model.bin")
    forms["weight norm (parametrizations)"] = ["--vae-dir", d / "hub" / "vae", "--vocoder-dir", wp]
    return forms


def export(args, out: Path):
    p = subprocess.run([sys.executable, str(EXPORT), *map(str, args), "-o", str(out)], capture_output=True, text=True)
    if p.returncode != 0:
        raise AssertionError(f"export_models.py {args} failed:\n{p.stdout}\n{p.stderr}")
    return p.stdout


def rel(a, b):
    """max |a - b| relative to max |b|."""
    a, b = torch.as_tensor(a), torch.as_tensor(b)
    return ((a - b).abs().max() / b.abs().max()).item()


@torch.no_grad()
def upstream_reference(vae, voc, feature):
    """What diffusers/transformers compute for a [T, 64] feature: encoder moments, decoded feature, waveform."""
    x = torch.from_numpy(np.ascontiguousarray(feature))[None, None].float()
    post = vae.encode(x).latent_dist
    decoded = vae.decode(post.mode()).sample
    return post.mean, post.logvar, decoded, voc(decoded.squeeze(1))


class Upstream(unittest.TestCase):
    def check_export(self, out: Path, vae, voc, tol):
        ts_vae, ts_voc = torch.jit.load(str(out / "vae.pt")), torch.jit.load(str(out / "vocoder.pt"))
        torch.manual_seed(1)
        feature = (torch.randn(64, 64) * 2 - 5).numpy()
        mean, logvar, decoded, wave = upstream_reference(vae, voc, feature)
        with torch.no_grad():
            moments = ts_vae.encode(torch.from_numpy(feature)[None, None])
            ours_dec = ts_vae.decode(mean)
            ours_wave = ts_voc(decoded.squeeze(1))
        c = mean.shape[1]
        self.assertGreater(wave.abs().mean().item(), 0.01, "the reference vocoder must not be near-silent")
        self.assertLess((wave.abs() > 0.99).float().mean().item(), 0.5, "nor saturated")
        errs = {"encoder mean": rel(moments[:, :c], mean), "encoder logvar": rel(moments[:, c:], logvar),
                "decoder": rel(ours_dec, decoded), "vocoder": rel(ours_wave, wave)}
        for what, e in errs.items():
            self.assertLess(e, tol, f"{out.name}: {what} differs from upstream by {e:.3e} of its peak")
        return errs

    def test_every_input_form_at_the_tiny_config(self):
        vae, voc = upstream_pair("tiny")
        with tmpdir() as d:
            d = Path(d)
            for name, args in save_forms(vae, voc, d).items():
                with self.subTest(form=name):
                    out = d / ("x-" + "".join(c if c.isalnum() else "_" for c in name))
                    log = export(args, out)
                    # export_models.py states its own parity line for every form when upstream is installed.
                    self.assertRegex(log, r"VAE\s+max \|ours - diffusers\|\s+= \d")
                    self.assertRegex(log, r"vocoder\s+max \|ours - transformers\|\s+= \d")
                    self.check_export(out, vae, voc, TOL)

    def test_full_config_and_the_binary_end_to_end(self):
        for size in ("tiny", "full"):
            with self.subTest(size=size), tmpdir() as d:
                d = Path(d)
                vae, voc = upstream_pair(size)
                vae.save_pretrained(d / "hub" / "vae")
                voc.save_pretrained(d / "hub" / "vocoder")
                export([d / "hub"], d / "models")
                self.check_export(d / "models", vae, voc, TOL)
                # The binary on real speech: what it fed the VAE, decoded and vocoded, held to upstream.
                clip = d / "clip.wav"
                sf.write(clip, sf.read(SPEECH, dtype="float32")[0][:16000 * 2], 16000, subtype="FLOAT")
                dump = d / "dump"
                p = run(clip, "-o", d / "o.wav", "--models", d / "models", "--dump-dir", dump, "--format", "float",
                        "--threads", "0", "-q")
                self.assertEqual(p.returncode, 0, p.stderr)
                feature = np.load(dump / "feature.npy")
                _, _, decoded, wave = upstream_reference(vae, voc, feature)
                dec_err = rel(np.load(dump / "decoded.npy"), decoded[0, 0].numpy())
                wav_err = rel(np.load(dump / "vocoder_raw.npy"), wave[0].numpy())
                self.assertLess(dec_err, CXX_TOL, f"{size}: C++ decoded feature vs diffusers")
                self.assertLess(wav_err, CXX_TOL, f"{size}: C++ vocoder output vs transformers")


if __name__ == "__main__":
    unittest.main()
