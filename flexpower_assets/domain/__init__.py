"""Domain rules of RouteToMarket as pure functions over polars frames.

Nothing in this package imports Dagster: every function takes frames (and plain values such as
a delivery day's UTC window) and returns frames, so the rules are testable in milliseconds and
reusable by the benchmark, the simulator and later work (bid generation, backtesting).
"""
