"""`imgcat add` on real camera and phone files: what it stores, what it skips, what it never re-reads."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from clirun import imgcat
from imgcat.catalog.sqlite import SqliteCatalog
from imgcat.operations.add import WINDOW_FILES, add_folder
from imgcat.record import MediaRecord
from imgcat.scan import extract as extract_module
from media import MEDIA, copy_media, manifest


@pytest.fixture(scope="module")
def cataloged(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, MediaRecord]]:
    """The whole shared media set, copied and cataloged once (serially) for this module."""
    root = copy_media(tmp_path_factory.mktemp("media"))
    catalog = SqliteCatalog(tmp_path_factory.mktemp("db") / "c.sqlite")
    add_folder(catalog, str(root), device="test", recursive=True, workers=0)
    records = {str(Path(r.path).relative_to(root)): r for r in catalog.iter_under("test", str(root))}
    catalog.close()
    return root, records


def test_every_real_media_file_is_cataloged_with_its_kind_and_format(
    cataloged: tuple[Path, dict[str, MediaRecord]],
) -> None:
    _, records = cataloged
    rows = manifest()
    assert len(records) == len(rows)
    for row in rows:
        record = records[row["path"].removeprefix("media/")]
        assert (record.kind, record.format) == (row["kind"], row["format"]), row["path"]


def test_a_misnamed_file_is_cataloged_by_content_and_flagged(
    cataloged: tuple[Path, dict[str, MediaRecord]],
) -> None:
    _, records = cataloged
    misnamed = records["nikon_d70s/Issue 247-2.nef"]
    assert (misnamed.format, misnamed.ext_mismatch) == ("jpeg", True)
    assert not records["nikon_d70s/87_OSError.jpg"].ext_mismatch


def _manifest_time(text: str) -> tuple[datetime, bool] | None:
    """exiftool's date: the moment, and whether it carries a zone."""
    text = text.replace(" DST", "").replace("Z", "+00:00")
    if not text:
        return None
    date, _, time = text.partition(" ")
    iso = f"{date.replace(':', '-')}T{time}"
    moment = datetime.fromisoformat(iso)
    return moment, moment.tzinfo is not None


def _exiftool_create_date(path: Path) -> str:
    """CreateDate (EXIF DateTimeDigitized), the fallback when DateTimeOriginal is blank."""
    if shutil.which("exiftool") is None:
        pytest.skip("exiftool not installed (Debian: libimage-exiftool-perl)")
    answer = subprocess.run(["exiftool", "-json", "-CreateDate", str(path)], capture_output=True, check=True)
    return str(json.loads(answer.stdout)[0].get("CreateDate", ""))


def test_capture_time_agrees_with_exiftool(cataloged: tuple[Path, dict[str, MediaRecord]]) -> None:
    _, records = cataloged
    checked = 0
    for row in manifest():
        record = records[row["path"].removeprefix("media/")]
        expected = _manifest_time(row["datetime_original"])
        if expected is None and record.captured_source == "exif":
            expected = _manifest_time(_exiftool_create_date(MEDIA.parent / row["path"]))
            assert expected is not None, f"{row['path']}: a capture time exiftool does not see"
        if expected is None:
            assert record.captured_source in ("filename", "mtime"), row["path"]
            continue
        moment, zoned = expected
        assert record.captured_at is not None, row["path"]
        got = record.captured_at
        if row["kind"] == "video":
            # QuickTime CreateDate is UTC; Apple's own creation date (with offset) may be a few
            # seconds earlier, as it marks the start of the recording.
            reference = moment if zoned else moment.replace(tzinfo=UTC)
            mine = got if got.tzinfo else got.replace(tzinfo=UTC)
            assert abs((mine - reference).total_seconds()) <= 60, row["path"]
        else:
            assert got.replace(microsecond=0, tzinfo=None) == moment.replace(tzinfo=None), row["path"]
            assert record.captured_source == "exif"
            if row["offset"]:
                assert got.utcoffset() is not None, row["path"]
                assert got.isoformat().endswith(row["offset"]), row["path"]
            elif not zoned:
                assert got.tzinfo is None, f"{row['path']}: an offset was invented"
        checked += 1
    assert checked >= 85


