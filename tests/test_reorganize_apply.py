"""`imgcat reorganize --apply`: files moved with their companions through the journal, the catalog
following, undo putting every byte back, and a kill -9 at any step losing nothing."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from clirun import imgcat
from imgcat.actions.execute import FAULT_ENV
from imgcat.actions.journal import list_runs
from imgcat.actions.undo import undo_run
from imgcat.catalog.base import Catalog
from imgcat.catalog.sqlite import SqliteCatalog
from imgcat.cli.app import main
from imgcat.layout import parse_pattern
from imgcat.operations.add import add_folder
from imgcat.operations.relink import relink_folder
from imgcat.operations.reorganize import OnDuplicate, apply_reorganize, plan_reorganize
from imgcat.record import Companion
from media import MEDIA, copy_media
from test_reorganize import _jpeg_taken_at, _live_and_twins

NAMING = "<year>/<month>/<date>_<hour><minute><second>_<name>"


def _contents(root: Path) -> dict[str, str]:
    """Every file under `root` (imgcat's trash and journal excluded): relative path → sha256."""
    found: dict[str, str] = {}
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d != ".imgcat-trash"]
        for name in names:
            path = Path(folder) / name
            found[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def _folders(root: Path) -> set[str]:
    return {str(Path(f).relative_to(root)) for f, _, _ in os.walk(root)}


def _apply(
    catalog: Catalog,
    root: Path,
    pattern: str = "<year>/<month>",
    *,
    dest: Path | None = None,
    copy: bool = False,
    prune_empty: bool = False,
    on_duplicate: OnDuplicate = "skip",
) -> str:
    plan = plan_reorganize(
        catalog, [str(root)], parse_pattern(pattern), device="d", copy=copy, prune_empty=prune_empty,
        destination=None if dest is None else str(dest), on_duplicate=on_duplicate,
    )  # fmt: skip
    result = apply_reorganize(catalog, plan, device="d")
    assert not result.failed and not result.skipped and result.stopped is None, result
    return result.run_id


def _library(root: Path) -> Path:
    """Real photos and videos, a Live Photo with sidecars, a RAW+JPEG pair with a Takeout JSON."""
    copy_media(root, "nikon_coolpix_p6000", "iphone_6", "canon_eos_20d", "messenger")
    _live_and_twins(root / "DCIM")
    return root


def test_apply_moves_every_unit_the_catalog_follows_and_undo_puts_every_byte_back(
    store: Catalog, tmp_path: Path
) -> None:
    root = _library(tmp_path / "lib")
    add_folder(store, str(root), device="d", recursive=True, workers=0)
    before = _contents(root)
    cataloged_before = sorted(r.path for r in store.iter_under("d", str(root)))
    folders_before = _folders(root)

    run_id = _apply(store, root, NAMING, prune_empty=True)

    after = _contents(root)
    assert Counter(after.values()) == Counter(before.values())  # nothing lost, nothing doubled
    assert set(after).isdisjoint(before)  # every file moved (none was in place)
    paths = {r.path for r in store.iter_under("d", str(root))}
    assert paths == {str(root / p) for p in after if not p.endswith((".AAE", ".xmp", ".json"))}
    heic = store.get("d", str(root / "2020/05/2020-05-04_183911_IMG_2927.HEIC"))
    assert heic is not None
    assert set(heic.companions) == {
        Companion("live_video", str(root / "2020/05/2020-05-04_183911_IMG_2927.MOV")),
        Companion("sidecar", str(root / "2020/05/2020-05-04_183911_IMG_2927.AAE")),
        Companion("sidecar", str(root / "2020/05/2020-05-04_183911_IMG_2927.HEIC.xmp")),
    }
    assert not (root / "DCIM").exists() and not (root / "iphone_6").exists()  # pruned

    undone = undo_run(run_id, store)
    assert not undone.skipped
    assert _contents(root) == before  # every original path, byte for byte
    assert _folders(root) == folders_before  # emptied folders back, made folders gone
    assert sorted(r.path for r in store.iter_under("d", str(root))) == cataloged_before


def test_a_second_apply_finds_everything_in_place(tmp_path: Path) -> None:
    root = _library(tmp_path / "lib")
    catalog = SqliteCatalog(tmp_path / "c.sqlite")
    add_folder(catalog, str(root), device="d", recursive=True, workers=0)
    _apply(catalog, root, NAMING)
    again = plan_reorganize(catalog, [str(root)], parse_pattern(NAMING), device="d")
    assert not again.moves and not again.skipped and again.refreshed == 0
    assert again.in_place == len(_contents(root))


def test_apply_across_filesystems_copies_verifies_and_removes(tmp_path: Path) -> None:
    other = Path("/dev/shm")
    if not other.is_dir() or os.stat(other).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("no second filesystem (/dev/shm) here")
    root = _library(tmp_path / "lib")
    catalog = SqliteCatalog(tmp_path / "c.sqlite")
    add_folder(catalog, str(root), device="d", recursive=True, workers=0)
    before = _contents(root)
    dest = other / f"imgcat-test-{os.getpid()}-{tmp_path.name}"
    try:
        run_id = _apply(catalog, root, dest=dest)
        assert Counter(_contents(dest).values()) == Counter(before.values())
        assert not _contents(root)
        assert {r.path for r in catalog.iter_under("d", str(dest))} == {
            str(dest / p) for p in _contents(dest) if not p.endswith((".AAE", ".xmp", ".json"))
        }
        undo_run(run_id, catalog)
        assert _contents(root) == before
        assert not dest.exists() or not _contents(dest)
    finally:
        shutil.rmtree(dest, ignore_errors=True)


def test_copy_leaves_the_sources_and_catalogs_the_copies(tmp_path: Path) -> None:
    root = copy_media(tmp_path / "lib", "nikon_coolpix_p6000")
    catalog = SqliteCatalog(tmp_path / "c.sqlite")
    add_folder(catalog, str(root), device="d", recursive=True, workers=0)
    before = _contents(root)
    run_id = _apply(catalog, root, dest=tmp_path / "tidy", copy=True)
    assert _contents(root) == before
    assert sorted(_contents(tmp_path / "tidy")) == [
        f"2008/10/DSCN00{n}.jpg" for n in ("10", "12", "25", "27")
    ]
    assert catalog.count("d") == 8
    undo_run(run_id, catalog)
    assert not (tmp_path / "tidy").exists() and catalog.count("d") == 4


def test_on_duplicate_trash_trashes_the_source_and_undo_brings_it_back(
    store: Catalog, tmp_path: Path
) -> None:
    root = copy_media(tmp_path / "lib", "nikon_coolpix_p6000/DSCN0010.jpg")
    (root / "2008/10").mkdir(parents=True)
    shutil.copy(root / "nikon_coolpix_p6000/DSCN0010.jpg", root / "2008/10/DSCN0010.jpg")
    add_folder(store, str(root), device="d", recursive=True, workers=0)
    before = _contents(root)
    run_id = _apply(store, root, on_duplicate="trash")
    assert list(_contents(root)) == ["2008/10/DSCN0010.jpg"]
    assert store.get("d", str(root / "nikon_coolpix_p6000/DSCN0010.jpg")) is None
    undo_run(run_id, store)
    assert _contents(root) == before
    assert store.get("d", str(root / "nikon_coolpix_p6000/DSCN0010.jpg")) is not None


def test_a_changed_file_is_left_alone_with_its_unit(tmp_path: Path) -> None:
    root = tmp_path / "lib"
    _live_and_twins(root / "DCIM")
    catalog = SqliteCatalog(tmp_path / "c.sqlite")
    add_folder(catalog, str(root), device="d", recursive=True, workers=0)
    plan = plan_reorganize(catalog, [str(root)], parse_pattern("<year>"), device="d")
    with open(root / "DCIM/IMG_2927.AAE", "a") as sidecar:  # edited after the plan was made
        sidecar.write("<!-- changed -->")
    result = apply_reorganize(catalog, plan, device="d")
    assert sorted(os.path.basename(o.step.source) for o in result.skipped) == [
        "IMG_2927.AAE", "IMG_2927.HEIC", "IMG_2927.HEIC.xmp", "IMG_2927.MOV",
    ]  # fmt: skip
    assert sorted(p.name for p in (root / "DCIM").iterdir()) == [
        "IMG_2927.AAE", "IMG_2927.HEIC", "IMG_2927.HEIC.xmp", "IMG_2927.MOV",
    ]  # fmt: skip
    assert (root / "2004/DSC_0001.NEF").exists()


def _small_library(root: Path, files: int) -> None:
    """`files` small JPEGs from a real photo (its EXIF kept, dates spread), two with sidecars."""
    source = MEDIA / "nikon_coolpix_p6000" / "DSCN0010.jpg"
    with Image.open(source) as image:
        image.thumbnail((160, 160))
        small = root / "small.jpg"
        root.mkdir(parents=True)
        image.save(small, exif=image.info["exif"])
    for i in range(files):
        _jpeg_taken_at(
            root / f"in{i % 3}" / f"IMG_{i:04d}.JPG", f"20{10 + i % 4}:0{1 + i % 9}:11 10:00:{i:02d}"
        )
    (root / "in0/IMG_0000.xmp").write_text("<x:xmpmeta/>")
    (root / "in1/IMG_0001.JPG.json").write_text("{}")
    small.unlink()


def _apply_in_child(argv: list[str], kill_after: int | None) -> None:
    if kill_after is not None:
        os.environ[FAULT_ENV] = str(kill_after)
    os._exit(main(argv))


@pytest.fixture
def fast_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A scratch folder in memory (/dev/shm) where there is one: a kill -9 test needs no durable
    fsync (the process dies, the machine does not), and the run fsyncs at every step. The journal
    goes there too."""
    shm = Path("/dev/shm")
    if not shm.is_dir() or not os.access(shm, os.W_OK):
        yield tmp_path
        return
    scratch = Path(tempfile.mkdtemp(prefix="imgcat-test-", dir=shm))
    monkeypatch.setenv("XDG_DATA_HOME", str(scratch / "xdg-data"))
    try:
        yield scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def test_kill_9_after_any_step_loses_nothing_and_resume_or_undo_completes(
    fast_disk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    imgcat(capsys, "reorganize", "--help")  # the forked runs below start with the CLI loaded
    tmp_path = fast_disk
    master = tmp_path / "master"
    _small_library(master, 20)
    db_master = tmp_path / "master.sqlite"
    catalog = SqliteCatalog(db_master)
    root = tmp_path / "lib"
    shutil.copytree(master, root)
    add_folder(catalog, str(root), device="d", recursive=True, workers=0)
    catalog.close()
    shutil.rmtree(root)
    before = _contents(master)
    steps = 22 + 3  # 20 photos, 2 sidecars, 3 emptied folders
    context = multiprocessing.get_context("fork")
    for k in range(1, steps + 2):
        shutil.copytree(master, root, copy_function=shutil.copy2)
        db = tmp_path / "c.sqlite"
        shutil.copy(db_master, db)
        argv = ["reorganize", str(root), "-p", NAMING, "--prune-empty", "--apply", "--yes", "-q",
                "--db", str(db), "--device", "d"]  # fmt: skip
        child = context.Process(target=_apply_in_child, args=(argv, k))
        child.start()
        child.join()
        if k == steps + 1:  # past the last step: the run is complete
            assert child.exitcode == 0
            break
        assert child.exitcode == -9, f"step {k}: the fault hook did not fire"
        assert Counter(_contents(root).values()) == Counter(before.values()), f"after a kill at step {k}"
        [interrupted] = [r for r in list_runs() if r.state == "interrupted"]
        if k % 2:
            finish = context.Process(target=_apply_in_child, args=(argv, None))
            finish.start()
            finish.join()
            assert finish.exitcode == 0
            assert Counter(_contents(root).values()) == Counter(before.values())
            placed = _contents(root)
            assert all(p.startswith("201") and p.count("/") == 2 for p in placed), (k, placed)
            catalog = SqliteCatalog(db)
            paths = {r.path for r in catalog.iter_under("d", str(root))}
            catalog.close()
            assert paths == {str(root / p) for p in placed if p.endswith(".JPG")}, k
        else:
            catalog = SqliteCatalog(db)
            undone = undo_run(interrupted.run_id, catalog)
            catalog.close()
            assert not undone.skipped, (k, undone.skipped)
            assert _contents(root) == before, f"undo after a kill at step {k}"
        shutil.rmtree(root)
        for run in list_runs():
            run.path.unlink()


def test_cli_apply_needs_a_yes_without_a_terminal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = copy_media(tmp_path / "lib", "nikon_coolpix_p6000/DSCN0010.jpg")
    db = str(tmp_path / "c.sqlite")
    imgcat(capsys, "add", "-r", str(root), "--db", db, "--device", "d", "-q")
    refused = imgcat(capsys, "reorganize", str(root), "-p", "<year>", "--apply", "--db", db, "--device", "d")
    assert refused.code == 1
    assert refused.err == (
        "error: reorganize --apply asks before it changes files: no terminal to ask on, pass --yes; "
        "nothing changed\n"
    )
    assert (root / "nikon_coolpix_p6000/DSCN0010.jpg").exists()
    done = imgcat(capsys, "reorganize", str(root), "-p", "<year>", "--apply", "--yes", "--json", "--db", db,
                  "--device", "d")  # fmt: skip
    assert done.code == 0, done.err
    assert (root / "2008/DSCN0010.jpg").exists()
    assert '"applied": true' in done.out


def test_renamed_units_stay_linked_when_their_folder_is_linked_again(tmp_path: Path) -> None:
    root = tmp_path / "lib"
    _live_and_twins(root / "DCIM")
    _jpeg_taken_at(root / "DCIM/IMG_E2927.JPG", "2020:05:04 18:39:11")  # Apple's edited version
    catalog = SqliteCatalog(tmp_path / "c.sqlite")
    add_folder(catalog, str(root), device="d", recursive=True, workers=0)
    original = catalog.get("d", str(root / "DCIM/IMG_2927.HEIC"))
    assert (
        original is not None and Companion("edited", str(root / "DCIM/IMG_E2927.JPG")) in original.companions
    )
    _apply(catalog, root, "<year>/<date> <camera>_<name>")
    placed = sorted(_contents(root))
    assert placed == [
        "2004/2004-06-09 NIKON COOLPIX P6000_DSC_0001.JPG",
        "2004/2004-06-09 NIKON COOLPIX P6000_DSC_0001.JPG.supplemental-metadata.json",
        "2004/2004-06-09 NIKON COOLPIX P6000_DSC_0001.NEF",
        "2020/2020-05-04 Apple iPhone 11 Pro_IMG_2927-edited.JPG",
        "2020/2020-05-04 Apple iPhone 11 Pro_IMG_2927.AAE",
        "2020/2020-05-04 Apple iPhone 11 Pro_IMG_2927.HEIC",
        "2020/2020-05-04 Apple iPhone 11 Pro_IMG_2927.HEIC.xmp",
        "2020/2020-05-04 Apple iPhone 11 Pro_IMG_2927.MOV",
    ]
    moved = {r.path: set(r.companions) for r in catalog.iter_under("d", str(root))}
    assert all(moved.values())  # every file kept its links
    for folder in ("2004", "2020"):
        sidecars = [
            str(root / p) for p in placed if p.startswith(folder) and p.endswith((".AAE", ".xmp", ".json"))
        ]
        relink_folder(catalog, "d", str(root / folder), sidecars)
    assert {r.path: set(r.companions) for r in catalog.iter_under("d", str(root))} == moved


def test_exif_make_and_model_that_climb_out_are_moved_inside_dest(tmp_path: Path) -> None:
    area = tmp_path / "area"
    root = area / "lib"
    _jpeg_taken_at(root / "x/IMG_1.JPG", "2019:07:04 10:00:00", make=b"../../..", model=b"../../../../tmp/x")
    _jpeg_taken_at(root / "x/IMG_2.JPG", "2019:07:04 10:00:01", make=b"..", model=b"/etc/cron.d")
    catalog = SqliteCatalog(tmp_path / "c.sqlite")
    add_folder(catalog, str(root), device="d", recursive=True, workers=0)
    before = _contents(area)
    dest = area / "deep" / "dest"
    _apply(catalog, root, "<make>/<model>/<camera>_<name>", dest=dest)
    after = _contents(area)
    assert Counter(after.values()) == Counter(before.values())
    moved = sorted(p for p in after if p not in before)
    assert len(moved) == 2 and all(p.startswith("deep/dest/") for p in moved), moved


def test_a_move_that_fails_leaves_the_file_where_it_was(tmp_path: Path) -> None:
    root = copy_media(tmp_path / "lib", "nikon_coolpix_p6000", "iphone_6/Apple iPhone 6.jpg")
    catalog = SqliteCatalog(tmp_path / "c.sqlite")
    add_folder(catalog, str(root), device="d", recursive=True, workers=0)
    before = _contents(root)
    plan = plan_reorganize(catalog, [str(root)], parse_pattern("<year>/<month>"), device="d")
    (root / "2008").write_text("a file where a folder was planned")  # the disk changed after the plan
    result = apply_reorganize(catalog, plan, device="d")
    assert len(result.failed) == 4 and result.done == 1
    after = _contents(root)
    assert Counter(after.values()) == Counter(before.values()) + Counter([after["2008"]])
    assert all(p in after for p in before if p.startswith("nikon"))
    assert catalog.get("d", str(root / "nikon_coolpix_p6000/DSCN0010.jpg")) is not None


def test_cli_apply_then_undo_puts_everything_back(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _library(tmp_path / "lib")
    db = str(tmp_path / "c.sqlite")
    imgcat(capsys, "add", "-r", str(root), "--db", db, "--device", "d", "-q")
    before = _contents(root)
    done = imgcat(capsys, "reorganize", "-p", NAMING, "--prune-empty", "--apply", "--yes", "--db", db,
                  "--device", "d")  # fmt: skip
    assert done.code == 0, done.err
    run_id = done.out.split("undo: imgcat undo ", 1)[1].split()[0]
    assert set(_contents(root)).isdisjoint(before)
    undone = imgcat(capsys, "undo", run_id, "--yes", "--db", db)
    assert undone.code == 0, undone.err
    assert _contents(root) == before
