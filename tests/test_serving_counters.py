"""Model-server counters: increases between samples (restarts included), spread over days; the readers' samples.

Every expected value is worked by hand from the samples written in the test.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from finops_lib import engine
from finops_lib.facts.serving import counter_increases, spread_increases
from finops_lib.warehouse import ingest

DATA = Path(__file__).resolve().parent / "data"


def _samples(series: str, points: list[tuple[str, float]]) -> pd.DataFrame:
    return pd.DataFrame({"x_SeriesId": series, "x_Value": [v for _, v in points],
                         "ChargePeriodStart": pd.to_datetime([t for t, _ in points], utc=True)})


def test_a_restart_counts_what_the_new_process_counted():
    out = counter_increases(_samples("s", [("2026-05-01 00:00", 100), ("2026-05-01 12:00", 160),
                                           ("2026-05-02 00:00", 20), ("2026-05-02 12:00", 50)]))
    assert out["increase"].tolist() == [60, 20, 30]
    assert out["reset"].tolist() == [False, True, False]
    assert out["start"].iloc[1] == pd.Timestamp("2026-05-01 12:00", tz="UTC")


def test_series_are_apart_and_a_repeated_sample_counts_once():
    both = pd.concat([
        _samples("replica-a", [("2026-05-01 00:00", 10), ("2026-05-01 01:00", 40)]),
        _samples("replica-b", [("2026-05-01 00:00", 1000), ("2026-05-01 01:00", 1010)]),
        _samples("replica-a", [("2026-05-01 01:00", 40)]),  # the same sample from an overlapping export
    ])
    out = counter_increases(both)
    assert dict(zip(out["x_SeriesId"], out["increase"], strict=True)) == {"replica-a": 30, "replica-b": 10}


def test_a_series_sampled_once_has_no_interval():
    assert counter_increases(_samples("s", [("2026-05-01", 5)])).empty


def test_an_interval_over_midnight_is_split_by_time():
    out = spread_increases(counter_increases(_samples("s", [("2026-05-01 18:00", 0), ("2026-05-02 06:00", 120)])))
    assert dict(zip(out["period"].dt.strftime("%m-%d"), out["increase"], strict=True)) == {"05-01": 60, "05-02": 60}


def test_daily_snapshots_at_six_give_each_day_its_hours():
    # 240 tokens from 05-01 06:00 to 05-02 06:00, 240 more to 05-03 06:00: 05-01 has 18 h of the first (180),
    # 05-02 6 h of the first and 18 h of the second (60 + 180), 05-03 6 h of the second (60).
    samples = _samples("s", [("2026-05-01 06:00", 0), ("2026-05-02 06:00", 240), ("2026-05-03 06:00", 480)])
    out = spread_increases(counter_increases(samples)).groupby("period")["increase"].sum()
    assert out.tolist() == pytest.approx([180, 240, 60])
    assert out.index.strftime("%m-%d").tolist() == ["05-01", "05-02", "05-03"]


def test_hourly_spread_and_an_interval_ending_at_midnight_stays_in_its_day():
    hourly = spread_increases(counter_increases(_samples("s", [("2026-05-01 10:30", 0), ("2026-05-01 12:00", 90)])),
                              freq="h")
    assert hourly["increase"].tolist() == pytest.approx([30, 60])
    daily = spread_increases(counter_increases(_samples("s", [("2026-05-01 12:00", 0), ("2026-05-02 00:00", 7)])))
    assert daily["period"].tolist() == [pd.Timestamp("2026-05-01", tz="UTC")] and daily["increase"].tolist() == [7]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 5000), st.integers(0, 10**6)), min_size=2, max_size=25))
def test_without_restarts_the_increases_sum_to_last_minus_first_and_spreading_conserves_them(steps):
    t = pd.Timestamp("2026-05-01 03:17", tz="UTC")
    times, values, total = [], [], 0
    for minutes, added in steps:
        t += pd.Timedelta(minutes=minutes)
        total += added
        times.append(t)
        values.append(float(total))
    samples = pd.DataFrame({"x_SeriesId": "s", "x_Value": values, "ChargePeriodStart": times})
    out = counter_increases(samples)
    assert not out["reset"].any()
    assert out["increase"].sum() == values[-1] - values[0]
    assert spread_increases(out)["increase"].sum() == pytest.approx(values[-1] - values[0], rel=1e-12, abs=1e-6)


def test_the_query_range_fixture_gives_the_hand_worked_increases():
    # tests/data/prometheus_range.json: vLLM prompt tokens 1000 -> 5000 -> 300 (a restart), generation tokens
    # 200 -> 1200 -> 60, TGI requests 10 -> 25; a gauge (KV cache) is not a counter.
    con = engine.memory()
    try:
        assert ingest([DATA / "prometheus_range.json"], con=con).iloc[0].status == "loaded"
        samples = con.sql("SELECT * FROM metrics WHERE x_MetricKind = 'counter'").to_pandas()
    finally:
        con.disconnect()
    out = counter_increases(samples, keep=["x_Metric", "x_Deployment"])
    totals = out.groupby(["x_Deployment", "x_Metric"])["increase"].sum().to_dict()
    assert totals == {("vllm-llama-8b", "prompt_tokens"): 4300, ("vllm-llama-8b", "generation_tokens"): 1060,
                      ("tgi-mistral-7b", "requests"): 15}
    assert out.groupby("x_Metric")["reset"].sum().to_dict() == {"generation_tokens": 1, "prompt_tokens": 1,
                                                                "requests": 0}


def test_text_snapshots_named_by_time_make_one_series_per_deployment(tmp_path):
    # Two raw /metrics snapshots of a TGI server (no labels, no timestamps): the time and the deployment come
    # from the file names, so both files' samples are one series and give one increase.
    body = "# TYPE tgi_request_generated_tokens histogram\ntgi_request_generated_tokens_sum {}\n"
    for stamp, value in (("2026-05-01T00-00-00Z", 1000), ("2026-05-01T06-00-00Z", 4000)):
        (tmp_path / f"tgi-mistral-7b_{stamp}.prom").write_text(body.format(value))
    (tmp_path / "no-time.prom").write_text(body.format(5))
    con = engine.memory()
    try:
        summary = ingest([tmp_path], con=con).set_index("path")
        samples = con.sql("SELECT * FROM metrics").to_pandas()
    finally:
        con.disconnect()
    assert summary.loc[str(tmp_path / "no-time.prom"), "status"] == "failed"
    assert "needs a time" in summary.loc[str(tmp_path / "no-time.prom"), "message"]
    assert set(samples["x_Deployment"]) == {"tgi-mistral-7b"} and set(samples["x_Metric"]) == {"generation_tokens"}
    out = counter_increases(samples)
    assert out["increase"].tolist() == [3000]
    assert (out["start"].iloc[0], out["end"].iloc[0]) == (pd.Timestamp("2026-05-01 00:00", tz="UTC"),
                                                          pd.Timestamp("2026-05-01 06:00", tz="UTC"))
