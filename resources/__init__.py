"""Dagster resources: the warehouse (DuckDB, one writer at a time), the landing zone and the notifier."""

from resources.documents import DocumentStore
from resources.io_manager import WarehouseIOManager
from resources.landing import LandingZone
from resources.notifier import LogNotifier, Notifier
from resources.warehouse import Warehouse, WarehouseResource

__all__ = ["DocumentStore", "LandingZone", "LogNotifier", "Notifier", "Warehouse", "WarehouseIOManager", "WarehouseResource"]
