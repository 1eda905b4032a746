"""What the reading commands share: the workspace's allocation rules and its facts in the command's options.

Kept apart from :mod:`finops_lib.cli.common`, which every data command imports, so that a command reading no facts
(``finops ingest``, ``finops pull``) does not import the facts layer and the pricing behind it through ``common``.
"""

from __future__ import annotations

import argparse

from ibis.backends import BaseBackend

from finops_lib import checks
from finops_lib.cli.common import Workspace, open_workspace
from finops_lib.facts import Facts, open_facts
from finops_lib.rules import Rules, find_rules, resolve_rules

__all__ = ["data_facts", "workspace_rules"]


def workspace_rules(ws: Workspace, rules_file: str = "") -> Rules:
    """Return the allocation rules: ``rules_file`` (``none``: tags only), else the workspace's config.

    The first ``config/allocation_rules.yaml`` of the lookup order applies; without one, owners come from tags.
    """
    if rules_file:
        return resolve_rules(rules_file)
    root = next((r for r in ws.config_roots if find_rules(r) is not None), None)
    return resolve_rules("", root)


def data_facts(args: argparse.Namespace, *, rules_file: str = "") -> tuple[BaseBackend, Facts]:
    """Return the open workspace (``--data`` ingested first) and its facts in ``--currency``, window and rules.

    The rules are ``rules_file`` (``--rules``) when given, else the workspace's config. The warehouse stays open:
    the caller disconnects it when done.
    """
    con, ws = open_workspace(args)
    options = {"currency": checks.currency_code(getattr(args, "currency", "USD"), name="--currency"),
               "start_date": getattr(args, "start_date", None), "end_date": getattr(args, "end_date", None),
               "convert": not getattr(args, "only_billed_in_currency", False)}  # fmt: skip
    try:
        return con, open_facts(con, rules=workspace_rules(ws, rules_file), **options)
    except BaseException:
        con.disconnect()
        raise
