"""The quantile regression forest of the ``gbm`` method: binning, the split rule, leaf
quantiles and prediction, on frames small enough to work out by hand."""

from __future__ import annotations

import numpy as np

from flexpower_assets.domain import quantile_forest as qf


def test_bins_are_counts_of_edges_at_or_below_the_value():
    # column 0..7, 4 bins: inner quantiles at 1/4, 2/4, 3/4 of 0..7 = 1.75, 3.5, 5.25
    edges = qf.bin_edges(np.arange(8.0), 4)
    assert edges.tolist() == [1.75, 3.5, 5.25]
    # 0 -> no edge <= 0: bin 0; 1.75 -> one edge: bin 1; 4 -> two: bin 2; 9 -> three: bin 3
    assert qf.apply_bins(np.array([[0.0], [1.75], [4.0], [9.0]]), [edges])[:, 0].tolist() == [0, 1, 2, 3]


def test_split_is_the_largest_squared_error_reduction_with_enough_rows_each_side():
    # one node, feature 0 in bins 0,1,2,3 with y 0, 0, 10, 10; feature 1 in bins 0,1,0,1 (no signal)
    xb = np.array([[0, 0], [1, 1], [2, 0], [3, 1]])
    y = np.array([0.0, 0.0, 10.0, 10.0])
    node = np.zeros(4, dtype=np.int64)
    # feature 0, threshold 1 (bins <= 1 left): 0^2/2 + 20^2/2 - 20^2/4 = 200 - 100 = 100 (the best);
    # feature 1, threshold 0: left y 0, 10 -> 10^2/2, right likewise: 50 + 50 - 100 = 0
    feature, threshold = qf.best_splits(xb, y, node, 1, 4, min_leaf=2)
    assert (feature.tolist(), threshold.tolist()) == ([0], [1])
    # with 3 rows needed each side no split qualifies: every row stays left (threshold = 4 bins)
    feature, threshold = qf.best_splits(xb, y, node, 1, 4, min_leaf=3)
    assert (feature.tolist(), threshold.tolist()) == ([-1], [4])


def test_leaf_quantiles_interpolate_between_order_statistics():
    # leaf 0 holds 4, 1, 3, 2 (sorted 1, 2, 3, 4), leaf 1 holds 10, leaf 2 none
    leaf = np.array([0, 0, 0, 0, 1])
    y = np.array([4.0, 1.0, 3.0, 2.0, 10.0])
    out = qf.leaf_quantiles(leaf, y, 3, np.array([0.05, 0.5, 0.95]))
    # leaf 0: positions q x 3 = 0.15, 1.5, 2.85 -> 1 + 0.15 = 1.15, 2.5, 3 + 0.85 = 3.85
    assert np.allclose(out[0], [1.15, 2.5, 3.85])
    assert np.allclose(out[1], [10.0, 10.0, 10.0])  # one row: every level is it
    assert np.isnan(out[2]).all()


def test_forest_prediction_is_the_mean_of_its_trees_leaf_quantiles():
    # x < 0.5 -> y in 0..9, x >= 0.5 -> y in 100..109 (10 rows each): every tree's one split
    # separates the halves (any half-sample holds >= 3 rows of each side, min_leaf 3)
    x = np.concatenate([np.full(10, 0.0), np.full(10, 1.0)])[:, None]
    y = np.concatenate([np.arange(10.0), 100 + np.arange(10.0)])
    forest = qf.fit_quantile_forest(x, y, np.array([0.1, 0.5, 0.9]), n_trees=3, depth=1, min_leaf=3,
                                    max_bins=4, seed=5)
    # leaf quantiles over all 10 rows of a side: positions 0.9, 4.5, 8.1 -> 0.9, 4.5, 8.1 (+100);
    # the three trees agree, so their mean is the same
    assert np.allclose(forest.predict(np.array([[0.0], [1.0]])), [[0.9, 4.5, 8.1], [100.9, 104.5, 108.1]])
    again = qf.fit_quantile_forest(x, y, np.array([0.1, 0.5, 0.9]), n_trees=3, depth=1, min_leaf=3,
                                   max_bins=4, seed=5)
    assert [t[1][0].tolist() for t in again.trees] == [t[1][0].tolist() for t in forest.trees]
