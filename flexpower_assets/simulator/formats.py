"""Text forms of timestamps and numbers exactly as the source systems write them."""

from __future__ import annotations

from datetime import datetime

from flexpower_assets.domain.time import UTC


def dso_timestamp(ts: datetime) -> str:
    """``2025-06-08 00:00:00.000000 UTC`` (DSO final production and compensation prices)."""
    return ts.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f UTC")


def iso_z(ts: datetime) -> str:
    """``2025-06-08T10:15:00Z`` (redispatch flags)."""
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def compact_ms_z(ts: datetime) -> str:
    """``20250609T000516000Z`` (exchange export timestamp in file names)."""
    ts = ts.astimezone(UTC)
    return ts.strftime("%Y%m%dT%H%M%S") + f"{ts.microsecond // 1000:03d}Z"


def iso_ms_z(ts: datetime) -> str:
    """``2025-06-09T00:05:16.000Z`` (exchange export timestamp in the title line)."""
    ts = ts.astimezone(UTC)
    return ts.strftime("%Y-%m-%dT%H:%M:%S") + f".{ts.microsecond // 1000:03d}Z"


def german_number(value: float) -> str:
    """Two decimals with a decimal comma: ``-14,35``."""
    return f"{value:.2f}".replace(".", ",")


def plain_number(value: float) -> str:
    """Shortest round-trip form of a float (``252.0``, ``3149.764``)."""
    return repr(float(value))
