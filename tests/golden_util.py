"""Golden files: compare a rendered text with its committed file, and rewrite it on request.

``$FINOPS_UPDATE_GOLDEN=1`` rewrites every golden that differs; each rewritten (or created) golden still fails its
test, naming the file to review, so a regeneration is never silent. Used by the reader SQL goldens
(``tests/sources/golden``) and the chart spec goldens (``tests/golden/charts``).
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable
from pathlib import Path

import pytest

UPDATE_VAR = "FINOPS_UPDATE_GOLDEN"


def unified_changes(old: str, new: str, *, limit: int = 60) -> str:
    """The first ``limit`` lines of a unified diff from ``old`` (the golden) to ``new``."""
    diff = difflib.unified_diff(old.splitlines(), new.splitlines(), "golden", "now", n=2, lineterm="")
    return "\n".join(list(diff)[:limit])


def check_golden(
    path: Path,
    text: str,
    *,
    what: str,
    regenerate: str,
    update: bool | None = None,
    changes: Callable[[str, str], str] = unified_changes,
) -> None:
    """Compare ``text`` with the file ``path``; with ``update`` (default ``$FINOPS_UPDATE_GOLDEN=1``) rewrite it.

    Fails when the file differs or is missing, and also right after rewriting one (review the diff). ``what``
    names the checked thing in the message ("the SQL of litellm"), ``regenerate`` is the command that rewrites
    the goldens, ``changes`` renders the difference shown on a failure.
    """
    update = os.environ.get(UPDATE_VAR) == "1" if update is None else update
    old = path.read_text(encoding="utf-8") if path.exists() else None
    if old == text:
        return
    if update:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        pytest.fail(f"golden {path} {'created' if old is None else 'rewritten'}: review it "
                    f"(git diff --word-diff {path}), then rerun without {UPDATE_VAR}", pytrace=False)  # fmt: skip
    if old is None:
        pytest.fail(f"no golden file {path}: create it with {regenerate}", pytrace=False)
    pytest.fail(f"{what} changed; if intended, regenerate with {regenerate} and review the diff\n"
                f"{changes(old, text)}", pytrace=False)  # fmt: skip
