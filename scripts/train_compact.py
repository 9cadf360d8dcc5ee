#!/usr/bin/env python3
"""Train the compact model pair (the project's AutoencoderKL and SpeechT5HifiGan, smaller configs) that
ships in models/, then export it with ldmrecon's metadata.

  scripts/prepare_data.py                                   # once: speech into ~/.cache/ldmrecon/data
  scripts/train_compact.py vae     --run runs/vae     --steps 1500 --threads 1
  scripts/train_compact.py vocoder --run runs/vocoder --steps 10000 --threads 1 --sources asterisk,synthetic
  scripts/train_compact.py vocoder --run runs/vocoder --steps 18000 --gan --restart-schedule --lr 2e-4 \
      --vae-features models/vae.pt --threads 1 --sources asterisk,synthetic
  scripts/train_compact.py export  --vae models/vae.pt --vocoder runs/vocoder -o models

Each training command is resumable: run it again with the same --run and it continues from the last
checkpoint (saved every --save-every steps and at the end, model + optimiser + RNG state, and the
discriminators with --gan; keep checkpoints out of the repository). Losses go to RUN/log.tsv. Fixed seed;
CPU by default, CUDA when --device cuda and the torch has it. `export` takes run folders or earlier exports.

Recipes (see docs/models.md):
  VAE      L1 of the log-mel feature (mean over bins) + kl_weight * KL (mean over latent elements), posterior
           samples in training, kl_weight 1e-4. AudioLDM2's VAE adds a patch discriminator after 50k steps
           and LPIPS; neither fits a CPU budget and both are left out.
  vocoder  --config picks one of VOCODER_CONFIGS (scripts/vocoder_candidates.py measures them). First leg:
           log-mel L1 (HiFi-GAN's mel loss, same feature as the model input) + multi-resolution STFT
           (spectral convergence + log magnitude, FFT sizes 512/1024/2048), generator only. --gan: HiFi-GAN's
           recipe, multi-period and multi-scale discriminators (scripts/hifigan_discriminators.py, channels
           narrowed 8x) with least-squares losses and feature matching, generator loss adv + 2 fm + 45 mel.
           --vae-features: half the crops (--vae-share) take the exported VAE's reconstruction of the feature
           as input, so the full path is what improves. --lowered 0.5: half the Asterisk files again, slowed
           1.3-1.8x (real speech at male pitch; how the shipped v2 vocoder was made from v1).
The data is the train split of prepare_data.py's manifest: the Asterisk prompts in English, Spanish and
French, and for the vocoder also the synthetic voices (male ones: every Asterisk training voice is female);
each file normalised as AudioLDM2's recipe does (mean removed, peak 0.5) and joined with
0.1 s of silence between files.
"""
import argparse
import json
import math
import os
import platform
import random
import sys
import time
import wave
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ldmrecon_python import ensure_torch  # noqa: E402

ensure_torch()

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from ldmrecon_export import METADATA_NAME, audioldm2_feature, export_pair  # noqa: E402
from hifigan_discriminators import (Discriminators, discriminator_loss, feature_matching_loss,  # noqa: E402
                                  generator_adversarial_loss)
from ldmrecon_models import VAE_DEFAULTS, VOCODER_DEFAULTS, AutoencoderKL, SpeechT5HifiGan  # noqa: E402

