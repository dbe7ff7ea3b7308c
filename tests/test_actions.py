"""The safe-actions layer on real files: every kind of step, verification, the journal, undo,
runs, the trash. Each runs on each store (the catalog must follow every step)."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import stat
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from imgcat.actions import (
    TRASH_NAME,
    RunBusyError,
    RunRefusedError,
    RunResult,
    Step,
    StepOutcome,
    TrashFolders,
    empty_trash,
    execute_run,
    files,
    find_run,
    list_runs,
    plan_trash_empty,
    start_run,
    undo_run,
    undoable_run,
)
from imgcat.actions.journal import run_lock, runs_folder
from imgcat.catalog.base import Catalog
from imgcat.operations.add import add_folder
from imgcat.record import MediaRecord
from media import copy_media


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    """Two photos, each with a kept copy in `kept/` and a duplicate in `dupes/`."""
    root = copy_media(
        tmp_path / "photos", "nikon_coolpix_p6000/DSCN0010.jpg", "nikon_coolpix_p6000/DSCN0012.jpg"
    )
    (root / "kept").mkdir()
    (root / "dupes").mkdir()
    for photo in list((root / "nikon_coolpix_p6000").iterdir()):
        shutil.copy2(photo, root / "kept" / photo.name)
        shutil.copy2(photo, root / "dupes" / photo.name)
    shutil.rmtree(root / "nikon_coolpix_p6000")
    return root


@pytest.fixture
def other_filesystem() -> Iterator[Path]:
    """A folder on another filesystem than tmp_path (tmpfs), removed after."""
    shm = Path("/dev/shm")
    if not shm.is_dir() or os.stat(shm).st_dev == os.stat(Path.cwd()).st_dev:
        pytest.skip("no second filesystem (/dev/shm) here")
    folder = shm / f"imgcat-test-{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    yield folder
    shutil.rmtree(folder, ignore_errors=True)
    shutil.rmtree(shm / TRASH_NAME, ignore_errors=True)


def cataloged(store: Catalog, root: Path) -> dict[str, MediaRecord]:
    add_folder(store, str(root), device="d", recursive=True, workers=0)
    return {os.path.relpath(r.path, root): r for r in store.iter_under("d", str(root))}


def step_for(record: MediaRecord, kind: str = "trash", **fields: object) -> Step:
    refs = fields.pop("references", (record.path.replace("/dupes/", "/kept/"),))
    return Step(kind, record.path, record.size, record.mtime_ns, references=refs, record=record, **fields)  # type: ignore[arg-type]


def run(store: Catalog, steps: list[Step]) -> tuple[str, RunResult]:
    planned = start_run(steps, command="test", catalog=store)
    return planned.run_id, execute_run(planned.run_id, store)


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        os.path.relpath(p, root): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and TRASH_NAME not in str(p)
    }


def test_trash_is_a_rename_into_the_trash_mirroring_the_path_and_undo_restores_it(
    store: Catalog, photos: Path
) -> None:
    records = cataloged(store, photos)
    before = snapshot(photos)
    victim = records["dupes/DSCN0010.jpg"]
    inode = os.stat(victim.path).st_ino
    run_id, result = run(store, [step_for(victim)])
    assert result.done == 1 and result.bytes == victim.size
    assert not os.path.exists(victim.path)
    trash = TrashFolders().root_for(str(photos / "kept/DSCN0010.jpg"))
    trashed = Path(trash) / run_id / victim.path.lstrip("/")
    assert trashed.read_bytes() == before["dupes/DSCN0010.jpg"]
    assert trashed.stat().st_ino == inode  # a rename, never a copy
    assert store.get("d", victim.path) is None
    state = find_run(run_id)
    assert (state.state, len(state.done), state.total) == ("complete", 1, 1)

    undone = undo_run(run_id, store)
    assert undone.restored == 1 and undone.skipped == ()
    assert snapshot(photos) == before
    assert os.stat(victim.path).st_mtime_ns == victim.mtime_ns
    assert store.get("d", victim.path) == victim
    assert find_run(run_id).state == "undone"
    assert not (Path(trash) / run_id).exists()  # the emptied mirror folders go


def test_a_file_changed_since_cataloged_or_unlike_its_kept_copy_is_left_alone(
    store: Catalog, photos: Path
) -> None:
    records = cataloged(store, photos)
    changed = records["dupes/DSCN0010.jpg"]
    os.utime(changed.path, ns=(changed.mtime_ns, changed.mtime_ns + 10**9))
    differs = records["dupes/DSCN0012.jpg"]
    kept = photos / "kept/DSCN0012.jpg"
    data = bytearray(kept.read_bytes())
    data[5000] ^= 0xFF  # same size, same time, one byte off
    mtime = kept.stat().st_mtime_ns
    kept.write_bytes(bytes(data))
    os.utime(kept, ns=(mtime, mtime))
    _, result = run(store, [step_for(changed), step_for(differs)])
    reasons = [o.reason for o in result.skipped]
    assert reasons[0] == "changed since it was cataloged (size or time differs): left alone"
    assert reasons[1] == f"no kept copy matches it now: {kept} differs byte for byte"
    assert os.path.exists(changed.path) and os.path.exists(differs.path)
    assert store.get("d", changed.path) is not None


def test_a_hard_link_of_the_file_is_not_a_kept_copy(store: Catalog, photos: Path) -> None:
    records = cataloged(store, photos)
    victim = records["dupes/DSCN0010.jpg"]
    link = photos / "link.jpg"
    os.link(victim.path, link)
    _, result = run(store, [step_for(victim, references=(str(link),))])
    [skipped] = result.skipped
    assert skipped.reason.endswith("is the same file (a hard link)")
    assert os.path.exists(victim.path)


def test_delete_is_for_good_and_undo_says_so(store: Catalog, photos: Path) -> None:
    records = cataloged(store, photos)
    victim = records["dupes/DSCN0012.jpg"]
    run_id, result = run(store, [step_for(victim, "delete")])
    assert result.done == 1 and not os.path.exists(victim.path)
    assert not list(photos.rglob(f"{TRASH_NAME}"))
    undone = undo_run(run_id, store)
    assert undone.restored == 0
    assert undone.skipped[0].reason == "was deleted for good: it cannot come back"
    assert find_run(run_id).state == "complete"  # nothing was undone: the run is as it was


@pytest.mark.parametrize("across", [False, True])
def test_move_to_mirrors_the_tree_across_filesystems_too_and_undo_moves_back(
    store: Catalog, photos: Path, tmp_path: Path, request: pytest.FixtureRequest, across: bool
) -> None:
    records = cataloged(store, photos)
    before = snapshot(photos)
    aside = request.getfixturevalue("other_filesystem") if across else tmp_path / "aside"
    victims = [records["dupes/DSCN0010.jpg"], records["dupes/DSCN0012.jpg"]]
    steps = [step_for(v, "move-to", target=str(aside / v.path.lstrip("/"))) for v in victims]
    run_id, result = run(store, steps)
    assert result.done == 2
    for victim in victims:
        moved = aside / victim.path.lstrip("/")
        assert moved.read_bytes() == before[os.path.relpath(victim.path, photos)]
        assert moved.stat().st_mtime_ns == victim.mtime_ns
        assert not os.path.exists(victim.path) and store.get("d", victim.path) is None
    assert not [p for p in aside.rglob("*.part")]
    undo_run(run_id, store)
    assert snapshot(photos) == before
    assert all(store.get("d", v.path) is not None for v in victims)


@pytest.mark.parametrize("kind", ["hardlink", "symlink"])
def test_links_replace_the_duplicate_and_undo_makes_it_a_file_again(
    store: Catalog, photos: Path, kind: str
) -> None:
    records = cataloged(store, photos)
    before = snapshot(photos)
    victim = records["dupes/DSCN0010.jpg"]
    kept = photos / "kept/DSCN0010.jpg"
    os.chmod(victim.path, 0o640)
    run_id, result = run(store, [step_for(victim, kind)])
    assert result.done == 1
    if kind == "hardlink":
        assert os.stat(victim.path).st_ino == kept.stat().st_ino
        entry = store.get("d", victim.path)
        assert entry is not None and entry.inode == kept.stat().st_ino
    else:
        assert os.readlink(victim.path) == str(kept)
        assert store.get("d", victim.path) is None
    undo_run(run_id, store)
    assert snapshot(photos) == before
    info = os.lstat(victim.path)
    assert stat.S_ISREG(info.st_mode) and info.st_ino != kept.stat().st_ino
    assert (stat.S_IMODE(info.st_mode), info.st_mtime_ns) == (0o640, victim.mtime_ns)
    restored = store.get("d", victim.path)
    assert restored is not None and restored.inode == info.st_ino and restored.checksum == victim.checksum


def test_move_and_copy_take_the_catalog_entry_along(store: Catalog, photos: Path) -> None:
    records = cataloged(store, photos)
    moved, copied = records["dupes/DSCN0010.jpg"], records["dupes/DSCN0012.jpg"]
    target_move, target_copy = str(photos / "2008/10/a.jpg"), str(photos / "2008/10/b.jpg")
    steps = [
        Step("move", moved.path, moved.size, moved.mtime_ns, target=target_move, record=moved),
        Step("copy", copied.path, copied.size, copied.mtime_ns, target=target_copy, record=copied,
             checksum=copied.checksum),
    ]  # fmt: skip
    run_id, result = run(store, steps)
    assert result.done == 2
    entry = store.get("d", target_move)
    assert entry is not None and entry.first_seen == moved.first_seen and store.get("d", moved.path) is None
    assert store.get("d", target_copy) is not None and store.get("d", copied.path) is not None
    assert Path(target_copy).read_bytes() == Path(copied.path).read_bytes()
    undo_run(run_id, store)
    assert os.path.exists(moved.path) and not os.path.exists(target_move) and not os.path.exists(target_copy)
    assert store.get("d", target_move) is None and store.get("d", target_copy) is None
    assert store.get("d", moved.path) is not None


def test_a_move_never_overwrites_a_target(store: Catalog, photos: Path) -> None:
    records = cataloged(store, photos)
    victim = records["dupes/DSCN0010.jpg"]
    occupied = photos / "kept/DSCN0012.jpg"
    _, result = run(store, [Step("move", victim.path, victim.size, victim.mtime_ns, target=str(occupied))])
    assert result.skipped[0].reason == f"{occupied} exists: never overwritten"
    assert os.path.exists(victim.path)


def test_undo_never_overwrites_a_file_that_came_to_the_path(store: Catalog, photos: Path) -> None:
    records = cataloged(store, photos)
    victim = records["dupes/DSCN0010.jpg"]
    run_id, _ = run(store, [step_for(victim)])
    Path(victim.path).write_bytes(b"a new file with the old name")
    undone = undo_run(run_id, store)
    assert undone.restored == 0
    assert undone.skipped[0].reason.startswith(f"a file is at {victim.path} now: never overwritten")
    assert Path(victim.path).read_bytes() == b"a new file with the old name"
    assert find_run(run_id).undoable  # the obstacle gone, undo can be asked again
    os.unlink(victim.path)
    assert undo_run(run_id, store).restored == 1
    assert Path(victim.path).read_bytes() == Path(photos / "kept/DSCN0010.jpg").read_bytes()


def test_a_unit_is_verified_whole_before_any_of_it_is_done(store: Catalog, photos: Path) -> None:
    records = cataloged(store, photos)
    photo = records["dupes/DSCN0010.jpg"]
    sidecar, twin = photos / "dupes/DSCN0010.xmp", photos / "kept/DSCN0010.xmp"
    sidecar.write_text("<x:xmpmeta rating='1'/>")
    twin.write_text("<x:xmpmeta rating='5'/>")  # the kept copy's sidecar says something else
    info = sidecar.stat()
    steps = [
        step_for(photo, unit=1),
        Step("trash", str(sidecar), info.st_size, info.st_mtime_ns, references=(str(twin),), unit=1),
    ]
    _, result = run(store, steps)
    assert result.done == 0
    assert [o.reason.split(":")[0] for o in result.skipped] == [
        f"left alone with {sidecar}", "no kept copy matches it now",
    ]  # fmt: skip
    assert os.path.exists(photo.path) and sidecar.exists()


def test_runs_are_listed_with_their_state_and_one_acts_at_a_time(store: Catalog, photos: Path) -> None:
    records = cataloged(store, photos)
    first, _ = run(store, [step_for(records["dupes/DSCN0010.jpg"])])
    second, _ = run(store, [step_for(records["dupes/DSCN0012.jpg"]), step_for(records["kept/DSCN0012.jpg"])])
    states = {r.run_id: (r.state, r.total, len(r.done), len(r.skipped)) for r in list_runs()}
    assert states == {first: ("complete", 1, 1, 0), second: ("complete", 2, 1, 1)}
    assert undoable_run(None).run_id == second
    journal = (runs_folder() / f"{second}.jsonl").read_text().splitlines()
    kinds = [json.loads(line)["t"] for line in journal]
    assert kinds[:4] == ["run", "step", "step", "planned"] and kinds[-1] == "end"
    assert kinds.index("begin") < kinds.index("done")
    with run_lock(), pytest.raises(RunBusyError):
        undo_run(first, store)
    with pytest.raises(RunRefusedError, match="is complete: nothing to carry out"):
        execute_run(first, store)


def test_trash_empty_deletes_for_good_only_what_is_old_enough(store: Catalog, photos: Path) -> None:
    records = cataloged(store, photos)
    run_id, _ = run(store, [step_for(records["dupes/DSCN0010.jpg"]), step_for(records["dupes/DSCN0012.jpg"])])
    now = datetime.now(UTC)
    assert plan_trash_empty(timedelta(days=30), now).files == ()
    plan = plan_trash_empty(timedelta(days=30), now + timedelta(days=31))
    assert len(plan.files) == 2 and plan.bytes == sum(
        records[f"dupes/{n}"].size for n in ("DSCN0010.jpg", "DSCN0012.jpg")
    )
    result = empty_trash(plan)
    assert result.deleted == 2 and not any(os.path.exists(t.path) for t in plan.files)
    trash = Path(TrashFolders().root_for(str(photos / "kept/DSCN0010.jpg")))
    assert not (trash / run_id).exists()
    assert plan_trash_empty(None, now).files == ()
    with pytest.raises(RunRefusedError, match="the trash was emptied of its files"):
        undo_run(run_id, store)


def test_the_trash_is_on_the_files_own_filesystem(photos: Path, other_filesystem: Path) -> None:
    here = TrashFolders().root_for(str(photos / "kept/DSCN0010.jpg"))
    assert os.stat(here).st_dev == os.stat(photos).st_dev
    elsewhere = other_filesystem / "x.jpg"
    elsewhere.write_bytes(b"x")
    there = TrashFolders().root_for(str(elsewhere))
    assert os.stat(there).st_dev == os.stat(other_filesystem).st_dev
    assert there.endswith(TRASH_NAME)


def test_trashed_files_are_never_cataloged_again(store: Catalog, photos: Path) -> None:
    records = cataloged(store, photos)
    victim = records["dupes/DSCN0010.jpg"]
    trash = Path(photos / TRASH_NAME)  # a trash folder inside a cataloged tree (a USB disk's root)
    shutil.copytree(photos / "dupes", trash / "run/dupes")
    run(store, [step_for(victim)])
    add_folder(store, str(photos), device="d", recursive=True, workers=0)
    assert store.get("d", victim.path) is None
    assert not [r.path for r in store.iter_under("d", str(photos)) if TRASH_NAME in r.path]


class _InterruptAt:
    """ActionEvents that sends Ctrl-C to this process when step `at` is done."""

    def __init__(self, at: int) -> None:
        self.at = at
        self.seen = 0

    def started(self, steps: int) -> None:
        pass

    def finished(self, outcome: StepOutcome) -> None:
        self.seen += 1
        if self.seen == self.at:
            signal.raise_signal(signal.SIGINT)


def test_ctrl_c_finishes_the_step_in_hand_then_stops_and_the_run_completes_later(
    store: Catalog, photos: Path
) -> None:
    records = cataloged(store, photos)  # links: done one at a time (renames go in batches)
    steps = [step_for(records[f"dupes/{name}"], "hardlink") for name in ("DSCN0010.jpg", "DSCN0012.jpg")]
    planned = start_run(steps, command="test", catalog=store)
    result = execute_run(planned.run_id, store, events=_InterruptAt(1))
    assert (result.done, result.stopped, result.signal) == (1, "interrupted", signal.SIGINT)
    assert find_run(planned.run_id).state == "interrupted"
    kept = photos / "kept/DSCN0012.jpg"
    assert os.stat(steps[1].source).st_ino != kept.stat().st_ino
    rest = execute_run(planned.run_id, store)
    assert rest.done == 1 and find_run(planned.run_id).state == "complete"
    assert os.stat(steps[1].source).st_ino == kept.stat().st_ino


def test_a_full_disk_stops_the_run_with_nothing_lost_and_it_completes_later(
    store: Catalog, photos: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = cataloged(store, photos)
    aside = tmp_path / "aside"
    victims = [records["dupes/DSCN0010.jpg"], records["dupes/DSCN0012.jpg"]]
    steps = [step_for(v, "copy", target=str(aside / Path(v.path).name), references=()) for v in victims]
    real_copy = files.copy_new

    def full_disk(source: str, target: str) -> None:
        Path(target).write_bytes(Path(source).read_bytes()[:1000])  # a part written, then no space
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(files, "copy_new", full_disk)
    planned = start_run(steps, command="test", catalog=store)
    result = execute_run(planned.run_id, store)
    assert result.done == 0 and result.stopped is not None and "No space left on device" in result.stopped
    assert all(os.path.exists(v.path) for v in victims)
    assert not list(aside.rglob("*.jpg"))  # the part written is imgcat's own temporary file
    monkeypatch.setattr(files, "copy_new", real_copy)  # space freed
    assert find_run(planned.run_id).state == "interrupted"
    assert execute_run(planned.run_id, store).done == 2  # the step the disk stopped is done again
    assert sorted(p.name for p in aside.iterdir()) == ["DSCN0010.jpg", "DSCN0012.jpg"]
    assert find_run(planned.run_id).state == "complete"


def test_a_file_that_vanished_before_its_step_is_reported_not_an_error(store: Catalog, photos: Path) -> None:
    records = cataloged(store, photos)
    victim = records["dupes/DSCN0010.jpg"]
    planned = start_run([step_for(victim)], command="test", catalog=store)
    os.unlink(victim.path)
    result = execute_run(planned.run_id, store)
    assert [o.reason for o in result.skipped] == ["vanished since it was planned"]
