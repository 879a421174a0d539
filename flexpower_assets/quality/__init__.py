"""Data-quality plumbing without Dagster: acknowledged findings and the arrival (freshness) rules."""