COMPACT_VAE = dict(VAE_DEFAULTS, block_out_channels=[16, 32, 64], layers_per_block=1, norm_num_groups=8)
# Compact vocoder configs (same SpeechT5HifiGan class; channels halve at every upsampling stage), measured
# by scripts/vocoder_candidates.py and short trial runs; docs/models.md "A vocoder that follows pitch" says why the
# default was chosen. "v1" is the first shipped one: five stages leave 4 channels at 16 kHz.
VOCODER_CONFIGS = {
    "v1": dict(VOCODER_DEFAULTS, upsample_initial_channel=128),
    "s3-128": dict(VOCODER_DEFAULTS, upsample_initial_channel=128, upsample_rates=[8, 5, 4],
                   upsample_kernel_sizes=[16, 10, 8]),
    "s3-128-late": dict(VOCODER_DEFAULTS, upsample_initial_channel=128, upsample_rates=[4, 5, 8],
                        upsample_kernel_sizes=[8, 10, 16]),
    "s3-192": dict(VOCODER_DEFAULTS, upsample_initial_channel=192, upsample_rates=[10, 4, 4],
                   upsample_kernel_sizes=[20, 8, 8]),
    "s4-256": dict(VOCODER_DEFAULTS, upsample_initial_channel=256, upsample_rates=[5, 4, 4, 2],
                   upsample_kernel_sizes=[10, 8, 8, 4]),
    "s3-128-k357": dict(VOCODER_DEFAULTS, upsample_initial_channel=128, upsample_rates=[8, 5, 4],
                        upsample_kernel_sizes=[16, 10, 8], resblock_kernel_sizes=[3, 5, 7]),
}
KL_WEIGHT = 1e-4
SEED = 20261123
HOP = 160


# ------------------------------------------------------------------------------------------ feature
def slaney_mel_basis(sr=16000, n_fft=1024, n_mels=64, fmin=0.0, fmax=8000.0) -> torch.Tensor:
    """librosa.filters.mel defaults (Slaney scale and area norm) as [n_mels, n_fft/2+1]."""
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, math.log(6.4) / 27.0

    def to_mel(f):
        return np.where(f >= min_log_hz, min_log_mel + np.log(np.maximum(f, 1e-12) / min_log_hz) / logstep, f / f_sp)

    def to_hz(m):
        return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)

    freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    mel_f = to_hz(np.linspace(to_mel(np.array(fmin)), to_mel(np.array(fmax)), n_mels + 2))
    ramps = mel_f[:, None] - freqs[None, :]
    fdiff = np.diff(mel_f)
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    w = np.maximum(0, np.minimum(lower, upper)) * (2.0 / (mel_f[2:] - mel_f[:-2]))[:, None]
    return torch.from_numpy(w).float()


