import csv
import tomllib
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from finops_lib import paths
from finops_lib.errors import SourceError
from finops_lib.schema import validate
from finops_lib.sources import SOURCES, detect_format, mapped, read_head
from finops_lib.warehouse import ingest, normalize

BURST = "mapped_burstgpt_sample.csv"
BUCKETS = ["x_InputUncachedTokens", "x_InputCacheReadTokens", "x_InputCacheWrite5mTokens",
           "x_InputCacheWrite1hTokens", "x_OutputTokens"]
GATEWAY_CSV = """id,ts,model,provider,in_tok,cached,out_tok,cost,outcome,team,latency
r1,1717236000000,gpt-4o,openai,1200,1000,300,0.00123,ok,search,1500
r2,1717236060000,claude-3-5-haiku,anthropic,500,0,50,1.2E-5,error,,800
r3,1717236120000,gpt-4o,openai,100,400,10,0.001,ok,search,
r4,1717236180000,gpt-4o,openai,10,0,5,abc,ok,search,100
"""
GATEWAY_YAML = """name: test_gateway
description: a test gateway log
match: [id, ts, in_tok, out_tok]
columns:
  id: x_RequestId
  ts: ChargePeriodStart
  model: x_ModelRaw
  provider: ProviderName
  in_tok: input_tokens
  cached: x_InputCacheReadTokens
  out_tok: x_OutputTokens
  cost: x_ReportedCost
  team: x_Team
  latency: x_LatencyMs
time: {format: unix_ms}
status: {column: outcome, success_values: [ok]}
currency: eur
"""


@pytest.fixture
def read(tmp_path):
    """Normalize a file (reader + settle) and return (info, rows by request id, rejects by line)."""

    def run(path, fmt=None):
        out = tmp_path / (Path(path).name.replace(".", "_") + ".parquet")
        info = normalize([path], out, format=fmt)
        rows = pd.read_parquet(out)
        rejects = pd.read_parquet(info["rejects"])
        return info, rows.set_index("x_RequestId"), rejects.set_index("x_SourceRow")

    return run


@pytest.fixture
def user_mapping(tmp_path):
    """Register mapping files written by a test; unregister them afterwards."""
    before = set(SOURCES)

    def register(text, name="mapping.yaml"):
        path = tmp_path / name
        path.write_text(text)
        return mapped.register_mapping(path)

    yield register
    for fmt in set(SOURCES) - before:
        SOURCES.pop(fmt)
        mapped.MAPPINGS.pop(fmt, None)


