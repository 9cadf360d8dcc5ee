"""An independent numpy/scipy implementation of the AudioLDM2 feature, written from librosa's and
AudioLDM2's definitions (not from ldmrecon's C++), used as the reference the C++ feature must match.

ref: librosa.filters.mel (Slaney scale, slaney norm), librosa.stft(center=True, pad_mode="reflect"),
     AudioLDM2 audio/stft.py TacotronSTFT.mel_spectrogram (magnitude, log(clamp(x, 1e-5))),
     AudioLDM2 data/dataset.py normalize_wav.
"""
import numpy as np
from scipy.signal import get_window


def normalize_wav(x):
    x = x.astype(np.float64) - np.mean(x)
    x = x / (np.max(np.abs(x)) + 1e-8)
    return x * 0.5


def hz_to_mel(f):
    f = np.asanyarray(f, dtype=np.float64)
    f_sp = 200.0 / 3
    mels = f / f_sp
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    return np.where(f >= min_log_hz, min_log_mel + np.log(np.maximum(f, 1e-12) / min_log_hz) / logstep, mels)


def mel_to_hz(m):
    m = np.asanyarray(m, dtype=np.float64)
    f_sp = 200.0 / 3
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


def mel_basis(sr=16000, n_fft=1024, n_mels=64, fmin=0.0, fmax=8000.0):
    fftfreqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    mel_f = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fftfreqs)
    w = np.zeros((n_mels, len(fftfreqs)))
    for i in range(n_mels):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        w[i] = np.maximum(0, np.minimum(lower, upper))
    w *= (2.0 / (mel_f[2:n_mels + 2] - mel_f[:n_mels]))[:, None]
    return w


def stft_magnitude(x, n_fft=1024, hop=160, win=1024):
    window = np.zeros(n_fft)
    off = (n_fft - win) // 2
    window[off:off + win] = get_window("hann", win, fftbins=True)
    y = np.pad(np.asarray(x, dtype=np.float64), n_fft // 2, mode="reflect")
    n_frames = 1 + (len(y) - n_fft) // hop
    idx = np.arange(n_fft)[None, :] + hop * np.arange(n_frames)[:, None]
    return np.abs(np.fft.rfft(y[idx] * window[None, :], axis=1))  # [T, n_bins], time first


def logmel(x, sr=16000, n_fft=1024, hop=160, win=1024, n_mels=64, fmin=0.0, fmax=8000.0, floor=1e-5):
    """ln(max(mel(|X|), 1e-5)) as [T, n_mels]; also returns the un-compressed mel energies."""
    mel = stft_magnitude(x, n_fft, hop, win) @ mel_basis(sr, n_fft, n_mels, fmin, fmax).T
    return np.log(np.maximum(mel, floor)), mel


def power_db(x, sr=16000, n_fft=1024, hop=160, n_mels=64, fmax=8000.0):
    """The original notes' feature: librosa.power_to_db(melspectrogram(power=2), ref=np.max), top_db=80."""
    mel = (stft_magnitude(x, n_fft, hop, n_fft) ** 2) @ mel_basis(sr, n_fft, n_mels, 0.0, fmax).T
    db = 10 * np.log10(np.maximum(1e-10, mel)) - 10 * np.log10(max(1e-10, mel.max()))
    return np.maximum(db, db.max() - 80.0)
