"""`imgcat ls` and `imgcat types`: the original tool's utilities, on real files."""

from __future__ import annotations

import json
import shutil
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


def test_ls_catalog_answers_for_a_folder_that_is_not_on_disk(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = copy_media(tmp_path / "usb", "nikon_coolpix_p6000", "iphone_6")
    db = str(tmp_path / "c.sqlite")
    imgcat(capsys, "add", str(root), "-r", "--db", db, "--device", "usb", "--workers", "0", "-q")
    shutil.rmtree(root)  # unplugged: exactly when people ask what was on it
    listed = imgcat(capsys, "ls", str(root), "-r", "--catalog", "--json", "--db", db, "--device", "usb")
    assert listed.code == 0, listed.err
    assert len(json.loads(listed.out)) == 6
    one = imgcat(capsys, "ls", str(root / "iphone_6"), "--catalog", "--db", db, "--device", "usb")
    assert (one.code, one.out.count("\n")) == (0, 2)  # its two files, one row each (plain when piped)
    nowhere = imgcat(capsys, "ls", str(tmp_path / "nope"), "--catalog", "--db", db, "--device", "usb")
    assert (nowhere.code, nowhere.err) == (
        2,
        f"error: not a folder, and nothing is cataloged under it on device usb: {tmp_path / 'nope'} "
        "(--device names another device)\n",
    )


def test_a_json_array_is_written_item_by_item_exactly_as_one_document(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from conftest import full_record
    from imgcat.cli import render
    from imgcat.record import record_to_json

    for items in (
        [],
        [{"a": [1, {"b": "x\ny"}]}],
        [record_to_json(full_record(f"/p/{i}.jpg")) for i in range(3)],
    ):
        render.print_json(items)
        whole = capsys.readouterr().out
        render.print_json_array(iter(items))
        assert capsys.readouterr().out == whole


def test_ls_catalog_json_of_50000_entries_streams_in_flat_memory(tmp_path: Path) -> None:
    """Peak memory of the whole process (its ru_maxrss): the array is written as it is read, never
    built first (it took 333 MB for 20,000 entries when it was)."""
    import dataclasses
    import subprocess
    import sys
    from datetime import UTC, datetime

    from imgcat.catalog import sqlite as sqlite_store
    from imgcat.catalog.sqlite import SqliteCatalog
    from imgcat.scan.extract import extract_file
    from imgcat.scan.reading import FileStat

    photo = copy_media(tmp_path / "m", "iphone_11_pro") / "iphone_11_pro" / "IMG_2927.HEIC"
    real = extract_file(FileStat.of(str(photo)), "d", datetime.now(UTC)).record
    assert real is not None
    db = tmp_path / "c.sqlite"
    catalog = SqliteCatalog(db)
    catalog.upsert_many([real])
    template = dict(zip(sqlite_store.COLUMNS, sqlite_store.record_to_row(real), strict=True))
    rows = []
    for i in range(50_000):  # the real entry 50,000 times under other names: rows made directly, fast
        copy = dataclasses.replace(real, path=f"{tmp_path}/photos/{i // 1000:02d}/IMG_{i:05d}.HEIC")
        names = {"id": copy.id, "path": copy.path, "dir": copy.dir, "name": copy.name}
        rows.append(tuple({**template, **names}[column] for column in sqlite_store.COLUMNS))
    with catalog._db:
        catalog._db.execute("BEGIN")
        catalog._db.executemany(sqlite_store._INSERT, rows)
    catalog.close()
    (tmp_path / "photos").mkdir()
    command = [sys.executable, "-m", "imgcat", "ls", str(tmp_path / "photos"), "-r", "--catalog", "--json"]
    command += ["--db", str(db), "--device", "d"]
    # measured from a small launcher: a child forked straight from pytest would count pytest's
    # own pages, shared until exec, as its peak
    launcher = (
        "import resource, subprocess, sys; "
        "code = subprocess.run(sys.argv[2:], stdout=open(sys.argv[1], 'wb')).returncode; "
        "print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    measured = subprocess.run(
        [sys.executable, "-c", launcher, str(tmp_path / "out.json"), *command],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    code, peak_kb = (int(word) for word in measured.stdout.split())
    assert code == 0, measured.stderr
    with open(tmp_path / "out.json", "rb") as written:
        assert written.read().count(b'\n    "id": ') == 50_000
    assert peak_kb / 1024 < 150, f"peak {peak_kb / 1024:.0f} MB"


def test_ls_catalog_of_another_devices_disk_says_whose_entries_are_there(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A disk added with `add --device usb`, plugged in: listing it as this machine's is not an empty
    success, it names the device to pass."""
    root = copy_media(tmp_path / "usb", "nikon_coolpix_p6000", "iphone_6")
    db = str(tmp_path / "c.sqlite")
    imgcat(capsys, "add", str(root), "-r", "--db", db, "--device", "usb", "--workers", "0", "-q")
    for output in ([], ["--jsonl"]):
        listed = imgcat(capsys, "ls", str(root), "-r", "--catalog", *output, "--db", db, "--device", "vm")
        assert (listed.code, listed.out) == (1, "")
        assert listed.err == (
            f"error: nothing is cataloged under {root} on device vm: 6 entries there belong to device usb: "
            "pass --device usb\n"
        )
    mine = imgcat(capsys, "ls", str(root), "-r", "--catalog", "--jsonl", "--db", db, "--device", "usb")
    assert (mine.code, mine.out.count("\n")) == (0, 6)
    shutil.rmtree(root)  # unplugged, asked as the host: the same hint
    gone = imgcat(capsys, "ls", str(root), "--catalog", "--db", db, "--device", "vm")
    assert gone.code == 2 and "6 entries there belong to device usb: pass --device usb" in gone.err
    empty = tmp_path / "empty"
    empty.mkdir()  # nothing cataloged anywhere: an empty listing is the truth
    assert imgcat(capsys, "ls", str(empty), "--catalog", "--db", db, "--device", "vm").code == 0
