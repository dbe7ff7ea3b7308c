"""Bad input never stops a scan: one warning per bad file, every good file cataloged, no exception."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imgcat.catalog.sqlite import SqliteCatalog
from imgcat.scan.checksum import content_checksum
from imgcat.scan.extract import extract_file
from imgcat.scan.reading import FileStat
from media import MEDIA, copy_media

GOOD = ["nikon_coolpix_p6000/DSCN0010.jpg", "iphone_7/IMG_2682.heic", "misc_png/sampleWithExifData.png"]


def _bad_tree(root: Path) -> dict[str, Path]:
    copy_media(root, *GOOD)
    source = (MEDIA / "nikon_coolpix_p6000/DSCN0012.jpg").read_bytes()
    bad = root / "bad"
    bad.mkdir()
    files = {
        "truncated": bad / "truncated.jpg",
        "zero": bad / "zero.jpg",
        "not_a_photo": bad / "saved-web-page.jpg",
        "flipped_exif": bad / "flipped_exif.jpg",
        "huge_count": bad / "huge_count.jpg",
        "unreadable": bad / "unreadable.jpg",
        "non_utf8": Path(os.fsdecode(bytes(bad) + b"/caf\xe9-\xff.jpg")),
    }
    files["truncated"].write_bytes(source[: len(source) // 3])
    files["zero"].write_bytes(b"")
    files["not_a_photo"].write_text("<html>404 Not Found</html>")
    (bad / "notes.txt").write_text("not media, and not named like it: no warning")
    flipped = bytearray(source)
    for i in range(40, 400, 7):  # inside the APP1/EXIF block
        flipped[i] ^= 0xFF
    files["flipped_exif"].write_bytes(bytes(flipped))
    huge = bytearray(source)
    huge[20:22] = b"\xff\xff"  # the IFD0 entry count (TIFF header at 12, IFD0 at +8): absurd
    files["huge_count"].write_bytes(bytes(huge))
    files["unreadable"].write_bytes(source)
    files["unreadable"].chmod(0)
    files["non_utf8"].write_bytes(source)
    loop = bad / "loop"
    loop.symlink_to(loop)
    locked = root / "locked"
    locked.mkdir()
    (locked / "inside.jpg").write_bytes(source)
    files["locked"] = locked
    return files


def test_a_bad_tree_completes_with_one_warning_per_bad_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "tree"
    files = _bad_tree(root)
    db = tmp_path / "c.sqlite"
    command = [sys.executable, "-m", "imgcat", "add", str(root), "-r", "--db", str(db), "--workers", "0"]
    if os.geteuid() == 0:  # without these capabilities chmod 000 binds root too, as on a user's machine
        command = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", *command]
    files["locked"].chmod(0)
    try:
        run = subprocess.run(command, capture_output=True, text=True, check=False)
    finally:
        files["locked"].chmod(0o755)
    assert run.returncode == 0, run.stderr
    warnings = [line for line in run.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == len(set(warnings))
    warned = {w.split(": ", 2)[1]: w.split(": ", 2)[2] for w in warnings}
    assert warned[str(root / "bad" / "loop")] == "broken or looping symbolic link; not followed"
    assert warned[str(files["unreadable"])] == "cannot read: Permission denied"
    assert warned[str(files["locked"])] == "cannot list folder: Permission denied"
    assert str(files["truncated"]) in warned
    assert str(files["huge_count"]) in warned
    assert warned[str(files["zero"])] == "empty file"
    assert warned[str(files["not_a_photo"])] == "named like a photo or video, but its content is none"
    assert str(root / "bad" / "notes.txt") not in warned
    catalog = SqliteCatalog(db)
    for good in GOOD:
        assert catalog.get(_host(), str(root / good)) is not None, good
    # the non-UTF-8 name is cataloged under its exact bytes
    record = catalog.get(_host(), str(files["non_utf8"]))
    assert record is not None and os.fsencode(record.path).endswith(b"caf\xe9-\xff.jpg")
    zero = catalog.get(_host(), str(files["zero"]))
    assert zero is None  # nothing to catalog in an empty file: it is not media


def _host() -> str:
    import socket

    return socket.gethostname()


def test_a_file_that_vanishes_before_reading_is_skipped_with_a_reason(tmp_path: Path) -> None:
    path = tmp_path / "gone.jpg"
    path.write_bytes((MEDIA / "nikon_coolpix_p6000/DSCN0010.jpg").read_bytes())
    stat = FileStat.of(str(path))
    path.unlink()
    extraction = extract_file(stat, "d", datetime.now(UTC))
    assert (extraction.record, extraction.skipped) == (None, "vanished before it could be read")


def test_a_file_that_changes_while_read_is_left_for_the_next_run(tmp_path: Path) -> None:
    path = tmp_path / "changing.jpg"
    path.write_bytes((MEDIA / "nikon_coolpix_p6000/DSCN0010.jpg").read_bytes())
    stale = FileStat.of(str(path))
    path.write_bytes(path.read_bytes() + b"more")
    extraction = extract_file(stale, "d", datetime.now(UTC))
    assert extraction.record is None
    assert extraction.skipped is not None and "changed while being read" in extraction.skipped


SEEDS = [
    "nikon_coolpix_p6000/DSCN0010.jpg",
    "iphone_11_pro/IMG_2927.HEIC",
    "misc_png/sampleWithExifData.png",
    "raw_exiftool/Nikon.nef",
    "raw_truncated/fixture.cr3",
    "raw_exiftool/CanonRaw.crw",
    "raw_exiftool/SigmaDP2.x3f",
    "raw_exiftool/FujiFilm.raf",
    "raw_exiftool/Minolta.mrw",
    "raw_exiftool/Panasonic.rw2",
    "raw_exiftool/DNG.dng",
    "raw_exiftool/PhaseOne.iiq",
    "nokia_8_3_5g/HMD_Nokia_8.3_5G.heif",
    "canon_eos_70d/Issue 649.avif",
    "htc_desire/HTC Desire.webp",
    "misc_video/with-gps.mp4",
]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seed=st.sampled_from(SEEDS),
    edits=st.lists(st.tuples(st.integers(0, 16383), st.integers(0, 255)), min_size=0, max_size=12),
    cut=st.one_of(st.none(), st.integers(16, 8192)),
)
def test_a_mutated_real_file_is_cataloged_or_warned_about_never_raised(
    tmp_path: Path, seed: str, edits: list[tuple[int, int]], cut: int | None
) -> None:
    """Whatever the bytes, the extractor returns; a readable file is never passed over; a record
    describes the bytes on disk; and a file cut short is never taken as whole: its record carries
    `errors`, or it gets a warning line naming it (an empty or unrecognisable file)."""
    data = bytearray((MEDIA / seed).read_bytes())
    for position, value in edits:
        data[position % len(data)] = value
    cut_short = cut is not None and cut < len(data)
    if cut_short:
        del data[cut:]
    path = tmp_path / ("mutant" + Path(seed).suffix)
    path.write_bytes(bytes(data))
    extraction = extract_file(FileStat.of(str(path)), "d", datetime.now(UTC))
    assert extraction.skipped is None, extraction.skipped
    if extraction.record is not None:
        assert (extraction.record.size, extraction.record.checksum) == (
            len(data),
            content_checksum(bytes(data)),
        )
    assert extraction.problem is None or "\n" not in extraction.problem
    if cut_short:
        assert extraction.problem is not None, f"{seed} cut at {cut} was taken as whole"
        assert extraction.record is None or extraction.record.errors


def test_a_sliver_of_an_image_still_gets_hashes_and_measures(tmp_path: Path) -> None:
    from PIL import Image

    path = tmp_path / "sliver.png"
    Image.new("RGB", (8, 2824), (120, 60, 30)).save(path)
    extraction = extract_file(FileStat.of(str(path)), "d", datetime.now(UTC))
    assert extraction.record is not None and extraction.problem is None
    assert extraction.record.phash is not None and extraction.record.brightness is not None
