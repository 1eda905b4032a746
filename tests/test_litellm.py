import gzip
import json
import shutil
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from finops_lib import engine
from finops_lib.errors import SourceError
from finops_lib.sources import detect_format, get_source
from finops_lib.warehouse import ingest, normalize

SMALL = "litellm_spend_logs_small.csv"


@pytest.fixture
def read_small(data_dir, tmp_path):
    """Normalize a file (the public path: reader + settle) and return (info, rows, rejects)."""

    def run(path=None):
        path = Path(path or data_dir / SMALL)
        out = tmp_path / f"{path.name}.parquet"
        info = normalize([path], out)
        rows = pd.read_parquet(out).set_index("x_RequestId")
        return info, rows, pd.read_parquet(out.with_name(out.name.replace(".parquet", ".rejects.parquet")))

    return run


def test_detected_by_header(data_dir):
    assert detect_format(data_dir / SMALL).name == "litellm_spend_logs"
    assert detect_format(data_dir / "openai_usage_page.json").name != "litellm_spend_logs"


def test_every_record_is_loaded_or_rejected_with_its_line(read_small):
    info, rows, rejects = read_small()
    assert info["records_read"] == 9 and info["rows"] == 4 and info["records_rejected"] == 5
    assert sorted(rows.x_SourceRow) == [2, 3, 4, 8]
    by_line = rejects.set_index("x_SourceRow")
    assert by_line.loc[5, "x_Column"] == "startTime" and by_line.loc[5, "x_Value"] == "yesterday"
    assert by_line.loc[6, "x_Column"] == "record" and "missing columns" in by_line.loc[6, "x_Reason"]
    assert by_line.loc[7, "x_Column"] == "spend" and by_line.loc[7, "x_Value"] == "abc"
    assert by_line.loc[9, "x_Reason"] == "duplicate: same request_id and amounts as line 2 (kept)"
    assert by_line.loc[10, "x_Column"] == "prompt_tokens" and by_line.loc[10, "x_Value"] == "12.5"


def test_token_buckets_from_metadata(read_small):
    _, rows, _ = read_small()
    buckets = ["x_InputUncachedTokens", "x_InputCacheReadTokens", "x_InputCacheWrite5mTokens",
               "x_InputCacheWrite1hTokens", "x_OutputTokens"]
    # r1: OpenAI prompt 1200 includes 1000 cached -> 200 uncached.
    assert rows.loc["r1", buckets].tolist() == [200, 1000, 0, 0, 300]
    # r2: Anthropic prompt 10000 = 1000 uncached + 6000 read + 2000 (5m) + 1000 (1h).
    assert rows.loc["r2", buckets].tolist() == [1000, 6000, 2000, 1000, 500]
    # r3: prompt 100 < its cache parts: an old LiteLLM that excluded cache from prompt_tokens.
    assert rows.loc["r3", buckets].tolist() == [100, 5000, 200, 0, 500]
    assert set(rows.loc["r3", "x_DataQualityFlags"].split(",")) == {"cache_semantics_inferred", "cache_ttl_assumed"}


def test_dimensions_and_money(read_small):
    _, rows, _ = read_small()
    r1 = rows.loc["r1"]
    assert (r1.x_Team, r1.x_Application, r1.x_Feature, r1.x_Environment) == ("support", "support-chatbot",
                                                                            "answer", "prod")
    assert (r1.x_ExperimentId, r1.x_Variant, r1.x_QualityScore) == ("exp1", "A", 0.8)
    assert r1.x_ReportedCost == Decimal("0.00123") and r1.BillingCurrency == "USD"
    assert r1.x_LatencyMs == 1500 and r1.x_UserId == "u1" and r1.x_Operation == "completion"
    assert rows.loc["r3", "x_Team"] == "search"  # from the team:search request tag
    assert rows.loc["r3", "x_Model"] == "claude-sonnet-4-5-20250929"  # route prefix removed
    assert rows.loc["r6", "x_Status"] == "failure" and rows.loc["r6", "x_LatencyMs"] == 30000
    assert rows.loc["r6", "x_DataQualityFlags"] == "token_subfields_missing"
    assert json.loads(rows.loc["r1", "Tags"])["key_alias"] == "support-bot"


def test_a_request_tag_s_key_is_matched_whole_and_without_case(read_small, tmp_path):
    """The first tag whose key (before the first colon) is a dimension's, in any case, fills it; nothing else does."""
    tags = {
        "a": ["Team:Red", "team:blue", "APP:web"],  # the first team tag wins, whatever its case
        "b": ["experimentXid:e9", "teams:x", "team", "env:", "Experiment:e2", "variant:v:1"],
        "c": ["application:crm", "app:later", "ENVIRONMENT:stage", "feature:a:b"],
        "d": [],
    }
    header = "request_id,call_type,spend,prompt_tokens,completion_tokens,startTime,model,request_tags"
    lines = [header] + [
        f'{rid},acompletion,0.5,10,5,2026-05-01T10:00:00Z,gpt-4o-mini,"{json.dumps(t).replace(chr(34), chr(34) * 2)}"'
        for rid, t in tags.items()]
    path = tmp_path / "spend_logs.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _, rows, rejects = read_small(path)
    assert rejects.empty
    dims = ["x_Team", "x_Application", "x_Feature", "x_Environment", "x_ExperimentId", "x_Variant"]
    got = {rid: [None if pd.isna(v) else v for v in rows.loc[rid, dims]] for rid in tags}
    assert got == {
        "a": ["Red", "web", None, None, None, None],
        "b": [None, None, None, None, "e2", "v:1"],  # "env:" is empty: no environment
        "c": [None, "crm", "a:b", "stage", None, None],
        "d": [None, None, None, None, None, None],
    }


