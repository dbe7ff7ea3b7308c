"""`imgcat reorganize` as a new user and a reliability engineer try it: a full destination disk, an
unplugged root, a DEST that is a file or lies inside SRC, files gone after the plan, one name for
everything, odd names, a video's THM, the run's report, and DEST joining the library."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from clirun import imgcat
from imgcat.actions.execute import execute_run
from imgcat.actions.journal import list_runs
from imgcat.actions.roots import RootMissingError
from imgcat.actions.undo import undo_run
from imgcat.catalog.sqlite import SqliteCatalog
from imgcat.layout import parse_pattern
from imgcat.operations.add import add_folder
from imgcat.operations.reorganize import apply_reorganize, plan_reorganize
from media import MEDIA, copy_media
from test_faults import small_disk
from test_reorganize_apply import NAMING, _apply, _apply_in_child, _contents, _folders


def _added(tmp_path: Path, capsys: pytest.CaptureFixture[str], *folders: str) -> tuple[Path, str]:
    root = copy_media(tmp_path / "lib", *folders)
    db = str(tmp_path / "c.sqlite")
    assert imgcat(capsys, "add", "-r", str(root), "--db", db, "--device", "d", "-q").code == 0
    return root, db


def test_a_full_destination_disk_stops_the_run_and_resume_or_undo_completes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, db = _added(tmp_path, capsys, "nikon_coolpix_p6000", "canon_eos_20d")
    before = _contents(root)
    total = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    with small_disk(tmp_path / "small", f"{total - 200_000}") as disk:  # room for all but the last
        dest = disk / "tidy"
        args = ["--db", db, "--device", "d", "-q"]
        run = imgcat(capsys, "reorganize", str(root), "--dest", str(dest), "-p", "<year>/<month>", "--apply",
                     "--yes", *args)  # fmt: skip
        assert run.code == 1
        [state] = list_runs()
        assert run.err.startswith(
            f"error: run {state.run_id} did not finish (stopped: No space left on device"
        )
        assert "'imgcat undo " in run.err and "--resume" in run.err
        on_disk = {**_contents(root), **{f"dest/{p}": h for p, h in _contents(dest).items()}}
        assert Counter(on_disk.values()) == Counter(before.values())  # each file at its old or new path
        moved = [p for p in on_disk if p.startswith("dest/")]
        assert 0 < len(moved) < len(before)
        assert not list(disk.rglob(".imgcat-*")), "a half copy was left on the full disk"
        holding = {str(folder) for p in moved for folder in Path(p).relative_to("dest").parents}
        assert _folders(dest) == holding  # no folder made for the file that did not fit
        catalog = SqliteCatalog(Path(db))
        cataloged = {r.path for r in catalog.iter_under("d", "/")}
        catalog.close()
        assert cataloged == {str(root / p) for p in on_disk if not p.startswith("dest/")} | {
            str(dest / p.removeprefix("dest/")) for p in moved
        }

        subprocess.run(["mount", "-o", "remount,size=8m", str(disk)], check=True)  # room made
        resumed = imgcat(capsys, "runs", state.run_id, "--resume", *args[:2])
        assert resumed.code == 0, resumed.err
        assert not _contents(root) and Counter(_contents(dest).values()) == Counter(before.values())

        undone = imgcat(capsys, "undo", state.run_id, "--yes", *args[:2])
        assert undone.code == 0, undone.err
        assert _contents(root) == before
        assert not dest.exists() or _folders(dest) == {"."}


def test_undo_of_a_stopped_run_leaves_no_folder_it_made(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, db = _added(tmp_path, capsys, "nikon_coolpix_p6000", "canon_eos_20d")
    before = _contents(root)
    with small_disk(tmp_path / "small", "200k") as disk:
        dest = disk / "tidy"
        run = imgcat(capsys, "reorganize", str(root), "--dest", str(dest), "-p", "<year>/<month>/<day>",
                     "--apply", "--yes", "-q", "--db", db, "--device", "d")  # fmt: skip
        assert run.code == 1 and "No space left on device" in run.err
        undone = imgcat(capsys, "undo", "--yes", "--db", db)
        assert undone.code == 0, undone.err
        assert _contents(root) == before
        assert not dest.exists() or _folders(dest) == {"."}, _folders(dest)


def test_without_src_an_unplugged_root_is_left_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "c.sqlite")
    here = copy_media(tmp_path / "here", "nikon_coolpix_p6000/DSCN0010.jpg")
    away = copy_media(tmp_path / "away", "nikon_coolpix_p6000/DSCN0012.jpg")
    for root in (here, away):
        assert imgcat(capsys, "add", "-r", str(root), "--db", db, "--device", "d", "-q").code == 0
    away.rename(tmp_path / "unplugged")
    run = imgcat(capsys, "reorganize", "-p", "<year>", "--apply", "--yes", "--db", db, "--device", "d")
    assert run.code == 0, run.err
    assert f"left out: {away} is missing or empty (an unplugged disk?)" in run.err
    assert list(_contents(here)) == ["2008/DSCN0010.jpg"]
    catalog = SqliteCatalog(Path(db))
    assert catalog.get("d", str(away / "nikon_coolpix_p6000/DSCN0012.jpg")) is not None  # kept
    catalog.close()
    named = imgcat(capsys, "reorganize", str(here), str(tmp_path / "unplugged"), "-p", "<year>", "--db", db,
                   "--device", "d", "--json")  # fmt: skip
    assert named.code == 0 and '"absent_roots": []' in named.out
    away.mkdir()  # an empty mount point, named on the command line: refused
    refused = imgcat(capsys, "reorganize", str(away), "-p", "<year>", "--db", db, "--device", "d")
    assert refused.code == 1
    assert refused.err == (
        f"error: {away} is empty (nothing but system files) (an unplugged disk or offline NAS?): "
        "nothing to reorganize there; its 1 catalog entries are kept\n"
    )


def test_a_dest_that_is_a_file_is_one_error_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root, db = _added(tmp_path, capsys, "nikon_coolpix_p6000/DSCN0010.jpg")
    (tmp_path / "afile").write_text("not a folder")
    for dest in ("afile", "afile/below"):
        run = imgcat(capsys, "reorganize", str(root), "--dest", str(tmp_path / dest), "-p", "<year>", "--db",
                     db, "--device", "d")  # fmt: skip
        assert (run.code, run.err) == (
            2,
            f"error: --dest {tmp_path / dest}: {tmp_path}/afile is a file, not a folder\n",
        )


def test_the_report_counts_files_and_removed_folders_apart_and_dest_joins_the_library(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, db = _added(tmp_path, capsys, "nikon_coolpix_p6000", "canon_eos_20d")
    monkeypatch.chdir(tmp_path)
    run = imgcat(capsys, "reorganize", str(root), "--dest", "tidy", "-p", "<year>", "--prune-empty",
                 "--apply", "--yes", "--db", db, "--device", "d")  # fmt: skip
    assert run.code == 0, run.err
    [state] = list_runs()
    assert f"run {state.run_id}: 5 files moved, " in run.out
    assert "; 2 emptied folders removed\n" in run.out
    assert state.command == (
        f"imgcat reorganize {root} --pattern '<year>' --dest {tmp_path}/tidy --prune-empty --apply"
    )
    catalog = SqliteCatalog(Path(db))
    assert list(catalog.iter_locations("d")) == [str(root), str(tmp_path / "tidy")]
    catalog.close()
    again = imgcat(capsys, "reorganize", "-p", "<year>", "--db", db, "--device", "d")  # every added folder
    assert again.code == 0 and "nothing to move" in again.err and "5 files already in place" in again.err


def test_a_video_moves_with_its_thm_named_alike(tmp_path: Path) -> None:
    root = copy_media(tmp_path / "lib", "canon_video/MVI_4823.AVI")
    with Image.open(MEDIA / "nikon_coolpix_p6000" / "DSCN0010.jpg") as image:
        image.resize((160, 120)).save(root / "canon_video" / "MVI_4823.THM", "JPEG")
    catalog = SqliteCatalog(tmp_path / "c.sqlite")
    add_folder(catalog, str(root), device="d", recursive=True, workers=0)
    plan = plan_reorganize(catalog, [str(root)], parse_pattern("<year>/<date>_<name>"), device="d")
    [unit] = plan.moves
    targets = sorted(os.path.relpath(f.target, root) for f in unit.files)
    assert len(targets) == 2 and targets[0].endswith("_MVI_4823.AVI"), targets
    assert targets[1] == targets[0].removesuffix(".AVI") + ".THM"


def test_dest_inside_src_is_placed_once_then_nothing_is_left_to_do(tmp_path: Path) -> None:
    root = copy_media(tmp_path / "lib", "nikon_coolpix_p6000", "iphone_6")
    catalog = SqliteCatalog(tmp_path / "c.sqlite")
    add_folder(catalog, str(root), device="d", recursive=True, workers=0)
    before = _contents(root)
    _apply(catalog, root, NAMING, dest=root / "tidy", prune_empty=True)
    after = _contents(root)
    assert Counter(after.values()) == Counter(before.values())
    assert all(p.startswith("tidy/20") for p in after), after
    again = plan_reorganize(
        catalog, [str(root)], parse_pattern(NAMING), device="d", destination=str(root / "tidy")
    )
    assert not again.moves and not again.skipped and again.in_place == len(before)


def test_a_pattern_giving_everything_one_name_numbers_them_and_stays_put_after(tmp_path: Path) -> None:
    root = copy_media(tmp_path / "lib", "nikon_coolpix_p6000")
    catalog = SqliteCatalog(tmp_path / "c.sqlite")
    add_folder(catalog, str(root), device="d", recursive=True, workers=0)
    before = _contents(root)
    _apply(catalog, root, "<kind>/photo_<ext>")
    after = _contents(root)
    assert sorted(after) == ["image/photo_jpg.jpg", "image/photo_jpg_1.jpg", "image/photo_jpg_2.jpg",
                             "image/photo_jpg_3.jpg"]  # fmt: skip
    assert Counter(after.values()) == Counter(before.values())
    again = plan_reorganize(catalog, [str(root)], parse_pattern("<kind>/photo_<ext>"), device="d")
    assert not again.moves and again.in_place == 4


def test_a_file_gone_after_the_plan_is_reported_and_the_others_move(tmp_path: Path) -> None:
    root = copy_media(tmp_path / "lib", "nikon_coolpix_p6000")
    catalog = SqliteCatalog(tmp_path / "c.sqlite")
    add_folder(catalog, str(root), device="d", recursive=True, workers=0)
    plan = plan_reorganize(catalog, [str(root)], parse_pattern("<year>"), device="d")
    gone = root / "nikon_coolpix_p6000" / "DSCN0012.jpg"
    gone.unlink()
    result = apply_reorganize(catalog, plan, device="d")
    assert [(o.step.source, o.reason) for o in result.skipped] == [
        (str(gone), "vanished since it was planned")
    ]
    assert sorted(_contents(root)) == ["2008/DSCN0010.jpg", "2008/DSCN0025.jpg", "2008/DSCN0027.jpg"]
    assert catalog.get("d", str(gone)) is not None  # sync's business, not reorganize's


def test_odd_names_are_moved_shown_and_put_back(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "lib"
    (root / "in").mkdir(parents=True)
    odd = ["a\nb\x1b[31m.jpg", os.fsdecode(b"caf\xe9.jpg"), " CON .jpg", "x" * 240 + ".jpg"]
    sources = sorted((MEDIA / "nikon_coolpix_p6000").iterdir())
    for name, source in zip(odd, sources, strict=True):
        (root / "in" / name).write_bytes(source.read_bytes())
    db = str(tmp_path / "c.sqlite")
    assert imgcat(capsys, "add", "-r", str(root), "--db", db, "--device", "d", "-q").code == 0
    before = _contents(root)
    run = imgcat(capsys, "reorganize", "-p", "<year>/<name> <camera>", "--apply", "--yes", "--json",
                 "--db", db, "--device", "d")  # fmt: skip
    assert run.code == 0, run.err
    data = json.loads(run.out)
    raw = [m for m in data["moves"] if "from_raw" in m]
    assert len(raw) == 1 and bytes.fromhex(raw[0]["from_raw"]).endswith(b"/caf\xe9.jpg")
    after = _contents(root)
    assert Counter(after.values()) == Counter(before.values())
    names = sorted(p.removeprefix("2008/") for p in after)
    assert all(len(os.fsencode(n)) <= 255 and "\n" not in n and "\x1b" not in n for n in names), names
    catalog = SqliteCatalog(Path(db))
    assert {r.path for r in catalog.iter_under("d", str(root))} == {str(root / p) for p in after}
    catalog.close()
    undone = imgcat(capsys, "undo", data["run"]["id"], "--yes", "--db", db)
    assert undone.code == 0, undone.err
    assert _contents(root) == before


def test_a_killed_run_whose_root_is_unplugged_waits_for_it_then_resumes_and_undoes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, db = _added(tmp_path, capsys, "nikon_coolpix_p6000")
    before = _contents(root)
    argv = ["reorganize", str(root), "-p", "<year>", "--apply", "--yes", "-q", "--db", db, "--device", "d"]
    child = multiprocessing.get_context("fork").Process(target=_apply_in_child, args=(argv, 2))
    child.start()
    child.join()
    assert child.exitcode == -9  # killed after the second rename, before any was marked done
    [state] = list_runs()
    away = tmp_path / "unplugged"
    root.rename(away)
    catalog = SqliteCatalog(Path(db))
    with pytest.raises(RootMissingError, match=f"root {root} of run {state.run_id} is missing"):
        execute_run(state.run_id, catalog)
    assert [r.state for r in list_runs()] == ["interrupted"]  # not closed with its moves forgotten
    away.rename(root)  # plugged back
    finished = execute_run(state.run_id, catalog)
    assert finished.stopped is None and not finished.skipped and finished.done == 4
    assert sorted(_contents(root)) == [f"2008/DSCN00{n}.jpg" for n in ("10", "12", "25", "27")]
    assert len(list(catalog.iter_under("d", str(root / "2008")))) == 4
    undo_run(state.run_id, catalog)
    assert _contents(root) == before
    catalog.close()
