"""`finops config --check` and the config copy of `finops ingest`: every config file validated by the library's
own reader, errors naming file, line, column and value; only valid files reach the workspace."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from finops_lib import paths
from finops_lib.cli import main
from finops_lib.cli.config import CONFIG_FILES, check_folder

DATA = Path(__file__).parent / "data"


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty workspace folder named by ``$FINOPS_WAREHOUSE`` (config checks need no warehouse file)."""
    folder = tmp_path / "ws"
    monkeypatch.setenv("FINOPS_WAREHOUSE", str(folder))
    return folder


def _config(folder: Path, **files: Path | str) -> Path:
    """Write ``folder/config/<name>`` from fixtures (a Path) or text (a str); keys use ``_`` for ``.``."""
    config = folder / "config"
    config.mkdir(parents=True, exist_ok=True)
    for key, source in files.items():
        name = key.replace("__", ".")
        if isinstance(source, Path):
            shutil.copy(source, config / name)
        else:
            (config / name).write_text(source, encoding="utf-8")
    return config


@pytest.mark.parametrize(("fixture", "where"), [
    ("budgets_bad_amount.csv", "budgets.csv, line 3, column 'amount', value 'lots': amount must be a decimal number"),
    ("budgets_bad_month.csv", "budgets.csv, line 2, column 'month', value '2026-6': month must be YYYY-MM"),
    ("budgets_duplicate.csv", "budgets.csv, line 4, column 'name', value 'alpha': duplicate budget"),
])  # fmt: skip
def test_check_names_the_line_of_a_malformed_budgets_file(workspace, capsys, fixture, where) -> None:
    config = _config(workspace, budgets__csv=DATA / fixture)
    assert main(["config", "--check"]) == 1
    out = capsys.readouterr().out
    assert f"ERROR   {config / where}" in out and "1 files, 1 invalid" in out


def test_check_names_the_line_of_bad_events_rules_and_metric_files(workspace, capsys) -> None:
    config = _config(workspace, events__csv=DATA / "forecast_events_bad.csv",
                     allocation_rules__yaml=DATA / "allocation_rules_malformed.yaml")  # fmt: skip
    assert main(["config", "--check"]) == 1
    out = capsys.readouterr().out
    assert f"ERROR   {config / 'events.csv'}, line 3, column 'date', value '2026-07-40': not an ISO date" in out
    assert f"ERROR   {config / 'allocation_rules.yaml'}, line 7, column 'rules[1].match.projet': unknown key" in out
    rules = "version: 1\nmetrics:\n  users: {file: users.csv, column: users}\n"
    _config(workspace, allocation_rules__yaml=rules, users__csv="month,team,users\n2026-05,a,3\n2026-13,b,4\n",
            events__csv=DATA / "forecast_events.csv")  # fmt: skip
    assert main(["config", "--check"]) == 1
    out = capsys.readouterr().out
    assert f"ERROR   {config / 'users.csv'}, line 3, column 'month', value '2026-13': expected a month" in out
    assert f"ok      {config / 'events.csv'}" in out


def test_check_lists_each_valid_file_and_exits_0(workspace, capsys) -> None:
    shutil.copytree(paths.SAMPLE_DIR / "config", workspace / "config")
    (workspace / "config" / "notes.txt").write_text("who owns what\n", encoding="utf-8")
    assert main(["config", "--check"]) == 0
    out = capsys.readouterr().out
    config = workspace / "config"
    assert f"ok      {config / 'budgets.csv'}: monthly budgets" in out and "(in effect)" in out
    assert f"ok      {config / 'allocation_rules.yaml'}: owners" in out
    assert f"ok      {config / 'active_users.csv'}: metric file named by the allocation rules" in out
    assert f"unused  {config / 'notes.txt'}" in out and "4 files, 0 invalid" in out


def test_the_workspace_config_comes_before_the_data_folder_s(workspace, tmp_path, capsys) -> None:
    _config(workspace, budgets__csv=DATA / "budgets_small.csv")
    data = tmp_path / "exports"
    _config(data, budgets__csv=DATA / "budgets_bad_amount.csv")
    assert main(["config", "--check", "--data", str(data)]) == 1
    out = capsys.readouterr().out
    assert f"config folders, in lookup order: {workspace / 'config'}, {data / 'config'}" in out
    assert f"ok      {workspace / 'config' / 'budgets.csv'}" in out and "(in effect)" in out
    assert f"ERROR   {data / 'config' / 'budgets.csv'}, line 3, column 'amount'" in out


