"""Acceptance on the committed sample: every file of every vendor is loaded, every record is loaded or
rejected, invoiced totals per provider and month equal the raw files, token totals equal the files,
re-ingest changes nothing, and the gateway log agrees with the invoice."""

import json
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal

import pandas as pd
import pytest
from rawfiles import raw_invoices

from finops_lib import engine, paths
from finops_lib.sample.story import GW_OPENAI
from finops_lib.warehouse.ingestion import ingest

SAMPLE = paths.SAMPLE_DIR


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    con = engine.connect(warehouse=tmp_path_factory.mktemp("wh"))
    summary = ingest([SAMPLE], con=con)
    yield con, summary
    con.disconnect()


def _pages(pattern):
    return {p: json.loads(p.read_text(), parse_float=Decimal) for p in sorted(SAMPLE.glob(pattern))}


def test_every_openai_and_litellm_record_is_accounted_for(loaded):
    _, summary = loaded
    ours = summary[summary.format.isin(["openai_usage", "openai_costs", "litellm_spend_logs"])]
    assert (ours.status == "loaded").all()
    assert (ours.rows_read == ours.rows_loaded + ours.rows_rejected).all()
    manifest = json.loads((SAMPLE / "manifest.json").read_text())
    expected_files = {str(SAMPLE / f["path"]) for f in manifest["files"]
                      if f["path"].startswith(("openai/", "litellm/"))}
    assert set(ours.path) == expected_files
    for path, doc in _pages("openai/*.json").items():
        records = sum(len(b["results"]) for b in doc["data"])
        assert ours.set_index("path").loc[str(path), "rows_read"] == records, path
    logs = summary.set_index("format").loc["litellm_spend_logs"]
    gateway_rows = next(f["rows"] for f in manifest["files"] if f["path"].startswith("litellm/"))
    assert logs.rows_read == gateway_rows


def test_gateway_rejects_are_the_known_bad_rows(loaded):
    con, _ = loaded
    rejects = con.table("rejects").to_pandas()
    truth = pd.read_csv(SAMPLE / "truth" / "gateway_bad_rows.csv")
    assert sorted(rejects.x_SourceRow) == sorted(truth.line)
    assert dict(zip(rejects.x_SourceRow, rejects.x_Column, strict=True)) == dict(zip(truth.line, truth.column,
                                                                                   strict=True))


def test_usage_tokens_per_day_and_model_equal_the_files(loaded):
    con, _ = loaded
    expected = defaultdict(int)
    for doc in _pages("openai/usage_*.json").values():
        for bucket in doc["data"]:
            day = datetime.fromtimestamp(bucket["start_time"], UTC).date()
            for r in bucket["results"]:
                expected[(day, r["model"])] += r["input_tokens"] + r.get("output_tokens", 0)
    costs = con.table("costs")
    usage = costs.filter(costs.x_SourceFormat == "openai_usage")
    got = (usage.group_by([usage.ChargePeriodStart.date().name("day"), "x_ModelRaw"])
           .aggregate(tokens=usage.ConsumedQuantity.sum()).to_pandas())
    assert {(pd.Timestamp(r.day).date(), r.x_ModelRaw): int(r.tokens) for r in got.itertuples()} == dict(expected)


def test_invoiced_amounts_are_exact(loaded):
    con, _ = loaded
    expected = sum((r["amount"]["value"] for doc in _pages("openai/costs_*.json").values()
                    for b in doc["data"] for r in b["results"]), Decimal(0))
    costs = con.table("costs")
    total = costs.filter(costs.x_SourceFormat == "openai_costs").BilledCost.sum().to_pyarrow().as_py()
    assert total == expected


def test_second_ingest_leaves_the_warehouse_unchanged(loaded):
    con, _ = loaded

    def fingerprint():
        return {t: con.con.execute(f"SELECT count(*), sum(hash(COLUMNS(*))) FROM {t}").fetchall()
                for t in ("costs", "requests", "rejects")}

    before = fingerprint()
    again = ingest([SAMPLE], con=con)
    assert set(again.status) <= {"unchanged", "skipped"}
    assert fingerprint() == before


