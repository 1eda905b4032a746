"""The golden-file check shared by the reader SQL and chart spec goldens."""

from __future__ import annotations

from pathlib import Path

import pytest
from golden_util import check_golden


def check(path: Path, text: str, update: bool) -> None:
    check_golden(path, text, what="the spec of c", regenerate="REGEN=1 pytest", update=update)


def test_check_golden_fails_when_missing_changed_created_or_rewritten_and_passes_when_equal(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "c.json"
    with pytest.raises(pytest.fail.Exception, match=r"no golden file .*c\.json: create it with REGEN=1 pytest"):
        check(path, '{"a": 1}\n', update=False)
    assert not path.exists()
    with pytest.raises(pytest.fail.Exception, match="created"):
        check(path, '{"a": 1}\n', update=True)
    assert path.read_text(encoding="utf-8") == '{"a": 1}\n'
    check(path, '{"a": 1}\n', update=False)  # now equal: passes
    check(path, '{"a": 1}\n', update=True)  # nothing to rewrite: passes
    changed = r'(?s)the spec of c changed; .*REGEN=1 pytest.*-\{"a": 1\}\n\+\{"a": 2\}'
    with pytest.raises(pytest.fail.Exception, match=changed):
        check(path, '{"a": 2}\n', update=False)
    assert path.read_text(encoding="utf-8") == '{"a": 1}\n'  # a failed check never writes
    with pytest.raises(pytest.fail.Exception, match="rewritten"):
        check(path, '{"a": 2}\n', update=True)
    assert path.read_text(encoding="utf-8") == '{"a": 2}\n'


def test_the_environment_variable_turns_on_rewriting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "c.json"
    monkeypatch.setenv("FINOPS_UPDATE_GOLDEN", "1")
    with pytest.raises(pytest.fail.Exception, match="created"):
        check_golden(path, "x\n", what="c", regenerate="r")
    monkeypatch.setenv("FINOPS_UPDATE_GOLDEN", "0")
    with pytest.raises(pytest.fail.Exception, match="c changed"):
        check_golden(path, "y\n", what="c", regenerate="r")
