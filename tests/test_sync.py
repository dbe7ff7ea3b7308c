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
import xxhash

from clirun import imgcat
from imgcat.catalog.base import Catalog
from imgcat.catalog.sqlite import SqliteCatalog
from imgcat.operations.add import add_folder
from imgcat.operations.sync import (
    apply_sync,
    plan_from_survey,
    plan_sync,
    refusal,
    survey_root,
    sync_plan_json,
)
from imgcat.record import ExtractError, MediaRecord
from imgcat.scan import extract as extract_module
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

    monkeypatch.setattr(extract_module, "extract_file", no_reading)
    monkeypatch.setattr(sync_module, "checksum_if_readable", no_reading)
    plan = plan_sync(store, str(root), device="d", workers=0)
    assert (plan.unchanged, plan.entries, plan.not_cataloged, plan.relink) == (12, 12, 0, ())


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
    assert reason is not None and "is empty (nothing but system files)" in reason
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
        f"error: {root} is missing (an unplugged disk or offline NAS?): its 4 catalog entries "
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


def _as_a_user(*command: str) -> list[str]:
    """As root (CI), run without the capabilities that let root read anything (setpriv), so that
    permissions hold as they do for a user."""
    if os.geteuid() == 0:
        return ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", *command]
    return list(command)


def _sync_cli(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "imgcat", "sync", *args, "--db", str(db), "--device", "d"]
    return subprocess.run(_as_a_user(*command, "--workers", "0"), capture_output=True, text=True, check=False)


@pytest.mark.parametrize(
    ("mode", "warning"),
    [(0o000, "cannot list folder: Permission denied"), (0o644, "cannot enter folder: Permission denied")],
    ids=["unlistable", "listed-not-enterable"],
)
def test_an_unreadable_folder_keeps_its_entries(tmp_path: Path, mode: int, warning: str) -> None:
    root = copy_media(tmp_path / "m", "nikon_coolpix_p6000", "iphone_6")
    db = tmp_path / "c.sqlite"
    catalog = SqliteCatalog(db)
    add_folder(catalog, str(root), device="d", recursive=True, workers=0)
    catalog.close()
    (root / "iphone_6").chmod(mode)
    try:
        result = _sync_cli(db, str(root), "--json")
    finally:
        (root / "iphone_6").chmod(0o755)
    assert result.returncode == 0, result.stderr
    [plan] = json.loads(result.stdout)
    assert (plan["kept_unreadable"], plan["removed"], plan["applied"]) == (2, 0, True)
    assert sorted(plan["unreadable_paths"]) == sorted(str(p) for p in (root / "iphone_6").iterdir())
    assert result.stderr == f"warning: {root / 'iphone_6'}: {warning}\n"  # once, not once per file
    assert SqliteCatalog(db).count() == 6


def test_a_changed_file_that_cannot_be_read_keeps_its_entry(tmp_path: Path) -> None:
    root = copy_media(tmp_path / "m", "nikon_coolpix_p6000")
    db = tmp_path / "c.sqlite"
    catalog = SqliteCatalog(db)
    add_folder(catalog, str(root), device="d", recursive=True, workers=0)
    before = catalog.get("d", str(root / "nikon_coolpix_p6000/DSCN0010.jpg"))
    catalog.close()
    locked = root / "nikon_coolpix_p6000/DSCN0010.jpg"
    locked.write_bytes(locked.read_bytes() + b"\0" * 16)  # changed, then unreadable
    locked.chmod(0)
    try:
        result = _sync_cli(db, str(root), "--json")
    finally:
        locked.chmod(0o644)
    assert result.returncode == 0, result.stderr
    [plan] = json.loads(result.stdout)
    assert (plan["kept_unreadable"], plan["removed"], plan["updated"]) == (1, 0, 0)
    assert plan["unreadable_paths"] == [str(locked)]
    assert result.stderr == f"warning: {locked}: cannot read: Permission denied\n"
    assert SqliteCatalog(db).get("d", str(locked)) == before