def test_shipped_mappings_are_registered_and_installed():
    assert {"mapped:burstgpt", "mapped:azure_llm_trace"} <= set(SOURCES)
    assert mapped.MAPPINGS["mapped:burstgpt"].epoch == pd.Timestamp("2023-01-01T00:00:00Z")
    package_data = tomllib.loads((paths.PROJECT_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"]["finops_lib"]
    assert "sources/mappings/*.yaml" in package_data


def test_detected_by_header_and_no_other_fixture_claimed(data_dir):
    assert detect_format(data_dir / BURST).name == "mapped:burstgpt"
    assert detect_format(data_dir / "mapped_burstgpt.csv").name == "mapped:burstgpt"
    assert detect_format(data_dir / "mapped_azure_llm_trace.csv").name == "mapped:azure_llm_trace"
    for name in ("mapped:burstgpt", "mapped:azure_llm_trace"):
        for path in data_dir.glob("*.*"):
            if not path.name.startswith("mapped_"):
                assert not SOURCES[name].detect(path, read_head(path)), (name, path.name)


def test_burstgpt_rows_and_rejects(read, data_dir):
    info, rows, rejects = read(data_dir / BURST)
    assert (info["records_read"], info["rows"], info["records_rejected"]) == (8, 5, 3)
    assert rejects.loc[6, ["x_Column", "x_Value", "x_Reason"]].tolist() == [
        "Request tokens", "12.5", "not a non-negative integer"]
    assert rejects.loc[8, ["x_Column", "x_Value", "x_Reason"]].tolist() == ["Timestamp", "soon", "not a unix_s time"]
    assert rejects.loc[9, ["x_Column", "x_Value", "x_Reason"]].tolist() == [
        "Request tokens", "-3", "not a non-negative integer"]
    # Ids are the file stem and the line; seconds count from the mapping's epoch (2023-01-01 UTC).
    first = rows.loc["mapped_burstgpt_sample:2"]
    assert first.ChargePeriodStart == pd.Timestamp("2023-01-01T00:00:05Z")
    assert (first.x_ModelRaw, first.x_Model, first.ProviderName) == ("ChatGPT", "gpt-3.5-turbo", "Microsoft")
    assert first[BUCKETS].tolist() == [472, 0, 0, 0, 18] and first.x_Status == "success"
    assert first.x_DataQualityFlags == "token_subfields_missing"
    assert rows.loc["mapped_burstgpt_sample:4", "x_Model"] == "gpt-4"
    failed = rows.loc["mapped_burstgpt_sample:5"]  # Response tokens 0: a failed request
    assert failed.x_Status == "failure" and failed.ChargePeriodStart == pd.Timestamp("2023-01-01T01:00:00.5Z")
    assert rows.loc["mapped_burstgpt_sample:7", "ChargePeriodStart"] == pd.Timestamp("2023-01-02T00:00:10Z")
    assert (rows.x_InputUncachedTokens.sum(), rows.x_OutputTokens.sum()) == (3276, 544)
    assert rows.loc["mapped_burstgpt_sample:3", "Tags"] == '{"Total tokens":"1317","Log Type":"Conversation log"}'


def test_malformed_csv_line_is_rejected_and_numbering_follows(read, tmp_path, data_dir):
    lines = (data_dir / "mapped_burstgpt.csv").read_text().splitlines()
    path = tmp_path / "burst.csv"
    path.write_text("\n".join([lines[0], lines[1], "1,2,3,4,5,6,7", lines[2], lines[3]]) + "\n")
    info, rows, rejects = read(path)
    assert (info["records_read"], info["rows"], info["records_rejected"]) == (4, 3, 1)
    assert rejects.loc[3, "x_Column"] == "record" and "too many columns" in rejects.loc[3, "x_Reason"]
    assert sorted(rows.x_SourceRow) == [2, 4, 5]
    # Ids number the well-formed records (stable for this file's content): line 4 is the 2nd record.
    assert rows.loc["burst:3", "x_SourceRow"] == 4


def test_user_mapping_id_cache_cost_status(read, tmp_path, user_mapping):
    assert user_mapping(GATEWAY_YAML) == "mapped:test_gateway"
    path = tmp_path / "gateway.csv"
    path.write_text(GATEWAY_CSV)
    assert detect_format(path).name == "mapped:test_gateway"
    info, rows, rejects = read(path)
    assert (info["records_read"], info["rows"], info["records_rejected"]) == (4, 2, 2)
    r1, r2 = rows.loc["r1"], rows.loc["r2"]
    assert r1[BUCKETS].tolist() == [200, 1000, 0, 0, 300]  # input 1200 includes the 1000 cached
    assert r1.x_DataQualityFlags == "" and r2.x_DataQualityFlags == ""
    assert (r1.ChargePeriodStart, r1.ChargePeriodEnd) == (pd.Timestamp("2024-06-01T10:00:00Z"),
                                                          pd.Timestamp("2024-06-01T10:00:01.5Z"))
    assert (r1.x_ReportedCost, r2.x_ReportedCost) == (Decimal("0.00123"), Decimal("0.000012"))
    assert set(rows.BillingCurrency) == {"EUR"}
    assert (r1.ProviderName, r2.ProviderName, r2.x_Model) == ("OpenAI", "Anthropic", "claude-3-5-haiku")
    assert (r1.x_Status, r2.x_Status, r1.x_Team, r1.x_LatencyMs) == ("success", "failure", "search", 1500)
    assert pd.isna(r2.x_Team)
    assert rejects.loc[4, ["x_Column", "x_Value", "x_Reason"]].tolist() == [
        "in_tok", "100", "smaller than its cache read and write parts"]
    assert rejects.loc[5, ["x_Column", "x_Value", "x_Reason"]].tolist() == ["cost", "abc", "not a number"]


def _csv_and_parquet(folder, stem: str, text: str):
    """Write ``text`` as ``<stem>.csv`` and the same columns, all text, as ``<stem>.parquet``; return both paths."""
    source, target = folder / f"{stem}.csv", folder / f"{stem}.parquet"
    source.write_text(text)
    names = text.split("\n", 1)[0].split(",")
    pq.write_table(pacsv.read_csv(source, convert_options=pacsv.ConvertOptions(
        column_types=dict.fromkeys(names, pa.string()))), target)  # fmt: skip
    return source, target


def test_parquet_reads_like_csv(read, tmp_path, user_mapping):
    user_mapping(GATEWAY_YAML)
    source, target = _csv_and_parquet(tmp_path, "gateway", GATEWAY_CSV)
    assert detect_format(target).name == "mapped:test_gateway"
    _, from_csv, _ = read(source)
    _, from_parquet, rejects = read(target)
    columns = [*BUCKETS, "x_ReportedCost", "x_Status", "ChargePeriodStart"]
    pd.testing.assert_frame_equal(from_csv[columns], from_parquet[columns])
    assert sorted(rejects.x_Column) == ["cost", "in_tok"]


def test_strftime_and_time_zone(read, tmp_path, user_mapping):
    fmt = user_mapping("name: paris\ncolumns:\n  when: ChargePeriodStart\n  tokens: x_OutputTokens\n"
                       "time:\n  format: '%d/%m/%Y %H:%M'\n  timezone: Europe/Paris\n"
                       "constants:\n  ProviderName: openai\n  x_ModelRaw: GPT-4o\n  x_Application: '{stem}'\n")
    path = tmp_path / "paris_log.csv"
    path.write_text("when,tokens\n01/07/2024 12:00,5\n2024-07-01,6\n01/01/1900 00:00,7\n")
    info, rows, rejects = read(path, fmt)
    assert (info["records_read"], info["rows"]) == (3, 1)
    assert rejects.loc[4, "x_Column"] == "when"  # 1900: before the plausible window (issue 17)
    assert rejects.loc[4, "x_Reason"].startswith("outside the plausible dates 2000-01-01 to ")
    row = rows.loc["paris_log:2"]
    assert row.ChargePeriodStart == pd.Timestamp("2024-07-01T10:00:00Z")  # CEST = UTC+2
    assert (row.ProviderName, row.x_Model, row.x_Application) == ("OpenAI", "gpt-4o", "paris_log")
    assert rejects.loc[3, "x_Reason"] == "not a '%d/%m/%Y %H:%M' time"


@pytest.mark.parametrize(("text", "line", "problem"), [
    ("name: x\ncolumns: {a: ChargePeriodStart, b: x_OutputTokens}\ncolour: red\n", 3, "unknown key 'colour'"),
    ("name: x\ncolumns:\n  a: ChargePeriodStart\n  b: x_Outputs\n", 4, "unknown target field 'x_Outputs'"),
    ("name: x\ncolumns:\n  a: ChargePeriodStart\n  b: x_OutputTokens\n  c: x_OutputTokens\n", 5,
     "x_OutputTokens is already mapped from column 'b'"),
    ("name: x\ncolumns:\n  a: ChargePeriodStart\n  s: x_Status\n", 4, "use the status: section"),
    ("name: x\ncolumns:\n  b: x_OutputTokens\n", 2, "no column is mapped to ChargePeriodStart"),
    ("name: x\ncolumns:\n  a: ChargePeriodStart\n  b: x_OutputTokens\ntime:\n  format: epoch\n", 6,
     "time format 'epoch'"),
    ("name: x\ncolumns:\n  a: ChargePeriodStart\n  b: x_OutputTokens\ntime:\n  timezone: Mars/Base\n", 6,
     "unknown time zone"),
    ("name: x\ncolumns:\n  a: ChargePeriodStart\n  b: x_OutputTokens\nconstants:\n  x_OutputTokens: 5\n", 6,
     "constant 'x_OutputTokens'"),
    ("name: x\ncolumns:\n  a: ChargePeriodStart\n  b: x_OutputTokens\ncurrency: dollars\n", 5, "ISO 4217"),
    ("name: x\ncolumns:\n  a: ChargePeriodStart\n  b: x_OutputTokens\ntable: invoices\n", 5,
     "fill the requests or the costs table"),
    ("name: x\ncolumns:\n  a: ChargePeriodStart\n  b: x_OutputTokens\ntable: costs\n", 4,
     "unknown target field 'x_OutputTokens' of the costs table"),
    ("name: x\ncolumns:\n  a: ChargePeriodStart\n  b: x_OutputTokens\nconstants:\n  ProviderName: openai\n"
     "  x_Team: a\n  x_Team2: b\n", 8, "constant 'x_Team2'"),
    ("name: x\ncolumns:\n  a: ChargePeriodStart\n  b: x_OutputTokens\n  c: x_Team\nconstants:\n  x_Team: a\n", 7,
     "x_Team is both a constant and a mapped column"),
    ("name: x\ncolumns:\n  a: ChargePeriodStart\n  b: x_OutputTokens\ntime:\n  epoch: 2024-01-01\n", 6,
     "unix_s/ms/us/ns times only"),
    ("name: x y\ncolumns:\n  a: ChargePeriodStart\n  b: x_OutputTokens\n", 1, "'name' is required"),
    ("name: x\ncolumns: [a, b\n", 3, "not valid YAML"),
    ("- just\n- a list\n", 1, "must be a YAML mapping"),
])
def test_mapping_errors_name_the_line(tmp_path, text, line, problem):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(SourceError, match=problem) as err:
        mapped.load_mapping(path)
    assert err.value.line == line and err.value.path == str(path)


def test_name_conflicts_and_environment_variable(tmp_path, monkeypatch, user_mapping):
    user_mapping(GATEWAY_YAML)
    with pytest.raises(SourceError, match="already registered"):
        user_mapping(GATEWAY_YAML, name="copy.yaml")
    assert user_mapping(GATEWAY_YAML) == "mapped:test_gateway"  # the same file again: re-registered
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "env.yaml").write_text(GATEWAY_YAML.replace("test_gateway", "test_env"))
    (folder / "broken.yaml").write_text("name: [\n")
    monkeypatch.setenv(mapped.ENV_VAR, str(folder))
    with pytest.warns(UserWarning, match="broken.yaml, line"):
        mapped._register_defaults()
    assert mapped.MAPPINGS["mapped:test_env"].path == folder / "env.yaml"
    SOURCES.pop("mapped:test_env")
    mapped.MAPPINGS.pop("mapped:test_env")


def test_missing_column_is_a_source_error(tmp_path):
    path = tmp_path / "burst.csv"
    path.write_text("Timestamp,Model,Request tokens,Total tokens,Log Type\n5,ChatGPT,1,1,API log\n")
    with pytest.raises(SourceError, match="missing: Response tokens"):
        SOURCES["mapped:burstgpt"].read(path, None)


def test_reingest_from_another_folder_replaces_rows(con, data_dir, tmp_path):
    for folder, tokens in (("a", "18"), ("b", "19")):
        (tmp_path / folder).mkdir()
        text = (data_dir / "mapped_burstgpt.csv").read_text().replace(",472,18,", f",472,{tokens},")
        (tmp_path / folder / "burst.csv").write_text(text)
        ingest([tmp_path / folder / "burst.csv"], con=con)
    rows = con.table("requests").to_pandas()
    assert len(rows) == 3 and rows.set_index("x_RequestId").loc["burst:2", "x_OutputTokens"] == 19
    validate(con.table("requests"), "requests")


def test_second_read_is_identical(read, data_dir):
    _, first, _ = read(data_dir / BURST)
    _, second, _ = read(data_dir / BURST)
    pd.testing.assert_frame_equal(first, second)


@pytest.mark.parametrize("name", ["AzureLLMInferenceTrace_code_2023.csv", "AzureLLMInferenceTrace_conv_2023.csv"])
def test_azure_llm_traces_load_with_token_totals_unchanged(con, real_dir, name):
    path = real_dir / name
    with path.open(newline="") as fh:
        raw = list(csv.DictReader(fh))
    context = sum(int(r["ContextTokens"]) for r in raw)
    generated = sum(int(r["GeneratedTokens"]) for r in raw)
    summary = ingest([path], con=con).iloc[0]
    assert summary.format == "mapped:azure_llm_trace" and summary.status == "loaded"
    assert summary.rows_read == summary.rows_loaded + summary.rows_rejected == len(raw)
    assert summary.rows_rejected == 0
    totals = con.sql("SELECT sum(x_InputUncachedTokens) AS i, sum(x_OutputTokens) AS o, min(ChargePeriodStart) AS t, "
                     "count(DISTINCT x_Application) AS apps FROM requests").to_pandas().iloc[0]
    assert (int(totals.i), int(totals.o)) == (context, generated)
    assert totals.t.date().isoformat() == "2023-11-16" and totals.apps == 1
    validate(con.table("requests"), "requests")


# --- table: costs -----------------------------------------------------------------------------------------------

INVOICE_YAML = """name: test_invoice
description: a test seat invoice
table: costs
match: [line, start, vendor, amount]
columns:
  start: ChargePeriodStart
  end: ChargePeriodEnd
  vendor: ProviderName
  service: ServiceName
  amount: BilledCost
  list: ListCost
  cur: BillingCurrency
  kind: ChargeCategory
  qty: PricingQuantity
  unit: PricingUnit
  user: x_UserId
  team: x_Team
  app: x_Application
  feature: x_Feature
period: month
lookups:
  ServiceCategory: {column: service, values: {refund: Other}, default: AI and Machine Learning}
tags: {line: invoice_line}
"""
INVOICE_CSV = """line,start,end,vendor,service,amount,list,cur,kind,qty,unit,user,team,app,feature
1,2025-03-01,2025-04-01,cursor,Cursor Business,400.00,480,usd,usage,10,Seat,ann,web,shop,search
2,2025-03-01,,openai,ChatGPT Team,1.2E-5,,EUR,Usage,,,,,,
3,2025-03-01,2025-03-01,cursor,Cursor Business,10,,usd,usage,1,Seat,,,,
4,2025-03-01,2025-04-01,cursor,Refund,-40.00,,usd,,1,Seat,,,,
5,2025-03-01,2025-04-01,cursor,Cursor Business,10,,usd,refund,1,Seat,,,,
6,2025-03-01T00:00:00+01:00,2025-04-01,cursor,Cursor Business,0.0000000000025,,usd,usage,1,Seat,,,,
7,2025-03-01,2025-04-01,cursor,Cursor Business,5,,dollars,usage,1,Seat,,,,
8,2025-03-01,2025-04-01,cursor,Cursor Business,1e30,,usd,usage,1,Seat,,,,
"""


@pytest.fixture
def read_costs(tmp_path):
    """Normalize a costs file: (info, rows by line, rejects by line)."""

    def run(path):
        out = tmp_path / (Path(path).name.replace(".", "_") + ".parquet")
        info = normalize([path], out)
        rows = pd.read_parquet(out).set_index("x_SourceRow").sort_index()
        return info, rows, pd.read_parquet(info["rejects"]).set_index("x_SourceRow").sort_index()

    return run


def test_costs_mapping_fields_defaults_and_rejects(read_costs, tmp_path, user_mapping):
    assert user_mapping(INVOICE_YAML) == "mapped:test_invoice"
    assert SOURCES["mapped:test_invoice"].table == "costs" and SOURCES["mapped:test_invoice"].line_id is None
    path = tmp_path / "invoice.csv"
    path.write_text(INVOICE_CSV)
    assert detect_format(path).name == "mapped:test_invoice"
    info, rows, rejects = read_costs(path)
    assert (info["table"], info["records_read"], info["rows"], info["records_rejected"]) == ("costs", 8, 4, 4)
    seats = rows.loc[2]
    assert (seats.BilledCost, seats.ListCost, seats.EffectiveCost, seats.BillingCurrency) == (
        Decimal("400"), Decimal("480"), Decimal("400"), "USD")
    assert (seats.ProviderName, seats.PublisherName, seats.InvoiceIssuerName, seats.ServiceName) == (
        "cursor", "cursor", "cursor", "Cursor Business")
    assert (seats.PricingQuantity, seats.ConsumedQuantity, seats.PricingUnit, seats.ConsumedUnit) == (
        Decimal("10"), Decimal("10"), "Seat", "Seat")
    assert (seats.x_UserId, seats.x_Team, seats.x_Application, seats.x_Feature, seats.Tags) == (
        "ann", "web", "shop", "search", '{"invoice_line":"1"}')
    assert (seats.ChargeCategory, seats.ServiceCategory, seats.x_TokenType, seats.x_CostBasis) == (
        "Usage", "AI and Machine Learning", "non_token", "invoiced")
    chatgpt = rows.loc[3]  # no end: a month from the start (period: month); list defaults to the billed amount
    assert (chatgpt.BilledCost, chatgpt.ListCost, chatgpt.ProviderName, chatgpt.BillingCurrency) == (
        Decimal("0.000012"), Decimal("0.000012"), "OpenAI", "EUR")
    assert chatgpt.ChargePeriodEnd == pd.Timestamp("2025-04-01", tz="UTC")
    refund = rows.loc[5]  # a negative amount without a category: a credit; the lookup's own value
    assert (refund.ChargeCategory, refund.ServiceCategory, refund.BilledCost) == ("Credit", "Other", Decimal("-40"))
    assert pd.isna(refund.ServiceSubcategory)
    tiny = rows.loc[7]  # half-even to 12 places; an offset time read as UTC; its billing month is February
    assert tiny.BilledCost == Decimal("2E-12") and tiny.ChargePeriodStart == pd.Timestamp("2025-02-28T23:00Z")
    assert tiny.BillingPeriodStart == pd.Timestamp("2025-02-01", tz="UTC")
    assert rejects[["x_Column", "x_Value", "x_Reason"]].to_dict("index") == {
        4: {"x_Column": "end", "x_Value": "2025-03-01", "x_Reason": "does not end after it starts"},
        6: {"x_Column": "kind", "x_Value": "refund",
            "x_Reason": "not a ChargeCategory (Usage, Purchase, Tax, Credit, Adjustment)"},
        8: {"x_Column": "cur", "x_Value": "dollars", "x_Reason": "missing or not an ISO 4217 currency code"},
        9: {"x_Column": "amount", "x_Value": "1e30",
            "x_Reason": "out of range (too large in magnitude for an amount)"},
    }
    assert set(rejects.x_TargetTable) == {"costs"}


def test_costs_parquet_reads_like_csv(read_costs, tmp_path, user_mapping):
    user_mapping(INVOICE_YAML)
    source, target = _csv_and_parquet(tmp_path, "invoice", INVOICE_CSV)
    assert detect_format(target).name == "mapped:test_invoice"
    _, from_csv, csv_rejects = read_costs(source)
    _, from_parquet, parquet_rejects = read_costs(target)
    columns = ["BilledCost", "ListCost", "ChargePeriodStart", "ChargePeriodEnd", "ChargeCategory", "Tags"]
    pd.testing.assert_frame_equal(from_csv[columns], from_parquet[columns])
    assert csv_rejects.x_Reason.tolist() == parquet_rejects.x_Reason.tolist()


def test_a_missing_required_costs_column_is_a_source_error(tmp_path, user_mapping):
    user_mapping(INVOICE_YAML)
    path = tmp_path / "invoice.csv"
    path.write_text("line,start,vendor,amount\n1,2025-03-01,cursor,10\n")
    with pytest.raises(SourceError, match="missing: end, service, list, cur, kind, qty, unit, user, team"):
        SOURCES["mapped:test_invoice"].read(path, None)


COSTS_BASE = "name: x\ntable: costs\ncurrency: USD\nconstants: {ProviderName: X}\ncolumns:\n  a: ChargePeriodStart\n" \
             "  b: BilledCost\n"


@pytest.mark.parametrize(("text", "line", "problem"), [
    (COSTS_BASE + "  c: BiledCost\n", 8, "unknown target field 'BiledCost' of the costs table .did you mean "
                                         "'BilledCost'"),
    (COSTS_BASE.replace("b: BilledCost", "b: ListCost"), 5, "no column is mapped to BilledCost"),
    (COSTS_BASE.replace("currency: USD\n", "currency: usd\nperiod: day\n"), 6, None),  # valid: no error
    (COSTS_BASE.replace("currency: USD\n", ""), 4, "needs its currency: a column mapped to BillingCurrency"),
    (COSTS_BASE.replace("constants: {ProviderName: X}\n", ""), 4, "needs ProviderName"),
    (COSTS_BASE + "status: {column: a}\n", 8, "'status' applies to table: requests mappings only"),
    ("name: x\ncolumns: {a: ChargePeriodStart, b: x_OutputTokens}\nperiod: month\n", 3,
     "'period' applies to table: costs mappings only"),
    (COSTS_BASE + "period: week\n", 8, "period 'week' is not one of day, month, year"),
    (COSTS_BASE + "restates: all\n", 8, "restates 'all' is not one of span, rows"),
    (COSTS_BASE + "lookups:\n  Colour: {column: a}\n", 9, "lookup 'Colour' must be one of the text fields"),
    (COSTS_BASE + "lookups:\n  ChargeFrequency:\n    column: a\n    values: {x: Monthly}\n", 11,
     "'Monthly' is not a ChargeFrequency"),
    (COSTS_BASE + "lookups:\n  ServiceName: {column: a, colour: red}\n", 9, "takes column .required., values"),
    (COSTS_BASE + "lookups:\n  ProviderName: {column: a}\n", 9, "ProviderName is also a mapped column or a constant"),
    (COSTS_BASE.replace("{ProviderName: X}", "{ProviderName: X, ChargeCategory: Fee}"), 4,
     "'Fee' is not a ChargeCategory"),
    (COSTS_BASE + "optional: [a]\n", 8, "column 'a' holds a required field"),
    (COSTS_BASE + "optional: [zz]\n", 8, "optional column 'zz' is not one the mapping reads"),
    (COSTS_BASE + "tags: {a: k, b: k}\n", 8, "same tag key"),
])
def test_costs_mapping_errors_name_the_line(tmp_path, text, line, problem):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    if problem is None:
        assert mapped.load_mapping(path).currency == "USD"
        return
    with pytest.raises(SourceError, match=problem) as err:
        mapped.load_mapping(path)
    assert err.value.line == line and err.value.path == str(path)


def test_optional_columns_may_be_missing_from_a_requests_file(read, tmp_path, user_mapping):
    user_mapping(GATEWAY_YAML.replace("time: {format: unix_ms}", "optional: [team, latency]\ntime: {format: unix_ms}"))
    path = tmp_path / "gateway.csv"  # GATEWAY_CSV without its last two columns, team and latency
    path.write_text("".join(",".join(line.split(",")[:9]) + "\n" for line in GATEWAY_CSV.splitlines()))
    info, rows, _ = read(path)
    assert (info["records_read"], info["rows"]) == (4, 2)
    assert rows.x_Team.isna().all() and rows.loc["r1", "x_InputCacheReadTokens"] == 1000
    short = tmp_path / "short.csv"  # a column the mapping does not call optional: the file cannot be read
    short.write_text("id,ts,model,provider,in_tok,cached,out_tok,outcome\n")
    with pytest.raises(SourceError, match=r"missing: cost$"):
        SOURCES["mapped:test_gateway"].read(short, None)
