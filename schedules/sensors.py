"""Landing sensors: one per source folder, requesting runs for exactly the days new files affect.

Each sensor lists its folder, reads every file that arrived since its cursor to learn which
delivery days its rows cover (the name promises nothing), and requests one run per affected
day for the raw assets of those file kinds and everything downstream of them. Unreadable
files trigger a run of ``landing_files``, which records the rejection where operators see it.
Run keys carry the cursor mark, so a tick that is evaluated twice never starts a run twice.
"""


from collections.abc import Mapping, Sequence
from datetime import date, datetime

import dagster as dg

from flexpower_assets.domain.time import BERLIN
from flexpower_assets.ingestion.watch import Cursor, watch
from flexpower_assets.partitions import PARTITIONS_START, daily_partitions
from resources.landing import LandingZone

SOURCE_KINDS: dict[str, set[str]] = {
    "crm": {"contracts"},
    "vpp": {"technical_data", "forecast", "live"},
    "dso": {"final_production", "redispatch_flags", "redispatch_compensation"},
    "exchange": {"private_trades", "public_trades"},
    "imbalance": {"imbalance_estimate", "imbalance_final"},
}
LANDING_FILES_KEY = dg.AssetKey("landing_files")


def run_requests(source: str, days_by_kind: Mapping[str, set[date]], unreadable: Sequence,
                 selection_by_kind: Mapping[str, Sequence[dg.AssetKey]], mark_ns: int,
                 last_day: date) -> list[dg.RunRequest]:
    """One run per affected day with the union of the affected kinds' assets; one for rejections.

    Days beyond the last partition (a forecast reaches 48 h ahead) are left to the routine run
    that builds them once they exist; days before the first partition are not built at all.
    """
    keys_by_day: dict[date, set[dg.AssetKey]] = {}
    for kind, days in days_by_kind.items():
        for day in days:
            keys_by_day.setdefault(day, set()).update(selection_by_kind[kind])
    requests = [
        dg.RunRequest(
            run_key=f"{source}:{day.isoformat()}:{mark_ns}",
            partition_key=day.isoformat(),
            asset_selection=sorted(keys, key=lambda k: k.to_user_string()),
            tags={"flexpower/trigger": f"landing/{source}"},
        )
        for day, keys in sorted(keys_by_day.items())
        if date.fromisoformat(PARTITIONS_START) <= day <= last_day
    ]
    if unreadable:
        requests.append(dg.RunRequest(run_key=f"{source}:landing_files:{mark_ns}",
                                      asset_selection=[LANDING_FILES_KEY],
                                      tags={"flexpower/trigger": f"landing/{source}"}))
    return requests


def build_landing_sensor(source: str, selection_by_kind: Mapping[str, Sequence[dg.AssetKey]],
                         target: dg.AssetSelection) -> dg.SensorDefinition:
    kinds = SOURCE_KINDS[source]

    @dg.sensor(name=f"landing_{source}_sensor", target=target, minimum_interval_seconds=60,
               default_status=dg.DefaultSensorStatus.STOPPED,
               description=f"New files in the landing zone's {source}/ folder re-run the days they cover.")
    def _sensor(context: dg.SensorEvaluationContext, landing: LandingZone) -> dg.SensorResult:
        cursor = Cursor.load(context.cursor)
        today = datetime.now(BERLIN).date()
        result = watch(landing.root, kinds, cursor, today, min_age_s=landing.min_file_age_s)
        if result.n_files == 0:
            return dg.SensorResult(skip_reason=f"no new files in {source}/", cursor=cursor.dump())
        for path, message in result.unreadable:
            context.log.warning(f"unreadable file {path}: {message}")
        last_day = date.fromisoformat(daily_partitions.get_last_partition_key())
        requests = run_requests(source, result.days_by_kind, result.unreadable, selection_by_kind,
                                result.cursor.mark_ns, last_day)
        return dg.SensorResult(run_requests=requests, cursor=result.cursor.dump())

    return _sensor