def test_gzip_reads_the_same(read_small, data_dir, tmp_path):
    gz = tmp_path / (SMALL + ".gz")
    with open(data_dir / SMALL, "rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    assert detect_format(gz).name == "litellm_spend_logs"
    _, plain, _ = read_small()
    _, packed, _ = read_small(gz)
    cols = ["x_InputUncachedTokens", "x_OutputTokens", "x_ReportedCost", "x_SourceRow"]
    assert packed[cols].equals(plain[cols])


def test_missing_required_column_is_a_clear_error(tmp_path, con):
    bad = tmp_path / "logs.csv"
    bad.write_text("request_id,startTime,spend,prompt_tokens,completion_tokens\nr1,2026-01-01T00:00:00Z,1,2,3\n")
    with pytest.raises(SourceError, match=r"required LiteLLM column.*model"):
        get_source(bad, "litellm_spend_logs").read(bad, con)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 10**7), st.integers(0, 10**7), st.integers(0, 10**6),
                          st.integers(0, 10**6), st.integers(0, 10**6)), min_size=1, max_size=6))
def test_property_buckets_add_up_to_prompt_tokens(tmp_path_factory, calls):
    """Current LiteLLM semantics: prompt_tokens = uncached + cache read + 5m write + 1h write, always."""
    folder = tmp_path_factory.mktemp("logs")
    lines = ["request_id,startTime,model,spend,prompt_tokens,completion_tokens,metadata,custom_llm_provider"]
    for i, (uncached, read, w5m, w1h, out) in enumerate(calls):
        meta = {"usage_object": {"cache_read_input_tokens": read, "cache_creation_input_tokens": w5m + w1h,
                                 "cache_creation_token_details": {"ephemeral_5m_input_tokens": w5m,
                                                                  "ephemeral_1h_input_tokens": w1h}}}
        text = json.dumps(meta).replace('"', '""')
        lines.append(f'r{i},2026-01-01T00:00:{i:02d}Z,claude-haiku-4-5,0.01,{uncached + read + w5m + w1h},{out},'
                     f'"{text}",anthropic')
    path = folder / "logs.csv"
    path.write_text("\n".join(lines) + "\n")
    out_file = folder / "o.parquet"
    info = normalize([path], out_file)
    assert info["rows"] == len(calls) and info["records_rejected"] == 0
    rows = pd.read_parquet(out_file).sort_values("x_SourceRow")
    got = rows[["x_InputUncachedTokens", "x_InputCacheReadTokens", "x_InputCacheWrite5mTokens",
                "x_InputCacheWrite1hTokens", "x_OutputTokens"]].to_numpy().tolist()
    assert got == [list(c) for c in calls]
    assert rows.x_SourceRow.tolist() == list(range(2, len(calls) + 2))


def test_out_of_range_spend_and_tokens_are_rejected_not_fatal(data_dir, tmp_path, read_small):
    """Regression (found by the corruption property test): spend ``1e999`` is infinite as a double and
    used to abort the whole load when cast to decimal; a token count beyond 1e15 overflowed likewise."""
    lines = (data_dir / SMALL).read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    good = lines[1].split(",")
    rows = [lines[0]]
    for i, (column, value) in enumerate((("spend", "1e999"), ("spend", "nan"), ("prompt_tokens", "1e18"))):
        row = list(good)
        row[header.index("request_id")] = f"bad{i}"
        row[header.index(column)] = value
        rows.append(",".join(row))
    path = tmp_path / "spend_logs.csv"
    path.write_text("\n".join([*rows, lines[1]]) + "\n", encoding="utf-8")
    info, _, rejects = read_small(path)
    assert info["records_read"] == 4 and info["rows"] == 1
    by_line = rejects.set_index("x_SourceRow")
    assert by_line.loc[2, "x_Column"] == "spend" and "out of range" in by_line.loc[2, "x_Reason"]
    assert by_line.loc[3, "x_Column"] == "spend"
    assert by_line.loc[4, "x_Column"] == "prompt_tokens" and "implausibly large" in by_line.loc[4, "x_Reason"]


def test_rows_read_in_one_parallel_pass_carry_their_own_line_numbers(tmp_path):
    """Rows numbered by position (one pass, several threads) get the CSV line each came from, rejects too."""
    header = ("request_id,call_type,spend,prompt_tokens,completion_tokens,startTime,model,metadata,request_tags,"
              "padding\n")
    lines, bad = [header], {}
    for line in range(2, 400_002):
        spend = "0.001"
        if line % 99_991 == 0:  # a few rejects spread across the file's blocks
            spend = "x"
            bad[line] = f"r{line}"
        lines.append(f"r{line},acompletion,{spend},10,5,2026-05-01T10:00:00Z,gpt-4o-mini,{{}},[],{'p' * 120}\n")
    path = tmp_path / "spend_logs.csv"
    path.write_text("".join(lines))
    assert path.stat().st_size > 60 << 20  # many CSV buffers: DuckDB reads them on both threads
    con = engine.connect(warehouse=tmp_path / "wh")
    summary = ingest([path], con=con)
    assert summary.rows_read.tolist() == [400_000] and summary.rows_rejected.tolist() == [len(bad)]
    wrong = con.con.execute("SELECT count(*) FROM requests WHERE x_RequestId <> 'r' || x_SourceRow").fetchone()[0]
    assert wrong == 0
    rejected = dict(con.con.execute("SELECT x_SourceRow, x_Value FROM rejects").fetchall())
    assert rejected == dict.fromkeys(bad, "x")
