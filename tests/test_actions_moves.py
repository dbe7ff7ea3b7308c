"""The actions layer as `reorganize` uses it: moves whose companions follow in the catalog, folders
emptied and made again, renames journaled in batches and settled after a kill inside a batch."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import stat
from pathlib import Path

import pytest

from imgcat.actions import Step, execute_run, start_run, undo_run
from imgcat.actions.execute import FAULT_ENV, RENAME_BATCH
from imgcat.actions.journal import list_runs
from imgcat.catalog.base import Catalog
from imgcat.catalog.sqlite import SqliteCatalog
from imgcat.operations.add import add_folder
from imgcat.record import Companion, MediaRecord
from media import MEDIA, copy_media
from test_reorganize import _jpeg_taken_at


def _moves(records: list[MediaRecord], target: Path, unit: int = 1) -> list[Step]:
    return [
        Step("move", r.path, r.size, r.mtime_ns, target=str(target / r.name), record=r, unit=unit)
        for r in records
    ]


def _run(catalog: Catalog, steps: list[Step]) -> str:
    planned = start_run(steps, command="test", catalog=catalog)
    result = execute_run(planned.run_id, catalog)
    assert not result.failed and not result.skipped, result
    return planned.run_id


def test_moved_companions_name_their_new_paths_and_undo_gives_the_old_ones_back(
    store: Catalog, tmp_path: Path
) -> None:
    shot = tmp_path / "lib" / "shot"
    shot.mkdir(parents=True)
    shutil.copy(MEDIA / "raw_exiftool" / "Nikon.nef", shot / "DSC_0001.NEF")
    _jpeg_taken_at(shot / "DSC_0001.JPG", "2004:06:09 16:02:36")  # the NEF's twin, a second later
    add_folder(store, str(tmp_path / "lib"), device="d", recursive=True, workers=0)
    records = list(store.iter_under("d", str(shot)))
    before = {r.path: r.companions for r in records}
    assert all(before.values())
    tidy = tmp_path / "lib" / "2004"
    run_id = _run(store, _moves(records, tidy))
    raw = store.get("d", str(tidy / "DSC_0001.NEF"))
    assert raw is not None and raw.companions == (Companion("jpeg", str(tidy / "DSC_0001.JPG")),)
    undo_run(run_id, store)
    assert {r.path: r.companions for r in store.iter_under("d", str(shot))} == before
    assert not tidy.exists()  # the folder the run made is gone again


def test_an_emptied_folder_is_removed_and_undo_makes_it_again(store: Catalog, tmp_path: Path) -> None:
    root = copy_media(tmp_path / "lib", "nikon_coolpix_p6000/DSCN0010.jpg")
    folder = root / "nikon_coolpix_p6000"
    folder.chmod(0o750)
    add_folder(store, str(root), device="d", recursive=True, workers=0)
    records = list(store.iter_under("d", str(root)))
    steps = [*_moves(records, root / "tidy"), Step("rmdir", str(folder), 0, 0)]
    run_id = _run(store, steps)
    assert not folder.exists() and (root / "tidy/DSCN0010.jpg").is_file()
    undo_run(run_id, store)
    assert (folder / "DSCN0010.jpg").is_file()
    assert stat.S_IMODE(folder.stat().st_mode) == 0o750
    assert sorted(p.name for p in root.iterdir()) == ["nikon_coolpix_p6000"]


def test_a_folder_that_is_not_empty_is_kept(tmp_path: Path) -> None:
    folder = tmp_path / "lib" / "mixed"
    folder.mkdir(parents=True)
    (folder / "notes.txt").write_text("keep me")
    catalog = SqliteCatalog(tmp_path / "c.sqlite")
    planned = start_run([Step("rmdir", str(folder), 0, 0)], command="test", catalog=catalog)
    result = execute_run(planned.run_id, catalog)
    assert [o.reason for o in result.skipped] == ["is not empty: kept"]
    assert (folder / "notes.txt").read_text() == "keep me"


def _many(tmp_path: Path, count: int) -> tuple[Path, SqliteCatalog, list[MediaRecord]]:
    root = copy_media(tmp_path / "lib", "nikon_coolpix_p6000")
    for i in range(count - 4):
        shutil.copy2(
            root / "nikon_coolpix_p6000/DSCN0010.jpg", root / f"nikon_coolpix_p6000/copy_{i:02d}.jpg"
        )
    catalog = SqliteCatalog(tmp_path / "c.sqlite")
    add_folder(catalog, str(root), device="d", recursive=True, workers=0)
    return root, catalog, list(catalog.iter_under("d", str(root)))


def _execute_in_child(run_id: str, db: Path, kill_after: int) -> None:
    os.environ[FAULT_ENV] = str(kill_after)
    catalog = SqliteCatalog(db)
    execute_run(run_id, catalog)
    os._exit(0)


@pytest.mark.parametrize("then", ["resume", "undo"])
def test_a_kill_inside_a_batch_of_renames_is_settled(tmp_path: Path, then: str) -> None:
    root, catalog, records = _many(tmp_path, 12)
    assert len(records) < RENAME_BATCH  # one batch: the kill lands inside it
    steps = [
        Step("move", r.path, r.size, r.mtime_ns, target=str(root / "tidy" / r.name), record=r, unit=n + 1)
        for n, r in enumerate(records)
    ]
    planned = start_run(steps, command="test", catalog=catalog)
    child = multiprocessing.get_context("fork").Process(
        target=_execute_in_child, args=(planned.run_id, tmp_path / "c.sqlite", 7)
    )
    child.start()
    child.join()
    assert child.exitcode == -9
    moved = sorted(p.name for p in (root / "tidy").iterdir())
    left = sorted(p.name for p in (root / "nikon_coolpix_p6000").iterdir())
    assert len(moved) == 7 and len(moved) + len(left) == 12  # every file at its old or new path
    [state] = list_runs()
    assert state.state == "interrupted" and len(state.begun) == 12 and not state.done  # one fsync for all
    if then == "resume":
        result = execute_run(planned.run_id, catalog)
        assert result.done == 12 and not result.skipped
        assert len(list((root / "tidy").iterdir())) == 12
        assert {r.path for r in catalog.iter_under("d", str(root))} == {
            str(root / "tidy" / r.name) for r in records
        }
    else:
        undone = undo_run(planned.run_id, catalog)
        assert undone.restored == 7 and not undone.skipped
        assert not (root / "tidy").exists()
        assert {r.path for r in catalog.iter_under("d", str(root))} == {r.path for r in records}
