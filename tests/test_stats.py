"""`imgcat stats`: what the catalog holds, and the space exact duplicates take."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clirun import imgcat
from media import MEDIA, copy_media


def test_stats_counts_by_facet_and_the_space_of_duplicates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = copy_media(tmp_path / "m", "exif_org", "sony_cybershot", "iphone_6")
    db = str(tmp_path / "c.sqlite")
    imgcat(capsys, "add", str(root), "-r", "--db", db, "--workers", "0", "-q", "--device", "laptop")
    run = imgcat(capsys, "stats", "--json", "--db", db)
    assert run.code == 0
    figures = json.loads(run.out)
    duplicate = (MEDIA / "exif_org" / "sony-cybershot.jpg").stat().st_size
    assert (figures["duplicate_groups"], figures["duplicate_files"], figures["duplicate_bytes"]) == (
        1,
        1,
        duplicate,
    )
    summary = figures["summary"]
    assert summary["records"] == 5
    assert {b["key"]: b["count"] for b in summary["by_kind"]} == {"image": 4, "video": 1}
    assert {b["key"]: b["count"] for b in summary["by_year"]} == {"2000": 2, "2001": 1, "2014": 1, "2019": 1}
    assert {b["key"]: b["count"] for b in summary["by_camera"]} == {"SONY CYBERSHOT": 3, "Apple iPhone 6": 2}
    assert summary["by_device"] == [{"key": "laptop", "count": 5, "bytes": summary["bytes"]}]
    table = imgcat(capsys, "stats", "--db", db)
    assert "exact duplicates: 1 extra copy in 1 group," in table.out
    assert "SONY CYBERSHOT" in table.out


def test_stats_shows_damaged_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = copy_media(tmp_path / "m", "nikon_coolpix_p6000")
    db = str(tmp_path / "c.sqlite")
    imgcat(capsys, "add", str(root), "-r", "--db", db, "--workers", "0", "-q")
    (root / "nikon_coolpix_p6000" / "DSCN0010.jpg").write_bytes(b"")  # a failed copy over it
    synced = imgcat(capsys, "sync", str(root), "--db", db, "--workers", "0", "-q")
    assert synced.code == 0
    figures = json.loads(imgcat(capsys, "stats", "--json", "--db", db).out)["summary"]
    assert (figures["records"], figures["with_errors"]) == (4, 1)
    assert figures["by_error"] == [{"key": "content", "count": 1, "bytes": 0}]
    table = imgcat(capsys, "stats", "--db", db).out
    assert "read with errors (damaged, cut short or partly read): 1 file;" in table
    assert "error\tcontent\t1\t0 B" in table
