"""The forecasting configuration as a resource: the champion rule's and the windows' settings.

Defaults are those of ``domain.probabilistic.ForecastingSettings`` (documented in the README,
"Probabilistic forecasts"); a deployment overrides them in the Definitions' resources.
"""

from __future__ import annotations

import dagster as dg

from flexpower_assets.domain.probabilistic import ForecastingSettings

DEFAULTS = ForecastingSettings()


class ForecastingResource(dg.ConfigurableResource):
    window_days: int = DEFAULTS.window_days
    history_days: int = DEFAULTS.history_days
    min_history_days: int = DEFAULTS.min_history_days
    switch_margin: float = DEFAULTS.switch_margin
    switch_days: int = DEFAULTS.switch_days
    initial_champion: str = DEFAULTS.initial_champion

    def settings(self) -> ForecastingSettings:
        return ForecastingSettings(window_days=self.window_days, history_days=self.history_days,
                                   min_history_days=self.min_history_days, switch_margin=self.switch_margin,
                                   switch_days=self.switch_days, initial_champion=self.initial_champion)