class LogMel(torch.nn.Module):
    """AudioLDM2's feature (SPEC.md section 1): ln(max(mel(|STFT|), 1e-5)), [B, N] -> [B, T, 64]."""

    def __init__(self):
        super().__init__()
        self.register_buffer("basis", slaney_mel_basis())
        self.register_buffer("window", torch.hann_window(1024, periodic=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(x, 1024, HOP, 1024, self.window, center=True, pad_mode="reflect", return_complex=True)
        mag = spec.abs().clamp_min(0)  # [B, 513, T]
        return torch.log(torch.clamp(torch.matmul(self.basis, mag), min=1e-5)).transpose(1, 2)


def mrstft_loss(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Spectral convergence + mean |log magnitude| difference, averaged over three resolutions."""
    total = y.new_zeros(())
    for n_fft, hop in ((512, 128), (1024, 256), (2048, 512)):
        w = torch.hann_window(n_fft, device=y.device)
        Y = torch.stft(y, n_fft, hop, n_fft, w, return_complex=True).abs().clamp_min(1e-7)
        X = torch.stft(x, n_fft, hop, n_fft, w, return_complex=True).abs().clamp_min(1e-7)
        sc = torch.linalg.norm(X - Y) / torch.linalg.norm(X).clamp_min(1e-7)
        total = total + sc + (torch.log(X) - torch.log(Y)).abs().mean()
    return total / 3


# ------------------------------------------------------------------------------------------ data
def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path)) as w:
        if w.getframerate() != 16000 or w.getnchannels() != 1 or w.getsampwidth() != 2:
            raise SystemExit(f"{path}: expected 16 kHz mono 16-bit (re-run scripts/prepare_data.py)")
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0


def normalise(x: np.ndarray) -> np.ndarray:
    # ref: AudioLDM2 data/dataset.py normalize_wav, as SPEC.md section 1
    x = x - x.mean()
    return (0.5 * x / (np.abs(x).max() + 1e-8)).astype(np.float32)


SOURCES = ("asterisk", "ktuberling", "synthetic", "festival", "music")


def source_of(row) -> str:
    """A manifest row's source for --sources: asterisk (en/es/fr prompts), ktuberling (real words, many
    speakers), synthetic (flite, espeak-ng), festival (its male diphone voices, also synthetic speech) or
    music (music on hold, real instruments)."""
    if row[1] == "music":
        return "music"
    if row[1] == "synthetic":
        return "festival" if row[2] == "festival" else "synthetic"
    return "ktuberling" if row[2] == "ktuberling-data" else "asterisk"


def manifest(data: Path, split: str, sources=("asterisk",)):
    """(language, path) of the split's files from the chosen sources (SOURCES)."""
    path = data / "manifest.tsv"
    if not path.exists():
        raise SystemExit(f"{path}: no manifest; run scripts/prepare_data.py first")
    rows = [ln.split("\t") for ln in path.read_text().splitlines()[1:] if ln]
    return [(r[1], data / r[6]) for r in rows if r[0] == split and source_of(r) in sources]


def slowed(x: np.ndarray, factor: float) -> np.ndarray:
    """x played `factor` times slower: band-limited (FFT) resampling to factor x the length, which lowers
    pitch and formants by log2(factor) octaves; nothing above 8 kHz / factor."""
    n = int(round(len(x) * factor))
    X = np.fft.rfft(x)
    Y = np.zeros(n // 2 + 1, np.complex128)
    Y[:len(X)] = X
    return (np.fft.irfft(Y, n) * factor).astype(np.float32)


def training_stream(data: Path, sources, lowered: float = 0.0) -> torch.Tensor:
    """The split's files, normalised and joined with 0.1 s gaps. `lowered`: that share of the Asterisk
    (female) files is appended again slowed 1.3-1.8x (pitch 0.4-0.85 octaves lower), so that the vocoder
    sees real speech at male pitch, which the data otherwise has only from synthetic voices."""
    gap = np.zeros(1600, np.float32)
    parts = []
    rng = random.Random(SEED)
    files = manifest(data, "train", sources)
    for _, p in files:
        parts += [normalise(read_wav(p)), gap]
    for lang, p in files:
        if lang in ("en", "es", "fr") and rng.random() < lowered:
            parts += [normalise(slowed(read_wav(p), rng.uniform(1.3, 1.8))), gap]
    return torch.from_numpy(np.concatenate(parts))


# ------------------------------------------------------------------------------------------ training
class Run:
    """Checkpointing and logging for one resumable training run. `parts` are further modules and
    optimisers (the discriminators and theirs) saved beside the model; a checkpoint without them (a
    generator-only leg) resumes with them fresh."""

    def __init__(self, folder: Path, model: torch.nn.Module, opt: torch.optim.Optimizer, parts=None):
        self.folder, self.model, self.opt, self.step = folder, model, opt, 0
        self.parts = parts or {}
        self.elapsed, self.started = 0.0, time.time()  # training seconds over all invocations
        folder.mkdir(parents=True, exist_ok=True)
        ck = folder / "checkpoint.pt"
        if ck.exists():
            state = torch.load(ck, map_location="cpu")
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["opt"])
            for name, part in self.parts.items():
                if name in state:
                    part.load_state_dict(state[name])
            self.step = state["step"]
            self.elapsed = state.get("elapsed", 0.0)
            torch.set_rng_state(state["torch_rng"])
            random.setstate(state["py_rng"])
            print(f"resumed {folder} at step {self.step}", flush=True)
        self.log = open(folder / "log.tsv", "a")

    def save(self, extra: dict) -> None:
        tmp = self.folder / "checkpoint.pt.tmp"
        torch.save({"model": self.model.state_dict(), "opt": self.opt.state_dict(), "step": self.step,
                    "elapsed": self.total_seconds(),
                    **{name: part.state_dict() for name, part in self.parts.items()},
                    "torch_rng": torch.get_rng_state(), "py_rng": random.getstate(), **extra}, tmp)
        os.replace(tmp, self.folder / "checkpoint.pt")

    def total_seconds(self) -> float:
        return self.elapsed + time.time() - self.started

    def record(self, **values) -> None:
        if self.log.tell() == 0:
            self.log.write("step\t" + "\t".join(values) + "\n")
        elif not hasattr(self, "_columns"):  # a leg with other losses than the last: a new header line
            last_header = [ln for ln in (self.folder / "log.tsv").read_text().splitlines() if ln.startswith("step")]
            if last_header and last_header[-1] != "step\t" + "\t".join(values):
                self.log.write("step\t" + "\t".join(values) + "\n")
        self._columns = True
        self.log.write(f"{self.step}\t" + "\t".join(f"{v:.5f}" for v in values.values()) + "\n")
        self.log.flush()


def lr_at(step: int, total: int, peak: float, leg_start: int = 0) -> float:
    """Linear warm-up, then cosine to 2 % of the peak, over the steps from leg_start to total."""
    step, total = step - leg_start, total - leg_start
    warm = min(500, total // 10)
    if step < warm:
        return peak * (step + 1) / warm
    return peak * 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warm) / max(1, total - warm)))) + peak * 0.02


