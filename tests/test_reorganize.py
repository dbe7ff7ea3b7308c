"""`imgcat reorganize`: a tidy layout from the catalog, planned per unit, collisions settled, nothing lost."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import piexif
import pytest
from PIL import Image

from clirun import imgcat
from imgcat.catalog.base import Catalog
from imgcat.catalog.sqlite import SqliteCatalog
from imgcat.layout import parse_pattern
from imgcat.operations.add import add_folder
from imgcat.operations.reorganize import OnDuplicate, ReorganizePlan, plan_reorganize
from media import MEDIA, copy_media

NAMING = "<year>/<month>/<date>_<hour><minute><second>_<name>"


@pytest.fixture
def new_york(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This machine's zone is New York: a video's UTC time is shown there, as exiftool shows it."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def _exiftool() -> str:
    found = shutil.which("exiftool")
    if found is None:
        pytest.skip("exiftool not installed (Debian: libimage-exiftool-perl)")
    return found


def _plan(
    catalog: Catalog,
    root: Path,
    pattern: str = "<year>/<month>",
    *,
    dest: Path | None = None,
    on_duplicate: OnDuplicate = "skip",
    date_source: str = "any",
) -> ReorganizePlan:
    return plan_reorganize(
        catalog, [str(root)], parse_pattern(pattern), device="d",
        destination=None if dest is None else str(dest), on_duplicate=on_duplicate,
        date_source="exif" if date_source == "exif" else "any",
    )  # fmt: skip


def _moves(plan: ReorganizePlan, base: Path) -> dict[str, str]:
    return {os.path.relpath(f.source, base): os.path.relpath(f.target, base) for f in plan.files()}


def _jpeg_taken_at(target: Path, when: str, make: bytes = b"NIKON", model: bytes = b"COOLPIX P6000") -> None:
    """A JPEG re-saved from a real photo, with its DateTimeOriginal, Make and Model set."""
    source = MEDIA / "nikon_coolpix_p6000" / "DSCN0010.jpg"
    exif = piexif.load(str(source))
    exif["Exif"][piexif.ExifIFD.DateTimeOriginal] = when.encode()
    exif["0th"][piexif.ImageIFD.Make] = make
    exif["0th"][piexif.ImageIFD.Model] = model
    exif.pop("thumbnail", None)
    exif["1st"] = {}
    target.parent.mkdir(parents=True, exist_ok=True)
    with Image.open(source) as image:
        image.save(target, quality=85, exif=piexif.dump(exif))


def _exiftool_dates(root: Path) -> dict[str, tuple[datetime, bool]]:
    """Per file (relative to root): the capture time exiftool reports, as the wall clock showed it
    (a QuickTime UTC date in this machine's zone), and whether it is a video's. XMP is left out:
    `add` does not read the XMP packet of a broken JPEG (broken/image00971.jpg)."""
    answer = subprocess.run(
        [_exiftool(), "-json", "-r", "-api", "QuickTimeUTC", "-DateTimeOriginal", "-CreateDate",
         "-CreationDate", "--XMP:all", "-MIMEType", str(root)],
        capture_output=True, check=True, text=True,
    )  # fmt: skip
    dates: dict[str, tuple[datetime, bool]] = {}
    for row in json.loads(answer.stdout):
        video = str(row.get("MIMEType", "")).startswith("video/")
        text = str(row.get("CreationDate") or row.get("DateTimeOriginal") or row.get("CreateDate") or "")
        text = text.replace(" DST", "").strip()
        if not text[:4].isdigit() or text.startswith("0000"):  # none, or a blank placeholder
            continue
        date, _, clock = text.partition(" ")
        moment = datetime.fromisoformat(f"{date.replace(':', '-')}T{clock.replace('Z', '+00:00')}")
        if moment.tzinfo is not None and text.endswith("Z"):
            moment = moment.astimezone()  # a bare UTC instant: this machine's wall clock
        dates[os.path.relpath(row["SourceFile"], root)] = (moment.replace(tzinfo=None), video)
    return dates


def test_planned_folders_match_the_capture_dates_exiftool_reports(
    store: Catalog, tmp_path: Path, new_york: None
) -> None:
    root = copy_media(tmp_path / "lib")
    add_folder(store, str(root), device="d", recursive=True, workers=2)
    expected = _exiftool_dates(root)
    for pattern in ("<year>/<month>", NAMING):
        plan = _plan(store, root, pattern)
        moves = _moves(plan, root)
        assert len(moves) == 104 and not plan.skipped
        checked = 0
        for source, target in moves.items():
            if source not in expected:
                continue
            when, video = expected[source]
            assert target.startswith(f"{when:%Y/%m}/"), (source, target)
            if pattern == NAMING:
                stamp = f"{when:%Y-%m-%d}_" if video else f"{when:%Y-%m-%d_%H%M%S}_"
                assert os.path.basename(target).startswith(stamp), (source, target)
                assert os.path.basename(target).endswith(os.path.basename(source))
            checked += 1
        assert checked >= 90


def _live_and_twins(folder: Path) -> None:
    """A Live Photo (HEIC + MOV dated alike, AAE and XMP sidecars), a RAW+JPEG pair with a
    Takeout JSON on the JPEG, in one folder."""
    folder.mkdir(parents=True)
    shutil.copy(MEDIA / "iphone_11_pro" / "IMG_2927.HEIC", folder / "IMG_2927.HEIC")
    shutil.copy(MEDIA / "iphone_6" / "with-gps.mov", folder / "IMG_2927.MOV")
    subprocess.run(
        [_exiftool(), "-q", "-overwrite_original", "-Keys:CreationDate=2020:05:04 18:39:11-04:00",
         "-QuickTime:CreateDate=2020:05:04 22:39:11", str(folder / "IMG_2927.MOV")],
        check=True,
    )  # fmt: skip
    (folder / "IMG_2927.AAE").write_text("<plist/>")
    (folder / "IMG_2927.HEIC.xmp").write_text("<x:xmpmeta/>")
    shutil.copy(MEDIA / "raw_exiftool" / "Nikon.nef", folder / "DSC_0001.NEF")
    _jpeg_taken_at(folder / "DSC_0001.JPG", "2004:06:09 16:02:36")  # the NEF was shot at 16:02:35
    (folder / "DSC_0001.JPG.supplemental-metadata.json").write_text("{}")


def test_a_photo_moves_with_its_companions_named_alike(tmp_path: Path) -> None:
    root = tmp_path / "lib"
    _live_and_twins(root / "DCIM")
    catalog = SqliteCatalog(tmp_path / "c.sqlite")
    add_folder(catalog, str(root), device="d", recursive=True, workers=0)
    plan = _plan(catalog, root, "<year>/<month>/<date>_<name>")
    by_leader = {os.path.basename(u.leader.source): sorted(os.path.relpath(f.target, root) for f in u.files)
                 for u in plan.moves}  # fmt: skip
    assert by_leader == {
        "IMG_2927.HEIC": [
            "2020/05/2020-05-04_IMG_2927.AAE", "2020/05/2020-05-04_IMG_2927.HEIC",
            "2020/05/2020-05-04_IMG_2927.HEIC.xmp", "2020/05/2020-05-04_IMG_2927.MOV",
        ],
        "DSC_0001.JPG": [
            "2004/06/2004-06-09_DSC_0001.JPG", "2004/06/2004-06-09_DSC_0001.JPG.supplemental-metadata.json",
            "2004/06/2004-06-09_DSC_0001.NEF",
        ],
    }  # fmt: skip
    reasons = {os.path.basename(f.source): f.reason for f in plan.files()}
    assert reasons["IMG_2927.MOV"] == "Live Photo video of IMG_2927.HEIC"
    assert reasons["IMG_2927.AAE"] == "sidecar of IMG_2927.HEIC"
    assert reasons["IMG_2927.HEIC"].startswith("captured 2020-05-04 18:39:11 (exif)")


def test_same_content_at_the_target_is_a_duplicate_left_in_place_by_default(tmp_path: Path) -> None:
    root = copy_media(tmp_path / "lib", "nikon_coolpix_p6000/DSCN0010.jpg")
    catalog = SqliteCatalog(tmp_path / "c.sqlite")
    add_folder(catalog, str(root), device="d", recursive=True, workers=0)
    (tmp_path / "tidy/2008/10").mkdir(parents=True)
    shutil.copy(root / "nikon_coolpix_p6000/DSCN0010.jpg", tmp_path / "tidy/2008/10/DSCN0010.jpg")
    skip = _plan(catalog, root, dest=tmp_path / "tidy")
    assert not skip.moves and len(skip.duplicates) == 1
    assert [s.reason for s in skip.skipped] == [
        f"duplicate: the same content is at {tmp_path}/tidy/2008/10/DSCN0010.jpg"
    ]
    trash = _plan(catalog, root, dest=tmp_path / "tidy", on_duplicate="trash")
    assert not trash.moves and not trash.skipped and len(trash.duplicates) == 1
    both = _plan(catalog, root, dest=tmp_path / "tidy", on_duplicate="keep-both")
    assert _moves(both, tmp_path) == {"lib/nikon_coolpix_p6000/DSCN0010.jpg": "tidy/2008/10/DSCN0010_1.jpg"}


def test_other_content_at_the_target_gets_a_numbered_suffix(tmp_path: Path) -> None:
    root = copy_media(tmp_path / "lib", "nikon_coolpix_p6000/DSCN0010.jpg")
    catalog = SqliteCatalog(tmp_path / "c.sqlite")
    add_folder(catalog, str(root), device="d", recursive=True, workers=0)
    (tmp_path / "tidy/2008/10").mkdir(parents=True)
    (tmp_path / "tidy/2008/10/DSCN0010.jpg").write_bytes(b"another picture")
    (tmp_path / "tidy/2008/10/DSCN0010_1.jpg").write_bytes(b"and one more")
    plan = _plan(catalog, root, dest=tmp_path / "tidy")
    assert _moves(plan, tmp_path) == {"lib/nikon_coolpix_p6000/DSCN0010.jpg": "tidy/2008/10/DSCN0010_2.jpg"}
    assert next(plan.files()).reason.endswith("_2: other content has the name")


def test_two_sources_planned_onto_one_target(tmp_path: Path) -> None:
    root = tmp_path / "lib"
    _jpeg_taken_at(root / "a" / "IMG_1.JPG", "2019:07:04 10:00:00")
    _jpeg_taken_at(root / "b" / "IMG_1.JPG", "2019:07:05 10:00:00")  # other content, same month
    (root / "c").mkdir()
    shutil.copy(root / "a" / "IMG_1.JPG", root / "c" / "IMG_1.JPG")  # the same content as a/
    catalog = SqliteCatalog(tmp_path / "c.sqlite")
    add_folder(catalog, str(root), device="d", recursive=True, workers=0)
    plan = _plan(catalog, root)
    assert _moves(plan, root) == {"a/IMG_1.JPG": "2019/07/IMG_1.JPG", "b/IMG_1.JPG": "2019/07/IMG_1_1.JPG"}
    duplicate = plan.duplicates[0].leader
    assert (duplicate.source, duplicate.target) == (
        str(root / "c/IMG_1.JPG"),
        str(root / "2019/07/IMG_1.JPG"),
    )


def test_files_already_placed_stay_put(tmp_path: Path) -> None:
    root = tmp_path / "lib"
    _jpeg_taken_at(root / "2019/07/IMG_1.JPG", "2019:07:04 10:00:00")
    _jpeg_taken_at(root / "2019/07/2019-07-04_100000_IMG_2_1.JPG", "2019:07:04 10:00:00")
    catalog = SqliteCatalog(tmp_path / "c.sqlite")
    add_folder(catalog, str(root), device="d", recursive=True, workers=0)
    assert not _plan(catalog, root).moves
    renamed = _plan(catalog, root, NAMING)
    assert _moves(renamed, root) == {"2019/07/IMG_1.JPG": "2019/07/2019-07-04_100000_IMG_1.JPG"}
    assert renamed.in_place == 1  # named by this pattern before: not renamed again


def test_the_catalog_is_checked_against_the_disk_before_planning(tmp_path: Path) -> None:
    root = tmp_path / "lib"
    _jpeg_taken_at(root / "in/IMG_1.JPG", "2019:07:04 10:00:00")
    _jpeg_taken_at(root / "in/IMG_2.JPG", "2019:07:04 10:00:00")
    catalog = SqliteCatalog(tmp_path / "c.sqlite")
    add_folder(catalog, str(root), device="d", recursive=True, workers=0)
    _jpeg_taken_at(root / "in/IMG_1.JPG", "2021:01:02 10:00:00")  # changed since cataloged
    (root / "in/IMG_2.JPG").unlink()  # gone
    _jpeg_taken_at(root / "in/IMG_3.JPG", "2019:07:06 10:00:00")  # new: `add` first
    plan = _plan(catalog, root)
    assert _moves(plan, root) == {"in/IMG_1.JPG": "2021/01/IMG_1.JPG"}
    assert (plan.not_cataloged, plan.refreshed) == (1, 2)
    assert [(s.path, s.reason) for s in plan.skipped] == [
        (str(root / "in/IMG_3.JPG"), "not cataloged: left where it is ('imgcat add' it first)")
    ]
    assert catalog.get("d", str(root / "in/IMG_2.JPG")) is not None  # planning writes nothing


def test_exif_make_and_model_that_climb_out_land_inside_dest(tmp_path: Path) -> None:
    root = tmp_path / "lib"
    _jpeg_taken_at(root / "x/IMG_1.JPG", "2019:07:04 10:00:00", make=b"../../..", model=b"../../../etc")
    _jpeg_taken_at(root / "x/IMG_2.JPG", "2019:07:04 10:00:00", make=b"/", model=b"CON")
    catalog = SqliteCatalog(tmp_path / "c.sqlite")
    add_folder(catalog, str(root), device="d", recursive=True, workers=0)
    record = catalog.get("d", str(root / "x/IMG_1.JPG"))
    assert record is not None and record.make == "../../.."
    dest = tmp_path / "tidy"
    plan = _plan(catalog, root, "<make>/<model>/<camera>/<make>_<model>_<name>", dest=dest)
    targets = [Path(f.target) for f in plan.files()]
    assert len(targets) == 2
    for target in targets:
        assert Path(os.path.normpath(target)).is_relative_to(dest) and ".." not in target.parts
    assert sorted(str(t.relative_to(dest)) for t in targets) == [
        "unknown/CON_/CON_/unknown_CON_IMG_2.JPG",
        "unknown/_._.._.._etc/_._.._.._etc/unknown_.._.._.._etc_IMG_1.JPG",
    ]


def test_date_source_exif_sends_guessed_dates_to_unknown(tmp_path: Path) -> None:
    root = copy_media(tmp_path / "lib", "messenger", "nikon_coolpix_p6000/DSCN0010.jpg")
    catalog = SqliteCatalog(tmp_path / "c.sqlite")
    add_folder(catalog, str(root), device="d", recursive=True, workers=0)
    guessed = "messenger/telegram_2020-01-30_09-57-18.jpg"
    assert _moves(_plan(catalog, root), root)[guessed] == "2020/01/telegram_2020-01-30_09-57-18.jpg"
    moves = _moves(_plan(catalog, root, date_source="exif"), root)
    assert moves[guessed] == "unknown/telegram_2020-01-30_09-57-18.jpg"
    assert moves["nikon_coolpix_p6000/DSCN0010.jpg"] == "2008/10/DSCN0010.jpg"


def test_a_file_in_the_way_of_a_folder_skips_the_unit(tmp_path: Path) -> None:
    root = copy_media(tmp_path / "lib", "nikon_coolpix_p6000/DSCN0010.jpg")
    catalog = SqliteCatalog(tmp_path / "c.sqlite")
    add_folder(catalog, str(root), device="d", recursive=True, workers=0)
    (root / "2008").write_text("not a folder")
    plan = _plan(catalog, root)
    assert not plan.moves
    assert [s.reason for s in plan.skipped] == [f"{root}/2008 is a file, not a folder"]


def test_cli_dry_run_prints_the_plan_as_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = copy_media(tmp_path / "lib", "nikon_coolpix_p6000")
    db = str(tmp_path / "c.sqlite")
    assert imgcat(capsys, "add", "-r", str(root), "--db", db, "--device", "d", "-q").code == 0
    run = imgcat(capsys, "reorganize", str(root), "--pattern", "{year}/{month}", "--db", db, "--device", "d",
                 "--json")  # fmt: skip
    assert run.code == 0, run.err
    data = json.loads(run.out)
    assert set(data) >= {"moves", "skipped", "totals"}
    assert sorted(m["to"] for m in data["moves"]) == [
        f"{root}/2008/10/DSCN00{n}.jpg" for n in ("10", "12", "25", "27")
    ]
    assert {m["reason"].split(" ")[0] for m in data["moves"]} == {"captured"}
    assert data["totals"]["files"] == 4 and data["applied"] is False
    assert sorted(p.name for p in (root / "nikon_coolpix_p6000").iterdir()) == [
        "DSCN0010.jpg", "DSCN0012.jpg", "DSCN0025.jpg", "DSCN0027.jpg",
    ]  # fmt: skip


def test_cli_dry_run_in_a_pipe_prints_one_line_per_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = copy_media(tmp_path / "lib", "nikon_coolpix_p6000/DSCN0010.jpg")
    db = str(tmp_path / "c.sqlite")
    imgcat(capsys, "add", "-r", str(root), "--db", db, "--device", "d", "-q")
    run = imgcat(capsys, "reorganize", str(root), "-p", "<year>/<month>", "--db", db, "--device", "d")
    assert run.code == 0, run.err
    assert run.out == f"{root}/nikon_coolpix_p6000/DSCN0010.jpg\t{root}/2008/10/DSCN0010.jpg\n"
    assert "dry run: nothing changed (--apply moves the files)" in run.err.splitlines()


def test_cli_unknown_token_is_one_error_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = imgcat(
        capsys, "reorganize", str(tmp_path), "--pattern", "<year>/<mnth>", "--db", str(tmp_path / "c")
    )
    assert run.code == 2
    assert run.err.startswith("error: unknown token <mnth> in --pattern; valid: <year> <month> <month_name>")
    assert len(run.err.splitlines()) == 1


def test_tree_shows_folders_with_counts_and_names(tmp_path: Path) -> None:
    from rich.console import Console

    from imgcat.cli.reorganize import _trees

    root = tmp_path / "lib"
    for day in range(1, 6):
        _jpeg_taken_at(root / "in" / f"IMG_{day}.JPG", f"2019:07:0{day} 10:00:00")
    _jpeg_taken_at(root / "in" / "IMG_9.JPG", "2020:01:01 10:00:00")
    catalog = SqliteCatalog(tmp_path / "c.sqlite")
    add_folder(catalog, str(root), device="d", recursive=True, workers=0)
    console = Console(width=100, record=True, color_system=None)
    for tree in _trees(_plan(catalog, root)):
        console.print(tree)
    assert console.export_text().splitlines() == [
        f"{root}  (6 files)",
        "├── 2019/  (5 files)",
        "│   └── 07/  (5 files): IMG_1.JPG, IMG_2.JPG, IMG_3.JPG, … 2 more",
        "└── 2020/  (1 file)",
        "    └── 01/  (1 file): IMG_9.JPG",
    ]


def test_an_undated_file_goes_to_unknown(tmp_path: Path) -> None:
    root = tmp_path / "lib"
    (root / "in").mkdir(parents=True)
    with Image.open(MEDIA / "nikon_coolpix_p6000" / "DSCN0010.jpg") as image:
        image.save(root / "in" / "scan.png")
    noon = datetime(2015, 3, 10, 12, 0).timestamp()
    os.utime(root / "in" / "scan.png", (noon, noon))
    catalog = SqliteCatalog(tmp_path / "c.sqlite")
    add_folder(catalog, str(root), device="d", recursive=True, workers=0)
    undated = _moves(_plan(catalog, root, NAMING, date_source="exif"), root)
    assert undated == {"in/scan.png": "unknown/unknown_scan.png"}
    no_name = "<year>/<date>_<hour><minute><second>"
    assert _moves(_plan(catalog, root, no_name, date_source="exif"), root) == {
        "in/scan.png": "unknown/scan.png"
    }
    assert _moves(_plan(catalog, root, NAMING), root) == {"in/scan.png": "2015/03/2015-03-10_120000_scan.png"}