def test_no_config_at_all_is_valid(workspace, capsys) -> None:
    assert main(["config", "--check"]) == 0
    assert "no config files: owners come from tags only" in capsys.readouterr().out


def test_ingest_copies_valid_config_files_and_keeps_out_invalid_ones(workspace, tmp_path, capsys) -> None:
    data = tmp_path / "exports"
    data.mkdir()
    shutil.copy(DATA / "focus.csv", data / "focus.csv")
    source = _config(data, budgets__csv=DATA / "budgets_small.csv", events__csv=DATA / "forecast_events_bad.csv",
                     allocation_rules__yaml=DATA / "allocation_rules.yaml",
                     allocation_active_users__csv=DATA / "allocation_active_users.csv",
                     notes__txt="not a config file\n")  # fmt: skip
    target = workspace / "config"
    assert main(["ingest", str(data)]) == 1  # an invalid config file: exit 1 (the data itself is loaded)
    out, err = capsys.readouterr()
    assert f"config: budgets.csv copied to {target / 'budgets.csv'}" in out
    assert f"config: allocation_rules.yaml copied to {target / 'allocation_rules.yaml'}" in out
    assert f"config: allocation_active_users.csv copied to {target / 'allocation_active_users.csv'}" in out
    assert f"{source / 'notes.txt'} not copied: no command reads it" in out
    assert (f"config: {source / 'events.csv'} NOT copied (the workspace keeps what it had): {source / 'events.csv'}, "
            "line 3, column 'date', value '2026-07-40'") in err  # fmt: skip
    assert sorted(p.name for p in target.iterdir()) == ["allocation_active_users.csv", "allocation_rules.yaml",
                                                        "budgets.csv"]  # fmt: skip
    assert [c.error for c in check_folder(target)] == ["", "", ""]  # the copied rules read their copied metric file
    valid = "month,dimension,name,amount,currency\n2026-06,total,total,10,USD\n"
    (source / "budgets.csv").write_text(valid, encoding="utf-8")  # a new version
    shutil.copy(DATA / "forecast_events.csv", source / "events.csv")  # fixed
    assert main(["ingest", str(data)]) == 0
    out = capsys.readouterr().out
    assert f"config: budgets.csv replaced {target / 'budgets.csv'} (it differed)" in out
    assert f"config: events.csv copied to {target / 'events.csv'}" in out
    assert f"config: allocation_rules.yaml unchanged in {target}" in out
    shutil.copy(DATA / "budgets_duplicate.csv", source / "budgets.csv")  # a newer version, invalid
    assert main(["ingest", str(data)]) == 1
    assert f"{source / 'budgets.csv'}, line 4, column 'name', value 'alpha'" in capsys.readouterr().err
    assert (target / "budgets.csv").read_text(encoding="utf-8") == valid  # the workspace keeps the valid one


def test_every_config_file_is_documented() -> None:
    page = (paths.PROJECT_ROOT / "docs" / "config.md").read_text(encoding="utf-8")
    for name in CONFIG_FILES:
        assert f"`{name}`" in page, name


def test_a_feature_map_is_checked_with_its_line(workspace, capsys) -> None:
    (workspace / "config").mkdir(parents=True, exist_ok=True)
    (workspace / "config" / "feature_map.yaml").write_text(
        "version: 1\nfeatures:\n  - name: x\n    match: {provider: Pinecone}\n    application: a\n"
        "    layer: vector db\n", encoding="utf-8")  # fmt: skip
    assert main(["config", "--check"]) == 1
    out = capsys.readouterr().out
    assert "line 6" in out and "'vector db' is not a layer" in out
    (workspace / "config" / "feature_map.yaml").write_text("version: 1\n", encoding="utf-8")
    assert main(["config", "--check"]) == 0
    assert "feature_map.yaml: features, shared services, layers" in capsys.readouterr().out