def stream_feature(stream: torch.Tensor, feat: "LogMel", dev) -> torch.Tensor:
    """The whole stream's log-mel [frames, 64], computed once; training crops are rows of it."""
    with torch.no_grad():
        return torch.cat([feat(stream[i:i + 1600000].unsqueeze(0).to(dev))[0][:-1]
                          for i in range(0, len(stream), 1600000)])


def vae_reconstructed(full: torch.Tensor, vae_path: Path) -> torch.Tensor:
    """The stream's feature after the exported VAE (encode, posterior mean, decode), in 1024-frame windows
    as ldmrecon runs it: the input the vocoder gets in the full path."""
    vae = torch.jit.load(str(vae_path), map_location="cpu").eval()
    out = full.clone()
    with torch.no_grad():
        for i in range(0, full.shape[0] - 1023, 1024):
            x = full[i:i + 1024].unsqueeze(0).unsqueeze(0).cpu()
            out[i:i + 1024] = vae.decode(vae.encode(x).chunk(2, dim=1)[0])[0, 0].to(full.device)
    print(f"vocoder input: {vae_path}'s reconstruction of the training feature", flush=True)
    return out


def vae_step(model, full, starts, frames):
    x = torch.stack([full[s:s + frames] for s in starts]).unsqueeze(1)
    mean, logvar = model.encode(x).chunk(2, dim=1)
    z = mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)
    rec = (model.decode(z) - x).abs().mean()
    kl = 0.5 * (mean ** 2 + logvar.exp() - 1 - logvar).mean()
    loss = rec + KL_WEIGHT * kl
    return loss, {"loss": loss.item(), "mel_l1": rec.item(), "kl": kl.item()}


class VocoderLosses:
    """Generator-only: log-mel L1 + MR-STFT. With discriminators (--gan), HiFi-GAN's generator loss
    adv + 2 * feature matching + 45 * log-mel L1, and the discriminators' least-squares step."""

    def __init__(self, feat, vae_share=0.0):
        self.feat, self.vae_share, self.disc, self.disc_opt = feat, vae_share, None, None

    def __call__(self, model, stream, inputs, starts, frames, dev):
        wav = torch.stack([stream[s * HOP:(s + frames) * HOP] for s in starts]).to(dev)
        m = self.feat(wav)[:, :frames]
        x = m
        if inputs is not None:  # the VAE's reconstruction for a share of the crops, the true feature for the rest
            use = torch.rand(len(starts)) < self.vae_share
            x = torch.stack([inputs[s:s + frames] if u else row for s, u, row in zip(starts, use.tolist(), m)])
        y = model(x)[:, : frames * HOP]
        mel_l1 = (self.feat(y)[:, :frames] - m).abs().mean()
        if self.disc is None:
            mr = mrstft_loss(y, wav)
            loss = mel_l1 + mr
            return loss, {"loss": loss.item(), "mel_l1": mel_l1.item(), "mrstft": mr.item()}
        d_loss = self.discriminator_step(wav, y.detach())
        real_scores, real_feats = self.disc(wav)
        fake_scores, fake_feats = self.disc(y)
        adv = generator_adversarial_loss(fake_scores)
        fm = feature_matching_loss(real_feats, fake_feats)
        loss = adv + 2 * fm + 45 * mel_l1
        return loss, {"loss": loss.item(), "mel_l1": mel_l1.item(), "adv": adv.item(), "fm": fm.item(),
                      "disc": d_loss}

    def discriminator_step(self, wav, fake) -> float:
        for g in self.disc_opt.param_groups:
            g["lr"] = self.lr
        real_scores, _ = self.disc(wav)
        fake_scores, _ = self.disc(fake)
        loss = discriminator_loss(real_scores, fake_scores)
        self.disc_opt.zero_grad(set_to_none=True)
        loss.backward()
        self.disc_opt.step()
        return loss.item()


