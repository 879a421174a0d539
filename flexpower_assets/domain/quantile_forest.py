"""A small quantile regression forest in numpy: one tree ensemble gives every quantile level.

Meinshausen (2006): grow regression trees (splits that reduce the squared error of the target),
then read a quantile of the target off the training rows that share a leaf with the row to
predict. Here each tree's leaf holds the quantiles of its training rows, and a row's quantile
is the mean over the trees of its leaves' quantiles (each tree's are sorted by level, so their
mean never crosses either).

Why not a library: scikit-learn's import alone costs 1.1-1.7 CPU s, more than the rest of a
12-asset day's quantile step, LightGBM's 0.4 s (both measured in the pipeline's process); the
features are few and small-valued, so binning them once and growing every tree level by level
with ``numpy.bincount`` over (node, bin) keys costs a few milliseconds a tree.

- Features are binned once (``bin_edges``: at most ``max_bins`` edges at the column's quantiles;
  a value's bin is the number of edges <= it). A split sends bins > threshold right.
- A tree grows level by level to ``depth``: per node the split of largest squared-error
  reduction among all features and thresholds whose both sides hold >= ``min_leaf`` of the
  tree's sample (a seeded half of the rows, drawn without replacement); a node without such a
  split sends every row left (its right child stays empty, and so no row ever reaches it).
- Leaf quantiles use all training rows of the leaf (linear interpolation, as numpy's default).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def bin_edges(column: np.ndarray, max_bins: int) -> np.ndarray:
    """Edges between bins: the distinct inner quantiles of ``column`` at ``max_bins`` levels."""
    inner = np.quantile(column, np.arange(1, max_bins) / max_bins)
    return np.unique(inner)


def apply_bins(x: np.ndarray, edges: list[np.ndarray]) -> np.ndarray:
    """Per column the bin of each value: the number of that column's edges <= the value."""
    return np.column_stack([np.searchsorted(e, x[:, j], side="right") for j, e in enumerate(edges)]).astype(np.int64)


def best_splits(xb: np.ndarray, y: np.ndarray, node: np.ndarray, n_nodes: int, n_bins: int,
                min_leaf: int) -> tuple[np.ndarray, np.ndarray]:
    """Per node: the feature and bin threshold (rows with bin > threshold go right) that most
    reduce the squared error of ``y``, both sides with >= ``min_leaf`` rows; feature -1 and
    threshold ``n_bins`` (everything left) where no split qualifies.

    The reduction of a split is sum_L^2 / n_L + sum_R^2 / n_R - sum^2 / n (the squared error
    of the node minus that of its two sides)."""
    best_gain = np.zeros(n_nodes)
    best_feature = np.full(n_nodes, -1)
    best_threshold = np.full(n_nodes, n_bins)
    for j in range(xb.shape[1]):
        key = node * n_bins + xb[:, j]
        count = np.bincount(key, minlength=n_nodes * n_bins).reshape(n_nodes, n_bins)
        total = np.bincount(key, weights=y, minlength=n_nodes * n_bins).reshape(n_nodes, n_bins)
        n_left, s_left = np.cumsum(count, axis=1)[:, :-1], np.cumsum(total, axis=1)[:, :-1]
        n_all, s_all = count.sum(axis=1, keepdims=True), total.sum(axis=1, keepdims=True)
        n_right, s_right = n_all - n_left, s_all - s_left
        ok = (n_left >= min_leaf) & (n_right >= min_leaf)
        with np.errstate(divide="ignore", invalid="ignore"):
            gain = np.where(ok, s_left ** 2 / n_left + s_right ** 2 / n_right - s_all ** 2 / np.maximum(n_all, 1), -np.inf)
        threshold = gain.argmax(axis=1)
        top = gain[np.arange(n_nodes), threshold]
        better = top > best_gain
        best_gain[better], best_feature[better], best_threshold[better] = top[better], j, threshold[better]
    return best_feature, best_threshold


def descend(xb: np.ndarray, features: list[np.ndarray], thresholds: list[np.ndarray]) -> np.ndarray:
    """The leaf of each row: per level, node -> 2 x node + (bin of the node's feature > threshold)."""
    node = np.zeros(len(xb), dtype=np.int64)
    for feature, threshold in zip(features, thresholds, strict=True):
        node = child(xb, node, feature, threshold)
    return node


def child(xb: np.ndarray, node: np.ndarray, feature: np.ndarray, threshold: np.ndarray) -> np.ndarray:
    """One level down: node -> 2 x node + 1 where the row's bin of its node's feature > threshold
    (a node without a split, feature -1, sends every row left)."""
    f = feature[node]
    return 2 * node + ((f >= 0) & (xb[np.arange(len(xb)), np.maximum(f, 0)] > threshold[node]))


def leaf_quantiles(leaf: np.ndarray, y: np.ndarray, n_leaves: int, levels: np.ndarray) -> np.ndarray:
    """Per leaf the ``levels`` quantiles of its rows' ``y`` (linear interpolation between order
    statistics: position q x (n - 1)); NaN for a leaf without rows."""
    order = np.lexsort((y, leaf))
    ys, counts = y[order], np.bincount(leaf, minlength=n_leaves)
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    pos = levels[None, :] * np.maximum(counts - 1, 0)[:, None]
    low = np.floor(pos).astype(np.int64)
    high = np.minimum(low + 1, np.maximum(counts - 1, 0)[:, None])
    frac = pos - low
    lo_v = ys[np.minimum(start[:, None] + low, len(ys) - 1)]
    hi_v = ys[np.minimum(start[:, None] + high, len(ys) - 1)]
    out = lo_v + frac * (hi_v - lo_v)
    out[counts == 0] = np.nan
    return out


@dataclass(frozen=True)
class QuantileForest:
    """A fitted forest: the bin edges, per tree its levels' splits and its leaves' quantiles."""

    edges: list[np.ndarray]
    trees: list[tuple[list[np.ndarray], list[np.ndarray], np.ndarray]]

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Rows x levels: the mean over the trees of the row's leaf quantiles."""
        xb = apply_bins(x, self.edges)
        out = np.zeros((len(x), self.trees[0][2].shape[1]))
        for features, thresholds, quantiles in self.trees:
            out += quantiles[descend(xb, features, thresholds)]
        return out / len(self.trees)


def fit_quantile_forest(x: np.ndarray, y: np.ndarray, levels: np.ndarray, *, n_trees: int, depth: int,
                        min_leaf: int, max_bins: int, seed: int) -> QuantileForest:
    """Grow ``n_trees`` trees of ``depth`` levels, each on a seeded half of the rows (see the
    module's docstring); deterministic for a seed."""
    edges = [bin_edges(x[:, j], max_bins) for j in range(x.shape[1])]
    xb = apply_bins(x, edges)
    n_bins = max(len(e) for e in edges) + 1
    rng = np.random.default_rng(seed)
    trees = []
    for _ in range(n_trees):
        sample = np.sort(rng.choice(len(y), size=max(len(y) // 2, 1), replace=False))
        xs, ys = xb[sample], y[sample]
        node = np.zeros(len(ys), dtype=np.int64)
        features, thresholds = [], []
        for level in range(depth):
            feature, threshold = best_splits(xs, ys, node, 2 ** level, n_bins, min_leaf)
            features.append(feature)
            thresholds.append(threshold)
            node = child(xs, node, feature, threshold)
        quantiles = leaf_quantiles(descend(xb, features, thresholds), y, 2 ** depth, levels)
        trees.append((features, thresholds, quantiles))
    return QuantileForest(edges, trees)
