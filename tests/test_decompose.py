"""The cost-change decomposition: hand-worked cases and the exact-sum property."""

from __future__ import annotations

from decimal import Decimal as D
from fractions import Fraction

import ibis
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from finops_lib.decompose import COMPONENTS, decompose
from finops_lib.errors import ParameterError
from finops_lib.facts.requests import cells_from_requests


def frame(rows: list[tuple]) -> pd.DataFrame:
    """Rows ``(model, bucket, tokens, cost, requests)``."""
    return pd.DataFrame(rows, columns=["x_Model", "bucket", "tokens", "cost", "requests"])


def amounts(d) -> dict[str, D]:
    return dict(zip(d.components["component"], d.components["amount"], strict=True))


def test_hand_worked_two_models() -> None:
    # Baseline: a 100 requests x 10 tokens at 0.01 = 10; b 100 x 20 at 0.02 = 40. R0 = 200, C0 = 50.
    # Current:  a 300 x 12 at 0.01 = 36;      b 100 x 20 at 0.03 = 60. R1 = 400, C1 = 96.
    base = frame([("a", "output", 1000, D("10"), 100), ("b", "output", 2000, D("40"), 100)])
    cur = frame([("a", "output", 3600, D("36"), 300), ("b", "output", 2000, D("60"), 100)])
    d = decompose(base, cur)
    # volume = (400 - 200) * 50 / 200 = 50
    # mix    = 400 * [(3/4 - 1/2) * 10 * 0.01 + (1/4 - 1/2) * 20 * 0.02] = 400 * (0.025 - 0.1) = -30
    # tokens = 400 * [3/4 * (12 - 10) * 0.01 + 0] = 6
    # price  = 400 * [0 + 1/4 * 20 * (0.03 - 0.02)] = 20
    assert amounts(d) == {"volume": D(50), "mix": D(-30), "tokens_per_request": D(6), "price": D(20), "other": 0}
    assert d.total == D(46) and d.baseline == D(50) and d.current == D(96)
    assert d.largest() == "volume"
    assert sum(d.detail["amount"]) == d.total


def test_new_and_vanished_models_are_mix() -> None:
    base = frame([("a", "output", 100, D("1"), 10)])
    cur = frame([("a", "output", 100, D("1"), 10), ("new", "output", 50, D("5"), 10)])
    d = decompose(base, cur)
    # R doubles: volume = 10 * 1/10 = 1; mix = 20 * (1/2 - 1) * 10 * 0.01 + 20 * 1/2 * 5 * 0.1 = -1 + 5 = 4
    assert amounts(d) == {"volume": D(1), "mix": D(4), "tokens_per_request": 0, "price": 0, "other": 0}
    # Reversed (sequential substitution is not symmetric): R 20 -> 10 at 6/20 per request: volume = -3;
    # mix = 10 * [(1 - 1/2) * 10 * 0.01 + (0 - 1/2) * 5 * 0.1] = 10 * (0.05 - 0.25) = -2.
    gone = decompose(cur, base)
    assert gone.total == D(-5) and gone.amount("volume") == D(-3) and gone.amount("mix") == D(-2)


def test_cache_collapse_in_token_volume_mode() -> None:
    # Same 1000 input tokens; cache reads (0.1/token) fall from 800 to 50, 1h writes (2/token) rise to 830.
    base = frame([("m", "input_cache_read", 800, D("80"), 0), ("m", "input_uncached", 200, D("200"), 0)])
    cur = frame([("m", "input_cache_read", 50, D("5"), 0), ("m", "input_uncached", 120, D("120"), 0),
                 ("m", "input_cache_write_1h", 830, D("1660"), 0)])  # fmt: skip
    d = decompose(base, cur, volume="tokens")
    assert d.total == D(1505)
    assert amounts(d) == {"volume": 0, "mix": 0, "tokens_per_request": D(1505), "price": 0, "other": 0}
    # Without request counts the request volume is unknown: the whole change is "other".
    assert amounts(decompose(base, cur))["other"] == D(1505)


def test_price_only_and_non_token() -> None:
    base = frame([("m", "output", 1000, D("10"), 5), ("m", "non_token", 0, D("3"), 5)])
    cur = frame([("m", "output", 1000, D("7.5"), 5), ("m", "non_token", 0, D("4"), 5)])
    assert amounts(decompose(base, cur)) == {"volume": 0, "mix": 0, "tokens_per_request": 0, "price": D("-2.5"),
                                             "other": D(1)}  # fmt: skip


def test_missing_cost_and_inconsistent_requests_raise() -> None:
    base = frame([("m", "output", 10, None, 1)])
    with pytest.raises(ParameterError, match="cost is missing"):
        decompose(base, base)
    bad = frame([("m", "output", 10, D(1), 1), ("m", "input_uncached", 10, D(1), 2)])
    with pytest.raises(ParameterError, match="differs"):
        decompose(bad, bad)


money = st.decimals(min_value=0, max_value=10_000, places=6, allow_nan=False, allow_infinity=False)
row = st.tuples(st.sampled_from(["a", "b", "c"]), st.sampled_from(["input_uncached", "input_cache_read", "output",
                                                                   "non_token"]),
                st.integers(0, 10**7), money)  # fmt: skip


def _side(rows: list[tuple], requests: dict[str, int]) -> pd.DataFrame:
    return frame([(m, b, t, c, requests[m]) for m, b, t, c in rows])


