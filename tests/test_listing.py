"""`imgcat ls` and `imgcat types`: the original tool's utilities, on real files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clirun import imgcat
from media import copy_media


def test_ls_prints_exactly_what_add_stores(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = copy_media(tmp_path / "m", "nikon_coolpix_p6000", "iphone_6")
    db = str(tmp_path / "c.sqlite")
    scanned = imgcat(capsys, "ls", str(root), "-r", "--json", "--workers", "0", "--device", "d")
    assert scanned.code == 0
    imgcat(capsys, "add", str(root), "-r", "--db", db, "--workers", "0", "--device", "d")
    stored = imgcat(capsys, "ls", str(root), "-r", "--catalog", "--json", "--db", db, "--device", "d")

    def comparable(out: str) -> list[dict[str, object]]:
        records = json.loads(out)
        for record in records:
            del record["scanned_at"], record["first_seen"]
        return sorted(records, key=lambda r: str(r["path"]))

    assert comparable(scanned.out) == comparable(stored.out)
    assert len(comparable(scanned.out)) == 6
    first = comparable(scanned.out)[0]
    assert {"path", "checksum", "captured_at", "make", "model", "width", "height", "gps"} <= set(first)


def test_ls_without_recursion_and_as_json_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = copy_media(tmp_path / "m", "nikon_coolpix_p6000", "iphone_6")
    (root / "nikon_coolpix_p6000").rename(root / "top")
    run = imgcat(capsys, "ls", str(root / "top"), "--jsonl", "--workers", "0")
    lines = run.out.splitlines()
    assert len(lines) == 4
    assert json.loads(lines[0])["gps"]["lat"] == pytest.approx(43.4674483)
    assert imgcat(capsys, "ls", str(root), "--jsonl", "--workers", "0").out == ""


def test_types_counts_by_extension_and_content(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = copy_media(tmp_path / "m", "nikon_d70s", "iphone_6")
    (root / "notes.txt").write_text("hello")
    run = imgcat(capsys, "types", str(root), "-r", "--json")
    found = {(t["extension"], t["content"]): (t["count"], t["bytes"]) for t in json.loads(run.out)}
    assert found[("nef", "image/jpeg")][0] == 2
    assert found[("jpg", "image/jpeg")][0] == 2
    assert found[("mov", "video/mov")][0] == 1
    assert found[("txt", "other")] == (1, 5)
    counts = [t["count"] for t in json.loads(run.out)]
    assert counts == sorted(counts, reverse=True)


def test_ls_table_shows_each_file_whole_under_the_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    root = copy_media(tmp_path / "m", "iphone_11_pro", "raw_exiftool")
    run = imgcat(capsys, "ls", str(root), "-r", "--workers", "0")
    assert run.code == 0
    text = "".join(run.out.split())  # a long name may be folded over lines, never cut
    assert "iphone_11_pro/IMG_2927.HEIC" in text and "raw_exiftool/CanonRaw.cr2" in text
    assert "2020-05-0418:39" in text and "CanonEOS350D" in text and "CanonCanon" not in text
