"""Dagster assets: thin wiring of the domain into partitioned assets and their checks."""