@settings(max_examples=150, deadline=None)
@given(st.lists(row, max_size=8), st.lists(row, max_size=8),
       st.fixed_dictionaries({m: st.integers(0, 5000) for m in "abc"}),
       st.fixed_dictionaries({m: st.integers(0, 5000) for m in "abc"}), st.sampled_from(["requests", "tokens"]))
def test_components_add_up_exactly(b_rows, c_rows, b_req, c_req, volume) -> None:  # fmt: skip
    base, cur = _side(b_rows, b_req), _side(c_rows, c_req)
    d = decompose(base, cur, volume=volume)
    expected = sum((r[3] for r in c_rows), D(0)) - sum((r[3] for r in b_rows), D(0))
    assert d.total == expected
    assert sum(d.components["amount"]) == expected  # exactly, in Decimal
    assert abs(sum(d.detail["amount"], D(0)) - expected) <= D("1e-12") * max(len(d.detail), 1)
    same = decompose(base, base, volume=volume)
    assert all(a == 0 for a in same.components["amount"])


def test_cells_from_requests_keep_the_logged_total(con) -> None:
    ts = pd.Timestamp("2026-06-01 10:00", tz="UTC")
    df = pd.DataFrame({
        "ChargePeriodStart": [ts, ts, ts, ts + pd.Timedelta(days=2)], "ProviderName": ["OpenAI"] * 4,
        "x_Model": ["gpt-4o-mini-2024-07-18"] * 4, "BillingCurrency": ["USD"] * 4,
        "x_Status": ["success", "success", "failure", "success"],
        "x_InputUncachedTokens": [1000, 2000, 0, 5], "x_InputCacheReadTokens": [0, 1024, 0, 0],
        "x_InputCacheWrite5mTokens": [0, 0, 0, 0], "x_InputCacheWrite1hTokens": [0, 0, 0, 0],
        "x_OutputTokens": [100, 200, 0, 1], "x_ReportedCost": [D("0.00021"), D("0.0005"), None, D("1")],
        "x_ServiceTier": ["standard"] * 4, "x_DataQualityFlags": [""] * 4,
    })  # fmt: skip
    money = pa.array(df.pop("x_ReportedCost"), type=pa.decimal128(38, 12))
    table = ibis.memtable(pa.Table.from_pandas(df, preserve_index=False).append_column("x_ReportedCost", money))
    cells = cells_from_requests(table, start="2026-06-01", end="2026-06-02")
    assert sum(cells["cost"]) == D("0.00071")
    assert set(cells["requests"]) == {3}  # the failure counts as a request
    assert dict(zip(cells["bucket"], cells["tokens"], strict=True)) == {
        "input_uncached": 3000, "input_cache_read": 1024, "output": 300}
    # Split by catalog cost: gpt-4o-mini 0.15 / 0.075 / 0.60 per 1M. Weights 0.00045, 0.0000768, 0.00018.
    weights = {"input_uncached": D("0.00045"), "input_cache_read": D("0.0000768"), "output": D("0.00018")}
    for bucket, w in weights.items():
        got = cells.set_index("bucket").loc[bucket, "cost"]
        assert abs(got - D("0.00071") * w / sum(weights.values())) <= D("1e-12")
    assert COMPONENTS[0] == "volume"


def _reference(base: dict, cur: dict) -> dict[str, Fraction]:
    """Sequential substitution written out from the formula, in exact rationals, for cells with requests.

    ``base`` / ``cur`` map a model to ``(requests, {bucket: (tokens, cost)})``.
    """
    r0, r1 = sum(r for r, _ in base.values()), sum(r for r, _ in cur.values())

    def s(side, r, m):
        return Fraction(side[m][0], r)

    def t(side, m, b):
        return Fraction(side[m][1][b][0], side[m][0])

    def q(side, m, b):
        return Fraction(side[m][1][b][1]) / side[m][1][b][0]

    cells = [(m, b) for m in base for b in base[m][1]]
    c0 = sum(Fraction(c) for _, buckets in base.values() for _, c in buckets.values())
    return {
        "volume": (r1 - r0) * c0 / r0,
        "mix": r1 * sum((s(cur, r1, m) - s(base, r0, m)) * t(base, m, b) * q(base, m, b) for m, b in cells),
        "tokens_per_request": r1 * sum(s(cur, r1, m) * (t(cur, m, b) - t(base, m, b)) * q(base, m, b)
                                       for m, b in cells),
        "price": r1 * sum(s(cur, r1, m) * t(cur, m, b) * (q(cur, m, b) - q(base, m, b)) for m, b in cells),
        "other": Fraction(0),
    }  # fmt: skip


side_of = st.fixed_dictionaries({
    m: st.tuples(st.integers(1, 5000), st.fixed_dictionaries({
        b: st.tuples(st.integers(1, 10**6), st.decimals("0.000001", "1000", places=6)) for b in ("input_uncached",
                                                                                                    "output")}))
    for m in ("a", "b")})  # fmt: skip


@settings(max_examples=100, deadline=None)
@given(side_of, side_of)
def test_each_component_equals_its_formula(base: dict, cur: dict) -> None:
    """Every component (not only their sum) equals the formula evaluated independently, to 12 places."""

    def as_frame(side: dict) -> pd.DataFrame:
        return frame([(m, b, tok, cost, r) for m, (r, buckets) in side.items() for b, (tok, cost) in buckets.items()])

    got = amounts(decompose(as_frame(base), as_frame(cur)))
    for name, value in _reference(base, cur).items():
        assert abs(Fraction(got[name]) - value) <= Fraction(5, 10**12), name