def vocoder_config(args) -> dict:
    """The run's config: the checkpoint's when resuming (a different --config is refused), else --config."""
    ck = args.run / "checkpoint.pt"
    if ck.exists():
        cfg = torch.load(ck, map_location="cpu")["config"]
        if args.config and VOCODER_CONFIGS[args.config] != cfg:
            raise SystemExit(f"{args.run}: trained with another config than --config {args.config}; "
                             "use a new --run folder")
        return cfg
    if args.init:
        return load_trained(args.init, SpeechT5HifiGan, "vocoder")[1]
    return VOCODER_CONFIGS[args.config or "s3-128-k357"]


def train(args, kind: str) -> None:
    torch.manual_seed(SEED)
    random.seed(SEED)
    torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    stream = training_stream(args.data, args.sources, args.lowered)
    feat = LogMel().to(dev)
    parts, inputs, full = {}, None, None
    if kind == "vae":
        config = COMPACT_VAE
        model = AutoencoderKL(config).to(dev)
        frames, batch, peak = args.frames or 256, args.batch or 8, args.lr or 5e-4
        full = stream_feature(stream, feat, dev)
    else:
        config = vocoder_config(args)
        model = SpeechT5HifiGan(config).to(dev)
        frames, batch, peak = args.frames or 32, args.batch or 8, args.lr or 1e-3
        if args.vae_features:
            inputs = vae_reconstructed(stream_feature(stream, feat, dev), args.vae_features)
        losses = VocoderLosses(feat, args.vae_share)
        if args.gan:
            losses.disc = Discriminators(args.disc_width_div).to(dev)
            losses.disc_opt = torch.optim.AdamW(losses.disc.parameters(), lr=peak, betas=(0.8, 0.99))
            parts = {"disc": losses.disc, "disc_opt": losses.disc_opt}
    if args.init and not (args.run / "checkpoint.pt").exists():
        # A new run from exported weights (the optimiser and any discriminators start fresh).
        model.load_state_dict(load_trained(args.init, type(model), kind)[0].state_dict())
        print(f"{kind}: starting from {args.init}", flush=True)
    opt = torch.optim.AdamW(model.parameters(), lr=peak, betas=(0.8, 0.99), weight_decay=0.0)
    run = Run(args.run, model, opt, parts)
    (args.run / "command.txt").write_text(" ".join(sys.argv) + "\n")
    t0, shown, first = time.time(), time.time(), run.step
    leg_start = run.step if args.restart_schedule else 0
    n_frames = (len(stream) - 1) // HOP
    while run.step < args.steps:
        lr = lr_at(run.step, args.steps, peak, leg_start)
        for g in opt.param_groups:
            g["lr"] = lr
        starts = [random.randrange(0, n_frames - frames - 1) for _ in range(batch)]
        if kind == "vae":
            loss, values = vae_step(model, full, starts, frames)
        else:
            losses.lr = lr
            loss, values = losses(model, stream, inputs, starts, frames, dev)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0 if not args.gan else 1000.0)
        opt.step()
        run.step += 1
        if run.step % 10 == 0:
            run.record(**values, lr=lr)
        if time.time() - shown > 60 or run.step == args.steps:
            rate = (run.step - first) / max(1e-9, time.time() - t0)
            print(f"{kind} step {run.step}/{args.steps} " + " ".join(f"{k} {v:.4f}" for k, v in values.items())
                  + f" ({rate:.2f} steps/s in this invocation)", flush=True)
            shown = time.time()
        if run.step % args.save_every == 0 or run.step == args.steps:
            run.save({"config": config})
    write_history(args, run, first, time.time() - t0, frames, batch, peak)
    print(f"{kind}: done, {run.step} steps, {(time.time() - t0) / 60:.1f} min this run", flush=True)


