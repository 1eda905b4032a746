"""Benchmark: allocation with 10 million gateway request rows, in the engine (DuckDB through ibis).

Builds a synthetic warehouse (10M LiteLLM-like requests over 180 days, 20 teams, request tags and key aliases;
daily gateway invoice rows for two providers, a hosting fee and direct spend), then times
``allocation.allocate`` on the facts (``finops_lib.facts.Facts``) with rules that attribute requests by key alias
and request tags and split the gateway invoices (metered, by cost) and the hosting fee (by successful requests)
on the request log.
Usage: python benchmarks/allocate.py [rows] [warehouse.duckdb]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import duckdb
import ibis

from finops_lib import allocation, engine
from finops_lib import rules as rulebook
from finops_lib.facts import Facts

ARGS = [a for a in sys.argv[1:] if not a.startswith("--")]
ROWS = int(ARGS[0]) if ARGS else 10_000_000
PATH = Path(ARGS[1] if len(ARGS) > 1 else Path(__file__).parent / "out" / "alloc_bench.duckdb")

RULES = """
version: 1
rules:
  - name: by-key-alias
    match: {tags: {key_alias: {regex: "^team07-"}}}
    set: {team: team07, application: batch-jobs}
  - name: by-request-tag
    match: {request_tags: "app:search"}
    set: {application: search}
  - name: direct-project
    match: {provider: OpenAI, sub_account: proj_direct}
    set: {team: team01, application: direct-app}
shared:
  - {name: gw-openai, applies_to: metered, match: {provider: OpenAI, sub_account: proj_gw}, strategy: proportional,
     source: requests, basis_match: {provider: OpenAI}, level: feature}
  - {name: gw-anthropic, applies_to: metered, match: {provider: Anthropic, sub_account: wrk_gw},
     strategy: proportional, source: requests, basis_match: {provider: Anthropic}, level: feature}
  - {name: hosting, applies_to: platform_fee, match: {tags: {app: llm-gateway}}, strategy: proportional,
     source: requests, basis: requests}
"""


def build() -> None:
    PATH.parent.mkdir(parents=True, exist_ok=True)
    if PATH.exists():
        PATH.unlink()
    con = duckdb.connect(str(PATH))
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"""
        CREATE TABLE requests AS
        SELECT 'r' || i AS x_RequestId,
               TIMESTAMPTZ '2026-05-01 00:00:00+00' + to_seconds((i * 1553) % (180 * 86400)) AS ChargePeriodStart,
               CASE WHEN i % 3 = 0 THEN 'Anthropic' ELSE 'OpenAI' END AS ProviderName,
               CASE WHEN i % 3 = 0 THEN 'claude-sonnet-4-5' ELSE 'gpt-4o-mini' END AS x_Model,
               CAST(500 + i % 3000 AS BIGINT) AS x_InputUncachedTokens,
               CAST(i % 700 AS BIGINT) AS x_InputCacheReadTokens,
               CAST(0 AS BIGINT) AS x_InputCacheWrite5mTokens, CAST(0 AS BIGINT) AS x_InputCacheWrite1hTokens,
               CAST(50 + i % 400 AS BIGINT) AS x_OutputTokens,
               CASE WHEN i % 97 = 0 THEN 'failure' ELSE 'success' END AS x_Status,
               CAST((i % 1000) / 100000.0 AS DECIMAL(38, 12)) AS x_ReportedCost,
               CAST(NULL AS DECIMAL(38, 12)) AS x_EstimatedCost, 'USD' AS BillingCurrency,
               CAST(NULL AS VARCHAR) AS SubAccountId, 'k' || (i % 200) AS x_ApiKeyId, 'u' || (i % 5000) AS x_UserId,
               'team' || lpad(CAST(i % 20 AS VARCHAR), 2, '0') AS x_Team, 'app' || (i % 7) AS x_Application,
               'f' || (i % 3) AS x_Feature, 'prod' AS x_Environment,
               '{{"request_tags":["app:' || CASE WHEN i % 5 = 0 THEN 'search' ELSE 'chat' END ||
               '","env:prod"],"key_alias":"team' || lpad(CAST(i % 20 AS VARCHAR), 2, '0') || '-key","team_alias":"t"}}'
                   AS Tags,
               'litellm_spend_logs' AS x_SourceFormat
        FROM range({ROWS}) t(i)
    """)
    con.execute("""
        CREATE TABLE costs AS
        SELECT d AS ChargePeriodStart, d + INTERVAL 1 DAY AS ChargePeriodEnd, p.provider AS ProviderName,
               p.sub AS SubAccountId, 'USD' AS BillingCurrency, 'invoiced' AS x_CostBasis,
               CAST(p.amount AS DECIMAL(38, 12)) AS BilledCost, CAST(p.amount AS DECIMAL(38, 12)) AS ListCost,
               CAST(p.amount AS DECIMAL(38, 12)) AS EffectiveCost, p.token_type AS x_TokenType,
               CAST(NULL AS DECIMAL(38, 12)) AS ConsumedQuantity, CAST(NULL AS BIGINT) AS x_RequestCount,
               p.model AS x_Model, 'standard' AS x_ServiceTier, p.team AS x_Team, p.app AS x_Application,
               CAST(NULL AS VARCHAR) AS x_Feature, CAST(NULL AS VARCHAR) AS x_Environment, p.tags AS Tags,
               CAST(NULL AS VARCHAR) AS x_UserId, CAST(NULL AS VARCHAR) AS x_ApiKeyId,
               CAST(NULL AS VARCHAR) AS ResourceId, 'svc' AS ServiceName, p.source AS x_SourceFormat
        FROM generate_series(TIMESTAMPTZ '2026-05-01 00:00:00+00', TIMESTAMPTZ '2026-10-27 00:00:00+00',
                             INTERVAL 1 DAY) s(d),
             (VALUES ('OpenAI', 'proj_gw', 120.5, 'output', 'gpt-4o-mini', NULL, NULL, NULL, 'openai_costs'),
                     ('Anthropic', 'wrk_gw', 80.25, 'output', 'claude-sonnet-4-5', NULL, NULL, NULL, 'anthropic'),
                     ('OpenAI', 'proj_direct', 40.0, 'input_uncached', 'gpt-4o', NULL, NULL, NULL, 'openai_costs'),
                     ('AWS', '111', 30.0, 'non_token', NULL, 'platform', 'llm-gateway',
                      '{"team":"platform","app":"llm-gateway"}', 'focus')
             ) p(provider, sub, amount, token_type, model, team, app, tags, source)
    """)
    con.close()


def main() -> None:
    started = time.perf_counter()
    if not PATH.exists() or "--rebuild" in sys.argv:
        build()
        print(f"built {ROWS:,} request rows in {time.perf_counter() - started:.1f} s")
    con = engine.connect(warehouse=PATH)
    rules = rulebook.parse_rules(RULES)
    timings = []
    for _ in range(2):
        started = time.perf_counter()
        facts = Facts(con.table("costs"), con.table("requests"), currency="USD", rules=rules)
        result = allocation.allocate(facts)
        timings.append(time.perf_counter() - started)
    check = allocation.conservation(result)
    teams = result.frame.groupby("team")["cost"].apply(lambda s: sum(s)).sort_values(ascending=False)
    print(f"allocate: {', '.join(f'{t:.1f} s' for t in timings)}; {len(result.frame):,} allocated rows; "
          f"max relative error {check['relative_error'].max():.1e}; teams {len(teams)}")
    print(teams.head(3).to_string())
    _ = ibis


if __name__ == "__main__":
    main()
