"""`imgcat sync`: the catalog follows the disk, and an unplugged disk is not an empty one."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from clirun import imgcat
from imgcat.catalog.base import Catalog
from imgcat.catalog.sqlite import SqliteCatalog
from imgcat.operations.add import add_folder
from imgcat.operations.sync import apply_sync, plan_sync, refusal
from imgcat.record import MediaRecord
from media import MEDIA, copy_media

FOLDERS = ("nikon_coolpix_p6000", "iphone_6", "misc_png", "sony_cybershot", "canon_powershot_sx60hs")


def _comparable(records: Iterator[MediaRecord]) -> list[tuple[object, ...]]:
    return sorted(
        (r.path, r.checksum, r.size, r.mtime_ns, r.inode, r.kind, r.format, r.captured_at, r.make,
         r.width, r.height, r.phash, r.sharpness, r.companions)
        for r in records
    )  # fmt: skip


def _sync(catalog: Catalog, root: Path) -> None:
    plan = plan_sync(catalog, str(root), device="d", workers=0)
    assert refusal(plan, threshold=0.5, prune_missing_root=False, yes=False) is None
    apply_sync(catalog, plan)


def test_after_sync_the_catalog_equals_a_fresh_add(store: Catalog, tmp_path: Path) -> None:
    root = copy_media(tmp_path / "m", *FOLDERS)
    add_folder(store, str(root), device="d", recursive=True, workers=0)
    history = store.get("d", str(root / "sony_cybershot/Sony Cybershot (3).jpg"))
    assert history is not None
    nikon = root / "nikon_coolpix_p6000"
    (nikon / "DSCN0025.jpg").unlink()  # deleted
    same_size = nikon / "DSCN0012.jpg"  # same size, new mtime
    os.utime(same_size, ns=(same_size.stat().st_atime_ns, same_size.stat().st_mtime_ns + 10**9))
    grown = nikon / "DSCN0027.jpg"  # new size
    grown.write_bytes(grown.read_bytes() + b"\0" * 64)
    (nikon / "DSCN0010.jpg").rename(nikon / "walk-start.jpg")  # renamed within the folder
    (root / "sorted").mkdir()
    (root / "sony_cybershot/Sony Cybershot (3).jpg").rename(root / "sorted/portrait.jpg")  # moved
    replaced = root / "misc_png/sampleWithExifData.png"  # other content under the same name
    shutil.copyfile(MEDIA / "misc_png/Issue 356 (dotnet).png", replaced)

    plan = plan_sync(store, str(root), device="d", workers=0)
    assert (len(plan.removals), len(plan.moves), len(plan.updates), plan.not_cataloged) == (1, 2, 3, 0)
    apply_sync(store, plan)

    fresh = SqliteCatalog(tmp_path / "fresh.sqlite")
    add_folder(fresh, str(root), device="d", recursive=True, workers=0)
    assert _comparable(store.iter_under("d", str(root))) == _comparable(fresh.iter_under("d", str(root)))
    moved = store.get("d", str(root / "sorted/portrait.jpg"))
    assert moved is not None and moved.first_seen == history.first_seen


def test_sync_of_an_unchanged_tree_reads_no_file(
    store: Catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = copy_media(tmp_path / "m", *FOLDERS)
    (root / "nikon_coolpix_p6000/DSCN0010.xmp").write_text("<x:xmpmeta/>")
    (root / "nikon_coolpix_p6000/album.json").write_text("{}")  # named after no photo
    add_folder(store, str(root), device="d", recursive=True, workers=0)
    from imgcat.operations import sync as sync_module

    def no_reading(*args: object, **kwargs: object) -> object:
        raise AssertionError("a file was read")

    monkeypatch.setattr(sync_module, "extract_file", no_reading)
    monkeypatch.setattr(sync_module, "_checksum", no_reading)
    plan = plan_sync(store, str(root), device="d", workers=0)
    assert (plan.unchanged, plan.entries, plan.not_cataloged, plan.relink) == (12, 12, 0, {})


def test_sync_links_companions_as_a_fresh_add_would(store: Catalog, tmp_path: Path) -> None:
    folder, sorted_folder = tmp_path / "m" / "DCIM", tmp_path / "m" / "sorted"
    folder.mkdir(parents=True)
    sorted_folder.mkdir()
    shutil.copy(MEDIA / "iphone_11_pro/IMG_2927.HEIC", folder / "IMG_2927.HEIC")
    shutil.copy(MEDIA / "iphone_6/with-gps.mov", folder / "IMG_2927.MOV")
    shutil.copy(MEDIA / "raw_exiftool/Nikon.nef", folder / "DSC_0001.NEF")
    (folder / "DSC_0001.xmp").write_text("<x:xmpmeta/>")
    shutil.copy(MEDIA / "nikon_coolpix_p6000/DSCN0010.jpg", folder / "DSCN0010.jpg")
    add_folder(store, str(tmp_path / "m"), device="d", recursive=True, workers=0)

    (folder / "IMG_2927.MOV").unlink()  # the Live Photo's video is deleted
    (folder / "DSCN0010.xmp").write_text("<x:xmpmeta/>")  # a sidecar appears beside an unchanged photo
    (folder / "DSC_0001.NEF").rename(sorted_folder / "DSC_0001.NEF")  # moved, away from its sidecar...
    (sorted_folder / "DSC_0001.NEF.xmp").write_text("<x:xmpmeta/>")  # ...to one made for it there
    _sync(store, tmp_path / "m")

    fresh = SqliteCatalog(tmp_path / "fresh.sqlite")
    add_folder(fresh, str(tmp_path / "m"), device="d", recursive=True, workers=0)
    assert _comparable(store.iter_under("d", str(tmp_path))) == _comparable(
        fresh.iter_under("d", str(tmp_path))
    )
    photo = store.get("d", str(folder / "DSCN0010.jpg"))
    assert photo is not None and [c.path for c in photo.companions] == [str(folder / "DSCN0010.xmp")]


def test_new_files_are_counted_not_added(store: Catalog, tmp_path: Path) -> None:
    root = copy_media(tmp_path / "m", "nikon_coolpix_p6000")
    add_folder(store, str(root), device="d", recursive=True, workers=0)
    copy_media(root, "iphone_6")
    plan = plan_sync(store, str(root), device="d", workers=0)
    apply_sync(store, plan)
    assert plan.not_cataloged == 2
    assert store.count(device="d") == 4


def test_entries_of_other_devices_are_never_touched(store: Catalog, tmp_path: Path) -> None:
    root = copy_media(tmp_path / "m", "nikon_coolpix_p6000")
    add_folder(store, str(root), device="d", recursive=True, workers=0)
    add_folder(store, str(root), device="usb", recursive=True, workers=0)
    shutil.rmtree(root / "nikon_coolpix_p6000")
    (root / "keep.txt").write_text("the root is not empty")
    plan = plan_sync(store, str(root), device="d", workers=0)
    apply_sync(store, plan)
    assert len(plan.removals) == 4
    assert (store.count(device="d"), store.count(device="usb")) == (0, 4)


def test_a_missing_root_is_refused_unless_pruning_is_asked(store: Catalog, tmp_path: Path) -> None:
    root = copy_media(tmp_path / "disk", "nikon_coolpix_p6000")
    add_folder(store, str(root), device="d", recursive=True, workers=0)
    shutil.rmtree(root)
    root.mkdir()  # an empty mount point, as after unplugging
    plan = plan_sync(store, str(root), device="d", workers=0)
    assert plan.missing_root
    reason = refusal(plan, threshold=0.5, prune_missing_root=False, yes=True)
    assert reason is not None and "missing or empty" in reason
    assert store.count(device="d") == 4
    assert refusal(plan, threshold=0.5, prune_missing_root=True, yes=False) is None
    apply_sync(store, plan)
    assert store.count(device="d") == 0


def test_removing_most_of_a_root_needs_yes(store: Catalog, tmp_path: Path) -> None:
    root = copy_media(tmp_path / "m", "nikon_coolpix_p6000", "iphone_6")
    add_folder(store, str(root), device="d", recursive=True, workers=0)
    shutil.rmtree(root / "nikon_coolpix_p6000")
    plan = plan_sync(store, str(root), device="d", workers=0)
    reason = refusal(plan, threshold=0.5, prune_missing_root=False, yes=False)
    assert reason is not None and "remove 4 of 6 entries" in reason and "67%" in reason
    assert refusal(plan, threshold=0.7, prune_missing_root=False, yes=False) is None
    assert refusal(plan, threshold=0.5, prune_missing_root=False, yes=True) is None


def test_cli_refuses_a_missing_root_and_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = copy_media(tmp_path / "disk", "nikon_coolpix_p6000")
    db = str(tmp_path / "c.sqlite")
    imgcat(capsys, "add", str(root), "-r", "--db", db, "--device", "d", "--workers", "0", "-q")
    shutil.rmtree(root)
    run = imgcat(capsys, "sync", "--db", db, "--device", "d")  # every location of the device
    assert run.code == 1
    assert run.err == (
        f"error: {root} is missing or empty (an unplugged disk or offline NAS?): its 4 catalog entries "
        "are kept; pass --prune-missing-root to drop them; nothing changed\n"
    )
    assert SqliteCatalog(Path(db)).count() == 4
    pruned = imgcat(capsys, "sync", str(root), "--prune-missing-root", "--db", db, "--device", "d", "--json")
    assert pruned.code == 0
    assert json.loads(pruned.out)[0]["removed"] == 4
    assert SqliteCatalog(Path(db)).count() == 0


def test_cli_mostly_deleted_root_fails_safe_without_a_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = copy_media(tmp_path / "m", "nikon_coolpix_p6000", "iphone_6")
    db = str(tmp_path / "c.sqlite")
    imgcat(capsys, "add", str(root), "-r", "--db", db, "--device", "d", "--workers", "0", "-q")
    shutil.rmtree(root / "nikon_coolpix_p6000")
    run = imgcat(capsys, "sync", str(root), "-q", "--db", db, "--device", "d")
    assert run.code == 1 and "pass --yes" in run.err
    assert SqliteCatalog(Path(db)).count() == 6
    done = imgcat(capsys, "sync", str(root), "-q", "--yes", "--db", db, "--device", "d")
    assert (done.code, done.out) == (0, "")
    assert SqliteCatalog(Path(db)).count() == 2


def test_dry_run_lists_the_plan_and_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = copy_media(tmp_path / "m", "nikon_coolpix_p6000")
    db = str(tmp_path / "c.sqlite")
    imgcat(capsys, "add", str(root), "-r", "--db", db, "--device", "d", "--workers", "0", "-q")
    (root / "nikon_coolpix_p6000/DSCN0010.jpg").unlink()
    run = imgcat(capsys, "sync", str(root), "--dry-run", "--db", db, "--device", "d")
    assert run.code == 0
    assert "dry run: nothing changed" in run.out
    assert f"would remove: {root}/nikon_coolpix_p6000/DSCN0010.jpg" in run.out
    assert SqliteCatalog(Path(db)).count() == 4


def test_an_unreadable_folder_keeps_its_entries(tmp_path: Path) -> None:
    """Really unreadable: as root (CI), the sync runs without the capabilities that let root read
    anything (setpriv), so chmod 000 holds as it does for a user."""
    root = copy_media(tmp_path / "m", "nikon_coolpix_p6000", "iphone_6")
    db = tmp_path / "c.sqlite"
    catalog = SqliteCatalog(db)
    add_folder(catalog, str(root), device="d", recursive=True, workers=0)
    catalog.close()
    script = (
        "import json, sys; from pathlib import Path;"
        "from imgcat.catalog.sqlite import SqliteCatalog;"
        "from imgcat.operations.sync import plan_sync, apply_sync;"
        "c = SqliteCatalog(Path(sys.argv[1])); p = plan_sync(c, sys.argv[2], device='d', workers=0);"
        "apply_sync(c, p); print(json.dumps([p.kept_unreadable, len(p.removals), p.problems]))"
    )
    command = [sys.executable, "-c", script, str(db), str(root)]
    if os.geteuid() == 0:
        command = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", *command]
    (root / "iphone_6").chmod(0)
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False)
    finally:
        (root / "iphone_6").chmod(0o755)
    assert result.returncode == 0, result.stderr
    kept, removed, problems = json.loads(result.stdout)
    assert (kept, removed) == (2, 0)
    assert problems == [[str(root / "iphone_6"), "cannot list folder: Permission denied"]]
    assert SqliteCatalog(db).count() == 6
