"""How the ``finops`` process starts: what ``finops ingest`` loads, and the garbage collector around the imports.

Structural, not timed (the time is ``benchmarks/cli_unchanged.py``'s): ``finops ingest`` loads none of the page,
chart, notebook or model libraries nor the workbench's analyses; the commands that read no facts do not import the
facts layer; the command's own process pauses the collector while the modules load and freezes them; a caller of
:func:`finops_lib.cli.main` with arguments (a test, a script) gets its collector back as it was, nothing frozen.
"""

from __future__ import annotations

import gc
import json
import shutil
import subprocess
import sys

from finops_lib import paths
from finops_lib.cli import main

DATA = paths.PROJECT_ROOT / "tests" / "data"
#: Libraries the ingest path has no use for (pages, charts, notebooks, models, Spark).
NOT_FOR_INGEST = ("altair", "vl_convert", "matplotlib", "plotly", "ipywidgets", "IPython", "papermill", "nbformat",
                  "prophet", "cmdstanpy", "statsmodels", "sklearn", "scipy", "pyspark")  # fmt: skip
#: Workbench packages the ingest path has no use for.
NOT_FOR_INGEST_WORKBENCH = ("views", "report", "anomalies", "experiments", "reconcile", "watch", "live", "notify",
                            "sample", "cli.workspace_facts")  # fmt: skip
#: Runs ``finops <args>`` as the console script does (``main()``, no argv) and prints, at exit, the modules loaded,
#: the number of objects frozen and whether the collector runs.
AS_THE_COMMAND = """import atexit, gc, json, sys
atexit.register(lambda: print(json.dumps({"modules": sorted(sys.modules), "frozen": gc.get_freeze_count(),
                                          "collecting": gc.isenabled()}), file=sys.stderr))
sys.argv = ["finops", *sys.argv[1:]]
from finops_lib.cli import main
sys.exit(main())
"""


def _as_the_command(*args: str) -> dict:
    done = subprocess.run([sys.executable, "-c", AS_THE_COMMAND, *args], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stderr.strip().splitlines()[-1])


def test_ingest_loads_no_page_chart_notebook_or_model_library(tmp_path) -> None:
    folder = tmp_path / "data"
    (folder / "config").mkdir(parents=True)
    shutil.copy(DATA / "focus.csv", folder / "focus.csv")
    shutil.copy(DATA / "budgets_small.csv", folder / "config" / "budgets.csv")
    run = _as_the_command("ingest", str(folder), "--warehouse", str(tmp_path / "wh.duckdb"))
    tops = {name.split(".")[0] for name in run["modules"]}
    assert [name for name in NOT_FOR_INGEST if name in tops] == []
    workbench = [f"finops_lib.{name}" for name in NOT_FOR_INGEST_WORKBENCH]
    assert [m for m in run["modules"] if any(m == w or m.startswith(f"{w}.") for w in workbench)] == []


def test_commands_that_read_no_facts_do_not_import_the_facts_layer() -> None:
    commands = ("pull", "normalize", "formats", "export_focus")
    code = ("import json, sys; " + "; ".join(f"import finops_lib.cli.{c}" for c in commands)
            + "; print(json.dumps(sorted(m for m in sys.modules if m.split('.')[:2] in "
            "(['finops_lib', 'facts'], ['finops_lib', 'pricing'], ['finops_lib', 'allocation']))))")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == []


def test_the_command_process_freezes_what_it_loaded_and_collects_again() -> None:
    run = _as_the_command("formats")
    assert run["frozen"] > 0 and run["collecting"]


def test_importing_the_command_line_leaves_the_collector_as_it_was() -> None:
    check = ("import gc; {before}; import finops_lib.cli; "
             "assert gc.isenabled() is {enabled} and gc.get_freeze_count() == 0")  # fmt: skip
    for before, enabled in (("pass", True), ("gc.disable()", False)):
        code = check.format(before=before, enabled=enabled)
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr


def test_main_with_arguments_freezes_nothing(capsys) -> None:
    frozen = gc.get_freeze_count()
    assert main(["formats"]) == 0
    assert "focus" in capsys.readouterr().out
    assert gc.isenabled() and gc.get_freeze_count() == frozen