def test_gateway_log_agrees_with_the_openai_invoice(loaded):
    """The gateway's own OpenAI key: its usage buckets equal the sum of the logged requests."""
    con, _ = loaded
    costs, requests = con.table("costs"), con.table("requests")
    key = GW_OPENAI["api_key_id"]
    usage = costs.filter((costs.x_SourceFormat == "openai_usage") & (costs.x_ApiKeyId == key))
    invoice = (usage.group_by([usage.ChargePeriodStart.date().name("day"), "x_Model", "x_TokenType"])
               .aggregate(tokens=usage.ConsumedQuantity.sum()).to_pandas())
    logged = requests.filter(requests.ProviderName == "OpenAI").to_pandas()
    logged["day"] = logged.ChargePeriodStart.dt.strftime("%Y-%m-%d")
    invoice["day"] = pd.to_datetime(invoice.day).dt.strftime("%Y-%m-%d")
    buckets = {"x_InputUncachedTokens": "input_uncached", "x_InputCacheReadTokens": "input_cache_read",
               "x_InputCacheWrite5mTokens": "input_cache_write_5m", "x_OutputTokens": "output"}
    long = logged.melt(id_vars=["day", "x_Model"], value_vars=list(buckets), var_name="col", value_name="tokens")
    long["x_TokenType"] = long.col.map(buckets)
    log_sums = long.groupby(["day", "x_Model", "x_TokenType"]).tokens.sum()
    inv = invoice.set_index(["day", "x_Model", "x_TokenType"]).tokens.astype(int)
    # The usage window starts and ends mid-day (partial buckets): compare the whole days inside it.
    days = sorted(inv.index.get_level_values(0).unique())[1:-1]
    inv = inv[inv.index.get_level_values(0).isin(days) & (inv > 0)]
    log_sums = log_sums[log_sums.index.get_level_values(0).isin(days) & (log_sums > 0)]
    assert len(inv) > 100
    assert inv.sort_index().to_dict() == log_sums.sort_index().to_dict()


def test_loaded_tables_satisfy_the_declared_schema(loaded):
    from finops_lib.schema import validate

    con, _ = loaded
    for table in ("costs", "requests", "rejects", "ingested_files"):
        validate(con.table(table), table)


# --- every vendor: invoiced money per provider and billing month, straight from the raw files -------------------

def test_every_sample_file_is_loaded_and_accounted_for(loaded):
    _, summary = loaded
    manifest = json.loads((SAMPLE / "manifest.json").read_text())
    data_files = {str(SAMPLE / f["path"]) for f in manifest["files"]
                  if not f["path"].startswith(("truth/", "config/")) and f["path"] not in ("README.md",)}
    assert set(summary.path) >= data_files
    assert (summary.status == "loaded").all(), summary[summary.status != "loaded"][["path", "status", "message"]]
    assert (summary.rows_read == summary.rows_loaded + summary.rows_rejected).all()
    assert summary.rows_rejected.sum() == 4  # the four known bad gateway rows, nothing else


def test_invoiced_totals_per_provider_and_month_equal_the_raw_files(loaded):
    con, _ = loaded
    costs = con.table("costs")
    invoiced = costs.filter(costs.x_CostBasis == "invoiced")
    got = (invoiced.group_by(["ProviderName", "x_SourceFormat", "BillingCurrency",
                              invoiced.BillingPeriodStart.strftime("%Y-%m").name("month")])
           .aggregate(cost=invoiced.BilledCost.sum()).to_pyarrow().to_pylist())
    loaded_totals = defaultdict(Decimal)
    for r in got:
        provider = f"{r['ProviderName']} (FOCUS)" if r["x_SourceFormat"] == "focus" else r["ProviderName"]
        loaded_totals[(provider, r["BillingCurrency"], r["month"])] += r["cost"]
    expected = raw_invoices(SAMPLE)
    assert {p for p, _, _ in expected} == {"OpenAI", "Anthropic", "AWS", "Microsoft", "Google", "AWS (FOCUS)"}
    assert dict(loaded_totals) == expected