def write_history(args, run: Run, first: int, seconds: float, frames: int, batch: int, peak: float) -> None:
    info = {"steps": run.step, "seconds_this_invocation": round(seconds, 1), "machine": machine(args),
            "sources": list(args.sources),
            "frames": frames, "batch": batch, "peak_lr": peak,
            "command": "scripts/train_compact.py " + " ".join(sys.argv[1:])}
    # A run continued with more steps keeps a line per invocation, so the shipped metadata tells how
    # the weights were really made (schedules restarted, threads changed, when).
    prev = args.run / "training.json"
    old = json.loads(prev.read_text()) if prev.exists() else inherited_record(args)
    # A run from --init continues the exported model's steps: count on from them.
    base = old.get("init_steps", 0)
    info["steps"] = base + run.step
    info["seconds_total"] = round(old.get("init_seconds", 0) + run.total_seconds(), 1)
    for key in ("init_steps", "init_seconds", "initialised_from"):
        if key in old:
            info[key] = old[key]
    leg = {"from_step": base + first, "to_step": base + run.step, "command": info["command"], "peak_lr": peak,
           "machine": info["machine"], "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", ""),
           "finished_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()), "seconds": round(seconds, 1)}
    info["history"] = old.get("history", []) + [leg]
    if "wall_clock_note" in old:  # a note written by hand for legs run before the history existed
        info["wall_clock_note"] = old["wall_clock_note"]
    prev.write_text(json.dumps(info, indent=1) + "\n")


def inherited_record(args) -> dict:
    """For a new run from --init: the export's own training record (its history and step count), so the
    metadata of what ships tells every leg, not only the last."""
    if not args.init:
        return {}
    cls = AutoencoderKL if args.what == "vae" else SpeechT5HifiGan
    rec = load_trained(args.init, cls, args.what)[2]
    out = {"history": rec.get("history", []), "init_steps": rec.get("steps", 0),
           "init_seconds": rec.get("seconds_total", 0), "initialised_from": rec.get("reexported_from", str(args.init))}
    if "wall_clock_note" in rec:
        out["wall_clock_note"] = rec["wall_clock_note"]
    return out


def machine(args) -> str:
    if args.device.startswith("cuda"):
        return torch.cuda.get_device_name(0)
    return f"{platform.processor() or platform.machine()}, {args.threads} threads, torch {torch.__version__}"


# ------------------------------------------------------------------------------------------ export
def latent_scaling_factor(vae: AutoencoderKL, data: Path) -> float:
    """1 / std of latent samples over the training stream, as AudioLDM2 set its scaling factor."""
    stream = training_stream(data, ("asterisk",))
    feat = LogMel()
    g = torch.Generator().manual_seed(SEED)
    zs = []
    with torch.no_grad():
        for i in range(0, min(len(stream), 1024 * HOP * 64), 1024 * HOP):
            x = feat(stream[i:i + 1024 * HOP].unsqueeze(0))[:, :1024].unsqueeze(1)
            if x.shape[2] < 1024:
                break
            mean, logvar = vae.encode(x).chunk(2, dim=1)
            zs.append(mean + torch.exp(0.5 * logvar) * torch.randn(mean.shape, generator=g))
    return float(1.0 / torch.cat(zs).flatten().std())


