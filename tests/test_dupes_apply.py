"""`imgcat dupes --apply`: every action on real files, the catalog after, undo, the script, and a
kill -9 at every step of a run."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer._click import termui

from clirun import imgcat
from imgcat.actions import (
    FAULT_ENV,
    TRASH_NAME,
    RunBusyError,
    TrashFolders,
    execute_run,
    find_run,
    interrupted_runs,
    list_runs,
    start_run,
    undo_run,
)
from imgcat.actions.journal import run_lock
from imgcat.catalog.base import Catalog, ContentQuery
from imgcat.catalog.sqlite import SqliteCatalog
from imgcat.operations.add import add_folder
from imgcat.operations.dupes import DupesRequest, GroupPlan, plan_dupes
from imgcat.operations.dupes_apply import apply_dupes, dupes_steps
from imgcat.operations.sync import plan_sync
from imgcat.policy import Policy
from imgcat.scan.checksum import file_checksum
from media import MEDIA, copy_media

SMALL = (
    "misc_bmp",
    "canon_powershot_s330",
    "misc_gif",
    "fujifilm_finepix_s1pro",
    "sony_dsc_p12",
    "htc_desire",
    "fujifilm_sp_2500",
    "screenshots",
    "canon_ixus_400",
    "sony_cybershot",
)  # fmt: skip: eleven small real photos of eleven cameras and apps


def library(root: Path) -> Path:
    """Eleven real photos, each copied once elsewhere (two of them twice): eleven groups."""
    copy_media(root / "photos", *SMALL)
    originals = sorted(p for p in (root / "photos").rglob("*") if p.is_file())
    for n, photo in enumerate(originals):
        for copy in range(2 if n in (0, 5) else 1):
            target = root / f"backup{copy}" / photo.relative_to(root / "photos")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(photo, target)
    return root


def contents(root: Path) -> dict[str, set[str]]:
    """checksum → paths, of the files under `root` outside any trash."""
    found: dict[str, set[str]] = {}
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink() and TRASH_NAME not in path.parts:
            found.setdefault(file_checksum(str(path)), set()).add(str(path))
    return found


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in root.rglob("*") if p.is_file() and TRASH_NAME not in p.parts}


def request(**policy: object) -> DupesRequest:
    return DupesRequest(ContentQuery(), Policy(**policy), frozenset({"d"}))  # type: ignore[arg-type]


def apply(store: Catalog, action: str = "trash", to: str | None = None, **policy: object) -> object:
    groups = plan_dupes(store, request(**policy))
    return apply_dupes(store, groups, action=action, to=to, command="test", confirm=lambda run: True)  # type: ignore[arg-type]


@pytest.mark.parametrize("action", ["trash", "delete", "move-to", "hardlink", "symlink"])
def test_each_action_resolves_every_group_and_leaves_the_catalog_true(
    store: Catalog, tmp_path: Path, action: str
) -> None:
    root = library(tmp_path / "lib")
    add_folder(store, str(root), device="d", recursive=True, workers=0)
    before = contents(root)
    groups = [g for g in plan_dupes(store, request()) if g.is_duplicate]
    assert len(groups) >= 10
    aside = str(tmp_path / "aside") if action == "move-to" else None
    result = apply(store, action, aside)
    removed = sum(len(g.removed) for g in groups)
    assert result.done == removed and not result.skipped  # type: ignore[attr-defined]
    after = contents(root)
    assert set(after) == set(before)  # every content still here
    if action in ("trash", "delete", "move-to"):
        assert all(len(paths) == 1 for paths in after.values())
    if action == "hardlink":
        assert all(len({os.stat(p).st_ino for p in paths}) == 1 for paths in after.values())
    if action == "symlink":
        assert sum(1 for p in root.rglob("*") if p.is_symlink()) == removed
    assert [g for g in plan_dupes(store, request()) if g.is_duplicate] == []  # nothing left to resolve
    sync = plan_sync(store, str(root), device="d", workers=0)
    assert (len(sync.removals), len(sync.moves), len(sync.updates)) == (0, 0, 0)  # nothing to fix


@pytest.mark.parametrize("action", ["trash", "move-to", "hardlink", "symlink"])
def test_undo_restores_every_path_with_its_original_bytes(
    store: Catalog, tmp_path: Path, action: str
) -> None:
    root = library(tmp_path / "lib")
    add_folder(store, str(root), device="d", recursive=True, workers=0)
    before = snapshot(root)
    entries = sorted((r.path, r.checksum, r.size, r.mtime_ns) for r in store.iter_under("d", str(root)))
    result = apply(store, action, str(tmp_path / "aside") if action == "move-to" else None)
    undone = undo_run(result.run_id, store)  # type: ignore[attr-defined]
    assert undone.skipped == ()
    assert snapshot(root) == before
    assert all(not os.path.islink(p) for p in before)
    assert (
        sorted((r.path, r.checksum, r.size, r.mtime_ns) for r in store.iter_under("d", str(root))) == entries
    )


def test_keep_copies_2_distinct_devices_applies_over_two_devices(store: Catalog, tmp_path: Path) -> None:
    laptop = copy_media(tmp_path / "laptop", "sony_cybershot")
    usb = copy_media(tmp_path / "usb", "sony_cybershot")
    for photo in list(laptop.rglob("*.jpg")):
        shutil.copy2(photo, photo.with_name(f"{photo.stem} copy.jpg"))
    add_folder(store, str(laptop), device="laptop", recursive=True, workers=0)
    add_folder(store, str(usb), device="usb", recursive=True, workers=0)
    both = DupesRequest(
        ContentQuery(), Policy(keep_copies=2, distinct_devices=True), frozenset({"laptop", "usb"})
    )
    result = apply_dupes(
        store, plan_dupes(store, both), action="trash", to=None, command="t", confirm=lambda run: True
    )
    assert result is not None and result.done == 2
    assert sorted(p.name for p in laptop.rglob("*.jpg")) == sorted(p.name for p in usb.rglob("*.jpg"))
    assert len(list(usb.rglob("*.jpg"))) == 2  # the other device's copies are the second copy


def test_a_copy_changed_after_planning_is_left_alone(store: Catalog, tmp_path: Path) -> None:
    root = library(tmp_path / "lib")
    add_folder(store, str(root), device="d", recursive=True, workers=0)
    groups = list(plan_dupes(store, request()))
    victim = Path(groups[0].removed[0].path)
    data = bytearray(victim.read_bytes())
    data[-10] ^= 1
    stamp = victim.stat().st_mtime_ns
    victim.write_bytes(bytes(data))
    os.utime(victim, ns=(stamp, stamp))  # same size and time: only the bytes tell
    result = apply_dupes(store, groups, action="trash", to=None, command="t", confirm=lambda run: True)
    assert result is not None
    [skipped] = result.skipped
    assert skipped.step.source == str(victim) and "differs byte for byte" in skipped.reason
    assert victim.read_bytes() == bytes(data)


def _cli(tmp_path: Path) -> tuple[Path, list[str]]:
    root = library(tmp_path / "lib")
    db = ["--db", str(tmp_path / "c.sqlite"), "--device", "d"]
    return root, db


def test_cli_apply_asks_or_refuses_then_runs_undo_and_trash_empty(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    root, db = _cli(tmp_path)
    assert imgcat(capsys, "add", "-r", str(root), *db[:2], "--device", "d", "-q").code == 0
    before = snapshot(root)
    every = set(contents(root))
    refused = imgcat(capsys, "dupes", *db, "--apply")  # no terminal here, no --yes
    assert refused.code == 1
    assert refused.err == (
        "error: dupes --apply asks before it changes files: no terminal to ask on, pass --yes; "
        "nothing changed\n"
    )
    assert snapshot(root) == before and list_runs() == []
    done = imgcat(capsys, "dupes", *db, "--apply", "--yes")
    assert done.code == 0, done.err
    [run] = list_runs()
    assert f"run {run.run_id}: " in done.out and " files trashed, " in done.out
    assert f"undo: imgcat undo {run.run_id}" in done.out
    listed = imgcat(capsys, "runs", "--json")
    [entry] = json.loads(listed.out)
    assert (entry["state"], entry["done"], entry["steps"]) == ("complete", run.total, run.total)
    assert imgcat(capsys, "dupes", *db, "--json").out.count('"decision": "remove"') == 0
    trash = imgcat(capsys, "trash", "list", "--json")
    assert len(json.loads(trash.out)["files"]) == run.total
    assert imgcat(capsys, "undo", *db[:2]).code == 1  # asks: no terminal, no --yes
    undone = imgcat(capsys, "undo", *db[:2], "--yes")
    assert undone.code == 0 and f"run {run.run_id}: {run.total} files put back\n" in undone.out
    assert snapshot(root) == before
    again = imgcat(capsys, "dupes", *db, "--apply", "--yes", "--action", "trash")
    assert again.code == 0
    assert imgcat(capsys, "trash", "empty", "--older-than", "30d", "--yes").out.startswith(
        "the trash holds nothing older than 30d"
    )
    emptied = imgcat(capsys, "trash", "empty", "--yes")
    assert emptied.code == 0 and "deleted for good" in emptied.out
    assert not [p for p in (tmp_path / "xdg-data").rglob("*.jpg")]
    assert set(contents(root)) == every


def test_cli_bad_action_options_are_usage_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    _, db = _cli(tmp_path)
    bad = imgcat(capsys, "dupes", *db, "--apply", "--yes", "--action", "move-to")
    assert (bad.code, bad.err) == (
        2,
        "error: --action move-to needs --to DIR: where the removed copies are set aside\n",
    )
    assert imgcat(capsys, "dupes", *db, "--action", "shred").err.startswith(
        "error: --action expects one of trash"
    )
    assert list_runs() == []


def test_the_script_does_what_the_plan_says_and_spares_a_changed_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    root, db = _cli(tmp_path)
    imgcat(capsys, "add", "-r", str(root), *db[:2], "--device", "d", "-q")
    before = contents(root)
    script = tmp_path / "dupes.sh"
    run = imgcat(capsys, "dupes", *db, "--script", str(script))
    assert run.code == 0 and f"script written: {script}" in run.out
    plan = json.loads(imgcat(capsys, "dupes", *db, "--json").out)
    removed = [f["path"] for g in plan["groups"] for f in g["files"] if f["decision"] == "remove"]
    spared = Path(removed[0])
    spared.write_bytes(spared.read_bytes()[:-1] + b"\x00")  # changed after the script was written
    ran = subprocess.run(["sh", str(script)], capture_output=True, text=True, check=False)
    assert ran.stderr == f"left alone: {spared}\n"
    assert [p for p in removed if os.path.exists(p)] == [str(spared)]
    assert set(contents(root)) - {file_checksum(str(spared))} == set(before)
    assert all(
        len(paths) == 1 for c, paths in contents(root).items() if c in before and str(spared) not in paths
    )


def _run_killed(live_db: Path, data: Path, k: int, phase: str, *, command_line: bool) -> None:
    """`dupes --apply` in a real process, SIGKILLed by the actions layer at step k. The command line
    itself once; for the other k a forked child runs the same operation, which spares the
    interpreter's start-up."""
    env = {"XDG_DATA_HOME": str(data), FAULT_ENV: f"{k}:{phase}"}
    if command_line:
        args = [
            sys.executable,
            "-m",
            "imgcat",
            "dupes",
            "--apply",
            "--yes",
            "--db",
            str(live_db),
            "--device",
            "d",
        ]
        killed = subprocess.run(args, env={**os.environ, **env}, capture_output=True, text=True, check=False)
        assert killed.returncode == -signal.SIGKILL, (k, phase, killed.stderr)
        return
    child = os.fork()
    if child == 0:  # pragma: no cover (the child never returns: killed, or _exit)
        try:
            os.environ.update(env)
            catalog = SqliteCatalog(live_db)
            apply_dupes(catalog, plan_dupes(catalog, request()), action="trash", to=None, command="t",
                        confirm=lambda run: True)  # fmt: skip
        finally:
            os._exit(3)
    _, status = os.waitpid(child, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, (k, phase, status)


def test_kill_9_at_every_step_loses_nothing_and_resume_and_undo_complete(tmp_path: Path) -> None:
    """The run is killed with SIGKILL right after step k is done on disk, before its journal says
    so, for every k; for a few k right after `begin` and right after `done` too. After each kill
    every content is still in the tree; then the run is resumed (odd k) and undone, or undone
    straight away (even k), and the tree is byte for byte what it was."""
    root, db, data = tmp_path / "lib", tmp_path / "pristine.sqlite", tmp_path / "data"
    library(root)
    catalog = SqliteCatalog(db)
    add_folder(catalog, str(root), device="d", recursive=True, workers=0)
    steps = sum(len(g.removed) for g in plan_dupes(catalog, request()))
    catalog.close()
    assert steps >= 10
    before = snapshot(root)
    every = set(contents(root))
    shutil.copytree(root, tmp_path / "keep")
    live_db = tmp_path / "live.sqlite"
    kills = [*((k, "act") for k in range(1, steps + 1)), (1, "begin"), (steps // 2, "begin"), (3, "done")]
    for k, phase in kills:
        shutil.rmtree(root)
        shutil.copytree(tmp_path / "keep", root)
        shutil.copyfile(db, live_db)
        shutil.rmtree(data, ignore_errors=True)
        _run_killed(live_db, data, k, phase, command_line=k == steps // 2 and phase == "act")
        assert set(contents(root)) == every, (k, phase)  # nothing lost
        os.environ["XDG_DATA_HOME"] = str(data)
        try:
            [state] = list_runs()
            assert state.state == "interrupted"
            live = SqliteCatalog(live_db)
            if k % 2:
                execute_run(state.run_id, live)
                finished = find_run(state.run_id)
                assert (finished.state, len(finished.done)) == ("complete", steps), (k, phase)
                assert [g for g in plan_dupes(live, request()) if g.is_duplicate] == []
                assert all(len(paths) == 1 for paths in contents(root).values())
            undone = undo_run(state.run_id, live)
            assert undone.skipped == (), (k, phase)
            assert snapshot(root) == before, (k, phase)
            assert live.count() == len(before)
            live.close()
        finally:
            del os.environ["XDG_DATA_HOME"]
    assert MEDIA.is_dir()


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """Standard input on a real terminal (a pty); `answer(text)` types into it before the command."""
    master, slave = os.openpty()
    stdin = open(slave, encoding="utf-8")  # noqa: SIM115 (closed below)
    monkeypatch.setattr(sys, "stdin", stdin)

    def answer(text: str) -> None:
        os.write(master, text.encode())

    yield answer
    stdin.close()
    os.close(master)


def test_apply_undo_and_trash_empty_ask_on_a_terminal_and_no_changes_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, terminal: Callable[[str], None]
) -> None:
    root, db = _cli(tmp_path)
    assert imgcat(capsys, "add", "-r", str(root), *db, "-q").code == 0
    before = snapshot(root)
    terminal("n\n")
    declined = imgcat(capsys, "dupes", *db, "--apply")
    assert declined.code == 1 and declined.err.startswith("Move 13 files (")
    assert declined.err.endswith(") to the trash? [y/N]:error: not confirmed; nothing changed\n")
    assert declined.out.count("13 to remove") == 1  # the totals once, before the question
    assert snapshot(root) == before and list_runs() == []
    terminal("y\n")
    done = imgcat(capsys, "dupes", *db, "--apply")
    assert done.code == 0 and "13 files trashed" in done.out
    assert len(snapshot(root)) == len(before) - 13
    terminal("n\n")
    kept = imgcat(capsys, "undo", *db[:2])
    assert kept.code == 1 and "Undo run " in kept.err and len(snapshot(root)) == len(before) - 13
    terminal("n\n")
    assert imgcat(capsys, "trash", "empty").code == 1
    assert len(json.loads(imgcat(capsys, "trash", "list", "--json").out)["files"]) == 13
    terminal("y\n")
    assert imgcat(capsys, "undo", *db[:2]).code == 0
    assert snapshot(root) == before
    imgcat(capsys, "dupes", *db, "--apply", "--yes")
    terminal("y\n")
    emptied = imgcat(capsys, "trash", "empty")
    assert emptied.code == 0 and "13 files deleted for good" in emptied.out
    assert json.loads(imgcat(capsys, "trash", "list", "--json").out)["files"] == []
    nothing = imgcat(capsys, "dupes", *db, "--apply")  # nothing left: no question
    assert nothing.code == 0 and "nothing to do: no copy to remove" in nothing.out
    assert "[y/N]" not in nothing.err


def test_ctrl_c_at_the_question_stops_with_130_and_changes_nothing(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    terminal: Callable[[str], None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root, db = _cli(tmp_path)
    assert imgcat(capsys, "add", "-r", str(root), *db, "-q").code == 0
    before = snapshot(root)

    def ctrl_c(prompt: str) -> str:
        raise KeyboardInterrupt  # what Ctrl-C on the terminal does to the read of the answer

    monkeypatch.setattr(termui, "visible_prompt_func", ctrl_c)
    stopped = imgcat(capsys, "dupes", *db, "--apply")
    assert stopped.code == 130, stopped.err  # as Ctrl-C anywhere else; it was 1, as a "no"
    assert "error:" not in stopped.err
    # the answer's line is ended (the shell's prompt came after "[y/N]: ^C") and the outcome said
    assert stopped.err.endswith("[y/N]:\ninterrupted: nothing changed\n"), stopped.err
    assert snapshot(root) == before and list_runs() == []
    assert imgcat(capsys, "dupes", *db, "--apply", "--yes").code == 0
    trashed = snapshot(root)
    assert imgcat(capsys, "undo", *db[:2]).code == 130
    assert imgcat(capsys, "trash", "empty").code == 130
    assert (
        snapshot(root) == trashed
        and len(json.loads(imgcat(capsys, "trash", "list", "--json").out)["files"]) == 13
    )


def test_a_second_apply_while_one_acts_is_refused_and_leaves_no_plan_behind(
    store: Catalog, tmp_path: Path
) -> None:
    root = library(tmp_path / "lib")
    add_folder(store, str(root), device="d", recursive=True, workers=0)
    before = snapshot(root)
    with run_lock(), pytest.raises(RunBusyError, match="another imgcat process is changing files"):
        apply(store)
    assert list_runs() == [] and snapshot(root) == before  # nothing for a later --apply to "complete"
    assert apply(store).done == 13  # type: ignore[attr-defined]


class _CtrlCAt:
    """ActionEvents that sends this process Ctrl-C when step `at` is done."""

    def __init__(self, at: int) -> None:
        self.at, self.seen = at, 0

    def started(self, steps: int) -> None:
        pass

    def finished(self, outcome: object) -> None:
        self.seen += 1
        if self.seen == self.at:
            signal.raise_signal(signal.SIGINT)


@pytest.mark.parametrize(
    ("then", "options_first"),
    [
        (["dupes", "--apply", "--yes"], False),
        (["runs", "--resume"], False),
        (["dupes", "--apply", "--yes"], True),
    ],
)
def test_the_next_apply_or_runs_resume_completes_an_interrupted_run_first(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, then: list[str], options_first: bool
) -> None:
    """Also when the run was started with the store options before the command's name
    (`imgcat --db FILE dupes --apply`): its command was taken to be "--db", another command's."""
    root, db = _cli(tmp_path)
    recorded = "imgcat dupes --apply"
    if options_first:
        recorded = f"imgcat --db {tmp_path / 'c.sqlite'} --debug dupes --apply"
    imgcat(capsys, "add", "-r", str(root), *db, "-q")
    every = set(contents(root))
    catalog = SqliteCatalog(tmp_path / "c.sqlite")
    stopped = apply_dupes(
        catalog,
        plan_dupes(catalog, request()),
        action="hardlink",
        to=None,
        command=recorded,
        confirm=lambda run: True,
        events=_CtrlCAt(3),
    )  # fmt: skip: links go one at a time
    catalog.close()
    assert stopped is not None and (stopped.done, stopped.signal) == (3, signal.SIGINT)
    [state] = list_runs()
    assert state.state == "interrupted"
    options = db if then[0] == "dupes" else db[:2]
    finished = imgcat(capsys, *then, *options)
    assert finished.code == 0, finished.err
    assert f"run {state.run_id}: 10 files replaced by hard links" in finished.out
    if then[0] == "dupes":
        assert f"completing the interrupted run {state.run_id} ({recorded}) first" in finished.out
        assert "nothing to do: no copy to remove" in finished.out  # planned after: nothing left
    assert [r.state for r in list_runs()] == ["complete"]
    assert set(contents(root)) == every
    assert all(len({os.stat(p).st_ino for p in paths}) == 1 for paths in contents(root).values())
    assert json.loads(imgcat(capsys, "dupes", *db, "--json").out)["totals"]["remove"] == 0


def test_ctrl_c_or_a_kill_at_the_question_never_lets_a_later_run_carry_the_plan_out(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    root, db = _cli(tmp_path)
    imgcat(capsys, "add", "-r", str(root), *db, "-q")
    before = snapshot(root)
    catalog = SqliteCatalog(tmp_path / "c.sqlite")

    def ctrl_c(run: object) -> bool:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        apply_dupes(
            catalog, plan_dupes(catalog, request()), action="trash", to=None, command="t", confirm=ctrl_c
        )
    assert list_runs() == []  # the plan that was not confirmed is gone
    # A kill -9 while the question waits leaves the journaled plan: it was never confirmed.
    start_run(
        dupes_steps(catalog, plan_dupes(catalog, request()), "trash", None), command="t", catalog=catalog
    )
    catalog.close()
    [unconfirmed] = list_runs()
    assert unconfirmed.state == "not started" and interrupted_runs() == []
    refused = imgcat(capsys, "runs", unconfirmed.run_id, "--resume", *db[:2])
    assert (refused.code, refused.err) == (
        1,
        f"error: run {unconfirmed.run_id} is not started: nothing to resume\n",
    )
    assert imgcat(capsys, "dupes", *db, "--json").out.count('"decision": "remove"') == 13
    assert snapshot(root) == before
    applied = imgcat(capsys, "dupes", *db, "--apply", "--yes")
    assert "completing the interrupted run" not in applied.out + applied.err
    assert [r.state for r in list_runs()] == ["not started", "complete"]
    assert imgcat(capsys, "undo", *db[:2], "--yes").code == 0  # the latest run that did something
    assert snapshot(root) == before


@pytest.mark.parametrize(("code", "stops"), [(errno.EROFS, True), (errno.EACCES, False)])
def test_no_place_for_a_trash_folder_fails_its_steps_and_a_read_only_disk_stops_the_run(
    store: Catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, stops: bool
) -> None:
    """A read-only disk (or one where no folder can be made) cannot take a trash folder: the
    steps there fail with the reason, the run is not marked complete, and nothing is lost."""
    root = library(tmp_path / "lib")
    add_folder(store, str(root), device="d", recursive=True, workers=0)
    before = snapshot(root)

    def no_room(self: TrashFolders, path: str, device: int, create: bool) -> str:
        raise OSError(code, f"no trash folder can be made on its filesystem ({os.strerror(code)})", path)

    real = TrashFolders._find
    monkeypatch.setattr(TrashFolders, "_find", no_room)
    result = apply(store)
    assert result.done == 0 and snapshot(root) == before  # type: ignore[attr-defined]
    [state] = list_runs()
    if stops:
        assert result.stopped is not None and "Read-only file system" in result.stopped  # type: ignore[attr-defined]
        assert state.state == "interrupted" and len(result.failed) == 1  # type: ignore[attr-defined]
        monkeypatch.setattr(TrashFolders, "_find", real)  # the disk is writable again: resume does it all
        assert execute_run(state.run_id, store).done == 13
        assert find_run(state.run_id).state == "complete"
    else:
        assert result.stopped is None and len(result.failed) == 13  # type: ignore[attr-defined]
        assert all("no trash folder can be made" in o.reason for o in result.failed)  # type: ignore[attr-defined]
        assert state.state == "complete" and len(state.failed) == 13


def test_a_newline_in_the_command_line_never_becomes_a_line_of_the_script(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, db = _cli(tmp_path)
    imgcat(capsys, "add", "-r", str(root), *db, "-q")
    odd = tmp_path / "x\ntouch PWNED\n"
    odd.mkdir()
    script = tmp_path / "dupes.sh"
    monkeypatch.setattr(sys, "argv", ["imgcat", "dupes", "--keep-in", str(odd), "--script", str(script)])
    assert imgcat(capsys, "dupes", *db, "--keep-in", str(odd), "--script", str(script)).code == 0
    assert not any(line.startswith("touch") for line in script.read_text().splitlines())
    ran = subprocess.run(["sh", str(script)], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert ran.returncode == 0 and ran.stderr == "" and not (tmp_path / "PWNED").exists()
    assert all(len(paths) == 1 for paths in contents(root).values())


def test_a_plan_cut_short_while_it_is_written_leaves_no_journal(store: Catalog, tmp_path: Path) -> None:
    """`dupes --apply | head` closes the pipe while the plan streams into the journal."""
    root = library(tmp_path / "lib")
    add_folder(store, str(root), device="d", recursive=True, workers=0)

    def cut(groups: Iterator[GroupPlan]) -> Iterator[GroupPlan]:
        yield next(groups)
        raise BrokenPipeError(32, "Broken pipe")

    with pytest.raises(BrokenPipeError):
        apply_dupes(store, cut(plan_dupes(store, request())), action="trash", to=None, command="t",
                    confirm=lambda run: True)  # fmt: skip
    assert list_runs() == []
