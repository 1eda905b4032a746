"""The sample's allocation rules (``config/allocation_rules.yaml``) and business metric (``config/active_users.csv``).

The rules encode what the organisation's platform team knows and the vendor data does not say: which
OpenAI project, Anthropic workspace, AWS account, Azure resource group and GCP project belongs to whom,
that the gateway's project and workspace are split by the gateway's request log, and how the shared
PTU and gateway hosting are charged back. They are derived from :mod:`finops_lib.sample.story`, never
from ``truth/``. ``config/`` folders are not ingested.
"""

from __future__ import annotations

import json
from collections import defaultdict

import numpy as np

from finops_lib.sample._io import Manifest, csv_text
from finops_lib.sample.azure_writer import PTU_ACCOUNT
from finops_lib.sample.ledger import World, register_writer
from finops_lib.sample.story import (
    ANTHROPIC_WORKSPACES,
    AWS_ACCOUNTS,
    CLOUD_RESOURCES,
    EVENTS,
    GW_ANTHROPIC,
    GW_OPENAI,
    OPENAI_PROJECTS,
    PTU_USAGE_SHARE,
    SERIES,
    TEAMS,
    Series,
)

#: Business unit and cost center of each team (the finance view of the organisation).
TEAM_UNITS: dict[str, tuple[str, str]] = {
    "support": ("Customer Operations", "CC-4100"),
    "sales": ("Revenue", "CC-3100"),
    "marketing": ("Revenue", "CC-3200"),
    "engineering": ("Product & Engineering", "CC-2100"),
    "search": ("Product & Engineering", "CC-2200"),
    "platform": ("Product & Engineering", "CC-2900"),
    "data-science": ("Data & Research", "CC-5100"),
    "legal": ("Corporate", "CC-6100"),
}
#: Monthly active users of each team's AI tools at the start of the period (grows ~4% a month).
ACTIVE_USERS: dict[str, int] = {"support": 140, "sales": 65, "marketing": 45, "engineering": 90, "search": 30,
                                "platform": 12, "data-science": 25, "legal": 18}  # fmt: skip
RULES_PATH = "config/allocation_rules.yaml"
METRIC_PATH = "config/active_users.csv"


def _q(value: object) -> str:
    """Return a YAML scalar (JSON double-quoted strings are valid YAML)."""
    return json.dumps(value) if isinstance(value, str) else str(value)


def _flow(items: dict[str, object]) -> str:
    return "{" + ", ".join(f"{key}: {_q(value)}" for key, value in items.items()) + "}"


def _owner(series: list[Series], *, env: bool = True) -> dict[str, str]:
    """Owner fields shared by every series (fields that differ are left out)."""
    fields = {"team": "team", "application": "app", "feature": "feature"} | ({"environment": "env"} if env else {})
    out = {}
    for name, attr in fields.items():
        values = {getattr(s, attr) for s in series}
        if len(values) == 1:
            out[name] = values.pop()
    return out


def _rule(name: str, match: dict[str, object], owner: dict[str, str], **extra: str) -> str:
    lines = [f"  - name: {_q(name)}", f"    match: {_flow(match)}", f"    set: {_flow(owner)}"]
    lines += [f"    {key}: {value}" for key, value in extra.items()]
    return "\n".join(lines)


def _group(provider: str, key: str) -> dict[str, list[Series]]:
    out: dict[str, list[Series]] = defaultdict(list)
    for s in SERIES:
        if s.provider == provider and s.channel == "direct":
            out[s.where[key]].append(s)
    return out


def _launch(world: World) -> str:
    event = next(e for e in EVENTS if e.kind == "prototype_to_production")
    first, _ = world.timeline.span(event)
    return world.timeline.dates[first].isoformat()


def _openai_rules(world: World) -> list[str]:
    names = {v: k.lower().replace(" ", "-") for k, v in OPENAI_PROJECTS.items()}
    keys, projects = [], []
    for project, series in _group("openai", "project_id").items():
        envs = sorted({s.env for s in series})
        for s in series:  # the usage feed names the API key: it tells dev from prod
            if len(envs) > 1:
                keys.append(_rule(f"openai-key-{s.sid}", {"provider": "OpenAI", "api_key": s.where["api_key_id"]},
                                  _owner([s])))  # fmt: skip
        match = {"provider": "OpenAI", "sub_account": project}
        if len(envs) == 1:
            projects.append(_rule(f"openai-project-{names[project]}", match, _owner(series)))
            continue
        launch = _launch(world)  # the costs feed has projects only: the environment changes on the launch date
        projects.append(_rule(f"openai-project-{names[project]}-before-launch", match,
                              _owner(series, env=False) | {"environment": "dev"}, valid_to=launch))
        projects.append(_rule(f"openai-project-{names[project]}-after-launch", match,
                              _owner(series, env=False) | {"environment": "prod"}, valid_from=launch))  # fmt: skip
    return keys + projects


def _anthropic_rules() -> list[str]:
    names = {v or "": k for k, v in ANTHROPIC_WORKSPACES.items()}
    out = []
    for workspace, series in _group("anthropic", "workspace_id").items():
        sub_account = workspace or "default"  # the Default workspace (workspace_id null)
        out.append(_rule(f"anthropic-workspace-{names[workspace].lower()}",
                         {"provider": "Anthropic", "sub_account": sub_account}, _owner(series)))  # fmt: skip
    return out


