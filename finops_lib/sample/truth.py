"""The answer key: what every file bills, per day and owner, plus events, experiment, prices and FX."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pandas as pd

from finops_lib.sample._io import Manifest, csv_text, fmt_decimal
from finops_lib.sample.focus_writer import cloud_costs
from finops_lib.sample.gcp_writer import credit_for
from finops_lib.sample.ledger import MONEY, World, attach, dsum
from finops_lib.sample.prices import PTU_HOUR_USD, USD_TO_EUR, PriceBook
from finops_lib.sample.simulate import COUNT_COLUMNS, event_targets
from finops_lib.sample.story import CLOUD_RESOURCES, EVENTS, EXPERIMENT_ID, PTU_UNITS, PTU_USAGE_SHARE, SERIES

DAILY_COLUMNS: tuple[str, ...] = (
    "date", "provider", "billing_currency", "team", "application", "feature", "environment", "model",
    "service_tier", "requests", "input_uncached_tokens", "input_cache_read_tokens", "input_cache_write_5m_tokens",
    "input_cache_write_1h_tokens", "output_tokens", "reasoning_tokens", "cost", "cost_usd", "tagged",
    "context_tier", "channel", "credit",
)  # fmt: skip
_KEYS = ["day", "provider", "team", "app", "feature", "env", "model", "tier", "context_tier", "channel", "tagged"]


def _token_rows(world: World) -> pd.DataFrame:
    cost = world.ledger.groupby(["day", "sid", "context_tier"], sort=False)["cost"].agg(dsum)
    usage = attach(world.usage)
    keys = zip(usage["day"], usage["sid"], usage["context_tier"], strict=True)
    usage["cost"] = [cost.get(key, Decimal(0)) for key in keys]
    start, dates = world.timeline.start, world.timeline.dates
    usage["credit"] = [credit_for(w, dates[d], start, c) for w, d, c in zip(usage.get("w_project_id", ""),
                       usage["day"], usage["cost"], strict=True)]  # fmt: skip
    grouped = usage.groupby(_KEYS, sort=True)
    out = grouped[list(COUNT_COLUMNS)].sum()
    out["cost"] = grouped["cost"].agg(dsum)
    out["credit"] = grouped["credit"].agg(dsum)
    return out.reset_index()


def _shared_rows(world: World) -> pd.DataFrame:
    rows = []
    ptu = MONEY.multiply(PTU_HOUR_USD * USD_TO_EUR, PTU_UNITS * 24)
    for day in range(world.timeline.days):
        rows.append((day, "azure_openai", "platform", "shared-ptu", "provisioned-throughput", "prod", "provisioned",
                     True, ptu))  # fmt: skip
    for rec in cloud_costs(world).itertuples(index=False):
        name, _, _, team, app, _, _ = CLOUD_RESOURCES[rec.resource]
        rows.append((rec.day, "cloud", team or "platform", app or "network", name, "prod", "", bool(team), rec.cost))
    columns = ["day", "provider", "team", "app", "feature", "env", "tier", "tagged", "cost"]
    frame = pd.DataFrame(rows, columns=columns)
    frame = frame.assign(model="", context_tier="", channel="direct", credit=Decimal(0))
    return frame.assign(**dict.fromkeys(COUNT_COLUMNS, 0))


def daily_cost(world: World) -> pd.DataFrame:
    """Return the truth table ``truth/daily_cost.csv`` (costs as exact Decimals in billing currency)."""
    frame = pd.concat([_token_rows(world), _shared_rows(world)], ignore_index=True)
    frame = frame.sort_values(["day", "provider", "team", "app", "feature", "model", "tier", "context_tier"],
                              kind="stable")  # fmt: skip
    dates = world.timeline.dates
    frame["date"] = [dates[d].isoformat() for d in frame["day"]]
    frame["billing_currency"] = ["EUR" if p == "azure_openai" else "USD" for p in frame["provider"]]
    frame["cost_usd"] = [PriceBook.to_usd(p, c) for p, c in zip(frame["provider"], frame["cost"], strict=True)]
    return frame.rename(columns={
        "app": "application", "env": "environment", "tier": "service_tier", "input_uncached": "input_uncached_tokens",
        "input_cache_read": "input_cache_read_tokens", "input_cache_write_5m": "input_cache_write_5m_tokens",
        "input_cache_write_1h": "input_cache_write_1h_tokens", "output": "output_tokens",
        "reasoning": "reasoning_tokens",
    })[list(DAILY_COLUMNS)].reset_index(drop=True)  # fmt: skip


def _cell(value: object) -> object:
    if isinstance(value, Decimal):
        return fmt_decimal(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _joined(values: list[str]) -> str:
    return ";".join(dict.fromkeys(v for v in values if v))


def events_table(world: World) -> list[list[object]]:
    """Return the rows of ``truth/events.csv``."""
    rows: list[list[object]] = []
    dates = world.timeline.dates
    for e in EVENTS:
        first, stop = world.timeline.span(e)
        targets = event_targets(e)
        providers = [s.provider for s in targets] + [{"@ptu": "azure_openai", "@gateway": "cloud"}.get(t, "")
                                                     for t in e.targets]  # fmt: skip
        keys = [s.where.get("api_key_id") or s.where.get("principal") or s.where.get("project_id", "") for s in targets]
        rows.append([e.event_id, e.kind, dates[first].isoformat(), dates[stop - 1].isoformat(), _joined(providers),
                     _joined([s.team for s in targets]), _joined([s.app for s in targets]),
                     _joined([s.model for s in targets]), _joined(keys), e.token_type, e.size, e.driver, e.cause,
                     e.description])  # fmt: skip
    return rows


def experiments_table(world: World) -> list[list[object]]:
    """Return the rows of ``truth/experiments.csv`` (true expectations at the true prices)."""
    event = next(e for e in EVENTS if e.kind == "experiment")
    first, stop = world.timeline.span(event)
    day = world.timeline.dates[first]
    rows: list[list[object]] = []
    for s in (x for x in SERIES if x.variant):
        p_in = world.book.price(s.provider, s.model, "input_uncached", s.tier, "standard", day)
        p_out = world.book.price(s.provider, s.model, "output", s.tier, "standard", day)
        per_success = (Decimal(str(s.in_mean)) * p_in + Decimal(str(s.out_mean)) * p_out) / Decimal(1_000_000)
        mean_cost = per_success * (1 - Decimal(str(s.fail_rate)))
        quality = Decimal(str(s.quality[0]))
        done = world.usage[world.usage["sid"] == s.sid]
        rows.append(
            [
                EXPERIMENT_ID,
                s.variant,
                s.variant.split("-")[0],
                s.provider,
                s.model,
                world.timeline.dates[first].isoformat(),
                world.timeline.dates[stop - 1].isoformat(),
                int(done["requests"].sum()),
                s.fail_rate,
                s.in_mean,
                s.out_mean,
                fmt_decimal(mean_cost),
                fmt_decimal(quality),
                fmt_decimal(MONEY.divide(mean_cost, quality).quantize(Decimal("1e-12"))),
            ]
        )
    return rows  # fmt: skip


def write_truth(world: World, manifest: Manifest, *, bad_rows: list[dict[str, object]]) -> pd.DataFrame:
    """Write every ``truth/`` file and return the daily cost table."""
    table = daily_cost(world)
    manifest.write_text("truth/daily_cost.csv", csv_text(list(DAILY_COLUMNS), [[_cell(v) for v in row] for row in
                        table.itertuples(index=False)]), fmt="truth_daily_cost", rows=len(table))  # fmt: skip
    header = ["event_id", "kind", "start_date", "end_date", "provider", "team", "application", "model", "api_key",
              "token_type", "size", "driver", "cause", "description"]  # fmt: skip
    events = events_table(world)
    manifest.write_text("truth/events.csv", csv_text(header, events), fmt="truth_events", rows=len(events))
    header = ["experiment_id", "variant", "prompt_version", "provider", "model", "start_date", "end_date",
              "successful_requests", "true_fail_rate", "true_mean_input_tokens", "true_mean_output_tokens",
              "true_mean_cost_usd", "true_mean_quality", "true_cost_per_quality_point_usd"]  # fmt: skip
    exp = experiments_table(world)
    manifest.write_text("truth/experiments.csv", csv_text(header, exp), fmt="truth_experiments", rows=len(exp))
    prices = [[r.provider, r.model, r.token_type, r.service_tier, r.context_tier, fmt_decimal(r.price_per_1m),
               r.currency, r.effective_from.isoformat(), r.effective_to.isoformat() if r.effective_to else ""]
              for r in world.book.rows]  # fmt: skip
    header = ["provider", "model", "token_type", "service_tier", "context_tier", "price_per_1m", "currency",
              "effective_from", "effective_to"]  # fmt: skip
    manifest.write_text("truth/prices.csv", csv_text(header, prices), fmt="truth_prices", rows=len(prices))
    fx = [["USD", "EUR", fmt_decimal(USD_TO_EUR), world.timeline.start.isoformat(), world.timeline.end.isoformat()]]
    manifest.write_text("truth/fx.csv", csv_text(["from_currency", "to_currency", "rate", "effective_from",
                        "effective_to"], fx), fmt="truth_fx", rows=1)  # fmt: skip
    bad = [[r["line"], r["request_id"], r["column"], r["value"], r["reason"]] for r in bad_rows]
    manifest.write_text("truth/gateway_bad_rows.csv", csv_text(["line", "request_id", "column", "value", "reason"],
                        bad), fmt="truth_gateway_bad_rows", rows=len(bad))  # fmt: skip
    readme = (Path(__file__).parent / "TRUTH_README.md").read_text(encoding="utf-8")
    manifest.write_text("truth/README.md", readme, fmt="markdown", rows=0)
    shared = _shared_usage(world)
    manifest.write_text("truth/shared_usage.csv", csv_text(["shared_resource", "provider", "team", "share", "basis"],
                        shared), fmt="truth_shared_usage", rows=len(shared))  # fmt: skip
    return table


def _shared_usage(world: World) -> list[list[object]]:
    rows: list[list[object]] = [["aoai-shared-ptu", "azure_openai", team, share, "share of tokens processed on the PTU"]
                                for team, share in PTU_USAGE_SHARE.items()]  # fmt: skip
    usage = attach(world.usage)
    gateway = usage[usage["channel"] == "gateway"].groupby("team")["requests"].sum()
    for team, count in gateway.items():
        share = round(float(count) / float(gateway.sum()), 6)
        rows.append(["llm-gateway", "cloud", team, share, "share of successful gateway requests"])
    return rows
