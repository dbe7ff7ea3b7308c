"""A photo is a unit: Live Photo halves, RAW+JPEG twins, edited versions and sidecars are linked
when they belong together, never when they merely share a name, on both stores, through chunked
folders, moves and `sync`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import piexif
import pytest
from hypothesis import given
from hypothesis import strategies as st

from clirun import imgcat
from conftest import make_record
from imgcat.catalog.base import Catalog
from imgcat.operations import add as add_operation
from imgcat.operations.add import add_folder
from imgcat.operations.sync import apply_sync, plan_sync
from imgcat.record import Companion, MediaRecord
from imgcat.scan.companions import (
    FolderNames,
    link_companions,
    orphan_sidecars,
    same_moment,
    sidecars_with_owner,
)
from media import MEDIA

HEIC = MEDIA / "iphone_11_pro_max" / "IMG_5195.HEIC"  # 2021:04:11 15:47:53.054 -05:00
MOV = MEDIA / "iphone_6" / "with-gps.mov"  # 2019-07-24 11:25:40 +03:00, no content identifier
JPEG = MEDIA / "nikon_coolpix_p6000" / "DSCN0010.jpg"
NEF = MEDIA / "raw_exiftool" / "Nikon.nef"  # 2004:06:09 16:02:35
CR2 = MEDIA / "raw_exiftool" / "CanonRaw.cr2"  # 2005:08:03 18:59:18
# exiftool 12 has no name for the QuickTime key Apple pairs a Live Photo's video with: declare it
KEYS_CONFIG = """%Image::ExifTool::UserDefined = (
    'Image::ExifTool::QuickTime::Keys' => {
        'content.identifier' => { Name => 'ContentIdentifier', Writable => 'string' },
    },
);
1;
"""
TAKEN = 1562247012  # 2019-07-04 13:30:12 UTC
LONG = "Screenshot_20190525-175306_Google Play Store.jpg"  # 48 characters: Takeout cuts its JSON name
PIXEL = "PXL_20230716_143040123.MP.jpg"
PIXEL_1 = "PXL_20230716_143040123.MP(1).jpg"
NIGHT = "PXL_20230716_150000456.NIGHT.jpg"

# What each file of the folder is linked to: (role, file). Files not listed have no companions.
EXPECTED: dict[str, set[tuple[str, str]]] = {
    # a Live Photo 1 s apart, the video without Apple's identifier: same name and same moment
    "DCIM/IMG_0001.HEIC": {("live_video", "DCIM/IMG_0001.MOV"), ("sidecar", "DCIM/IMG_0001.AAE"),
                           ("edited", "DCIM/IMG_E0001.JPG")},
    "DCIM/IMG_0001.MOV": {("live_still", "DCIM/IMG_0001.HEIC")},
    "DCIM/IMG_E0001.JPG": {("original", "DCIM/IMG_0001.HEIC")},  # Apple's edited version
    # IMG_0002.HEIC and .MOV share a name, shot two years apart: two pictures
    # IMG_0003.HEIC and its video share Apple's content identifier, not a name
    "DCIM/IMG_0003.HEIC": {("live_video", "DCIM/Live clip.MOV")},
    "DCIM/Live clip.MOV": {("live_still", "DCIM/IMG_0003.HEIC")},
    # IMG_0004.HEIC and .MOV: same name, same second, but different identifiers: two shots
    # Google Takeout's edited version; `IMG_0006_01` (darktable) and `-Edit` (Lightroom) are not
    "DCIM/IMG_0006.jpg": {("edited", "DCIM/IMG_0006-edited.jpg"), ("sidecar", "DCIM/IMG_0006.jpg.json")},
    "DCIM/IMG_0006-edited.jpg": {("original", "DCIM/IMG_0006.jpg")},
    # IMG_E0007.JPG was shot years before IMG_0007.JPG: a counter that wrapped, not an edit
    "DCIM/DSC_0001.NEF": {("jpeg", "DCIM/DSC_0001.JPG"), ("sidecar", "DCIM/DSC_0001.xmp")},
    "DCIM/DSC_0001.JPG": {("raw", "DCIM/DSC_0001.NEF")},
    # DSC_0002: hours apart; DSC_0003.JPG: written by Lightroom, an export
    "DCIM/IMG_0010.CR2": {("jpeg", "DCIM/IMG_0010.JPG"), ("sidecar", "DCIM/IMG_0010.CR2.xmp")},
    "DCIM/IMG_0010.JPG": {("raw", "DCIM/IMG_0010.CR2"), ("sidecar", "DCIM/IMG_0010.JPG.xmp")},
    "DCIM/IMG_0011.JPG": {("sidecar", "DCIM/IMG_0011.JPG.supplemental-metadata.json")},
    "DCIM/IMG_0011(1).JPG": {("sidecar", "DCIM/IMG_0011.JPG.supplemental-metadata(1).json")},
    "DCIM/IMG_0012.jpg": {("sidecar", "DCIM/IMG_0012.jpg.json")},
    "DCIM/IMG_0012(1).jpg": {("sidecar", "DCIM/IMG_0012.jpg(1).json")},
    f"DCIM/{LONG}": {("sidecar", f"DCIM/{LONG[:46]}.json")},
    f"DCIM/{PIXEL}": {("sidecar", f"DCIM/{(PIXEL + '.supplemental-metadata')[:46]}.json")},
    f"DCIM/{PIXEL_1}": {("sidecar", f"DCIM/{(PIXEL + '.supplemental-metadata')[:46]}(1).json")},
    f"DCIM/{NIGHT}": {("sidecar", f"DCIM/{(NIGHT + '.supplemental-metadata')[:47]}.json")},
    "DCIM/holiday.jpg": {("sidecar", "DCIM/holiday.jpg.supplemental-metadata.json")},
    # RAW/DSC_0004.NEF and JPG/DSC_0004.JPG: a camera's sibling folders hold two pictures
}  # fmt: skip
ORPHANS = ("DCIM/IMG_0099.JPG.xmp", "DCIM/IMG_0098.jpg.supplemental-metadata.json")


def _exiftool(workdir: Path, jobs: list[list[str]]) -> None:
    """Write tags with exiftool: every job (its arguments, the file last) in one run."""
    if shutil.which("exiftool") is None:
        pytest.skip("exiftool not installed (Debian: libimage-exiftool-perl)")
    config = workdir / "keys.config"
    config.write_text(KEYS_CONFIG)
    lines = [arg for job in jobs for arg in (*job, "-overwrite_original", "-execute")]
    (workdir / "args.txt").write_text("\n".join(lines) + "\n")
    subprocess.run(
        ["exiftool", "-config", str(config), "-q", "-q", "-@", str(workdir / "args.txt")],
        check=True,
        capture_output=True,
    )


def _copy(source: Path, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return target


def _jpeg(target: Path, taken: str | None, software: str | None = None) -> None:
    """A copy of a real camera JPEG with its DateTimeOriginal set to `taken` (None: no EXIF at
    all), and its Software tag, if given."""
    _copy(JPEG, target)
    if taken is None:
        piexif.remove(str(target))
        return
    exif = piexif.load(str(JPEG))
    exif["Exif"][piexif.ExifIFD.DateTimeOriginal] = taken.encode()
    if software is not None:
        exif["0th"][piexif.ImageIFD.Software] = software.encode()
    exif.pop("thumbnail", None)
    exif["1st"] = {}
    piexif.insert(piexif.dump(exif), str(target))


def _build_units(root: Path) -> None:
    """Every case of EXPECTED under `root`, from real files (renamed, dates and ids rewritten)."""
    dcim = root / "DCIM"
    jobs: list[list[str]] = []
    for number in ("0001", "0002", "0003", "0004"):
        heic = _copy(HEIC, dcim / f"IMG_{number}.HEIC")
        jobs.append([f"-Apple:MediaGroupUUID=ID-{number}", str(heic)])  # the maker note's tag 0x0011
    jobs.append(["-Keys:CreationDate=2021:04:11 15:47:54-05:00", str(_copy(MOV, dcim / "IMG_0001.MOV"))])
    _copy(MOV, dcim / "IMG_0002.MOV")
    jobs.append(["-Keys:ContentIdentifier=ID-0003", str(_copy(MOV, dcim / "Live clip.MOV"))])
    jobs.append(
        ["-Keys:ContentIdentifier=ID-9999", "-Keys:CreationDate=2021:04:11 15:47:53-05:00",
         str(_copy(MOV, dcim / "IMG_0004.MOV"))]
    )  # fmt: skip
    _exiftool(root, jobs)
    (dcim / "IMG_0001.AAE").write_text("<plist/>")
    _jpeg(dcim / "IMG_E0001.JPG", "2021:04:11 15:47:53")  # local time, as the HEIC's at -05:00
    for name in (
        "IMG_0006.jpg",
        "IMG_0006-edited.jpg",
        "IMG_0006_01.jpg",
        "IMG_0006-Edit.jpg",
        "IMG_0007.JPG",
    ):
        _jpeg(dcim / name, "2019:07:04 10:00:00")
    (dcim / "IMG_0006.jpg.json").write_text(json.dumps({"title": "IMG_0006.jpg"}))
    _jpeg(dcim / "IMG_E0007.JPG", "2012:01:01 08:00:00")
    for number, taken, software in (
        ("0001", "2004:06:09 16:02:36", None),
        ("0002", "2004:06:09 18:00:00", None),
        ("0003", "2004:06:09 16:02:35", "Adobe Photoshop Lightroom Classic 13.0 (Windows)"),
    ):
        _copy(NEF, dcim / f"DSC_{number}.NEF")
        _jpeg(dcim / f"DSC_{number}.JPG", taken, software)
    (dcim / "DSC_0001.xmp").write_text("<x:xmpmeta/>")  # Lightroom's, for the RAW
    _copy(NEF, root / "RAW" / "DSC_0004.NEF")
    _jpeg(root / "JPG" / "DSC_0004.JPG", "2004:06:09 16:02:35")
    _copy(CR2, dcim / "IMG_0010.CR2")
    _jpeg(dcim / "IMG_0010.JPG", "2005:08:03 18:59:18")
    for name in (
        "IMG_0011.JPG",
        "IMG_0011(1).JPG",
        "IMG_0012.jpg",
        "IMG_0012(1).jpg",
        LONG,
        PIXEL,
        PIXEL_1,
        NIGHT,
    ):
        _jpeg(dcim / name, "2019:07:04 10:00:00")
    _jpeg(dcim / "holiday.jpg", None)  # its EXIF stripped by an export
    (dcim / "holiday.jpg.supplemental-metadata.json").write_text(
        json.dumps({"title": "holiday.jpg", "photoTakenTime": {"timestamp": str(TAKEN)}})
    )
    for sidecars in EXPECTED.values():
        for role, name in sidecars:
            if role == "sidecar" and not (root / name).exists():
                (root / name).write_text("{}" if name.endswith(".json") else "<x:xmpmeta/>")
    for orphan in ORPHANS:
        (root / orphan).write_text("<x:xmpmeta/>")
    (dcim / "album.json").write_text("{}")  # named after no photo: neither linked nor an orphan


@pytest.fixture(scope="module")
def units_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("units")
    _build_units(root)
    return root


@pytest.fixture
def units(units_source: Path, tmp_path: Path) -> Path:
    """A fresh copy of the folder of cases (the module builds it once)."""
    return Path(shutil.copytree(units_source, tmp_path / "m"))


def _links(catalog: Catalog, root: Path) -> dict[str, set[tuple[str, str]]]:
    """Every record's companions under `root`, as EXPECTED writes them (paths relative to root)."""
    return {
        os.path.relpath(r.path, root): {(c.role, os.path.relpath(c.path, root)) for c in r.companions}
        for r in catalog.iter_under("d", str(root))
        if r.companions
    }


