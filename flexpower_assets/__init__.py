"""RouteToMarket data platform.

Layout:
- ``domain``: the rules of DOMAIN.md as pure functions over polars frames (no Dagster import).
- ``parsers``: one module per source system, turning inbound files into validated frames.
- ``schemas``: the schema registry (pandera polars models) for inbound and published data.
- ``ingestion``: the landing-zone catalog: which file arrived, what it holds, what it replaced.
- ``assets``: the Dagster wiring (thin asset functions, checks).
- ``simulator``: writes a complete sample landing zone in the inbound formats.
- ``bench``: the benchmark and its plain-pandas baseline.
"""