def load_trained(path: Path, cls, kind: str):
    """(model, config, training record) from a run folder (its checkpoint) or from an export of an earlier
    pair (a .pt file: its weights and metadata), so one model can be re-exported beside a new other one."""
    if path.suffix == ".pt":
        extra = {METADATA_NAME: ""}
        ts = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
        meta = json.loads(extra[METADATA_NAME])
        model = cls(meta["config"])
        model.load_state_dict(ts.state_dict())
        record = dict(meta.get("training", {}).get(kind, {}), reexported_from=f"{path.name} of {meta.get('source')}")
        return model.eval(), meta["config"], record
    state = torch.load(path / "checkpoint.pt", map_location="cpu")
    model = cls(state["config"])
    model.load_state_dict(state["model"])
    info = path / "training.json"  # written when a run reaches its last step
    record = json.loads(info.read_text()) if info.exists() else {"steps": state["step"], "finished": False}
    return model.eval(), state["config"], record


def weights_licence(used) -> str:
    """The exported weights' licence: CC BY-SA 3.0 as the prompts, plus every GPL source the runs used."""
    gpl = []
    if "ktuberling" in used:
        gpl.append("GPL-2.0-or-later recordings (ktuberling-data)")
    if "festival" in used:
        gpl.append("GPL voices' output (festvox-czech-machac GPL-3.0+, festvox-itapc16k GPL-2.0+)")
    text = "CC-BY-SA-3.0 (trained on CC BY-SA 3.0 prompts)"
    if gpl:
        text += "; also trained on " + " and ".join(gpl) + ", shipped within this GPL-3.0-or-later project"
    return text


def export(args) -> None:
    vae, vae_cfg, vae_record = load_trained(args.vae, AutoencoderKL, "vae")
    voc, voc_cfg, voc_record = load_trained(args.vocoder, SpeechT5HifiGan, "vocoder")
    # An export's own scaling factor is kept (the same weights give the same value, up to sampling).
    sf = vae_cfg["scaling_factor"] if args.vae.suffix == ".pt" else latent_scaling_factor(vae, args.data)
    vae_cfg = dict(vae_cfg, scaling_factor=sf)
    runs = {"vae": vae_record, "vocoder": voc_record}
    man = [ln.split("\t") for ln in (args.data / "manifest.tsv").read_text().splitlines()[1:] if ln]

    def data_of(sources):
        rows = [r for r in man if r[0] == "train" and source_of(r) in sources]
        return {"sources": list(sources), "files": len(rows), "minutes": round(sum(float(r[5]) for r in rows) / 60, 1),
                "packages": sorted({r[2] if r[1] == "synthetic" else f"{r[2]} {r[3]}" for r in rows})}

    used = set(runs["vae"].get("sources", ["asterisk"])) | set(runs["vocoder"].get("sources", ["asterisk"]))
    data = {"vae": data_of(runs["vae"].get("sources", ["asterisk"])),
            "vocoder": data_of(runs["vocoder"].get("sources", ["asterisk"])),
            "licence": "Asterisk prompts CC-BY-SA-3.0; synthetic speech from flite/espeak-ng/Festival reading GPL-3's "
                       "text" + ("; ktuberling-data's words GPL-2.0-or-later" if "ktuberling" in used else "")
                       + ("; music on hold (asterisk-moh-opsound-wav) CC-BY-SA-3.0" if "music" in used else "")
                       + " (models/DATA.md, models/data-manifest.tsv)",
            "held_out": "test split (1 Asterisk prompt in 10 by name hash, en tt-allbusy always; whole speakers of "
                        "the other sources: ktuberling el/gl, Festival ked, flite rms), the music split (one artist) "
                        "and the it/ru packages"}
    # The manifest of everything the pair was trained on, with each file's licence, ships beside the models.
    args.out.mkdir(parents=True, exist_ok=True)
    header = "split\tlanguage\tpackage_or_tool\tversion_or_voice\tlicence\tseconds\tpath"
    (args.out / "data-manifest.tsv").write_text(
        header + "\n" + "".join("\t".join(r) + "\n" for r in man if r[0] == "train" and source_of(r) in used))
    export_pair(vae, vae_cfg, voc, voc_cfg, args.out, audioldm2_feature(), sf,
                source="scripts/train_compact.py",
                extra={"weights": "trained by ldmrecon (compact pair), not AudioLDM2",
                       "description": "compact pair trained by this project on Debian's Asterisk speech prompts "
                                      "(en/es/fr)" + (", ktuberling's spoken words" if "ktuberling" in used else "")
                                      + (", music on hold" if "music" in used else "")
                                      + (" and synthetic speech" if used & {"synthetic", "festival"} else "")
                                      + ", not AudioLDM2; for AudioLDM2, export it with scripts/export_models.py "
                                      "and pass --models DIR" + (f" ({args.note})" if args.note else ""),
                       "weights_licence": weights_licence(used),
                       "training": {"vae": runs["vae"], "vocoder": runs["vocoder"], "kl_weight": KL_WEIGHT,
                                    "seed": SEED, "data": data}})
    print(f"exported to {args.out}: scaling factor {sf:.4f}")


