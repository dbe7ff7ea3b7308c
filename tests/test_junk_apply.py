"""Acting on junk: through the actions layer, checked on disk, journaled, undone."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image, ImageFilter

from chromium import needs_chromium, open_page
from clirun import imgcat
from imgcat.actions import start_run, undo_run
from imgcat.catalog.base import Catalog
from imgcat.catalog.sqlite import SqliteCatalog
from imgcat.operations.add import add_folder
from imgcat.operations.junk import JunkRequest, apply_junk, find_junk, junk_steps
from imgcat.policy.junk import PRESETS
from media import copy_media

JUNK = (
    "sony_dsc_p12/Sony DSC-P12.jpg",
    "odd_exif/Issue 508.jpg",
    "canon_powershot_s330/Canon PowerShot S330.jpg",
)
GOOD = "nikon_coolpix_p6000/DSCN0010.jpg"


def _digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file()
    }


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    root = copy_media(tmp_path / "photos", *JUNK, GOOD)
    (root / "sony_dsc_p12" / "Sony DSC-P12.xmp").write_text("<x:xmpmeta/>")  # a sidecar of the black frame
    return root


def test_trash_sets_the_junk_aside_and_undo_puts_every_byte_back(store: Catalog, tree: Path) -> None:
    before = _digests(tree)
    add_folder(store, str(tree), device="laptop", recursive=True, workers=0)
    report = find_junk(store, JunkRequest(PRESETS["default"], device="laptop", prefix=str(tree)))
    assert len(report.candidates) == 3
    result = apply_junk(
        store, report, action="trash", to=None, devices=frozenset({"laptop"}), command="imgcat junk --apply",
        confirm=lambda run: run.steps == 4,  # three pictures and the sidecar
    )  # fmt: skip
    assert result is not None and result.done == 4 and not result.skipped
    assert sorted(_digests(tree)) == [GOOD]
    assert [r.path for r in store.iter_under("laptop", str(tree))] == [str(tree / GOOD)]
    assert find_junk(store, JunkRequest(PRESETS["default"], device="laptop")).candidates == ()
    undone = undo_run(result.run_id, store)
    assert undone.restored == 4
    assert _digests(tree) == before
    assert store.count(prefix=str(tree)) == 4


def test_move_to_mirrors_the_paths_and_a_changed_file_is_left_alone(
    store: Catalog, tree: Path, tmp_path: Path
) -> None:
    add_folder(store, str(tree), device="laptop", recursive=True, workers=0)
    report = find_junk(store, JunkRequest(PRESETS["default"], device="laptop"))
    changed = tree / "odd_exif" / "Issue 508.jpg"
    changed.write_bytes(changed.read_bytes() + b"\0")  # changed after cataloging
    aside = tmp_path / "aside"
    result = apply_junk(
        store, report, action="move-to", to=str(aside), devices=frozenset({"laptop"}),
        command="imgcat junk --apply --action move-to", confirm=lambda run: True,
    )  # fmt: skip
    assert result is not None
    assert [o.step.source for o in result.skipped] == [str(changed)]
    assert changed.exists()
    moved = aside / str(tree / "canon_powershot_s330/Canon PowerShot S330.jpg").lstrip("/")
    assert moved.is_file() and not (tree / "canon_powershot_s330/Canon PowerShot S330.jpg").exists()


def test_other_devices_files_are_listed_never_touched_and_no_means_nothing_changes(
    store: Catalog, tree: Path
) -> None:
    add_folder(store, str(tree), device="laptop", recursive=True, workers=0)
    store.upsert_many([replace(r, device="nas") for r in store.iter_under("laptop", str(tree))])
    report = find_junk(store, JunkRequest(PRESETS["default"]))
    assert {c.record.device for c in report.candidates} == {"laptop", "nas"}
    before = _digests(tree)
    refused = apply_junk(
        store, report, action="trash", to=None, devices=frozenset({"laptop"}), command="imgcat junk --apply",
        confirm=lambda run: False,
    )  # fmt: skip
    assert refused is None and _digests(tree) == before
    result = apply_junk(
        store, report, action="trash", to=None, devices=frozenset({"laptop"}), command="imgcat junk --apply",
        confirm=lambda run: True,
    )  # fmt: skip
    assert result is not None and result.done == 4
    assert {r.device for r in store.iter_under(None, str(tree))} == {"laptop", "nas"}
    assert store.count("nas", str(tree)) == 4  # the other device's entries all stay


def test_an_interrupted_run_is_told_and_completed_on_its_own_catalog_only(
    tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    mine, other = tmp_path / "mine.sqlite", tmp_path / "other.sqlite"
    catalog = SqliteCatalog(mine)
    add_folder(catalog, str(tree), device="laptop", recursive=True, workers=0)
    report = find_junk(catalog, JunkRequest(PRESETS["default"], device="laptop"))
    steps = junk_steps(catalog, report, "trash", None, frozenset({"laptop"}))
    run = start_run(steps, command="imgcat junk --apply", catalog=catalog)
    with run.path.open("a") as journal:  # confirmed, then killed before its first step
        journal.write('{"t": "go", "at": "2026-11-25T12:00:00"}\n')
    catalog.close()
    SqliteCatalog(other).close()
    monkeypatch.setenv("IMGCAT_DEVICE", "laptop")
    listed = imgcat(capsys, "junk", str(tree), "--db", str(mine))
    assert listed.code == 0 and listed.err == (
        f"run {run.run_id} of 'imgcat junk --apply' was interrupted, so files it set aside may still be "
        f"listed: 'imgcat junk --apply' completes it, 'imgcat undo {run.run_id}' undoes it\n"
    )
    elsewhere = imgcat(capsys, "junk", "--db", str(other), "--apply", "--yes")  # another catalog's run
    assert (elsewhere.code, elsewhere.err) == (0, "the catalog holds no files of device laptop yet: "
                                              "'imgcat add DIR' catalogs a folder\n")  # fmt: skip
    assert len(_digests(tree)) == 5
    completed = imgcat(capsys, "junk", str(tree), "--db", str(mine), "--apply", "--yes")
    assert completed.code == 0, completed.err
    assert f"completed the interrupted run {run.run_id}: 4 files set aside" in completed.out
    assert sorted(_digests(tree)) == [GOOD]


@pytest.fixture
def cataloged(
    tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Path:
    monkeypatch.setenv("IMGCAT_DB", str(tmp_path / "catalog.sqlite"))
    monkeypatch.setenv("IMGCAT_DEVICE", "laptop")
    assert imgcat(capsys, "add", "-r", "-q", "--workers", "0", str(tree)).code == 0
    return tree


def test_cli_apply_with_yes_trashes_and_tells_how_to_undo(
    cataloged: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = imgcat(capsys, "junk", str(cataloged), "--apply", "--yes")
    assert run.code == 0, run.err
    lines = run.out.splitlines()
    assert lines[-2].startswith("run ") and lines[-2].split(": ")[1].startswith("4 files set aside")
    run_id = lines[-2].split()[1].rstrip(":")
    assert lines[-1] == f"to put everything back: imgcat undo {run_id}"
    assert sorted(_digests(cataloged)) == [GOOD]
    assert json.loads(imgcat(capsys, "junk", str(cataloged), "--json").out)["candidates"] == []


def test_cli_apply_without_a_terminal_or_yes_changes_nothing(
    cataloged: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _digests(cataloged)
    run = imgcat(capsys, "junk", str(cataloged), "--apply")
    assert run.code == 1 and run.err.startswith("error: junk --apply asks before it changes files")
    run = imgcat(capsys, "junk", str(cataloged), "--apply", "--yes", "--action", "move-to")
    assert (run.code, run.err.splitlines()[0]) == (2, "error: --action move-to needs --to DIR")
    assert _digests(cataloged) == before


def test_cli_json_tells_what_was_applied(
    cataloged: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    aside = tmp_path / "aside"
    run = imgcat(
        capsys,
        "junk",
        str(cataloged),
        "--json",
        "--apply",
        "--yes",
        "--action",
        "move-to",
        "--to",
        str(aside),
    )
    data = json.loads(run.out)
    assert data["applied"] is True and data["run"]["done"] == 4 and data["run"]["left_alone"] == []
    assert {Path(c["path"]).name for c in data["candidates"]} == {Path(p).name for p in JUNK}
    assert (aside / str(cataloged / JUNK[0]).lstrip("/")).is_file()


def test_html_report_shows_every_candidate_inline_and_loads_nothing_else(
    cataloged: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "junk.html"
    run = imgcat(capsys, "junk", str(cataloged), "--html", str(page))
    assert run.code == 0 and run.err == f"report: {page}\n"
    text = page.read_text()
    assert 'data-groups="3" data-pictures="3"' in text  # dark, tiny, blurry: one each
    assert all(str(cataloged / p) in text for p in JUNK)
    assert text.count("data:image/jpeg;base64,") == 3
    assert "http" not in text.replace("http-equiv", "")


@needs_chromium
def test_html_report_opens_in_headless_chromium_each_blurred_burst_frame_beside_its_sharp_one(
    tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    burst = copy_media(tree, "nikon_d70s/Issue 247-2.nef", "nikon_d70s/Issue 247-3.nef") / "nikon_d70s"
    with Image.open(burst / "Issue 247-3.nef") as image:  # a JPEG named .nef, 2.7 s after 247-2
        exif = image.info["exif"]
        blurred = image.filter(ImageFilter.GaussianBlur(10))
    blurred.save(burst / "Issue 247-3.nef", "JPEG", quality=90, exif=exif)
    monkeypatch.setenv("IMGCAT_DB", str(tmp_path / "catalog.sqlite"))
    monkeypatch.setenv("IMGCAT_DEVICE", "laptop")
    assert imgcat(capsys, "add", "-r", "-q", "--workers", "0", str(tree)).code == 0
    page = tmp_path / "junk.html"
    assert imgcat(capsys, "junk", str(tree), "--html", str(page)).code == 0

    shown = open_page(page, tmp_path)
    assert shown.sections == (
        "tiny: 1 file", "dark: 1 file", "blurry: 1 file", "a blurred frame beside its burst's sharp one"
    )  # fmt: skip
    assert shown.groups == 4 and shown.figures == (1, 1, 1, 2) and shown.pictures == 5
    assert shown.images_loaded == (True,) * 5  # every thumbnail decoded, none missing
    assert shown.kept == (0, 0, 0, 1)  # the sharp frame is the one marked to keep
    assert shown.errors == ()  # nothing blocked or failed to load
    assert shown.screenshot_width >= 1000


def test_html_report_shows_a_name_that_is_not_utf8_and_a_full_disk_is_one_error_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = copy_media(tmp_path / "odd", "odd_exif/Issue 508.jpg") / "odd_exif"
    (root / "Issue 508.jpg").rename(root / os.fsdecode(b"bad\xff name.jpg"))
    monkeypatch.setenv("IMGCAT_DB", str(tmp_path / "catalog.sqlite"))
    monkeypatch.setenv("IMGCAT_DEVICE", "laptop")
    assert imgcat(capsys, "add", "-r", "-q", "--workers", "0", str(root)).code == 0
    page = tmp_path / "junk.html"
    assert imgcat(capsys, "junk", str(root), "--html", str(page)).code == 0
    assert f'<div class="path">{root}/bad\\xff name.jpg</div>' in page.read_text(encoding="utf-8")
    full = imgcat(capsys, "junk", str(root), "--html", "/dev/full")  # writing there fails as on a full disk
    assert (full.code, full.err) == (1, "error: cannot write /dev/full: No space left on device\n")