def test_every_unit_is_linked_and_nothing_else(store: Catalog, units: Path) -> None:
    add_folder(store, str(units), device="d", recursive=True, workers=0)
    assert _links(store, units) == EXPECTED


def test_units_are_unchanged_by_a_sync_after_the_folder_moved(store: Catalog, units: Path) -> None:
    add_folder(store, str(units), device="d", recursive=True, workers=0)
    (units / "2021").mkdir()
    (units / "DCIM").rename(units / "2021" / "DCIM")

    plan = plan_sync(store, str(units), device="d", workers=0)
    apply_sync(store, plan)

    moved = {
        name.replace("DCIM/", "2021/DCIM/"): {
            (role, path.replace("DCIM/", "2021/DCIM/")) for role, path in links
        }
        for name, links in EXPECTED.items()
    }
    assert len(plan.moves) == store.count(device="d", prefix=str(units / "2021"))
    assert _links(store, units) == moved
    assert plan.orphan_sidecars == tuple(sorted(str(units / "2021" / orphan) for orphan in ORPHANS))
    assert all((units / "2021" / orphan).exists() for orphan in ORPHANS)  # reported, never removed
    again = add_folder(store, str(units), device="d", recursive=True, workers=0)
    assert (again.files_read, _links(store, units)) == (0, moved)