def test_camera_and_gps_agree_with_exiftool(cataloged: tuple[Path, dict[str, MediaRecord]]) -> None:
    _, records = cataloged
    for row in manifest():
        record = records[row["path"].removeprefix("media/")]
        if row["kind"] == "image":
            assert (record.make or "") == row["make"], row["path"]
            assert (record.model or "") == row["model"], row["path"]
        if row["gps_lat"] and row["kind"] == "image":
            assert record.gps is not None, row["path"]
            assert record.gps.lat == pytest.approx(float(row["gps_lat"]), abs=1e-5), row["path"]
            assert record.gps.lon == pytest.approx(float(row["gps_lon"]), abs=1e-5), row["path"]


# Where exiftool's default ImageWidth is an embedded preview's, the camera image's size it reports
# in the format's own group (exiftool -SigmaRaw:ImageWidth -SigmaRaw:ImageHeight).
MAIN_IMAGE_SIZES = {"media/raw_exiftool/SigmaDP2.x3f": (2640, 1760)}


def test_dimensions_agree_with_exiftool(cataloged: tuple[Path, dict[str, MediaRecord]]) -> None:
    _, records = cataloged
    for row in manifest():
        record = records[row["path"].removeprefix("media/")]
        if not row["width"]:
            continue
        expected = MAIN_IMAGE_SIZES.get(row["path"], (int(row["width"]), int(row["height"])))
        assert (record.width, record.height) == expected, row["path"]


def test_orientation_gives_display_size(cataloged: tuple[Path, dict[str, MediaRecord]]) -> None:
    _, records = cataloged
    turned = records["canon_eos_20d/Canon EOS 20D (2).jpg"]
    assert turned.orientation == 6
    assert (turned.display_width, turned.display_height) == (turned.height, turned.width)


def test_heic_files_carry_their_exif(cataloged: tuple[Path, dict[str, MediaRecord]]) -> None:
    _, records = cataloged
    heic = records["iphone_11_pro_max/IMG_5195.HEIC"]
    assert (heic.make, heic.model) == ("Apple", "iPhone 11 Pro Max")
    assert heic.captured_at is not None and heic.captured_at.utcoffset() is not None
    assert heic.gps is not None and heic.phash is not None


