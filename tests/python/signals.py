"""Deterministic test signals."""
import numpy as np


def speech_like(sr: int, seconds: float, seed: int = 0) -> np.ndarray:
    """A voiced-speech-like signal: a harmonic series on a gliding pitch with syllable-rate amplitude
    modulation, a noise burst (fricative) and a pause, peak about 0.5."""
    rng = np.random.default_rng(seed)
    n = int(round(sr * seconds))
    t = np.arange(n) / sr
    f0 = 120 + 25 * np.sin(2 * np.pi * 2.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    harm = sum((0.3 / k) * np.sin(k * phase) for k in range(1, min(40, int(sr / 2 / 170))))
    x = harm * (0.55 + 0.45 * np.sin(2 * np.pi * 3.1 * t))
    a, b = int(0.35 * n), int(0.45 * n)
    x[a:b] += 0.08 * rng.standard_normal(b - a)
    c, d = int(0.7 * n), int(0.78 * n)
    x[c:d] = 0.0
    return (0.5 * x / np.max(np.abs(x))).astype(np.float64)