def _untagged_rules() -> list[str]:
    """AWS principals and accounts, Azure resource groups and GCP projects of the untagged sandboxes."""
    out = []
    accounts = {v: k for k, v in AWS_ACCOUNTS.items()}
    for s in SERIES:
        if s.tags or s.channel != "direct":
            continue
        if s.provider == "aws_bedrock":
            out.append(_rule(f"aws-principal-{s.where['principal'].rsplit('/', 1)[-1]}",
                             {"provider": "AWS", "user": s.where["principal"]}, _owner([s])))
            out.append(_rule(f"aws-account-{accounts[s.where['account_id']]}",
                             {"provider": "AWS", "sub_account": s.where["account_id"]}, _owner([s])))
        elif s.provider == "azure_openai":
            out.append(_rule(f"azure-{s.where['resource_group']}",
                             {"provider": "Microsoft", "resource_group": s.where["resource_group"]}, _owner([s])))
        elif s.provider == "gcp_vertex":
            out.append(_rule(f"gcp-project-{s.where['project_id']}",
                             {"provider": "Google", "sub_account": s.where["project_id"]}, _owner([s])))  # fmt: skip
    for name, service, _, team, _, _, _ in CLOUD_RESOURCES:
        if not team:  # untagged cloud spend run by the platform team
            out.append(_rule(f"cloud-{name}", {"provider": "AWS", "service": service},
                             {"team": "platform", "application": "network", "feature": name, "environment": "prod"}))
    return out


def _shared_rules() -> list[str]:
    weights = ", ".join(f"{team}: {share}" for team, share in PTU_USAGE_SHARE.items())
    gateway_app = next(app for _, _, _, team, app, _, _ in CLOUD_RESOURCES if app == "llm-gateway")
    out = []
    for provider, sub_account in (("OpenAI", GW_OPENAI["project_id"]), ("Anthropic", GW_ANTHROPIC["workspace_id"])):
        out.append("\n".join([
            f"  - name: {_q(f'gateway-{provider.lower()}-traffic')}",
            "    applies_to: metered",
            f"    match: {_flow({'provider': provider, 'sub_account': sub_account})}",
            "    strategy: proportional",
            "    source: requests          # the LiteLLM log names the team of every request",
            f"    basis_match: {_flow({'provider': provider})}",
            "    level: feature",
        ]))  # fmt: skip
    out.append("\n".join([
        '  - name: "azure-ptu"',
        "    applies_to: provisioned_throughput",
        "    match: " + _flow({"provider": "Microsoft", "resource_group": PTU_ACCOUNT[0],
                              "service_tier": "provisioned"}),
        "    strategy: fixed           # the platform team's PTU token meter, by team",
        f"    weights: {{{weights}}}",
    ]))  # fmt: skip
    out.append("\n".join([
        '  - name: "llm-gateway-hosting"',
        "    applies_to: platform_fee",
        f"    match: {{tags: {{app: {_q(gateway_app)}}}}}",
        "    strategy: proportional",
        "    source: requests",
        "    basis: requests           # successful gateway requests",
        "    weights_over: window      # one rate for the whole period",
    ]))  # fmt: skip
    return out


def rules_text(world: World) -> str:
    """Return the sample's allocation rules as YAML text (see ``docs/allocation_rules.md``)."""
    teams = "\n".join(f"  {team}: {_flow({'business_unit': bu, 'cost_center': cc})}"
                      for team, (bu, cc) in TEAM_UNITS.items())  # fmt: skip
    parts = [
        "# Allocation rules of the Northwind Analytics sample (generated by finops_lib.sample; format: "
        "docs/allocation_rules.md).",
        "version: 1",
        "teams:",
        teams,
        "metrics:",
        f"  active_users: {{file: {METRIC_PATH.split('/')[-1]}, column: active_users}}",
        "rules:                        # first match wins; tags the data carries win unless override: true",
        *_openai_rules(world),
        *_anthropic_rules(),
        *_untagged_rules(),
        "shared:                       # shared pools, split per month and currency",
        *_shared_rules(),
    ]
    return "\n".join(parts) + "\n"


def active_users(world: World) -> list[list[object]]:
    """Rows ``month, team, active_users``: each team's monthly active users, slowly growing."""
    months = sorted({day.strftime("%Y-%m") for day in world.timeline.dates})
    rng = np.random.default_rng([world.seed, 11])
    rows = []
    for i, month in enumerate(months):
        for team in TEAMS:
            value = ACTIVE_USERS[team] * 1.04**i * rng.uniform(0.95, 1.05) * world.scale
            rows.append([month, team, max(1, round(value))])
    return rows


@register_writer("rules")
def write_rules(world: World, manifest: Manifest) -> None:
    """Write ``config/allocation_rules.yaml`` and ``config/active_users.csv``."""
    users = active_users(world)
    manifest.write_text(METRIC_PATH, csv_text(["month", "team", "active_users"], users), fmt="business_metric",
                        rows=len(users))  # fmt: skip
    text = rules_text(world)
    manifest.write_text(RULES_PATH, text, fmt="allocation_rules", rows=text.count("  - name:"))
