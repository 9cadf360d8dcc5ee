"""STOI and ESTOI as the pystoi 0.4.1 package computes them, in numpy/scipy, written from its algorithm
(SPEC.md section 4) for the tests: pystoi itself is not installable here (no PyPI). The resampling goes
through scipy.signal.resample_poly with Octave's window, as pystoi's does, independently of the C++
polyphase code."""
import numpy as np
from scipy.signal import resample_poly

FS, N_FRAME, NFFT, NUMBAND, MINFREQ, N, BETA, DYN_RANGE = 10000, 256, 512, 15, 150, 30, -15.0, 40
EPS = np.finfo("float").eps


def _octave_window(p, q):
    g = np.gcd(p, q)
    p, q = p // g, q // g
    fc = 1.0 / (2 * max(p, q))
    L = np.ceil((60.0 - 8) / (28.714 * fc / 10))
    t = np.arange(-L, L + 1)
    h = np.kaiser(2 * L + 1, 0.1102 * (60.0 - 8.7)) * 2 * p * fc * np.sinc(2 * fc * t)
    return h / np.sum(h)


def resample_oct(x, p, q):
    return resample_poly(x, p, q, window=_octave_window(p, q))


def thirdoct():
    f = np.linspace(0, FS, NFFT + 1)[: NFFT // 2 + 1]
    k = np.arange(NUMBAND).astype(float)
    lo = MINFREQ * np.power(2.0, (2 * k - 1) / 6)
    hi = MINFREQ * np.power(2.0, (2 * k + 1) / 6)
    obm = np.zeros((NUMBAND, len(f)))
    for i in range(NUMBAND):
        obm[i, np.argmin(np.square(f - lo[i])): np.argmin(np.square(f - hi[i]))] = 1
    return obm


def stft(x):
    w = np.hanning(N_FRAME + 2)[1:-1]
    return np.array([np.fft.rfft(w * x[i:i + N_FRAME], n=NFFT) for i in range(0, len(x) - N_FRAME, N_FRAME // 2)])


def remove_silent_frames(x, y):
    w = np.hanning(N_FRAME + 2)[1:-1]
    hop = N_FRAME // 2
    xf = np.array([w * x[i:i + N_FRAME] for i in range(0, len(x) - N_FRAME, hop)])
    yf = np.array([w * y[i:i + N_FRAME] for i in range(0, len(x) - N_FRAME, hop)])
    e = 20 * np.log10(np.linalg.norm(xf, axis=1) + EPS)
    mask = (np.max(e) - DYN_RANGE - e) < 0
    xf, yf = xf[mask], yf[mask]

    def ola(frames):
        out = np.zeros((len(frames) - 1) * hop + N_FRAME)
        for i, f in enumerate(frames):
            out[i * hop: i * hop + N_FRAME] += f
        return out
    return ola(xf), ola(yf)


def _row_col_normalize(x):
    x = x - np.mean(x, axis=-1, keepdims=True)
    x = x / np.sqrt(np.sum(x ** 2, axis=-1, keepdims=True))
    x = x - np.mean(x, axis=1, keepdims=True)
    return x / np.sqrt(np.sum(x ** 2, axis=1, keepdims=True))


def stoi(x, y, fs, extended=False):
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if fs != FS:
        x, y = resample_oct(x, FS, fs), resample_oct(y, FS, fs)
    x, y = remove_silent_frames(x, y)
    obm = thirdoct()
    x_tob = np.sqrt(obm @ np.square(np.abs(stft(x).T)))
    y_tob = np.sqrt(obm @ np.square(np.abs(stft(y).T)))
    if x_tob.shape[1] < N:
        return 1e-5
    xs = np.array([x_tob[:, m - N:m] for m in range(N, x_tob.shape[1] + 1)])
    ys = np.array([y_tob[:, m - N:m] for m in range(N, x_tob.shape[1] + 1)])
    if extended:
        return np.sum(_row_col_normalize(xs) * _row_col_normalize(ys) / N) / xs.shape[0]
    norm = np.linalg.norm(xs, axis=2, keepdims=True) / (np.linalg.norm(ys, axis=2, keepdims=True) + EPS)
    yp = np.minimum(ys * norm, xs * (1 + 10 ** (-BETA / 20)))
    yp = yp - np.mean(yp, axis=2, keepdims=True)
    xs = xs - np.mean(xs, axis=2, keepdims=True)
    yp /= np.linalg.norm(yp, axis=2, keepdims=True) + EPS
    xs /= np.linalg.norm(xs, axis=2, keepdims=True) + EPS
    return np.sum(yp * xs) / (xs.shape[0] * xs.shape[1])
