"""Tests of finops_lib.anomalies.explain: drill-down, exact decomposition of an anomaly, named causes."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from finops_lib.anomalies import explain

DAY = pd.Timestamp("2026-03-30")  # a Monday; the baseline is the 4 Mondays before
WEEKS = [1, 2, 3, 4]


def row(
    day,
    *,
    model="m",
    bucket="output",
    tokens=1000,
    cost="1",
    requests=10,
    failures=0,
    team="t",
    application="a",
    api_key="k",
    context_tier="standard",
    provider="P",
):
    return {
        "day": day,
        "provider": provider,
        "team": team,
        "application": application,
        "model": model,
        "api_key": api_key,
        "bucket": bucket,
        "service_tier": "standard",
        "context_tier": context_tier,
        "cost": Decimal(cost),
        "tokens": tokens,
        "requests": requests,
        "failures": failures,
    }


def facts(current: list[dict], baseline: list[dict]) -> pd.DataFrame:
    rows = [row(DAY, **r) for r in current]
    rows += [row(DAY - pd.Timedelta(weeks=k), **r) for k in WEEKS for r in baseline]
    return pd.DataFrame(rows)


def explain_day(f: pd.DataFrame, scope: dict | None = None) -> explain.Explanation:
    return explain.explain_anomaly(f, scope=scope or {"team": "t"}, days=[DAY], weeks=WEEKS)


def test_drilldown_changes_add_up_to_the_scope_change_exactly() -> None:
    f = facts(
        [{"model": "m", "cost": "3.30"}, {"model": "n", "cost": "0.70", "api_key": "k2"}],
        [{"model": "m", "cost": "1.10"}],
    )
    ex = explain_day(f)
    assert ex.change == Decimal("2.90") and ex.baseline == Decimal("1.10")
    for _, part in ex.drilldown.groupby("dimension"):
        assert sum(part["change"], Decimal(0)) == ex.change
        assert part["share"].sum() == pytest.approx(1.0)
    models = ex.drilldown[ex.drilldown["dimension"] == "model"].set_index("value")["change"]
    assert models.to_dict() == {"m": Decimal("2.20"), "n": Decimal("0.70")}


def test_named_causes_on_constructed_cases() -> None:
    retry = facts(
        [{"requests": 40, "failures": 10, "tokens": 3000, "cost": "3"}],
        [{"requests": 10, "failures": 0, "tokens": 1000, "cost": "1"}],
    )
    ex = explain_day(retry)
    assert (ex.driver, ex.cause) == ("requests", "retry storm") and "x4.0" in ex.evidence
    cache_before = [
        {"bucket": "input_cache_read", "tokens": 8000, "cost": "0.8", "requests": None},
        {"bucket": "input_uncached", "tokens": 2000, "cost": "2", "requests": None},
    ]
    cache_after = [
        {"bucket": "input_cache_read", "tokens": 500, "cost": "0.05", "requests": None},
        {"bucket": "input_cache_write_1h", "tokens": 9500, "cost": "19", "requests": None},
    ]
    ex = explain_day(facts(cache_after, cache_before))
    assert (ex.driver, ex.cause) == ("cache hit rate", "cache hit rate collapse") and ex.volume_unit == "tokens"
    long_ctx = facts(
        [{"context_tier": "long", "cost": "6", "requests": None}, {"cost": "1", "requests": None}],
        [{"cost": "1", "requests": None}],
    )
    assert explain_day(long_ctx).driver == "context tier"
    new_model = facts(
        [{"model": "big", "cost": "9", "requests": None}, {"cost": "1", "requests": None}],
        [{"cost": "1", "requests": None}],
    )
    assert (explain_day(new_model).driver, explain_day(new_model).cause) == ("model mix", "new model")
    price = facts([{"cost": "2"}], [{"cost": "1"}])  # same tokens and requests, twice the money
    assert explain_day(price).driver == "price"
    tokens = facts([{"tokens": 3000, "cost": "3"}], [{"tokens": 1000, "cost": "1"}])
    assert explain_day(tokens).driver == "tokens per request"


cells = st.lists(
    st.tuples(
        st.sampled_from(["m1", "m2", "m3"]),
        st.sampled_from(["input_uncached", "output"]),
        st.integers(0, 10**7),
        st.decimals("0", "500", places=6),
        st.integers(0, 5000),
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=60, deadline=None)
@given(current=cells, baseline=cells, weeks=st.sampled_from([[1], [1, 2], [1, 2, 3, 4]]))
def test_decomposition_of_an_anomaly_adds_up_to_its_change_exactly(current, baseline, weeks) -> None:
    def rows(items, day):
        out, seen = [], {}
        for model, bucket, tokens, cost, requests in items:
            # one request count per cell (model): the same on all its bucket rows, as the facts carry it
            out.append(
                row(
                    day,
                    model=model,
                    bucket=bucket,
                    tokens=tokens,
                    cost=str(cost),
                    requests=seen.setdefault(model, requests) if (model, bucket) not in seen else None,
                )
            )
            seen[(model, bucket)] = True
        return out

    frame = pd.DataFrame(rows(current, DAY) + [r for k in weeks for r in rows(baseline, DAY - pd.Timedelta(weeks=k))])
    ex = explain.explain_anomaly(frame, scope={}, days=[DAY], weeks=weeks)
    assert sum(ex.components["amount"], Decimal(0)) == ex.change
    assert ex.change == sum((Decimal(str(c[3])) for c in current), Decimal(0)) - sum(
        (Decimal(str(c[3])) for c in baseline), Decimal(0)
    )


def test_baseline_weeks_skip_anomalous_weeks_and_respect_the_start() -> None:
    days = [DAY, DAY + pd.Timedelta(days=1)]
    avoid = {DAY - pd.Timedelta(weeks=2) + pd.Timedelta(days=1)}
    assert explain.baseline_weeks(days, avoid=avoid, first_day=DAY - pd.Timedelta(weeks=8)) == [1, 3, 4, 5]
    assert explain.baseline_weeks(days, avoid=set(), first_day=DAY - pd.Timedelta(weeks=3)) == [1, 2]
    assert explain.baseline_weeks(days, avoid=set(), first_day=DAY) == []


def test_each_component_of_an_anomaly_against_a_hand_worked_case() -> None:
    # Each baseline Monday: 10 requests x 100 output tokens at 0.001 = 1.00. The anomaly day: 20 requests x 150
    # tokens at 0.002 = 6.00. Change 5.00, by sequential substitution:
    #   volume = (20 - 10) x 1.00 / 10                 = 1.00
    #   mix    = 0 (one model)
    #   tokens per request = 20 x (150 - 100) x 0.001  = 1.00
    #   price  = 20 x 150 x (0.002 - 0.001)             = 3.00
    ex = explain_day(facts([{"requests": 20, "tokens": 3000, "cost": "6"}], [{"requests": 10, "tokens": 1000}]))
    parts = dict(zip(ex.components["component"], ex.components["amount"], strict=True))
    assert parts == {"volume": Decimal(1), "mix": 0, "tokens_per_request": Decimal(1), "price": Decimal(3),
                     "other": 0}  # fmt: skip
    assert (ex.change, ex.baseline, ex.driver) == (Decimal(5), Decimal(1), "price")
