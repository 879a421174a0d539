"""The read-only, permissioned portal: reports, invoice PDFs and the data-contract tables.

- ``policy.yaml``/``policy.py``: the access policy as data, and ``Gate``, the one place every read
  goes through (role grants, row filters, column masks, file resolution).
- ``tokens.py``: personal API tokens (stored hashed) and browser sessions.
- ``audit.py``: the append-only, hash-chained audit log.
- ``app.py``: the FastAPI application (``create_app``); ``templates/``: its few HTML pages.
- ``commands.py``: ``flexpower portal`` and ``flexpower token create|revoke|list``.

Portal state (tokens, sessions, audit log) lives under ``<data_dir>/portal``, never in the
warehouse.
"""

from flexpower_assets.portal.app import create_app

__all__ = ["create_app"]