@pytest.mark.skipif(not os.path.exists("/usr/bin/mediainfo"), reason="mediainfo not installed")
def test_video_duration_within_a_tenth_of_a_second_of_mediainfo(
    cataloged: tuple[Path, dict[str, MediaRecord]],
) -> None:
    root, records = cataloged
    for relative, record in records.items():
        if record.kind != "video":
            continue
        answer = subprocess.run(
            ["mediainfo", "--Inform=General;%Duration%", str(root / relative)],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        assert record.duration_s == pytest.approx(float(answer) / 1000, abs=0.1), relative


def test_images_get_perceptual_hashes_and_quality(cataloged: tuple[Path, dict[str, MediaRecord]]) -> None:
    _, records = cataloged
    dark = records["kodak_pixpro_fz201/Kodak PIXPRO FZ201.jpg"]
    normal = records["nikon_coolpix_p6000/DSCN0010.jpg"]
    assert dark.brightness is not None and normal.brightness is not None
    assert dark.brightness < 0.1 < normal.brightness
    assert dark.clipped_dark is not None and dark.clipped_dark > 0.5
    burst = records["nikon_d70s/Issue 247-2.nef"], records["nikon_d70s/Issue 247-3.nef"]
    other = records["iphone_4/Apple iPhone 4.jpg"]
    assert all(r.phash is not None for r in (*burst, other))
    distance = bin(burst[0].phash ^ burst[1].phash).count("1")  # type: ignore[operator]
    assert distance < bin(burst[0].phash ^ other.phash).count("1")  # type: ignore[operator]


def test_rerun_on_an_unchanged_tree_reads_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = copy_media(tmp_path / "m", "nikon_coolpix_p6000", "iphone_6", "misc_png")
    catalog = SqliteCatalog(tmp_path / "c.sqlite")
    first = add_folder(catalog, str(root), device="d", recursive=True, workers=0)
    assert first.added == 8

    def no_reading(*args: object, **kwargs: object) -> object:
        raise AssertionError("a file was read again")

    monkeypatch.setattr(extract_module, "extract_file", no_reading)
    again = add_folder(catalog, str(root), device="d", recursive=True, workers=0)
    assert (again.unchanged, again.added, again.updated, again.files_read, again.bytes_read) == (
        8,
        0,
        0,
        0,
        0,
    )


def test_a_changed_file_is_read_again_and_keeps_its_history(tmp_path: Path) -> None:
    root = copy_media(tmp_path / "m", "nikon_coolpix_p6000")
    catalog = SqliteCatalog(tmp_path / "c.sqlite")
    add_folder(catalog, str(root), device="d", recursive=True, workers=0)
    target = root / "nikon_coolpix_p6000" / "DSCN0010.jpg"
    before = catalog.get("d", str(target))
    target.write_bytes(target.read_bytes() + b"\0" * 10)
    report = add_folder(catalog, str(root), device="d", recursive=True, workers=0)
    after = catalog.get("d", str(target))
    assert (report.updated, report.unchanged) == (1, 3)
    assert before is not None and after is not None
    assert after.size == before.size + 10 and after.checksum != before.checksum
    assert after.first_seen == before.first_seen


def test_a_moved_file_updates_its_entry_instead_of_leaving_a_ghost(tmp_path: Path) -> None:
    root = copy_media(tmp_path / "m", "nikon_coolpix_p6000")
    catalog = SqliteCatalog(tmp_path / "c.sqlite")
    add_folder(catalog, str(root), device="d", recursive=True, workers=0)
    old = root / "nikon_coolpix_p6000" / "DSCN0010.jpg"
    first_seen = catalog.get("d", str(old)).first_seen  # type: ignore[union-attr]
    (root / "sorted").mkdir()
    new = root / "sorted" / "walk.jpg"
    old.rename(new)
    report = add_folder(catalog, str(root), device="d", recursive=True, workers=0)
    assert (report.moved, report.added, report.duplicates) == (1, 0, 0)
    assert catalog.get("d", str(old)) is None
    assert catalog.get("d", str(new)).first_seen == first_seen  # type: ignore[union-attr]
    assert catalog.count() == 4


def test_a_new_file_is_a_duplicate_of_a_changed_file_read_in_the_same_scan(tmp_path: Path) -> None:
    """Contents are compared with the catalog as the scan leaves it: a cataloged file changed to
    the very content of a new file beside it makes the new one a duplicate; a new file holding
    what a changed file held before the scan is none."""
    root = copy_media(tmp_path / "m", "nikon_coolpix_p6000")
    folder = root / "nikon_coolpix_p6000"
    catalog = SqliteCatalog(tmp_path / "c.sqlite")
    add_folder(catalog, str(root), device="d", recursive=True, workers=0)
    changed, new_content = folder / "DSCN0010.jpg", (folder / "DSCN0012.jpg").read_bytes() + b"\0"
    changed.write_bytes(new_content)
    (folder / "new_copy.jpg").write_bytes(new_content)
    report = add_folder(catalog, str(root), device="d", recursive=True, workers=0)
    assert (report.updated, report.added, report.duplicates, report.moved) == (1, 1, 1, 0)
    changed = folder / "DSCN0025.jpg"
    old_content = changed.read_bytes()
    changed.write_bytes((folder / "DSCN0027.jpg").read_bytes() + b"\0")
    (folder / "was_0025.jpg").write_bytes(old_content)
    report = add_folder(catalog, str(root), device="d", recursive=True, workers=0)
    assert (report.updated, report.added, report.duplicates, report.moved) == (1, 1, 0, 0)


def test_parallel_and_serial_scans_store_the_same_records(tmp_path: Path) -> None:
    root = copy_media(tmp_path / "m", "nikon_coolpix_p6000", "iphone_11_pro", "misc_video")
    serial, parallel = SqliteCatalog(tmp_path / "s.sqlite"), SqliteCatalog(tmp_path / "p.sqlite")
    add_folder(serial, str(root), device="d", recursive=True, workers=0)
    add_folder(parallel, str(root), device="d", recursive=True, workers=2)

    def comparable(catalog: SqliteCatalog) -> list[tuple[object, ...]]:
        return [
            (r.path, r.checksum, r.phash, r.captured_at, r.sharpness) for r in catalog.iter_under("d", "/")
        ]

    assert comparable(serial) == comparable(parallel)
    assert len(comparable(serial)) == 10


def test_duplicates_are_cataloged_and_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = copy_media(tmp_path / "m", "exif_org", "sony_cybershot")
    db = str(tmp_path / "c.sqlite")
    run = imgcat(capsys, "add", str(root), "-r", "--db", db, "--workers", "0")
    assert run.code == 0
    assert "1 new file has content already cataloged" in run.out
    silenced = imgcat(capsys, "add", str(tmp_path / "m"), "--recursive", "--allow_duplicates", "--db", db)
    assert "already cataloged" not in silenced.out
    assert SqliteCatalog(tmp_path / "c.sqlite").count() == 3


def test_original_usage_with_elasticsearch_flags_is_accepted(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run = imgcat(
        capsys,
        "add",
        str(tmp_path),
        "-r",
        "--allow_duplicates",
        "--host",
        "127.0.0.1",
        "--port",
        "1",
        "--index",
        "fotos",
    )
    assert run.code == 1
    assert run.err.startswith("error: cannot reach Elasticsearch at http://127.0.0.1:1")


def test_add_of_a_missing_folder_is_one_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run = imgcat(capsys, "add", str(tmp_path / "nope"), "--db", str(tmp_path / "c.sqlite"))
    assert (run.code, run.err) == (2, f"error: not a folder: {tmp_path / 'nope'}\n")


def test_json_summary(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    root = copy_media(tmp_path / "m", "misc_png")
    run = imgcat(
        capsys, "add", str(root), "-r", "--json", "--db", str(tmp_path / "c.sqlite"), "--workers", "0"
    )
    summary = json.loads(run.out)
    assert (summary["added"], summary["unchanged"], summary["errors"]) == (2, 0, 0)


@pytest.mark.parametrize(("name", "code"), [("SIGINT", 130), ("SIGTERM", 143), ("SIGHUP", 129)])
def test_an_interruption_keeps_what_was_read_and_a_rerun_goes_on(
    tmp_path: Path, name: str, code: int
) -> None:
    """Ctrl-C, `kill` and a closed terminal: a real signal, sent once the first window of files is
    written (tests/interrupt_after.py), so the outcome is exact, not a race."""
    source = MEDIA / "sony_cybershot" / "Sony Cybershot (3).jpg"
    root = tmp_path / "many"
    root.mkdir()
    for i in range(300):
        os.link(source, root / f"IMG_{i:04d}.jpg")  # 300 paths, no copying
    db = tmp_path / "c.sqlite"
    args = ["add", str(root), "--db", str(db), "--workers", "2", "-q"]
    driver = [sys.executable, str(Path(__file__).parent / "interrupt_after.py"), name, "upsert_many", "1"]
    stopped = subprocess.run([*driver, *args], capture_output=True, text=True, check=False, timeout=300)
    assert stopped.returncode == code, stopped.stderr
    assert stopped.stderr == "interrupted: what was read so far is saved; run the same command to go on\n"
    assert SqliteCatalog(db).count() == WINDOW_FILES  # exactly the first window
    if name != "SIGINT":
        return  # the rerun is the same after each
    again = subprocess.run(
        [sys.executable, "-m", "imgcat", *args], capture_output=True, text=True, check=False
    )
    assert (again.returncode, again.stderr) == (0, "")
    assert SqliteCatalog(db).count() == 300


def test_files_read_by_an_older_extractor_are_read_again(tmp_path: Path) -> None:
    from dataclasses import replace

    root = copy_media(tmp_path / "m", "nikon_coolpix_p6000")
    catalog = SqliteCatalog(tmp_path / "c.sqlite")
    add_folder(catalog, str(root), device="d", recursive=True, workers=0)
    old = catalog.get("d", str(root / "nikon_coolpix_p6000" / "DSCN0010.jpg"))
    assert old is not None
    catalog.upsert_many([replace(old, extractor_version=old.extractor_version - 1, phash=None)])
    report = add_folder(catalog, str(root), device="d", recursive=True, workers=0)
    assert (report.updated, report.unchanged) == (1, 3)
    again = catalog.get("d", old.path)
    assert again is not None and again.phash == old.phash and again.first_seen == old.first_seen