def main() -> int:
    default_data = os.environ.get("LDMRECON_DATA") or str(Path.home() / ".cache" / "ldmrecon" / "data")
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["vae", "vocoder", "export"])
    ap.add_argument("--data", type=Path, default=Path(default_data), help="prepare_data.py's cache")
    ap.add_argument("--run", type=Path, help="run folder (checkpoint, log) for vae/vocoder")
    ap.add_argument("--steps", type=int, default=6000)
    ap.add_argument("--sources", type=lambda v: tuple(v.split(",")), default=("asterisk",),
                    help="training data, comma-separated: asterisk (en/es/fr prompts, default), ktuberling (real "
                         "words, male speakers among them), synthetic (flite, espeak-ng), festival (male diphone voices), "
                         "music (music on hold)")
    ap.add_argument("--frames", type=int, help="frames per training crop (vae 256, vocoder 32)")
    ap.add_argument("--batch", type=int, help="crops per step (8)")
    ap.add_argument("--lr", type=float, help="peak learning rate (vae 5e-4, vocoder 1e-3)")
    ap.add_argument("--save-every", type=int, default=250)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--config", choices=sorted(VOCODER_CONFIGS),
                    help="vocoder: a new run's config (default s3-128-k357; v1 is the first shipped one)")
    ap.add_argument("--gan", action="store_true",
                    help="vocoder: HiFi-GAN's multi-period and multi-scale discriminators with feature matching")
    ap.add_argument("--disc-width-div", type=int, default=8, help="--gan: the paper's channels divided by this")
    ap.add_argument("--vae-features", type=Path, metavar="VAE_PT",
                    help="vocoder: train on this exported VAE's reconstruction of the feature (full-path fine-tuning)")
    ap.add_argument("--vae-share", type=float, default=0.5,
                    help="--vae-features: the share of crops given the VAE's reconstruction (the rest: the true feature)")
    ap.add_argument("--lowered", type=float, default=0.0, metavar="SHARE",
                    help="vocoder: append this share of the Asterisk (female) files slowed 1.3-1.8x, as real speech "
                         "at male pitch")
    ap.add_argument("--init", type=Path, metavar="EXPORT_PT",
                    help="a new run starts from this export's weights and config (e.g. continue a shipped vocoder)")
    ap.add_argument("--restart-schedule", action="store_true",
                    help="warm up and decay the learning rate over this leg's steps only")
    ap.add_argument("--vae", type=Path, help="export: the VAE run folder, or an exported vae.pt to carry over")
    ap.add_argument("--vocoder", type=Path, help="export: the vocoder run folder, or an exported vocoder.pt")
    ap.add_argument("-o", "--out", type=Path, help="export: output folder")
    ap.add_argument("--note", help="export: a remark appended to the description (e.g. a known weakness)")
    args = ap.parse_args()
    if args.what == "export":
        if not (args.vae and args.vocoder and args.out):
            ap.error("export needs --vae RUN --vocoder RUN -o DIR")
        export(args)
    else:
        if not args.run:
            ap.error(f"{args.what} needs --run FOLDER")
        train(args, args.what)
    return 0


if __name__ == "__main__":
    sys.exit(main())