def test_a_file_that_became_empty_or_not_media_keeps_its_entry_marked_damaged(
    store: Catalog, tmp_path: Path
) -> None:
    root = copy_media(tmp_path / "m", "nikon_coolpix_p6000", "iphone_6")
    add_folder(store, str(root), device="d", recursive=True, workers=0)
    emptied, overwritten = root / "nikon_coolpix_p6000/DSCN0010.jpg", root / "iphone_6/with-gps.mov"
    before = store.get("d", str(emptied))
    assert before is not None and before.phash is not None
    emptied.write_bytes(b"")  # a failed copy over it
    overwritten.write_text("<html>404 Not Found</html>")
    events = Recorded()
    plan = plan_sync(store, str(root), device="d", workers=0, events=events)
    assert (len(plan.removals), len(plan.damaged), len(plan.updates)) == (0, 2, 0)
    assert events.problems == {
        str(emptied): "damaged: now an empty file (was a jpeg photo); its entry is kept",
        str(
            overwritten
        ): "damaged: now something that is not a photo or video (was a mov video); its entry is kept",
    }
    apply_sync(store, plan)
    kept = store.get("d", str(emptied))
    assert kept is not None
    assert kept.errors == (ExtractError("content", "now an empty file (was a jpeg photo)"),)
    assert (kept.size, kept.checksum, kept.phash) == (0, xxhash.xxh3_128_hexdigest(b""), None)
    assert (kept.captured_at, kept.make, kept.first_seen) == (
        before.captured_at,
        before.make,
        before.first_seen,
    )
    assert store.summary().with_errors == 2
    assert {b.key: b.count for b in store.summary().by_error} == {"content": 2}
    again = plan_sync(store, str(root), device="d", workers=0)  # marked once: no warning each time
    assert (again.unchanged, again.damaged, again.removals) == (6, (), ())
    report = add_folder(store, str(root), device="d", recursive=True, workers=0)
    assert (report.unchanged, report.damaged) == (6, 0)
    shutil.copy2(MEDIA / "nikon_coolpix_p6000/DSCN0010.jpg", emptied)  # restored: read again, whole
    apply_sync(store, plan_sync(store, str(root), device="d", workers=0))
    restored = store.get("d", str(emptied))
    assert restored is not None and restored.errors == () and restored.phash == before.phash


def test_add_keeps_the_entry_of_a_file_that_became_empty(store: Catalog, tmp_path: Path) -> None:
    root = copy_media(tmp_path / "m", "nikon_coolpix_p6000")
    add_folder(store, str(root), device="d", recursive=True, workers=0)
    emptied = root / "nikon_coolpix_p6000/DSCN0010.jpg"
    emptied.write_bytes(b"")
    events = Recorded()
    report = add_folder(store, str(root), device="d", recursive=True, workers=0, events=events)
    assert (report.damaged, report.not_media) == (1, 0)
    assert events.problems == {
        str(emptied): "damaged: now an empty file (was a jpeg photo); its entry is kept"
    }
    kept = store.get("d", str(emptied))
    assert kept is not None and kept.errors[0].stage == "content" and kept.size == 0
    assert add_folder(store, str(root), device="d", recursive=True, workers=0).unchanged == 4


