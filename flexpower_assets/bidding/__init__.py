"""Day-ahead bidding: the pure domain (no Dagster import anywhere in this package).

Modules, in the order a bid run uses them:

- ``config``: the YAML configuration (clients, policy, market rules, time limits), validated on
  load, and its hash.
- ``model``: the records that cross stage boundaries (technical data base class, solve input and
  result, solve statuses).
- ``asset_types``: the registry of asset types (technical-data model + solver + bid points); the
  orchestration asks it and never names a type. ``hydro`` (reservoir LP with HiGHS) and
  ``renewable`` (quantile sell curve) register themselves there.
- ``solve``: the idempotent solve of one asset and scenario (input hash, seeded fault injection,
  reuse of a known result).
- ``aggregation``: scenario points -> one monotone curve per asset and MTU on the client's price
  grid, coverage, the fallback chain; ``matrix``: the client's bid matrix; ``validation``: every
  policy and exchange rule, each violation naming MTU, point and rule.
"""
