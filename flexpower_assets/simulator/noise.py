"""Seeded random streams and smooth noise.

Every random number of the simulator comes from a stream named here by the run's seed and a few
keys (a purpose and, where it matters, an asset id or a day), so a run is reproducible byte for
byte and one stream does not shift when another draws more numbers.
"""

from __future__ import annotations

import zlib

import numpy as np


def rng_for(seed: int, *keys: str | int) -> np.random.Generator:
    """An independent generator for ``seed`` and the named purpose ``keys``."""
    words = [int(seed) % 2**63]
    for key in keys:
        words.append(zlib.crc32(key.encode()) if isinstance(key, str) else int(key) % 2**63)
    return np.random.default_rng(np.random.SeedSequence(words))


def smooth_normal(rng: np.random.Generator, n: int, width: float) -> np.ndarray:
    """``n`` standard-normal values correlated over about ``width`` steps (filtered white noise)."""
    sigma = max(float(width), 0.5) / 2.0
    half = int(3 * sigma) + 1
    x = np.arange(-half, half + 1, dtype=float)
    kernel = np.exp(-0.5 * (x / sigma) ** 2)
    kernel /= np.sqrt((kernel**2).sum())
    white = rng.standard_normal(n + 2 * half)
    return np.convolve(white, kernel, mode="valid")


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))
