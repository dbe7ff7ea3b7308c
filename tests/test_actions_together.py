"""The safe-actions layer when commands meet over time: the kept picture re-checked, runs of
other commands, a busy lock, unplugged roots, trash copied elsewhere (QA findings of the family flow)."""

from __future__ import annotations

import json
import os
import shutil
import signal
from pathlib import Path

import pytest
from PIL import Image

from clirun import imgcat
from imgcat.actions import (
    FAULT_ENV,
    RunBusyError,
    Step,
    carry_out,
    execute_run,
    find_run,
    interrupted_runs,
    list_runs,
    start_run,
)
from imgcat.actions.journal import run_lock
from imgcat.catalog.sqlite import SqliteCatalog
from imgcat.cli.app import main
from imgcat.operations.similar import apply_similar, find_similar
from media import copy_media

DEVICE = "test"


def _pair_tree(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A real photo and a half-size re-save of it (the same picture, a derivative), in two folders."""
    tree = copy_media(tmp_path / "tree", "nikon_coolpix_p6000/DSCN0010.jpg")
    original = tree / "nikon_coolpix_p6000" / "DSCN0010.jpg"
    small = tree / "small" / "DSCN0010-small.jpg"
    small.parent.mkdir()
    with Image.open(original) as image:
        image.resize((image.width // 2, image.height // 2)).save(small, quality=85)
    return tree, original, small


def _added(capsys: pytest.CaptureFixture[str], tmp_path: Path, *folders: tuple[Path, str]) -> Path:
    db = tmp_path / "catalog.sqlite"
    for folder, device in folders:
        assert imgcat(capsys, "add", "-r", str(folder), "--db", str(db), "--device", device).code == 0
    return db


def test_similar_apply_leaves_a_group_alone_when_its_best_is_gone_from_disk(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree, original, small = _pair_tree(tmp_path)
    db = _added(capsys, tmp_path, (tree, DEVICE))
    original.rename(tmp_path / "moved-away.jpg")  # the user moved the original; no sync yet
    run = imgcat(capsys, "similar", "--db", str(db), "--device", DEVICE, "--apply", "--yes")
    assert small.exists(), "the only version left must never go to the trash"
    assert f"warning: {small}: left alone: the picture kept instead is not there as cataloged" in run.err
    assert f"{original} is gone" in run.err
    assert "0 files moved to the trash" in run.out


def test_similar_apply_leaves_a_group_alone_when_its_best_changed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree, original, small = _pair_tree(tmp_path)
    db = _added(capsys, tmp_path, (tree, DEVICE))
    original.write_bytes(b"not a picture any more")
    imgcat(capsys, "similar", "--db", str(db), "--device", DEVICE, "--apply", "--yes")
    assert small.exists()


def _killed_similar(db: Path, phase: str) -> None:
    """`similar --apply` in a forked child, SIGKILLed by the actions layer at step 1."""
    child = os.fork()
    if child == 0:  # pragma: no cover (the child never returns: killed, or _exit)
        try:
            os.environ[FAULT_ENV] = phase
            catalog = SqliteCatalog(db)
            apply_similar(catalog, find_similar(catalog, level="near"), device=DEVICE)
        finally:
            os._exit(3)
    _, status = os.waitpid(child, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, status


def test_a_resumed_similar_run_re_checks_the_kept_picture(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree, original, small = _pair_tree(tmp_path)
    db = _added(capsys, tmp_path, (tree, DEVICE))
    _killed_similar(db, "1:begin")
    shutil.move(original, tmp_path / "moved-away.jpg")
    catalog = SqliteCatalog(db)
    [state] = interrupted_runs(catalog=catalog)
    result = execute_run(state.run_id, catalog)
    catalog.close()
    assert result.done == 0 and small.exists()
    assert "the picture kept instead is not there" in result.skipped[0].reason


def test_similar_counts_a_best_on_another_device_only_when_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, original, small = _pair_tree(tmp_path)
    db = _added(capsys, tmp_path, (original.parent, "usb"), (small.parent, DEVICE))
    run = imgcat(capsys, "similar", "--db", str(db), "--device", DEVICE, "--apply", "--yes")
    assert small.exists()
    assert f"left alone: its best, {original}, is on device usb (pass --count-other-devices" in run.err
    run = imgcat(
        capsys, "similar", "--db", str(db), "--device", DEVICE, "--apply", "--yes", "--count-other-devices"
    )
    assert run.code == 0, run.err
    assert not small.exists() and "1 file moved to the trash" in run.out


@pytest.mark.parametrize("command", ["similar", "reorganize"])
def test_an_apply_refused_as_busy_leaves_no_run_for_a_later_apply(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    tree, original, small = _pair_tree(tmp_path)
    db = _added(capsys, tmp_path, (tree, DEVICE))
    args = [str(tree), "--pattern", "<year>"] if command == "reorganize" else []
    with run_lock():  # another imgcat applying, undoing or emptying the trash
        refused = imgcat(capsys, command, *args, "--db", str(db), "--device", DEVICE, "--apply", "--yes")
    assert refused.code == 1
    assert "another imgcat process is changing files right now" in refused.err
    assert "nothing changed" in refused.err
    assert list_runs() == [] and original.exists() and small.exists()


def test_a_plan_refused_as_busy_between_plan_and_act_is_dropped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree, _, small = _pair_tree(tmp_path)
    db = _added(capsys, tmp_path, (tree, DEVICE))
    catalog = SqliteCatalog(db)
    record = catalog.get(DEVICE, str(small))
    assert record is not None
    run = start_run([Step("trash", str(small), record.size, record.mtime_ns, record=record)], command="t",
                    catalog=catalog)  # fmt: skip
    with run_lock(), pytest.raises(RunBusyError):
        carry_out(run, catalog)
    catalog.close()
    assert list_runs() == [] and small.exists()


def test_an_interrupted_run_is_completed_only_by_its_own_command_re_checking_not_same(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree, original, small = _pair_tree(tmp_path)
    db = _added(capsys, tmp_path, (tree, DEVICE))
    _killed_similar(db, "1:begin")
    [state] = list_runs()
    assert state.state == "interrupted"
    marked = imgcat(
        capsys, "similar", "--db", str(db), "--device", DEVICE, "--not-same", str(original), str(small)
    )
    assert marked.code == 0, marked.err

    other = imgcat(capsys, "dupes", "--db", str(db), "--device", DEVICE, "--apply", "--yes")
    assert other.code == 0, other.err
    assert f"run {state.run_id} (imgcat similar --apply" in other.err
    assert f"'imgcat runs {state.run_id} --resume' completes it, 'imgcat undo {state.run_id}'" in other.err
    assert small.exists() and [s.state for s in list_runs()] == ["interrupted"]

    own = imgcat(capsys, "similar", "--db", str(db), "--device", DEVICE, "--apply", "--yes")
    assert own.code == 0, own.err
    assert f"completing the interrupted run {state.run_id}" in own.out
    assert small.exists(), "marked as a different picture since: never removed for the other"
    assert "marked as a different picture from" in own.err
    assert [s.state for s in list_runs()] == ["complete"]


NIKON = [f"nikon_coolpix_p6000/DSCN00{n}.jpg" for n in (10, 12, 25, 27)]


def _reorganize_killed(capsys: pytest.CaptureFixture[str], tmp_path: Path, kill: str) -> tuple[Path, Path]:
    """Four real photos under the root `usb`, a reorganize of them killed -9 by the actions layer."""
    usb = copy_media(tmp_path / "usb", *NIKON)
    db = _added(capsys, tmp_path, (usb, DEVICE))
    imgcat(capsys, "reorganize", "--help")  # the forked run starts with the CLI loaded
    argv = ["reorganize", str(usb), "--pattern", "<year>/<month>", "--apply", "--yes", "--db", str(db),
            "--device", DEVICE]  # fmt: skip
    child = os.fork()
    if child == 0:  # pragma: no cover (killed)
        os.environ[FAULT_ENV] = kill
        os._exit(main(argv))
    _, status = os.waitpid(child, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, status
    return usb, db


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_resume_and_undo_refuse_while_a_root_of_the_run_is_unplugged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    usb, db = _reorganize_killed(capsys, tmp_path, "2")
    [state] = list_runs()
    moved = _files(usb)
    away = tmp_path / "usb-away"
    usb.rename(away)  # the disk is unplugged
    for args in (["runs", state.run_id, "--resume"], ["undo", state.run_id, "--yes"]):
        refused = imgcat(capsys, *args, "--db", str(db))
        assert refused.code == 1
        assert (
            f"error: root {usb} of run {state.run_id} is missing (a disk unplugged?): plug it in"
            in refused.err
        )
        assert not usb.exists(), "no root is ever made again"
    assert [s.state for s in list_runs()] == ["interrupted"]
    away.rename(usb)  # plugged back: nothing was forgotten
    assert _files(usb) == moved
    undone = imgcat(capsys, "undo", state.run_id, "--yes", "--db", str(db))
    assert undone.code == 0, undone.err
    assert _files(usb) == set(NIKON)


def test_a_begun_move_whose_file_is_at_neither_end_stays_in_doubt(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, db = _reorganize_killed(capsys, tmp_path, "1")  # step 1 renamed, its "done" never written
    [state] = list_runs()
    target = Path(str(state.begun[1]["target"]))
    target.rename(tmp_path / "elsewhere.jpg")  # not where the journal says: at neither end
    catalog = SqliteCatalog(db)
    result = execute_run(state.run_id, catalog)
    catalog.close()
    assert result.stopped is not None and "in doubt" in result.stopped
    [after] = list_runs()
    assert after.state == "interrupted" and 1 not in after.skipped


def test_undo_never_makes_a_root_again_when_it_is_unplugged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    laptop = copy_media(tmp_path / "laptop", NIKON[0])
    usb = copy_media(tmp_path / "usb", NIKON[0], NIKON[1])
    db = _added(capsys, tmp_path, (laptop, DEVICE), (usb, DEVICE))
    run = imgcat(capsys, "dupes", "--db", str(db), "--device", DEVICE, "--remove-from", str(usb),
                 "--apply", "--yes")  # fmt: skip
    assert run.code == 0, run.err
    assert not (usb / NIKON[0]).exists()
    [state] = list_runs()
    away = tmp_path / "usb-away"
    usb.rename(away)
    refused = imgcat(capsys, "undo", "--yes", "--db", str(db))
    assert refused.code == 1 and f"root {usb} of run {state.run_id} is missing" in refused.err
    assert not usb.exists()
    away.rename(usb)
    assert imgcat(capsys, "undo", "--yes", "--db", str(db)).code == 0
    assert (usb / NIKON[0]).exists()


def _trashed_by_similar(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> tuple[Path, Path, str]:
    tree, _, small = _pair_tree(tmp_path)
    db = _added(capsys, tmp_path, (tree, DEVICE))
    run = imgcat(capsys, "similar", "--db", str(db), "--device", DEVICE, "--apply", "--yes")
    assert run.code == 0 and not small.exists(), run.err
    [state] = list_runs()
    return db, small, state.run_id


def test_undo_puts_back_a_trashed_file_whose_inode_changed_but_not_its_content(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, small, run_id = _trashed_by_similar(capsys, tmp_path)
    trash = tmp_path / "xdg-data" / "imgcat" / ".imgcat-trash"
    shutil.copytree(trash / run_id, trash / "copy")  # copied back and forth: new inodes, same bytes
    shutil.rmtree(trash / run_id)
    (trash / "copy").rename(trash / run_id)
    undone = imgcat(capsys, "undo", run_id, "--yes", "--db", str(db))
    assert undone.code == 0, undone.err
    assert small.exists() and [s.state for s in list_runs()] == ["undone"]


def test_undo_of_a_changed_trashed_file_puts_nothing_back_exits_1_and_leaves_the_run_as_it_was(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, small, run_id = _trashed_by_similar(capsys, tmp_path)
    [trashed] = (tmp_path / "xdg-data" / "imgcat" / ".imgcat-trash").rglob(small.name)
    content = trashed.read_bytes()
    trashed.unlink()
    trashed.write_bytes(content[:-1] + b"\x00")  # another file now, same size
    os.utime(trashed, ns=(small.stat().st_mtime_ns if small.exists() else 0, 0))
    undone = imgcat(capsys, "undo", run_id, "--yes", "--db", str(db))
    assert undone.code == 1 and f"nothing of run {run_id} could be undone" in undone.err
    assert f"warning: {small}: {small}" not in undone.err  # the path is said once
    assert [s.state for s in list_runs()] == ["complete"]


def test_after_trash_empty_the_run_shows_trash_emptied_and_undo_refuses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, _, run_id = _trashed_by_similar(capsys, tmp_path)
    emptied = imgcat(capsys, "trash", "empty", "--yes", "--db", str(db))
    assert emptied.code == 0, emptied.err
    assert run_id in emptied.out and "can no longer be undone" in emptied.out
    listed = imgcat(capsys, "runs", "--json")
    assert [r["state"] for r in json.loads(listed.out)] == ["trash emptied"]
    refused = imgcat(capsys, "undo", "--yes", "--db", str(db))
    assert refused.code == 1


def test_undo_names_the_later_run_that_moved_a_file_it_made_a_link(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = copy_media(tmp_path / "lib", NIKON[0])
    shutil.copy(root / NIKON[0], root / "copy.jpg")
    db = _added(capsys, tmp_path, (root, DEVICE))
    linked = imgcat(capsys, "dupes", "--db", str(db), "--device", DEVICE, "--apply", "--yes",
                    "--action", "hardlink")  # fmt: skip
    assert linked.code == 0, linked.err
    moved = imgcat(capsys, "reorganize", str(root), "--pattern", "<year>", "--apply", "--yes",
                   "--db", str(db), "--device", DEVICE)  # fmt: skip
    assert moved.code == 0, moved.err
    first, second = list_runs()
    undone = imgcat(capsys, "undo", first.run_id, "--yes", "--db", str(db))
    assert undone.code == 1
    assert (
        f"1 of its files was moved since by run {second.run_id} (imgcat undo {second.run_id} first)"
        in undone.err
    )


def test_undo_of_a_run_whose_files_a_later_run_moved_is_refused_up_front_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """QA F23: undo A after B moved A's files again: one refusal naming B, nothing done (it was a
    warning per file and A's pruned folders made again, empty); after undo B, undo A goes."""
    root = copy_media(tmp_path / "lib", *NIKON)
    db = _added(capsys, tmp_path, (root, DEVICE))
    before = _paths(root)
    store = ["--db", str(db), "--device", DEVICE]
    for pattern in ("<year>/<month>", "<camera>/<year>"):
        moved = imgcat(
            capsys, "reorganize", str(root), "-p", pattern, "--prune-empty", "--apply", "--yes", *store
        )
        assert moved.code == 0, moved.err
    first, second = list_runs()
    after = _paths(root)
    refused = imgcat(capsys, "undo", first.run_id, "--yes", "--db", str(db))
    assert refused.code == 1 and refused.out == ""
    assert refused.err == (
        f"error: run {first.run_id}: 4 of its files were moved since by run {second.run_id} "
        f"(imgcat undo {second.run_id} first); nothing changed\n"
    )
    assert _paths(root) == after and find_run(first.run_id).state == "complete"  # no folder made
    assert imgcat(capsys, "undo", second.run_id, "--yes", "--db", str(db)).code == 0
    undone = imgcat(capsys, "undo", first.run_id, "--yes", "--db", str(db))
    assert undone.code == 0 and _paths(root) == before
    assert undone.out == f"run {first.run_id}: 4 files put back, 1 folder made again\n"  # F17: not "5 steps"


def test_undoing_two_overlapping_runs_older_first_leaves_no_empty_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """QA F4: run B moves a file into a folder run A made; undo A cannot remove that folder (B's
    file is in it), undo B moves the file out: the folder goes then (it stayed, empty)."""
    root = copy_media(tmp_path / "lib", *NIKON[:3])
    db = _added(capsys, tmp_path, (root, DEVICE))
    before = _paths(root)
    store = ["--db", str(db), "--device", DEVICE]
    argv = ["reorganize", str(root), "-p", "<year>/<month>", "--apply", "--yes", *store]
    assert imgcat(capsys, *argv).code == 0  # run A makes <year>/<month>
    late = copy_media(tmp_path / "late", NIKON[3])
    shutil.copy2(late / NIKON[3], root / NIKON[3])
    assert imgcat(capsys, "add", "-r", str(root), *store).code == 0
    assert imgcat(capsys, *argv).code == 0  # run B moves the late file into A's folder
    first, second = list_runs()
    assert imgcat(capsys, "undo", first.run_id, "--yes", "--db", str(db)).code == 0
    assert imgcat(capsys, "undo", second.run_id, "--yes", "--db", str(db)).code == 0
    assert _paths(root) == before | {NIKON[3]}  # and no year/month folder left, empty


def _paths(root: Path) -> set[str]:
    """Every file and folder under `root`."""
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def test_after_a_kill_runs_trash_list_and_status_tell_the_truth(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree, _, small = _pair_tree(tmp_path)
    db = _added(capsys, tmp_path, (tree, DEVICE))
    _killed_similar(db, "1")  # renamed into the trash, its "done" never written
    assert not small.exists()
    [run] = json.loads(imgcat(capsys, "runs", "--json").out)
    assert (run["state"], run["done"], run["in_doubt"]) == ("interrupted", 0, 1)
    assert "1 in doubt" in imgcat(capsys, "runs").out
    listed = json.loads(imgcat(capsys, "trash", "list", "--json", "--db", str(db)).out)["files"]
    assert [f["from"] for f in listed] == [str(small)]
    status = imgcat(capsys, "--db", str(db))
    assert f"interrupted run {run['id']} (imgcat similar" in status.out
    assert (
        f"'imgcat runs {run['id']} --resume' completes it, 'imgcat undo {run['id']}' reverts it" in status.out
    )
    emptied = imgcat(capsys, "trash", "empty", "--yes", "--db", str(db))
    assert f"run {run['id']} is interrupted: its files stay in the trash" in emptied.err
    assert any(p.name == small.name for p in tmp_path.rglob("*") if ".imgcat-trash" in p.parts)


def test_a_file_another_interrupted_run_is_acting_on_is_left_to_that_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree, original, small = _pair_tree(tmp_path)
    db = _added(capsys, tmp_path, (tree, DEVICE))
    _killed_similar(db, "1:begin")  # its step on `small` is begun, not settled
    [interrupted] = list_runs()
    moved = imgcat(capsys, "reorganize", str(tree), "--pattern", "<year>", "--apply", "--yes",
                   "--db", str(db), "--device", DEVICE)  # fmt: skip
    assert small.exists(), "left where the interrupted run expects it"
    assert f"interrupted run {interrupted.run_id} has a step on it" in moved.err
    assert not original.exists(), "unrelated files are not held up"


def test_a_kept_copy_symbolic_links_point_to_is_not_moved_away_from_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = copy_media(tmp_path / "lib", NIKON[0], NIKON[1])
    shutil.copy(root / NIKON[0], root / "copy.jpg")
    db = _added(capsys, tmp_path, (root, DEVICE))
    linked = imgcat(capsys, "dupes", "--db", str(db), "--device", DEVICE, "--apply", "--yes",
                    "--action", "symlink")  # fmt: skip
    assert linked.code == 0, linked.err
    [first] = list_runs()
    planned = imgcat(
        capsys, "reorganize", str(root), "--pattern", "<year>", "--db", str(db), "--device", DEVICE
    )
    assert planned.code == 0, planned.err  # the plan names the file before --apply, not only act
    assert (
        f"{root / NIKON[0]}: symbolic links made by run {first.run_id} point to it"
        in planned.out + planned.err
    )
    moved = imgcat(capsys, "reorganize", str(root), "--pattern", "<year>", "--apply", "--yes",
                   "--db", str(db), "--device", DEVICE)  # fmt: skip
    assert f"symbolic links made by run {first.run_id} point to it" in moved.out + moved.err
    assert (root / NIKON[0]).is_file() and (root / "copy.jpg").resolve().is_file(), "no link dangles"
    assert not (root / NIKON[1]).exists(), "other files are moved"