def test_units_survive_a_folder_written_in_chunks(
    store: Catalog, units: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(add_operation, "WINDOW_FILES", 3)  # IMG_0003.HEIC and Live clip.MOV part
    report = add_folder(store, str(units), device="d", recursive=True, workers=0)
    assert _links(store, units) == EXPECTED
    assert report.files_read == store.count(device="d")  # linking read no file again


def test_units_are_the_same_when_their_files_arrive_a_few_at_a_time(
    store: Catalog, units: Path, tmp_path: Path
) -> None:
    """Each `add` links the new files with those cataloged before, and unlinks what no longer holds."""
    waiting = tmp_path / "waiting"
    files = sorted(p for p in units.rglob("*") if p.is_file())
    for path in files:
        (waiting / path.relative_to(units)).parent.mkdir(parents=True, exist_ok=True)
        path.rename(waiting / path.relative_to(units))
    for round_ in range(3):  # every third file, in turns: halves and twins arrive apart
        for path in files[round_::3]:
            (waiting / path.relative_to(units)).rename(path)
        add_folder(store, str(units), device="d", recursive=True, workers=0)
    assert _links(store, units) == EXPECTED


def test_a_catalog_made_by_the_previous_extractor_is_read_again_for_content_ids(
    store: Catalog, units_source: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    for name in ("IMG_0003.HEIC", "Live clip.MOV"):
        shutil.copy2(units_source / "DCIM" / name, folder / name)
    add_folder(store, str(folder), device="d", recursive=False, workers=0)
    old = [
        replace(r, extractor_version=1, content_id=None, companions=())
        for r in store.iter_under("d", str(folder))
    ]
    store.upsert_many(old)  # as the previous imgcat left them: no identifier, so no pair

    report = add_folder(store, str(folder), device="d", recursive=False, workers=0)
    assert report.files_read == 2
    assert _links(store, folder) == {
        "IMG_0003.HEIC": {("live_video", "Live clip.MOV")},
        "Live clip.MOV": {("live_still", "IMG_0003.HEIC")},
    }


def test_takeout_gives_the_capture_time_of_a_photo_without_one(store: Catalog, units: Path) -> None:
    add_folder(store, str(units), device="d", recursive=True, workers=0)
    holiday = store.get("d", str(units / "DCIM" / "holiday.jpg"))
    assert holiday is not None
    assert (holiday.captured_at, holiday.captured_offset, holiday.captured_source) == (
        datetime.fromtimestamp(TAKEN, UTC),
        None,
        "sidecar",
    )
    with_exif = store.get("d", str(units / "DCIM" / "IMG_0006.jpg"))  # its JSON has no time: EXIF's
    assert with_exif is not None and with_exif.captured_source == "exif"

    (units / "DCIM" / "holiday.jpg.supplemental-metadata.json").unlink()  # the sidecar goes
    add_folder(store, str(units), device="d", recursive=True, workers=0)
    holiday = store.get("d", str(units / "DCIM" / "holiday.jpg"))
    assert holiday is not None and holiday.captured_source == "mtime"


def test_sync_reports_orphan_sidecars_on_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "m"
    _jpeg(folder / "IMG_0001.JPG", "2019:07:04 10:00:00")
    for name in (
        "IMG_0001.JPG.xmp",
        "IMG_0002.JPG.xmp",
        "IMG_0003.jpg.supplemental-metadata.json",
        "album.json",
    ):
        (folder / name).write_text("{}")
    db = str(tmp_path / "c.sqlite")
    assert imgcat(capsys, "add", "-q", str(folder), "--db", db).code == 0
    run = imgcat(capsys, "sync", str(folder), "--db", db, "--json")
    orphans = [str(folder / "IMG_0002.JPG.xmp"), str(folder / "IMG_0003.jpg.supplemental-metadata.json")]
    assert (run.code, json.loads(run.out)[0]["orphan_sidecars"]) == (0, orphans)
    run = imgcat(capsys, "sync", str(folder), "--db", db)
    assert f"orphan sidecar (its photo is gone; kept): {orphans[0]}" in run.out
    assert all(Path(orphan).exists() for orphan in orphans)


# --- the rules, one by one, without files ---------------------------------------------------------

MINUS_5 = timezone(timedelta(hours=-5))


def _at(path: str, moment: datetime | None, source: str | None = "exif", **fields: object) -> MediaRecord:
    return replace(make_record(path, captured_at=moment, captured_source=source), **fields)  # type: ignore[arg-type]


def test_a_local_time_and_an_instant_are_one_moment_only_under_a_real_offset() -> None:
    still = _at("/p/IMG_1.JPG", datetime(2016, 5, 1, 12, 0, 0))  # an old iPhone: no offset tag
    video = _at("/p/IMG_1.MOV", datetime(2016, 5, 1, 17, 0, 1, tzinfo=UTC), "video", kind="video")
    assert same_moment(still, video, 3)
    assert not same_moment(still, replace(video, captured_at=datetime(2016, 5, 1, 17, 7, 0, tzinfo=UTC)), 3)
    assert not same_moment(still, replace(video, captured_at=datetime(2016, 5, 2, 17, 0, 1, tzinfo=UTC)), 3)
    guessed = replace(video, captured_at=datetime(2016, 5, 1, 12, 0, 0), captured_source="mtime")
    assert not same_moment(still, guessed, 3)  # a modification time is no capture time


def test_a_name_alone_never_pairs() -> None:
    still = _at("/p/IMG_1.HEIC", datetime(2021, 4, 11, 15, 47, 53, tzinfo=MINUS_5), format="heic")
    video = _at("/p/IMG_1.MOV", None, None, kind="video", format="mov")  # no date could be read
    guessed = replace(video, captured_at=still.captured_at, captured_source="filename")
    assert [r.companions for r in link_companions([still, video], [])] == [(), ()]
    assert [r.companions for r in link_companions([still, guessed], [])] == [(), ()]


def test_a_still_with_two_matching_videos_pairs_with_neither() -> None:
    moment = datetime(2021, 4, 11, 15, 47, 53, tzinfo=MINUS_5)
    still = _at("/p/IMG_1.HEIC", moment, format="heic")
    videos = [_at(f"/p/IMG_1.{ext}", moment, "video", kind="video", format=ext) for ext in ("mov", "mp4")]
    assert all(not r.companions for r in link_companions([still, *videos], []))


def test_links_do_not_depend_on_the_order_records_come_in() -> None:
    moment = datetime(2021, 4, 11, 15, 47, 53, tzinfo=MINUS_5)
    records = [
        _at("/p/IMG_1.HEIC", moment, format="heic"),
        _at("/p/IMG_1.MOV", moment, "video", kind="video", format="mov"),
        _at("/p/IMG_E1.HEIC", moment, format="heic"),
        _at("/p/IMG_1.CR2", moment, format="cr2"),
    ]
    sidecars = ["/p/IMG_1.xmp", "/p/IMG_1.AAE"]
    forward = link_companions(records, sidecars)
    backward = link_companions(records[::-1], sidecars[::-1])
    assert sorted(forward, key=lambda r: r.path) == sorted(backward, key=lambda r: r.path)
    assert {c.path for r in forward for c in r.companions} >= {*sidecars, "/p/IMG_E1.HEIC"}


def test_a_sidecar_goes_to_the_file_its_name_names_exactly() -> None:
    names = FolderNames.of((name, name) for name in ("IMG_1.JPG", "IMG_1.CR2", "IMG_1.HEIC", "IMG_2(1).jpg"))
    assert names.owners("IMG_1.CR2.xmp") == ("exact", ["IMG_1.CR2"])  # darktable
    assert names.owners("IMG_1_01.CR2.xmp") == ("exact", ["IMG_1.CR2"])  # darktable's duplicate
    assert names.owners("IMG_1.JPG.xmp") == ("exact", ["IMG_1.JPG"])
    assert names.owners("img_1.jpg.json") == ("exact", ["IMG_1.JPG"])
    assert names.owners("IMG_1.HEIC.supplemental-metadata.json") == ("exact", ["IMG_1.HEIC"])
    assert names.owners("IMG_2.jpg(1).json") == ("exact", ["IMG_2(1).jpg"])
    assert names.owners("IMG_1.jpg(1).json") == ("exact", [])  # IMG_1(1).jpg's, which is gone
    assert names.owners("IMG_O1.AAE")[1] == ["IMG_1.JPG", "IMG_1.CR2", "IMG_1.HEIC"]
    assert sidecars_with_owner(["/p/IMG_1.xmp", "/p/IMG_9.xmp", "/p/a.json"], ["/p/IMG_1.JPG"]) == {
        "/p/IMG_1.xmp"
    }


def test_an_orphan_is_a_sidecar_named_after_a_file_that_is_gone() -> None:
    sidecars = [
        "/p/IMG_1.xmp",
        "/p/IMG_2.AAE",
        "/p/IMG_3.jpg.json",
        "/p/album.json",
        "/p/x.jpg.supplemen.json",
    ]
    assert orphan_sidecars(sidecars, ["/p/IMG_1.CR2"]) == [
        "/p/IMG_2.AAE",
        "/p/IMG_3.jpg.json",
        "/p/x.jpg.supplemen.json",
    ]


_NAME_CHARS = st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_- .")


@given(
    stem=st.text(_NAME_CHARS, min_size=1, max_size=70).filter(lambda s: s.strip(". ") == s),
    ext=st.sampled_from(["jpg", "JPG", "heic", "mp4", "MP4"]),
    number=st.none() | st.integers(1, 12),
    supplemental=st.booleans(),
    cut=st.sampled_from([46, 47]),
)
def test_every_takeout_json_name_finds_its_photo(
    stem: str, ext: str, number: int | None, supplemental: bool, cut: int
) -> None:
    """Google Takeout names a photo's JSON `NAME[.supplemental-metadata]`, cut to 46 or 47
    characters, then `(n)` for the n-th file of that name (`STEM(n).EXT`), then `.json`."""
    name = f"{stem}.{ext}"
    media = name if number is None else f"{stem}({number}).{ext}"
    json_name = (name + (".supplemental-metadata" if supplemental else ""))[:cut]
    json_name += ("" if number is None else f"({number})") + ".json"
    names = FolderNames.of([(media, media), ("other.jpg", "other.jpg")])
    _, owners = names.owners(json_name)
    assert owners == [media], json_name


def test_a_camera_jpeg_beside_its_raw_is_a_twin_and_an_export_is_not() -> None:
    moment = datetime(2004, 6, 9, 16, 2, 35)
    raw = _at("/p/DSC_1.NEF", moment, format="nef")
    jpeg = _at("/p/DSC_1.JPG", moment + timedelta(seconds=2), software="Ver.1.00")
    export = replace(jpeg, software="darktable 4.6.1")
    assert link_companions([raw, jpeg], [])[0].companions == (Companion("jpeg", jpeg.path),)
    assert link_companions([raw, export], [])[0].companions == ()
    late = replace(jpeg, captured_at=moment + timedelta(seconds=3))
    assert link_companions([raw, late], [])[0].companions == ()


def test_the_cases_name_files_of_the_folder(units_source: Path) -> None:
    named = {name for name, links in EXPECTED.items() for name in (name, *(path for _, path in links))}
    assert sorted(name for name in named if not (units_source / name).exists()) == []
