"""Dagster resources: the warehouse (DuckDB, one writer at a time), the landing zone, documents
and the notifier. Import from the submodules: ``resources.warehouse`` stays free of Dagster so
that parser worker processes and the portal load quickly.
"""