def test_a_root_holding_only_system_litter_is_empty_and_refused(store: Catalog, tmp_path: Path) -> None:
    root = copy_media(tmp_path / "disk", "nikon_coolpix_p6000")
    add_folder(store, str(root), device="d", recursive=True, workers=0)
    shutil.rmtree(root)
    root.mkdir()  # a recreated mount point, as the system leaves it
    (root / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (root / "Thumbs.db").write_bytes(b"\xd0\xcf")
    (root / "._DSCN0010.jpg").write_bytes(b"\0\5\26\7")
    for litter in ("@eaDir", ".Spotlight-V100", ".Trashes", "lost+found"):
        (root / litter).mkdir()
    (root / "@eaDir" / "SYNOPHOTO_THUMB_XL.jpg").write_bytes(
        (MEDIA / "nikon_coolpix_p6000/DSCN0010.jpg").read_bytes()
    )
    plan = plan_sync(store, str(root), device="d", workers=0)
    assert plan.state == "empty"
    reason = refusal(plan, threshold=0.5, prune_missing_root=False, yes=True)
    assert reason == (
        f"{root} is empty (nothing but system files) (an unplugged disk or offline NAS?): its 4 catalog "
        "entries are kept; pass --prune-missing-root to drop them"
    )
    (root / "notes.txt").write_text("a file of the user's: the root is not empty")
    assert plan_sync(store, str(root), device="d", workers=0).state == "present"


def test_files_that_are_not_media_are_not_counted_as_not_cataloged(store: Catalog, tmp_path: Path) -> None:
    root = copy_media(tmp_path / "m", "nikon_coolpix_p6000")
    add_folder(store, str(root), device="d", recursive=True, workers=0)
    (root / "notes.txt").write_text("shopping list")
    (root / "empty.jpg").write_bytes(b"")
    (root / "saved-page.jpg").write_text("<html>404 Not Found</html>")
    copy_media(root, "iphone_6")  # two media files add would catalog
    plan = plan_sync(store, str(root), device="d", workers=0)
    assert (plan.not_cataloged, plan.not_media) == (2, 3)


class Recorded:
    """ScanEvents that keep the problems, path → reason."""

    def __init__(self) -> None:
        self.problems: dict[str, str] = {}

    def planned(self, files: int, size: int) -> None:
        pass

    def advanced(self, files: int, size: int) -> None:
        pass

    def problem(self, path: str, reason: str) -> None:
        assert path not in self.problems, f"warned twice about {path}"
        self.problems[path] = reason


def test_sync_over_several_roots_applies_those_that_pass_and_names_each_refused_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = copy_media(tmp_path / "a", "nikon_coolpix_p6000")
    second = copy_media(tmp_path / "b", "iphone_6")
    third = copy_media(tmp_path / "c", "misc_png")
    db = str(tmp_path / "c.sqlite")
    for root in (first, second, third):
        imgcat(capsys, "add", str(root), "-r", "--db", db, "--device", "d", "--workers", "0", "-q")
    (first / "nikon_coolpix_p6000/DSCN0010.jpg").unlink()
    shutil.rmtree(second)  # unplugged
    shutil.rmtree(third / "misc_png")  # mostly deleted: needs --yes
    (third / "keep.txt").write_text("not empty")
    run = imgcat(capsys, "sync", "--db", db, "--device", "d", "--workers", "0")
    assert run.code == 1
    assert run.err.splitlines() == [
        f"refused: {second} is missing (an unplugged disk or offline NAS?): its 2 catalog entries are kept; "
        "pass --prune-missing-root to drop them; nothing changed under it",
        f"refused: sync would remove 2 of 2 entries under {third} (100%, more than 50%); pass --yes if those "
        "files are really gone; nothing changed under it",
        "error: 2 of 3 roots refused (named above); the other 1 synced",
    ]
    assert f"imgcat sync {first}\n" in run.out
    assert f"imgcat sync {second} (refused: nothing changed)" in run.out
    assert f"imgcat sync {third} (refused: nothing changed)" in run.out
    catalog = SqliteCatalog(Path(db))
    assert (
        catalog.count("d", str(first)),
        catalog.count("d", str(second)),
        catalog.count("d", str(third)),
    ) == (
        3,
        2,
        2,
    )
    again = imgcat(capsys, "sync", "--db", db, "--device", "d", "--workers", "0", "--json", "--yes")
    outcomes = {o["root"]: (o["applied"], o["refused"]) for o in json.loads(again.out)}
    assert outcomes[str(first)] == (True, None) and outcomes[str(third)] == (True, None)
    assert outcomes[str(second)][0] is False and "is missing" in str(outcomes[str(second)][1])
    assert again.err.splitlines()[-1] == "error: 1 of 3 roots refused (named above); the other 2 synced"


def test_the_plan_is_a_frozen_value_built_by_a_pure_function_and_printed_by_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import dataclasses

    root = copy_media(tmp_path / "m", "nikon_coolpix_p6000")
    db = tmp_path / "c.sqlite"
    catalog = SqliteCatalog(db)
    add_folder(catalog, str(root), device="d", recursive=True, workers=0)
    (root / "nikon_coolpix_p6000/DSCN0010.jpg").rename(root / "renamed.jpg")
    (root / "nikon_coolpix_p6000/DSCN0012.jpg").unlink()
    survey = survey_root(catalog, str(root), device="d", workers=0)
    plan = plan_from_survey(survey)
    assert plan == plan_from_survey(survey)  # nothing else goes in
    assert (len(plan.moves), len(plan.removals)) == (1, 1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.entries = 0  # type: ignore[misc]
    run = imgcat(capsys, "sync", str(root), "--dry-run", "--json", "--db", str(db), "--device", "d")
    expected = {**sync_plan_json(plan), "applied": False, "refused": None, "root_dropped": False}
    assert json.loads(run.out) == [expected]
    assert catalog.count() == 4


@pytest.mark.parametrize(
    ("method", "message"),
    [
        ("plain_stamps", "interrupted while planning: nothing changed"),  # a folder read from the catalog
        (
            "move_many",
            "interrupted while applying the changes under {root}: part of them are in the catalog; run the "
            "same command again to finish",
        ),
    ],
    ids=["planning", "applying"],
)
def test_sigterm_stops_sync_as_ctrl_c_does_and_a_rerun_finishes(
    tmp_path: Path, method: str, message: str
) -> None:
    root = copy_media(tmp_path / "m", "nikon_coolpix_p6000")
    db = tmp_path / "c.sqlite"
    catalog = SqliteCatalog(db)
    add_folder(catalog, str(root), device="d", recursive=True, workers=0)
    catalog.close()
    (root / "nikon_coolpix_p6000/DSCN0010.jpg").rename(root / "renamed.jpg")
    (root / "nikon_coolpix_p6000/DSCN0012.jpg").unlink()
    args = ["sync", str(root), "--db", str(db), "--device", "d", "--workers", "0", "-q"]
    driver = [sys.executable, str(Path(__file__).parent / "interrupt_after.py"), "SIGTERM", method, "1"]
    stopped = subprocess.run([*driver, *args], capture_output=True, text=True, check=False)
    assert (stopped.returncode, stopped.stderr) == (143, message.format(root=root) + "\n")
    assert SqliteCatalog(db).get("d", str(root / "nikon_coolpix_p6000/DSCN0012.jpg")) is not None  # not yet
    again = subprocess.run(
        [sys.executable, "-m", "imgcat", *args], capture_output=True, text=True, check=False
    )
    assert (again.returncode, again.stderr) == (0, "")
    synced = SqliteCatalog(db)
    assert sorted(os.path.basename(r.path) for r in synced.iter_under("d", str(root))) == [
        "DSCN0025.jpg", "DSCN0027.jpg", "renamed.jpg"
    ]  # fmt: skip


def test_a_folder_gone_whole_loses_its_entries_even_named_by_bytes(tmp_path: Path) -> None:
    root = tmp_path / "m"
    gone, lookalike = root / os.fsdecode(b"d_\xff"), root / "d_\\xff"
    copy_media(gone, "misc_png")
    copy_media(lookalike, "misc_png")
    catalog = SqliteCatalog(tmp_path / "c.sqlite")
    add_folder(catalog, str(root), device="d", recursive=True, workers=0)
    cataloged = catalog.count("d", str(gone))
    shutil.rmtree(gone)
    plan = plan_sync(catalog, str(root), device="d", workers=0)
    assert cataloged > 0 and len(plan.removals) == cataloged
    assert all(os.fsencode(s.path).startswith(os.fsencode(gone) + b"/") for s in plan.removals)
    assert plan.unchanged == catalog.count("d", str(lookalike))


def test_a_root_gone_with_nothing_cataloged_under_it_is_dropped_with_one_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A renamed folder that `add` followed, or an unplugged disk whose entries were pruned: bare
    `sync` forgets the old root (one note) instead of refusing it for ever."""
    db = str(tmp_path / "c.sqlite")
    args = ["--db", db, "--device", "d", "--workers", "0"]
    laptop = copy_media(tmp_path / "laptop", "nikon_coolpix_p6000/DSCN0010.jpg")
    usb = copy_media(tmp_path / "usb", "iphone_6")
    for root in (laptop, usb):
        assert imgcat(capsys, "add", "-r", str(root), "-q", *args).code == 0
    laptop.rename(tmp_path / "laptop2")
    assert imgcat(capsys, "add", "-r", str(tmp_path / "laptop2"), "-q", *args).code == 0  # follows the move

    dry = imgcat(capsys, "sync", "--dry-run", *args)
    assert dry.code == 0
    assert dry.err == (
        f"{laptop} is missing and nothing is cataloged under it: would be dropped from the folders of "
        "device d ('imgcat add' brings it back)\n"
    )
    synced = imgcat(capsys, "sync", *args)
    assert synced.code == 0, synced.err
    assert synced.err == dry.err.replace("would be dropped", "dropped")
    catalog = SqliteCatalog(Path(db))
    assert list(catalog.iter_locations("d")) == [str(tmp_path / "laptop2"), str(usb)]
    catalog.close()
    again = imgcat(capsys, "sync", *args)
    assert (again.code, again.err) == (0, "")

    usb.rename(tmp_path / "unplugged")  # entries kept, refused, until the user prunes them
    refused = imgcat(capsys, "sync", *args)
    assert refused.code == 1 and "--prune-missing-root" in refused.err
    pruned = imgcat(capsys, "sync", "--prune-missing-root", *args)
    assert pruned.code == 0, pruned.err
    assert pruned.err == f"{usb} is missing: dropped from the folders of device d with its entries\n"
    after = imgcat(capsys, "sync", "--json", *args)
    assert after.code == 0 and [o["root"] for o in json.loads(after.out)] == [str(tmp_path / "laptop2")]
    named = imgcat(capsys, "sync", str(tmp_path / "typo"), *args)  # never added: still an error
    assert named.code == 1 and "nothing is cataloged under it" in named.err
