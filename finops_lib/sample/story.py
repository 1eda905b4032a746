"""The fictional organisation: teams, applications, traffic series and events, as data.

Everything the generator simulates is declared here; :mod:`simulate` turns it into numbers.
Event dates are day offsets within a 180-day period and are rescaled for other lengths.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

COMPANY: str = "Northwind Analytics"
TEAMS: tuple[str, ...] = ("support", "engineering", "search", "sales", "marketing", "data-science", "legal", "platform")


def make_id(prefix: str, name: str, length: int = 24) -> str:
    """Return a stable, random-looking vendor id such as ``proj_Xa9...`` derived from ``name``."""
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    number = int.from_bytes(hashlib.sha256(f"{prefix}|{name}".encode()).digest(), "big")
    chars = []
    for _ in range(length):
        number, rem = divmod(number, 62)
        chars.append(alphabet[rem])
    return prefix + "".join(chars)


@dataclass(frozen=True)
class Cache:
    """Prompt-cache shares of input tokens (read, 5-minute write, 1-hour write)."""

    read: float = 0.0
    write_5m: float = 0.0
    write_1h: float = 0.0


@dataclass(frozen=True)
class Series:
    """One traffic stream: a team's application feature calling one model through one channel.

    ``base`` is requests per weekday at scale 1 at the start of the period; ``where`` holds the
    vendor's attribution ids (project, key, workspace, account, resource ...) and ``tags`` the
    tags or labels the vendor data carries (empty: untagged; the real owner is still ``team``).
    """

    sid: str
    provider: str
    model: str
    team: str
    app: str
    feature: str
    env: str
    base: float
    in_mean: float
    out_mean: float
    tier: str = "standard"
    channel: str = "direct"
    reasoning: float = 0.0
    weekend: float = 0.45
    growth: float = 0.5
    cache: Cache = Cache()
    active: bool = True
    where: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    fail_rate: float = 0.01
    variant: str = ""
    quality: tuple[float, float] = (0.0, 0.0)

    @property
    def tagged(self) -> bool:
        """Whether the vendor data (or the gateway log) carries the owning team."""
        return self.channel == "gateway" or bool(self.tags)


# Vendor attribution ids -------------------------------------------------------------------------
OPENAI_PROJECTS: dict[str, str] = {
    name: make_id("proj_", name) for name in ("llm-gateway", "sales", "marketing", "search", "Default project")
}
ANTHROPIC_WORKSPACES: dict[str, str | None] = {
    "llm-gateway": make_id("wrkspc_01", "llm-gateway", 22),
    "sales": make_id("wrkspc_01", "sales", 22),
    "legal": make_id("wrkspc_01", "legal", 22),
    "data-science": make_id("wrkspc_01", "data-science", 22),
    "Default": None,
}
AWS_ACCOUNTS: dict[str, str] = {"ml-prod": "111122223333", "ml-sandbox": "444455556666"}
AWS_PAYER: str = "999988887777"
AZURE_SUBSCRIPTION: str = "6f1c2d3e-4b5a-4c7d-9e8f-0a1b2c3d4e5f"
GCP_BILLING_ACCOUNT: str = "01A2B3-C4D5E6-F7A8B9"


def _oa(project: str, key: str) -> dict[str, str]:
    return {"project_id": OPENAI_PROJECTS[project], "api_key_id": make_id("key_", key, 16), "project": project}


def _an(workspace: str, key: str) -> dict[str, str]:
    return {"workspace_id": ANTHROPIC_WORKSPACES[workspace] or "", "api_key_id": make_id("apikey_01", key, 22)}


def _aws(account: str, principal: str, label: str, profile: str = "", suffix: str = "") -> dict[str, str]:
    acct = AWS_ACCOUNTS[account]
    resource = f"arn:aws:bedrock:us-east-1:{acct}:application-inference-profile/{make_id('', profile, 12).lower()}"
    return {
        "account_id": acct,
        "account_name": account,
        "principal": f"arn:aws:iam::{acct}:{principal}",
        "usage_label": label,
        "resource_id": resource if profile else "",
        "suffix": suffix,
    }


def _az(group: str, account: str, deployment: str) -> dict[str, str]:
    return {"resource_group": group, "account": account, "deployment": deployment}


def _gcp(project: str) -> dict[str, str]:
    return {"project_id": project}


GW_OPENAI = _oa("llm-gateway", "litellm-gateway-prod")
GW_ANTHROPIC = _an("llm-gateway", "litellm-gateway-prod")
SONNET, HAIKU, OPUS = "claude-sonnet-4-5-20250929", "claude-haiku-4-5-20251001", "claude-opus-4-1-20250805"
MINI, GPT4O = "gpt-4o-mini-2024-07-18", "gpt-4o-2024-08-06"
GPT41, GPT5MINI = "gpt-4.1-2025-04-14", "gpt-5-mini-2025-08-07"
EXPERIMENT_ID: str = "exp-answer-prompt-v2"


def _variant(sid: str, model: str, prompt: str, in_mean: float, out_mean: float, quality: float) -> Series:
    provider = "openai" if model.startswith("gpt") else "anthropic"
    where = GW_OPENAI if provider == "openai" else GW_ANTHROPIC
    return Series(
        sid, provider, model, "support", "support-chatbot", "answer", "prod", 66.0, in_mean, out_mean,
        channel="gateway", weekend=0.75, growth=0.0, active=False, where=where,
        variant=f"{prompt}-{'gpt-4o-mini' if provider == 'openai' else 'claude-haiku-4-5'}", quality=(quality, 30.0),
    )  # fmt: skip


SERIES: tuple[Series, ...] = (
    # --- through the LiteLLM gateway (per-request logs) ---
    Series("gw-support-answer", "anthropic", SONNET, "support", "support-chatbot", "answer", "prod", 20, 8000, 420,
           channel="gateway", weekend=0.6, where=GW_ANTHROPIC),
    Series("gw-support-triage", "openai", MINI, "support", "support-chatbot", "triage", "prod", 14, 1500, 60,
           channel="gateway", weekend=0.6, where=GW_OPENAI),
    Series("gw-support-staging", "openai", MINI, "support", "support-chatbot", "answer", "staging", 3, 2500, 300,
           channel="gateway", weekend=0.1, where=GW_OPENAI),
    Series("gw-code-review", "openai", GPT5MINI, "engineering", "code-assistant", "review", "prod", 12, 12000, 1500,
           channel="gateway", reasoning=0.65, weekend=0.15, growth=0.6, where=GW_OPENAI),
    Series("gw-code-chat", "anthropic", SONNET, "engineering", "code-assistant", "chat", "prod", 11, 15000, 900,
           channel="gateway", weekend=0.15, growth=0.55, where=GW_ANTHROPIC),
    _variant("ab-v1-mini", MINI, "v1", 1800, 350, 0.72),
    _variant("ab-v2-mini", MINI, "v2", 2600, 300, 0.80),
    _variant("ab-v1-haiku", HAIKU, "v1", 1800, 350, 0.82),
    _variant("ab-v2-haiku", HAIKU, "v2", 2600, 300, 0.86),
    # --- direct OpenAI ---
    Series("oa-crm-batch", "openai", GPT41, "sales", "crm-enrichment", "enrich", "prod", 7500, 1800, 350,
           tier="batch", weekend=0.0, where=_oa("sales", "crm-batch-job")),
    Series("oa-adcopy-proto", "openai", GPT4O, "marketing", "ad-copy-lab", "generate", "dev", 150, 1200, 500,
           weekend=0.1, where=_oa("marketing", "ad-copy-prototype"), tags={"project": "marketing"}),
    Series("oa-adcopy-prod", "openai", GPT4O, "marketing", "ad-copy-lab", "generate", "prod", 1650, 1200, 500,
           active=False, weekend=0.5, where=_oa("marketing", "ad-copy-prod"), tags={"project": "marketing"}),
    Series("oa-embed", "openai", "text-embedding-3-small", "search", "semantic-index", "embed", "prod", 120000, 800,
           0, where=_oa("search", "indexer"), tags={"project": "search"}),
    Series("oa-default-4o", "openai", GPT4O, "data-science", "adhoc-scripts", "misc", "dev", 600, 3000, 600,
           weekend=0.2, where=_oa("Default project", "jupyter-shared")),
    # --- direct Anthropic ---
    Series("an-sales-email", "anthropic", SONNET, "sales", "email-assistant", "draft", "prod", 2100, 3500, 600,
           weekend=0.2, where=_an("sales", "email-assistant"), tags={"workspace": "sales"}),
    Series("an-legal-contract", "anthropic", OPUS, "legal", "contract-review", "review", "prod", 100, 30000, 1200,
           weekend=0.1, cache=Cache(read=0.82, write_1h=0.06), where=_an("legal", "contract-review"),
           tags={"workspace": "legal"}),
    Series("an-ds-eval-batch", "anthropic", SONNET, "data-science", "eval-harness", "offline-eval", "dev", 2700, 2500,
           400, tier="batch", weekend=0.0, where=_an("data-science", "eval-harness"),
           tags={"workspace": "data-science"}),
    Series("an-default-haiku", "anthropic", HAIKU, "legal", "adhoc-scripts", "misc", "dev", 1200, 2000, 300,
           weekend=0.2, where=_an("Default", "console-legal-intern")),
    Series("an-leaked-opus", "anthropic", OPUS, "sales", "email-assistant", "draft", "prod", 1200, 6000, 2000,
           active=False, weekend=1.0, where=_an("sales", "email-assistant"), tags={"workspace": "sales"}),
    # --- AWS Bedrock ---
    Series("br-tickets", "aws_bedrock", "anthropic.claude-3-5-haiku-20241022-v1:0", "support", "ticket-summarizer",
           "summarize", "prod", 180, 2500, 200, cache=Cache(read=0.3),
           where=_aws("ml-prod", "role/ticket-summarizer", "Claude3-5Haiku", "ticket-summarizer"),
           tags={"user:team": "support", "user:app": "ticket-summarizer", "user:env": "prod"}),
    Series("br-clauses", "aws_bedrock", "meta.llama3-3-70b-instruct-v1:0", "legal", "clause-extractor", "extract",
           "prod", 2700, 3000, 400, weekend=0.15, where=_aws("ml-prod", "role/clause-extractor", "Llama3-3-70B",
                                                            "clause-extractor"),
           tags={"user:team": "legal", "user:app": "clause-extractor", "user:env": "prod"}),
    Series("br-catalog-batch", "aws_bedrock", "amazon.nova-pro-v1:0", "marketing", "catalog-tagging", "tag", "prod",
           15000, 800, 120, tier="batch", weekend=0.0, where=_aws("ml-prod", "role/catalog-batch", "NovaPro",
                                                                 "catalog-tagging"),
           tags={"user:team": "marketing", "user:app": "catalog-tagging", "user:env": "prod"}),
    Series("br-untagged-nova", "aws_bedrock", "amazon.nova-pro-v1:0", "data-science", "adhoc-scripts", "misc", "dev",
           3600, 1500, 300, weekend=0.3,
           where=_aws("ml-sandbox", "user/jdoe", "NovaPro", suffix="-cross-region-global")),
    # --- Azure OpenAI (billed in EUR) ---
    Series("az-docsearch-4o", "azure_openai", GPT4O, "search", "doc-search", "answer", "prod", 2400, 4000, 350,
           cache=Cache(read=0.35), where=_az("rg-search-ai", "aoai-search-weu", "gpt-4o-docsearch"),
           tags={"team": "search", "app": "doc-search", "env": "prod"}),
    Series("az-docsearch-mini", "azure_openai", MINI, "search", "doc-search", "rerank", "prod", 7500, 1500, 50,
           where=_az("rg-search-ai", "aoai-search-weu", "gpt-4o-mini-rerank"),
           tags={"team": "search", "app": "doc-search", "env": "prod"}),
    Series("az-sandbox-mini", "azure_openai", MINI, "search", "adhoc-scripts", "misc", "dev", 1800, 2000, 400,
           weekend=0.1, where=_az("rg-sandbox", "aoai-sandbox", "gpt-4o-mini")),
    # --- Google Vertex AI ---
    Series("gc-content-flash", "gcp_vertex", "gemini-2.5-flash", "marketing", "content-studio", "generate", "prod",
           7500, 2000, 800, reasoning=0.4, where=_gcp("nw-marketing-prod"),
           tags={"team": "marketing", "app": "content-studio", "env": "prod"}),
    Series("gc-content-pro", "gcp_vertex", "gemini-2.5-pro", "marketing", "content-studio", "generate", "prod",
           7500, 2000, 800, reasoning=0.4, active=False, where=_gcp("nw-marketing-prod"),
           tags={"team": "marketing", "app": "content-studio", "env": "prod"}),
    Series("gc-research-pro", "gcp_vertex", "gemini-2.5-pro", "data-science", "research-agent", "analyze", "prod",
           270, 40000, 2500, reasoning=0.6, weekend=0.3, cache=Cache(read=0.3), where=_gcp("nw-research"),
           tags={"team": "data-science", "app": "research-agent", "env": "prod"}),
    Series("gc-sandbox-flash", "gcp_vertex", "gemini-2.5-flash", "marketing", "adhoc-scripts", "misc", "dev", 2700,
           2500, 600, weekend=0.2, where=_gcp("nw-sandbox")),
)  # fmt: skip

SERIES_BY_ID: dict[str, Series] = {s.sid: s for s in SERIES}
#: Long-context requests (Gemini 2.5 Pro above 200k prompt tokens): mean prompt size.
LONG_PROMPT_MEAN: float = 320_000.0


@dataclass(frozen=True)
class Event:
    """A change in the world: ``day`` is an offset in a 180-day period, ``days`` None = until the end."""

    event_id: str
    kind: str
    day: int
    days: int | None
    targets: tuple[str, ...]
    effects: dict[str, object]
    token_type: str
    size: str
    driver: str
    cause: str
    description: str


EVENTS: tuple[Event, ...] = (
    Event("E01", "seasonality_growth", 0, None, (), {}, "", "+40..60% over the period; weekends -40..90%",
          "organic growth", "adoption",
          "Weekly seasonality (weekends clearly lower) and steady growth in every series."),
    Event("E02", "anomaly_retry_storm", 41, 2, ("gw-support-answer",), {"requests": 4.0, "fail_rate": 0.25}, "",
          "requests x4, 25% failures, tokens/request flat", "requests", "client retry loop after a deploy",
          "support-chatbot retried failed calls without backoff; the gateway shows x4 requests and many failures."),
    Event("E03", "caching_adopted", 45, None, ("gw-support-answer",), {"cache": Cache(read=0.70, write_5m=0.08)},
          "input_cache_read", "70% of input read from cache, 8% written (5m)", "cache hit rate",
          "prompt restructured for Anthropic prompt caching", "support-chatbot answer starts using 5-minute caching."),
    Event("E04", "outage", 52, 1, ("@openai", "@anthropic"), {"requests": 0.15, "fail_rate": 0.85}, "",
          "-85% OpenAI and Anthropic traffic for one day", "requests", "upstream network incident",
          "Egress outage to OpenAI and Anthropic: direct traffic drops, gateway calls mostly fail."),
    Event("E05", "prototype_to_production", 62, None, ("oa-adcopy-prod", "oa-adcopy-proto"),
          {"activate": "oa-adcopy-prod", "stop": "oa-adcopy-proto"}, "", "volume x11 (dev key to prod key)",
          "requests", "launch", "ad-copy-lab goes from a dev prototype to production on a new API key."),
    Event("E06", "anomaly_leaked_key", 70, 2, ("an-leaked-opus",), {"activate": "an-leaked-opus"}, "",
          "~$300/day of claude-opus-4-1 on the sales key", "model mix", "API key leaked in a public repository",
          "The sales email-assistant Anthropic key is used by an outsider for heavy Opus traffic."),
    Event("E07", "caching_adopted", 76, None, ("gw-code-review",), {"cache": Cache(read=0.50)}, "input_cache_read",
          "50% of input tokens cached (OpenAI cached input)", "cache hit rate", "stable prompt prefix",
          "code-assistant review moves the repository context to a stable prefix: OpenAI cached input."),
    Event("E08", "anomaly_cache_collapse", 90, 3, ("an-legal-contract",), {"cache": Cache(read=0.05, write_1h=0.83)},
          "input_cache_write_1h", "cache reads 82% -> 5%, 1h writes 6% -> 83%", "cache hit rate",
          "timestamp injected at the top of the system prompt",
          "contract-review's cache prefix changes on every call, so every request rewrites the 1-hour cache."),
    Event("E09", "price_change", 95, None, ("gc-content-flash", "gc-sandbox-flash"), {}, "output",
          "gemini-2.5-flash output -25%", "price", "vendor price cut",
          "Google cuts Gemini 2.5 Flash output price by 25%."),
    Event("E10", "experiment", 100, 28, ("ab-v1-mini", "ab-v2-mini", "ab-v1-haiku", "ab-v2-haiku"),
          {"activate": "*"}, "", "4 variants, equal split", "prompt and model", "A/B test of answer prompt v2",
          "support-chatbot answer: prompt v1/v2 x gpt-4o-mini/claude-haiku-4-5, quality scored per request."),
    Event("E11", "anomaly_long_context", 105, 2, ("gc-research-pro",), {"long_share": 0.5}, "input_uncached",
          "half the requests above 200k prompt tokens", "context tier", "whole-repository prompts",
          "research-agent sends >200k-token prompts: the whole request is billed at the long-context rate."),
    Event("E12", "prompt_change", 111, None, ("gw-code-review",), {"input": 1.45}, "input_uncached",
          "+45% input tokens per request", "tokens per request", "longer system prompt with style guide",
          "code-assistant review adds the style guide to the prompt."),
    Event("E13", "anomaly_new_model", 133, 1, ("gc-content-pro", "gc-content-flash"),
          {"activate": "gc-content-pro", "stop": "gc-content-flash"}, "", "content-studio on gemini-2.5-pro",
          "model mix", "config change pointed the app at the Pro model",
          "content-studio suddenly calls gemini-2.5-pro instead of gemini-2.5-flash for a day."),
    Event("E14", "batch_usage", 0, None, ("oa-crm-batch", "an-ds-eval-batch", "br-catalog-batch"), {}, "",
          "50% price on batch tiers", "service tier", "nightly batch jobs", "Weekday batch jobs at the batch price."),
    Event("E15", "untagged_spend", 0, None, ("oa-default-4o", "an-default-haiku", "br-untagged-nova",
                                             "az-sandbox-mini", "gc-sandbox-flash"), {}, "", ">=5% of cost",
          "attribution", "sandbox and default projects", "Spend with no team in the vendor data."),
    Event("E16", "shared_cost", 0, None, ("@ptu", "@gateway"), {}, "", "PTU hours and gateway hosting",
          "shared platform", "shared infrastructure",
          "Azure OpenAI PTU (used by search, legal and support) and LiteLLM gateway hosting (all gateway teams)."),
)  # fmt: skip

#: Azure OpenAI provisioned throughput: units billed every hour, and who uses them (share of tokens).
PTU_UNITS: int = 15
PTU_USAGE_SHARE: dict[str, float] = {"search": 0.5, "legal": 0.3, "support": 0.2}
#: Ordinary cloud spend in the FOCUS file: (resource, service, category, team, app, USD/day, growth).
CLOUD_RESOURCES: tuple[tuple[str, str, str, str, str, float, float], ...] = (
    ("llm-gateway-ecs", "Amazon Elastic Container Service", "Compute", "platform", "llm-gateway", 20.0, 0.3),
    ("llm-gateway-db", "Amazon Relational Database Service", "Databases", "platform", "llm-gateway", 6.0, 0.2),
    ("search-opensearch", "Amazon OpenSearch Service", "Analytics", "search", "doc-search", 15.0, 0.3),
    ("egress", "AWS Data Transfer", "Networking", "", "", 6.0, 0.4),
)
