"""A journal hurt by a crash or a full disk: a torn last line, a damaged line left by an older imgcat,
no room or no permission to write one. Every command still reads the journals, never glues a line
onto torn bytes, and a journal that cannot be written is one `error:` line before anything is done."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from clirun import imgcat
from imgcat.actions import PlannedRun, execute_run, find_run, list_runs
from imgcat.catalog.sqlite import SqliteCatalog
from imgcat.operations.add import add_folder
from imgcat.operations.dupes import plan_dupes
from imgcat.operations.dupes_apply import apply_dupes
from test_dupes_apply import _run_killed, contents, library, request, snapshot
from test_faults import small_disk


def _killed_run(tmp_path: Path) -> tuple[Path, Path, Path, dict[str, bytes]]:
    """A library of duplicates, cataloged, and a `dupes --apply` killed -9 after its third step;
    the library's files before."""
    root, db, data = tmp_path / "lib", tmp_path / "c.sqlite", Path(os.environ["XDG_DATA_HOME"])
    library(root)
    before = snapshot(root)
    catalog = SqliteCatalog(db)
    add_folder(catalog, str(root), device="d", recursive=True, workers=0)
    catalog.close()
    _run_killed(db, data, 3, "done", command_line=False)
    [journal] = (data / "imgcat" / "runs").glob("*.jsonl")
    return root, db, journal, before


def _lines(journal: Path) -> list[dict[str, object]]:
    data = journal.read_bytes()
    assert data.endswith(b"\n")
    return [json.loads(line) for line in data.splitlines()]


def test_a_torn_last_line_is_cut_before_a_resume_and_every_command_reads_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, db, journal, before = _killed_run(tmp_path)
    every = set(contents(root))
    journal.write_bytes(journal.read_bytes()[:-15])  # a power cut mid-line: …\n{"t"
    run_id = journal.stem
    assert imgcat(capsys, "runs", "--db", str(db)).code == 0

    resumed = imgcat(capsys, "runs", run_id, "--resume", "--db", str(db))
    assert resumed.code == 0, resumed.err
    lines = _lines(journal)  # every line whole: nothing glued onto the torn bytes
    assert lines[-1]["t"] == "end"
    assert set(contents(root)) == every
    for args in (["runs"], ["runs", "--json"], ["trash", "list"]):
        seen = imgcat(capsys, *args, "--db", str(db))
        assert seen.code == 0 and "Traceback" not in seen.err and "warning" not in seen.err, (args, seen.err)
    undone = imgcat(capsys, "undo", run_id, "--yes", "--db", str(db))
    assert undone.code == 0, undone.err
    assert snapshot(root) == before


def test_a_damaged_line_in_the_middle_is_one_warning_and_the_run_is_still_undone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """As an older imgcat left it: a resume glued a whole line onto torn bytes (`{"t"{"t":"done",…}`),
    and another line is garbage. Each command names the journal and the line once; undo still works."""
    root, db, journal, before = _killed_run(tmp_path)
    resumed = imgcat(capsys, "runs", journal.stem, "--resume", "--db", str(db))
    assert resumed.code == 0, resumed.err
    lines = journal.read_bytes().splitlines(keepends=True)
    done = next(i for i, line in enumerate(lines) if line.startswith(b'{"t":"done"'))
    lines[done] = b'{"t"' + lines[done]  # glued after torn bytes: the entry is still read
    lines.insert(done + 1, b"\x00\x00garbage\n")
    journal.write_bytes(b"".join(lines))

    listed = imgcat(capsys, "runs", "--db", str(db))
    assert listed.code == 0
    assert listed.err == (
        f"warning: {journal}: line {done + 1} is damaged: its start is skipped\n"
        f"warning: {journal}: line {done + 2} is damaged: skipped\n"
    )
    assert "complete" in listed.out
    undone = imgcat(capsys, "undo", "--yes", "--db", str(db))
    assert undone.code == 0, undone.err
    assert undone.err.count(f"line {done + 2} is damaged") == 1 and "Traceback" not in undone.err
    assert snapshot(root) == before


