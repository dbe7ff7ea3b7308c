"""Every damaged video and HEIF is flagged: each container checked against its own declared sizes,
on every video and HEIF of the shared media, whole and cut at several points."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from imgcat.catalog.sqlite import SqliteCatalog
from imgcat.scan.containers import BytesSource, check_container
from imgcat.scan.extract import extract_file
from imgcat.scan.reading import Extraction, FileStat
from media import MEDIA, manifest

CHECKED = {"mp4", "mov", "3gp", "avi", "mkv", "webm", "mpegts", "m2ts", "heic", "avif"}
FILES = sorted(row["path"].removeprefix("media/") for row in manifest() if row["format"] in CHECKED)


def _cuts(size: int) -> list[int]:
    """Cut points from the headers to the last byte. +5 keeps a transport stream's cut off a packet
    boundary: a stream cut exactly between packets is a whole, shorter stream."""
    return [600, size // 3 + 5, size // 2 + 5, size * 9 // 10 + 5, size - 1]


def test_there_are_videos_and_heifs_of_every_checked_format() -> None:
    formats = {row["format"] for row in manifest() if row["format"] in CHECKED}
    assert formats == CHECKED
    assert len(FILES) == 20  # 10 videos, 10 HEIF (9 HEIC, 1 AVIF)


@pytest.mark.parametrize("relative", FILES)
def test_a_whole_file_is_whole_and_every_cut_is_flagged(relative: str) -> None:
    data = (MEDIA / relative).read_bytes()
    detected = _format(relative)
    assert check_container(detected, BytesSource(data)).problem is None
    for cut in _cuts(len(data)):
        found = check_container(detected, BytesSource(data[:cut]))
        assert found.problem is not None, f"{relative} cut at {cut} of {len(data)} looks whole"
        assert "\n" not in found.problem


@pytest.mark.parametrize("relative", FILES)
def test_a_cut_file_keeps_what_was_read_with_errors_and_one_warning(tmp_path: Path, relative: str) -> None:
    data = (MEDIA / relative).read_bytes()
    whole = _extract(tmp_path / ("whole" + Path(relative).suffix), data)
    cut = _extract(tmp_path / ("cut" + Path(relative).suffix), data[: len(data) // 2 + 5])
    assert whole.record is not None and whole.record.errors == ()
    assert cut.record is not None, cut
    assert cut.record.errors[0].stage == "container"
    assert cut.record.errors[0].message.startswith("cut short: ")
    assert cut.problem is not None and cut.problem.startswith("container: cut short: ")
    assert "\n" not in cut.problem and "0x" not in cut.problem
    assert (cut.record.kind, cut.record.format) == (whole.record.kind, whole.record.format)
    if cut.record.kind == "image":  # half a picture is not hashed: it would pair with strangers
        assert cut.record.phash is None and whole.record.phash is not None
        opened = not any(e.stage == "image" for e in cut.record.errors)
        if opened and whole.record.captured_source == "exif":  # its EXIF, in front, was read
            assert (cut.record.captured_at, cut.record.make) == (whole.record.captured_at, whole.record.make)


def test_add_warns_once_per_damaged_file_and_catalogs_each(tmp_path: Path) -> None:
    root = tmp_path / "card"
    root.mkdir()
    damaged = {}
    for relative in (
        "iphone_video/Issue 515 (java).mp4", "canon_video/MVI_4823.AVI", "misc_video/fixture.mkv",
        "iphone_11_pro/IMG_2927.HEIC", "panasonic_camcorder/fixture-raw.mts",
    ):  # fmt: skip
        data = (MEDIA / relative).read_bytes()
        target = root / Path(relative).name
        target.write_bytes(data[: len(data) * 2 // 3 + 5])
        damaged[str(target)] = relative
    db = tmp_path / "c.sqlite"
    command = [sys.executable, "-m", "imgcat", "add", str(root), "--db", str(db), "--workers", "0", "-q"]
    run = subprocess.run(command, capture_output=True, text=True, check=False, env=_env(tmp_path))
    assert run.returncode == 0, run.stderr
    warned = [line.split(": ", 2) for line in run.stderr.splitlines()]
    assert sorted(path for _, path, _ in warned) == sorted(damaged)
    assert all(what == "warning" and reason.startswith("container: cut short") for what, _, reason in warned)
    catalog = SqliteCatalog(db)
    assert catalog.summary().with_errors == 5
    assert {b.key: b.count for b in catalog.summary().by_error}["container"] == 5


def _format(relative: str) -> str:
    return next(row["format"] for row in manifest() if row["path"] == f"media/{relative}")


def _extract(path: Path, data: bytes) -> Extraction:
    path.write_bytes(data)
    return extract_file(FileStat.of(str(path)), "d", datetime.now(UTC))


def _env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "XDG_DATA_HOME": str(tmp_path / "xdg")}


def test_a_cr3_cut_short_is_flagged_and_keeps_its_preview(tmp_path: Path) -> None:
    found = _extract(tmp_path / "cut.cr3", (MEDIA / "raw_truncated/fixture.cr3").read_bytes())
    assert found.record is not None
    assert found.record.errors[0].message == (
        "cut short: box 'uuid' at byte 96,800 ends 272,170 bytes past the end of the file"
    )
