"""`imgcat similar`: the same picture found in other files, grouped, the best named; decisions kept.

The quality tests make the variants of the issues (#13, #16) from every real photo of the shared
media at test time, catalog them with the real `add`, and judge every pair of files (see
tests/quality.py). They print the figures beside plain imagehash pHash (all pairs, threshold 10)
and Debian's `findimagedupes` where it is installed.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from clirun import imgcat
from imgcat.actions import undo_run
from imgcat.catalog.sqlite import SqliteCatalog
from imgcat.operations.add import add_folder
from imgcat.operations.similar import find_similar
from imgcat.settings import worker_count
from media import MEDIA, copy_media
from quality import Figures, findimagedupes_groups, plain_phash_groups, score, side_by_side
from variants import KINDS_13, KINDS_16, Variant, make_variants

DEVICE = "test"


@dataclass(frozen=True)
class VariantCatalog:
    variants: list[Variant]
    catalog: SqliteCatalog
    plain: list[list[str]]  # groups found by plain imagehash pHash, all pairs
    findimagedupes: list[list[str]] | None


@pytest.fixture(scope="module")
def variant_catalog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VariantCatalog]:
    """Every real photo and its 12 variants, cataloged once for this module's quality tests."""
    root = tmp_path_factory.mktemp("variants")
    variants = make_variants(root / "tree")
    catalog = SqliteCatalog(root / "catalog.sqlite")
    add_folder(catalog, str(root / "tree"), device=DEVICE, recursive=True, workers=worker_count())
    paths = [str(v.path) for v in variants]
    yield VariantCatalog(variants, catalog, plain_phash_groups(paths), findimagedupes_groups(paths, root))
    catalog.close()


def _subset_catalog(
    whole: VariantCatalog, kinds: tuple[str, ...], target: Path
) -> tuple[list[Variant], SqliteCatalog]:
    """The originals and the variants of `kinds` only, in a catalog of their own."""
    chosen = [v for v in whole.variants if v.kind == "original" or v.kind in kinds]
    wanted = {str(v.path) for v in chosen}
    catalog = SqliteCatalog(target / "subset.sqlite")
    catalog.upsert_many(r for r in whole.catalog.iter_under(DEVICE, "/") if r.path in wanted)
    return chosen, catalog


def _judged(
    whole: VariantCatalog, variants: list[Variant], catalog: SqliteCatalog, title: str
) -> tuple[list[Figures], list[str]]:
    report = find_similar(catalog)
    groups = [
        [m.record.path for m in g.members] + [c.path for m in g.members for c in m.copies]
        for g in report.groups
    ]
    ours = score(variants, groups)
    named = {"imgcat similar (near)": ours, "imagehash pHash <= 10": score(variants, whole.plain)}
    if whole.findimagedupes is not None:
        named["findimagedupes"] = score(variants, whole.findimagedupes)
    print(
        f"\n{title}: precision (P) and recall (R) over all pairs and per variant kind\n{side_by_side(named)}"
    )
    not_best = [
        g.members[0].record.path
        for g in report.groups
        if any("/original/" in m.record.path for m in g.members)
        and "/original/" not in g.members[0].record.path
    ]
    return ours, not_best


def test_near_finds_the_same_picture_resized_reencoded_converted_cropped_and_turned(
    variant_catalog: VariantCatalog, tmp_path: Path
) -> None:
    """Issue 13: 50 %, 25 %, quality 60, PNG, 2 % crop, EXIF rotation; every other photo a negative."""
    variants, catalog = _subset_catalog(variant_catalog, KINDS_13, tmp_path)
    figures, not_best = _judged(variant_catalog, variants, catalog, "issue 13 variants")
    overall = figures[0]
    assert overall.precision >= 0.99 and overall.recall >= 0.97, overall
    assert not_best == []  # the original is the best member of every group that holds it


def test_near_finds_the_cases_people_meet(variant_catalog: VariantCatalog) -> None:
    """Issue 16: also an 8 % crop, brighter with more contrast, a 10 % copy, blur, letterbox bars
    and a white box over a corner, all together with the issue 13 variants."""
    figures, not_best = _judged(
        variant_catalog, variant_catalog.variants, variant_catalog.catalog, "issue 16 variants"
    )
    overall = figures[0]
    # Measured 0.963 (precision 1.000). The misses: 8 % crops of pictures whose detail is finer than
    # a grid cell (text, foliage), a 76x72 graphic's 10 % copy (8x7 pixels), letterboxed frames.
    assert overall.precision >= 0.99 and overall.recall >= 0.95, overall
    assert {f.kind for f in figures} == {"all", *KINDS_13, *KINDS_16}
    assert not_best == []


