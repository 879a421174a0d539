"""The warehouse as a Dagster resource, for assets that query it directly."""

from pathlib import Path

import dagster as dg

from resources.warehouse import Warehouse


class WarehouseResource(dg.ConfigurableResource):
    """The warehouse file; ``get()`` gives the locking ``Warehouse`` around it."""

    path: str

    def get(self) -> Warehouse:
        return Warehouse(Path(self.path))