def test_a_full_disk_while_journaling_is_one_error_line_and_the_next_run_completes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The data folder (journals, trash) on a tiny disk: the plan does not fit. One `error:` line names
    the journal and the cause, nothing is touched and no half plan is left to be carried out later."""
    root, db = library(tmp_path / "lib"), tmp_path / "c.sqlite"
    catalog = SqliteCatalog(db)
    add_folder(catalog, str(root), device="d", recursive=True, workers=0)
    catalog.close()
    before = snapshot(root)
    aside = "x" * 200  # long paths: each step's line is large, so the plan outgrows the disk
    with small_disk(tmp_path / "small", "16k") as disk:
        os.environ["XDG_DATA_HOME"] = str(disk)
        target = tmp_path / aside / aside
        run = imgcat(capsys, "dupes", "--apply", "--yes", "--action", "move-to", "--to", str(target),
                     "--db", str(db), "--device", "d")  # fmt: skip
        assert run.code == 1
        assert run.err.startswith(f"error: cannot write the journal {disk}/imgcat/runs/"), run.err
        assert run.err.endswith(": No space left on device; nothing changed\n") and run.err.count("\n") == 1
        assert snapshot(root) == before
        assert list_runs() == []  # nothing for a later --apply to carry out
        subprocess.run(["mount", "-o", "remount,size=1m", str(disk)], check=True)  # room made
        again = imgcat(capsys, "dupes", "--apply", "--yes", "--action", "move-to", "--to", str(target),
                       "--db", str(db), "--device", "d")  # fmt: skip
        assert again.code == 0, again.err
        [state] = list_runs()
        assert state.state == "complete"


def test_a_runs_folder_that_cannot_be_written_is_one_error_line(tmp_path: Path) -> None:
    root, db = library(tmp_path / "lib"), tmp_path / "c.sqlite"
    catalog = SqliteCatalog(db)
    add_folder(catalog, str(root), device="d", recursive=True, workers=0)
    catalog.close()
    before = snapshot(root)
    data = tmp_path / "data"
    (data / "imgcat").mkdir(parents=True)
    (data / "imgcat").chmod(0o555)
    command = [sys.executable, "-m", "imgcat", "dupes", "--apply", "--yes", "--db", str(db), "--device", "d"]
    if os.geteuid() == 0:
        command = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", *command]
    run = subprocess.run(command, capture_output=True, text=True, check=False,
                         env={**os.environ, "XDG_DATA_HOME": str(data)})  # fmt: skip
    assert run.returncode == 1
    assert run.stderr.startswith("error: ") and run.stderr.count("\n") == 1, run.stderr
    assert str(data / "imgcat") in run.stderr and "Permission denied" in run.stderr
    assert snapshot(root) == before


def test_a_disk_full_before_the_first_step_stops_the_run_before_it_acts(tmp_path: Path) -> None:
    """Room for the plan, none for the first `begin` line: the run stops before any file is touched,
    the journal holds no torn line, and once there is room again a resume completes the run."""
    root, db = library(tmp_path / "lib"), tmp_path / "c.sqlite"
    catalog = SqliteCatalog(db)
    add_folder(catalog, str(root), device="d", recursive=True, workers=0)
    before = snapshot(root)
    with small_disk(tmp_path / "small", "1m") as disk:
        os.environ["XDG_DATA_HOME"] = str(disk)
        filler = disk / "filler"

        def fill_the_disk(run: PlannedRun) -> bool:
            with open(filler, "wb", buffering=0) as handle, contextlib.suppress(OSError):
                while True:
                    handle.write(b"\0" * 4096)
            with open(run.path, "ab", buffering=0) as journal, contextlib.suppress(OSError):
                while True:  # the journal's last page too: entries of a kind no reader knows
                    journal.write(b'{"t":"pad"}\n')
            with open(run.path, "r+b") as journal:  # the pad line that did not fit
                journal.truncate(journal.read().rfind(b"\n") + 1)
            return True

        result = apply_dupes(catalog, plan_dupes(catalog, request()), action="trash", to=None, command="t",
                             confirm=fill_the_disk)  # fmt: skip
        assert result is not None and result.done == 0
        assert result.stopped is not None
        assert result.stopped.startswith(f"stopped: cannot write the journal {disk}/imgcat/runs/")
        assert result.stopped.endswith(": No space left on device")
        assert snapshot(root) == before
        [state] = list_runs()
        assert state.state == "not started" and not state.begun  # nothing will carry it out unasked
        _lines(state.path)  # every line whole
        filler.unlink()
        resumed = execute_run(state.run_id, catalog)
        assert resumed.stopped is None and resumed.done == len(state.offsets)
        assert find_run(state.run_id).state == "complete"
    catalog.close()