def _pair_tree(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A real photo and a half-size copy of it (the same picture), in two folders."""
    tree = copy_media(tmp_path / "tree", "nikon_coolpix_p6000/DSCN0010.jpg")
    original = tree / "nikon_coolpix_p6000" / "DSCN0010.jpg"
    small = tree / "small" / "DSCN0010-small.jpg"
    small.parent.mkdir()
    with Image.open(original) as image:
        image.resize((image.width // 2, image.height // 2)).save(small, quality=85)
    return tree, original, small


def _group_paths(capsys: pytest.CaptureFixture[str], db: Path, *args: str) -> list[list[str]]:
    run = imgcat(capsys, "similar", "--db", str(db), "--json", *args)
    assert run.code == 0, run.err
    return [sorted(f["path"] for f in g["files"]) for g in json.loads(run.out)["groups"]]


def test_not_same_is_kept_after_a_fresh_add_and_after_sync_follows_a_move(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree, original, small = _pair_tree(tmp_path)
    db = tmp_path / "catalog.sqlite"
    assert imgcat(capsys, "add", "-r", str(tree), "--db", str(db), "--device", DEVICE).code == 0
    assert _group_paths(capsys, db) == [sorted([str(original), str(small)])]

    run = imgcat(
        capsys, "similar", "--db", str(db), "--device", DEVICE, "--not-same", str(original), str(small)
    )
    assert run.code == 0, run.err
    assert "remembered: 1 pair of pictures differ" in run.out
    assert _group_paths(capsys, db) == []

    catalog = SqliteCatalog(db)  # a fresh add: the entries go, the same files are read again
    catalog.delete_many(r.id for r in catalog.iter_under(None, "/"))
    catalog.close()
    assert imgcat(capsys, "add", "-r", str(tree), "--db", str(db), "--device", DEVICE).code == 0
    assert _group_paths(capsys, db) == []

    moved = tree / "elsewhere" / small.name
    moved.parent.mkdir()
    small.rename(moved)
    assert imgcat(capsys, "sync", str(tree), "--db", str(db), "--device", DEVICE).code == 0
    catalog = SqliteCatalog(db)
    assert catalog.get(DEVICE, str(moved)) is not None and catalog.get(DEVICE, str(small)) is None
    catalog.close()
    assert _group_paths(capsys, db) == []


def test_not_same_takes_a_group_id_from_the_listing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree, _, _ = _pair_tree(tmp_path)
    db = tmp_path / "catalog.sqlite"
    assert imgcat(capsys, "add", "-r", str(tree), "--db", str(db)).code == 0
    run = imgcat(capsys, "similar", "--db", str(db), "--json")
    [group] = json.loads(run.out)["groups"]
    assert imgcat(capsys, "similar", "--db", str(db), "--not-same", group["id"]).code == 0
    assert _group_paths(capsys, db) == []
    unknown = imgcat(capsys, "similar", "--db", str(db), "--not-same", "0000dead")
    assert unknown.code == 1
    assert unknown.err == "error: --not-same needs two different pictures (two files, or a group id)\n" or (
        "neither a cataloged file nor a group id" in unknown.err
    )


def test_an_exact_copy_is_one_member_with_its_copies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree, original, small = _pair_tree(tmp_path)
    copy = tree / "backup" / "DSCN0010 copy.jpg"
    copy.parent.mkdir()
    shutil.copyfile(original, copy)
    db = tmp_path / "catalog.sqlite"
    assert imgcat(capsys, "add", "-r", str(tree), "--db", str(db)).code == 0
    run = imgcat(capsys, "similar", "--db", str(db), "--json")
    [group] = json.loads(run.out)["groups"]
    best, other = group["files"]
    assert best["path"] == str(original)  # the name dupes keeps, not "DSCN0010 copy.jpg"
    assert best["best"] is True and best["decision"] == "keep"
    assert sorted([best["path"], *best["copies"]]) == sorted([str(original), str(copy)])
    assert other == other | {"path": str(small), "best": False, "decision": "remove", "copies": []}
    assert best["reason"].startswith("best: camera original") and other["distance"] <= 0.08
    text = imgcat(capsys, "similar", "--db", str(db))
    assert "+1 copy" in text.out and str(small) in text.out


def test_pictures_read_by_an_older_imgcat_are_named_until_add_reads_their_grid(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A catalog migrated from before the likeness grid: the pair is a candidate but cannot be
    verified; `similar` says so, and the next `add` (older extractor version) reads the grid."""
    tree, original, small = _pair_tree(tmp_path)
    db = tmp_path / "catalog.sqlite"
    assert imgcat(capsys, "add", "-r", str(tree), "--db", str(db)).code == 0
    with sqlite3.connect(db) as raw:
        raw.execute("UPDATE media SET likeness = NULL, extractor_version = 7")
    run = imgcat(capsys, "similar", "--db", str(db), "--json")
    assert json.loads(run.out)["groups"] == [] and json.loads(run.out)["unverified"] == 2
    assert "2 pictures could not be compared: cataloged by an older imgcat" in run.err
    assert imgcat(capsys, "add", "-r", str(tree), "--db", str(db)).code == 0
    assert _group_paths(capsys, db) == [sorted([str(original), str(small)])]
    assert "could not be compared" not in imgcat(capsys, "similar", "--db", str(db)).err


def test_a_burst_is_similar_but_not_near_and_the_time_window_holds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two shots 2 s apart: not the same picture (near), the same moment (similar)."""
    tree = copy_media(tmp_path / "tree", "nikon_d70s/Issue 247-2.nef", "nikon_d70s/Issue 247-3.nef")
    db = tmp_path / "catalog.sqlite"
    assert imgcat(capsys, "add", "-r", str(tree), "--db", str(db)).code == 0
    assert _group_paths(capsys, db) == []
    burst = sorted(str(p) for p in (tree / "nikon_d70s").iterdir())
    assert _group_paths(capsys, db, "--level", "similar") == [burst]
    assert _group_paths(capsys, db, "--level", "similar", "--time-window", "10s") == [burst]
    assert _group_paths(capsys, db, "--level", "similar", "--time-window", "1s") == []


def test_a_bad_time_window_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = imgcat(capsys, "similar", "--db", str(tmp_path / "c.sqlite"), "--time-window", "soon")
    assert run.code == 2
    assert run.err == "error: --time-window 'soon': give seconds, minutes or hours, such as 10s, 2m or 1h\n"


def test_the_shared_photos_hold_no_near_duplicates_but_the_exact_copy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every real photo is a different picture: only the one exact copy pair may show, as copies."""
    db = tmp_path / "catalog.sqlite"
    assert MEDIA.is_dir()
    assert imgcat(capsys, "add", "-r", str(MEDIA), "--db", str(db)).code == 0
    assert _group_paths(capsys, db) == []


def test_apply_trashes_all_but_the_best_through_the_journal_and_undo_puts_them_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree, original, small = _pair_tree(tmp_path)
    db = tmp_path / "catalog.sqlite"
    assert imgcat(capsys, "add", "-r", str(tree), "--db", str(db), "--device", DEVICE).code == 0
    refused = imgcat(capsys, "similar", "--db", str(db), "--device", DEVICE, "--apply")  # no terminal
    assert refused.code == 1 and "confirm on a terminal, or pass --yes" in refused.err
    assert small.exists()

    run = imgcat(capsys, "similar", "--db", str(db), "--device", DEVICE, "--apply", "--yes")
    assert run.code == 0, run.err
    assert "1 file moved to the trash" in run.out
    assert original.exists() and not small.exists()
    [trashed] = [p for p in tmp_path.rglob(small.name) if ".imgcat-trash" in p.parts]
    catalog = SqliteCatalog(db)
    assert catalog.get(DEVICE, str(small)) is None and catalog.get(DEVICE, str(original)) is not None
    run_id = run.out.split("imgcat undo ")[1].strip()
    undo_run(run_id, catalog)
    assert small.exists() and not trashed.exists()
    assert catalog.get(DEVICE, str(small)) is not None
    catalog.close()


def test_apply_leaves_a_file_that_changed_since_it_was_cataloged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree, _, small = _pair_tree(tmp_path)
    db = tmp_path / "catalog.sqlite"
    assert imgcat(capsys, "add", "-r", str(tree), "--db", str(db), "--device", DEVICE).code == 0
    with open(small, "ab") as grown:
        grown.write(b"edited since")
    run = imgcat(capsys, "similar", "--db", str(db), "--device", DEVICE, "--apply", "--yes")
    assert run.code == 0
    assert small.exists() and f"warning: {small}: left alone:" in run.err
