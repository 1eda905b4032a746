"""Atomic outputs (finops_lib.share.files): the old file or the new one, never half of one, no temporary left."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from finops_lib import paths
from finops_lib.share import atomic_open, atomic_path, atomic_write, write_csv
from finops_lib.views.results import write_results

OLD = "team,cost\r\nops,1.50\r\n"


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(paths.PROJECT_ROOT)}


class Unprintable:
    """A cell whose text cannot be made: the CSV writer fails on it after the rows before it were written."""

    def __str__(self) -> str:
        raise RuntimeError("no text for this cell")


def test_a_write_that_fails_midway_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(RuntimeError, match="midway"), atomic_open(target) as handle:
        handle.write("new " * 100_000)
        handle.flush()
        raise RuntimeError("midway")
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_write_csv_failing_on_a_row_keeps_the_old_csv(tmp_path: Path) -> None:
    target = tmp_path / "chargeback.csv"
    target.write_bytes(OLD.encode())
    frame = pd.DataFrame({"team": ["ops"] * 5000 + ["bad"], "cost": [Decimal("2.00")] * 5000 + [Unprintable()]})
    with pytest.raises(RuntimeError, match="no text for this cell"):
        write_csv(frame, target)
    assert target.read_bytes() == OLD.encode()
    assert [p.name for p in tmp_path.iterdir()] == ["chargeback.csv"]
    write_csv(frame.iloc[:2], target)  # and a good write replaces it
    assert target.read_bytes() == b"team,cost\r\nops,2.00\r\nops,2.00\r\n"


FULL = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG, as on a full disk
resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536))
import pandas as pd
from finops_lib.share import write_csv
from finops_lib.views.results import write_results
kind, target = sys.argv[1], sys.argv[2]
try:
    if kind == "csv":
        write_csv(pd.DataFrame({"team": ["x" * 100] * 2000}), target)
    else:
        write_results(target, {"rows": ["x" * 100] * 2000})
except OSError as exc:
    print(exc.errno, type(exc).__name__)
"""


@pytest.mark.parametrize("kind", ["csv", "results"])
def test_a_full_disk_keeps_the_old_output_and_leaves_no_temporary(kind: str, tmp_path: Path) -> None:
    target = tmp_path / "alerts.csv" if kind == "csv" else tmp_path / "results.json"
    old = OLD if kind == "csv" else json.dumps({"rows": ["old"]})
    target.write_bytes(old.encode())
    done = subprocess.run([sys.executable, "-c", FULL, kind, str(target if kind == "csv" else tmp_path)],
                          env=_env(), capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["27", "OSError"]  # EFBIG: the write was refused
    assert target.read_bytes() == old.encode()
    assert [p.name for p in tmp_path.iterdir()] == [target.name]


KILLED = """
import os, signal, sys
from finops_lib.share import atomic_open
with atomic_open(sys.argv[1]) as handle:
    handle.write("half")
    handle.flush()
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_writer_killed_midway_leaves_the_old_file_and_the_next_write_clears_its_temporary(tmp_path: Path) -> None:
    target = tmp_path / "index.html"
    target.write_text("old", encoding="utf-8")
    killed = subprocess.run([sys.executable, "-c", KILLED, str(target)], env=_env(), timeout=120)
    assert killed.returncode == -9
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == [f".index.html.tmp-{killed_pid(left)}-" + left[0].rsplit("-", 1)[1], "index.html"]
    assert target.read_text(encoding="utf-8") == "old"
    (tmp_path / ".other.html.tmp-1-abcd").write_text("not this target's")
    atomic_write(target, "new")
    assert target.read_text(encoding="utf-8") == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.html.tmp-1-abcd", "index.html"]


def killed_pid(names: list[str]) -> str:
    return names[0].split(".tmp-")[1].split("-")[0]


def test_a_live_writer_s_temporary_is_not_taken_for_stale(tmp_path: Path) -> None:
    target = tmp_path / "results.json"
    with atomic_open(target) as handle:  # this process is writing it ...
        handle.write("{}")
        atomic_write(tmp_path / "other.json", "{}")
        atomic_write(target.with_name("results.json"), '{"a": 1}')  # ... while another write of it finishes
    assert target.read_text() == "{}"  # the last rename wins; both temporaries are gone
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.json", "results.json"]


def test_readers_see_the_old_or_the_new_content_never_a_mix(tmp_path: Path) -> None:
    target = tmp_path / "results.json"
    versions = ["a" * 300_000, "b" * 400_000]
    atomic_write(target, versions[0])
    seen: set[int] = set()
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            text = target.read_text()
            seen.add(len(text) if text in versions else -1)

    reader = threading.Thread(target=read)
    reader.start()
    for round_ in range(60):
        atomic_write(target, versions[round_ % 2])
    stop.set()
    reader.join()
    assert -1 not in seen and seen <= {300_000, 400_000}


def test_atomic_path_hands_a_name_to_writers_that_want_one(tmp_path: Path) -> None:
    target = tmp_path / "forecast.parquet"
    frame = pd.DataFrame({"day": ["2026-05-01"], "cost": [1.5]})
    with atomic_path(target) as temp:
        assert temp.parent == tmp_path and temp.name.startswith(".forecast.parquet.tmp-")
        frame.to_parquet(temp, index=False)
        assert not target.exists()
    pd.testing.assert_frame_equal(pd.read_parquet(target), frame)
    with pytest.raises(ValueError), atomic_path(target) as temp:
        temp.write_bytes(b"half")
        raise ValueError("export failed")
    pd.testing.assert_frame_equal(pd.read_parquet(target), frame)
    assert [p.name for p in tmp_path.iterdir()] == ["forecast.parquet"]


def test_atomic_open_refuses_partial_modes(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="mode 'w' or 'wb'"), atomic_open(tmp_path / "x", "a"):
        pass


@settings(max_examples=50, deadline=None)
@given(data=st.one_of(st.binary(max_size=5000), st.text(max_size=2000)), name=st.sampled_from(["a.csv", "[x].json"]))
def test_what_is_written_is_read_back_and_only_the_target_remains(tmp_path_factory: pytest.TempPathFactory,
                                                                  data: str | bytes, name: str) -> None:  # fmt: skip
    folder = tmp_path_factory.mktemp("w")
    target = atomic_write(folder / name, data)
    back = target.read_bytes()
    assert back == (data if isinstance(data, bytes) else data.encode("utf-8"))
    assert [p.name for p in folder.iterdir()] == [name]


def test_results_json_is_written_atomically_and_stays_strict(tmp_path: Path) -> None:
    path = write_results(tmp_path, {"total": Decimal("1.50"), "gap": float("nan")})
    assert json.loads(path.read_text()) == {"total": "1.50", "gap": None}
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]
