"""Trader briefings, partitioned by delivery day: thin wiring around ``bidding.briefing``.

After the day's bid matrices exist (same ``bidding_job``, or ``briefing_job`` / ``flexpower
briefing`` on its own), one briefing per client: its figures go to ``main.briefing_figure`` (this
asset's table), its HTML to ``<documents>/reports/briefing/<day>/<client>.html``, indexed with its
SHA-256 in ``main.document`` (kind ``briefing``) so the portal serves only the file the warehouse
knows. An optional language model may reword the text (resource ``briefing_writer``); its
wording is used only when every number of it is a figure, otherwise the rule text stays and the
reason is logged.
"""

import time

import dagster as dg
import polars as pl

from flexpower_assets.assets.metadata import schema_check, schema_check_spec
from flexpower_assets.bidding.briefing import build_briefing, render_html
from flexpower_assets.bidding.briefing_inputs import load_briefing_inputs
from flexpower_assets.bidding.briefing_rephrase import reword
from flexpower_assets.documents.store import indexed_file, record_documents, write_document
from flexpower_assets.partitions import daily_partitions, partition_day
from flexpower_assets.schemas.bidding import BriefingFigure
from resources.bidding import BiddingResource
from resources.documents import DocumentStore
from resources.warehouse_resource import WarehouseResource

KIND = "briefing"


class BriefingWriter(dg.ConfigurableResource):
    """The optional language model that may reword briefings (off when ``llm_url`` is empty)."""

    llm_url: str = ""
    llm_model: str = ""
    llm_api_key: str = ""
    timeout_s: float = 20.0


def briefing_path(root, day, client_id):
    return root / "reports" / KIND / day.isoformat() / f"{client_id}.html"


@dg.asset(
    key="briefing_figure", group_name="bidding", partitions_def=daily_partitions, kinds={"duckdb", "html"},
    metadata={"partition_expr": "delivery_day", "schema": "main"},
    deps=["bid_matrix", "asset_bid_curve", "asset_forecast_quantile"],
    check_specs=[schema_check_spec("briefing_figure", BriefingFigure)],
    description="Trader briefing per client (HTML, indexed) and every number its text shows (main.briefing_figure).",
)
def briefing_figure(context: dg.AssetExecutionContext, bidding: BiddingResource, warehouse: WarehouseResource,
                    documents: DocumentStore, briefing_writer: BriefingWriter):
    began = time.time()
    day = partition_day(context)
    config, _ = bidding.load()
    store = warehouse.get()
    frames, written, reasons = [], [], {}
    for inputs in load_briefing_inputs(store, config, day, bidding.clock()):
        briefing = build_briefing(inputs)
        figures = briefing.figure_rows()
        wording = reword(briefing, figures, briefing_writer.llm_url, briefing_writer.llm_model,
                         briefing_writer.llm_api_key, briefing_writer.timeout_s)
        if briefing_writer.llm_url:
            reasons[inputs.client_id] = wording.reason
            (context.log.info if wording.accepted else context.log.warning)(f"{inputs.client_id}: {wording.reason}")
        path = briefing_path(documents.root, day, inputs.client_id)
        write_document(path, render_html(briefing, wording.wording, wording.sections).encode("utf-8"))
        written.append(indexed_file(documents.root, inputs.client_id, path))
        frames.append(figures)
    record_documents(store, KIND, day.isoformat(), written)
    frame = pl.concat(frames) if frames else pl.DataFrame(schema={
        "delivery_day": pl.Date, "client_id": pl.String, "key": pl.String, "value": pl.Float64, "unit": pl.String,
        "decimals": pl.Int64})
    frame, check = schema_check(frame, BriefingFigure, "briefing_figure", day)
    yield dg.Output(frame, metadata={
        "briefings": len(written),
        "files": dg.MetadataValue.md("\n".join(f"- `{documents.root / d.path}`" for d in written) or "none"),
        "rewording": dg.MetadataValue.json(reasons or {"": "no language model configured"}),
        "work_seconds": round(time.time() - began, 4)})
    yield check


briefing_assets = [briefing_figure]
briefing_job = dg.define_asset_job("briefing_job", selection=dg.AssetSelection.assets("briefing_figure"),
                                   tags={"flexpower/job": "briefing"})
