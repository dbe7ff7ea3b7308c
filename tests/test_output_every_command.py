"""Every command that prints a list, through the real `imgcat` process on one small real tree whose
names hold escapes and bytes that are not UTF-8: plain rows in a pipe with every name escaped, a
quiet end when the reader goes away, one error line when the output cannot be written, and the
--script and --html files showing nothing raw."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from PIL import Image

from imgcat.cli.app import main
from media import copy_media

ESCAPED = os.fsdecode(b"small caf\xe9 \x1b[2J.jpg")  # a non-UTF-8 byte and an ESC sequence
SHOWN = "small caf\\xe9 \\x1b[2J.jpg"
COPY = os.fsdecode(b"copy\tof D70 \xff.jpg")
COPY_SHOWN = "copy\\tof D70 \\xff.jpg"
RAW = (b"\x1b", b"\x9b", b"\xc2\x9b")  # ESC, and CSI as a byte and as a character


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, Path]:
    """A cataloged tree: a photo and its half-size copy (similar), an exact copy (dupes), a 1x1
    picture (junk), and a run that trashed one file (runs, trash list). Returns (tree, catalog)."""
    root = copy_media(
        tmp_path / "pics",
        "nikon_coolpix_p6000/DSCN0010.jpg",
        "nikon_d70/Nikon D70.jpg",
        "odd_exif/Issue 508.jpg",
        "exif_org/sony-cybershot.jpg",
    )
    original = root / "nikon_coolpix_p6000" / "DSCN0010.jpg"
    with Image.open(original) as image:
        image.resize((image.width // 2, image.height // 2)).save(root / ESCAPED)
    (root / COPY).write_bytes((root / "nikon_d70" / "Nikon D70.jpg").read_bytes())
    trashed = root / "exif_org" / "sony-cybershot copy.jpg"
    trashed.write_bytes((root / "exif_org" / "sony-cybershot.jpg").read_bytes())
    db = tmp_path / "c.sqlite"
    for args in (
        ["add", str(root), "-r", "--workers", "0", "-q"],
        ["dupes", "--under", str(root / "exif_org"), "--apply", "--yes"],
    ):
        assert main([*args, "--db", str(db)]) == 0, args
    assert not trashed.exists()
    return root, db


def _imgcat(*args: str, stdout: int = subprocess.PIPE) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "imgcat", *args],
        stdout=stdout,
        stderr=subprocess.PIPE,
        check=False,
        timeout=300,
    )


def _listings(root: Path) -> list[list[str]]:
    """One of each kind of output: tables, JSON, plans, questions' summaries, run lists."""
    pattern = "<year>/<month>"
    return [
        [],
        ["types", str(root), "-r"],
        ["stats"],
        ["ls", str(root), "-r", "--catalog", "--jsonl"],
        ["dupes"],
        ["dupes", "--json"],
        ["similar", str(root)],
        ["similar", str(root), "--json"],
        ["junk", str(root)],
        ["reorganize", str(root), "--pattern", pattern],
        ["reorganize", str(root), "--pattern", pattern, "--json"],
        ["runs"],
        ["trash", "list"],
        ["sync", str(root), "--dry-run", "--workers", "0"],
    ]


def _without_reader(root: Path, tmp_path: Path) -> list[list[str]]:
    """Each command that writes while it works (ls and stats: tests/test_output.py)."""
    return [
        ["dupes", "--script", str(tmp_path / "plan.sh")],
        ["similar", str(root)],
        ["junk", str(root), "--json"],
        ["reorganize", str(root), "--pattern", "<year>"],
        ["runs", "--json"],
        ["trash", "list"],
        ["sync", str(root), "--dry-run", "--workers", "0"],
        ["add", str(root), "-r"],
    ]


def test_every_listing_prints_plain_escaped_rows_in_a_pipe_and_ends_quietly_without_a_reader(
    tree: tuple[Path, Path], tmp_path: Path
) -> None:
    root, db = tree
    listings = [[*args, "--db", str(db)] for args in _listings(root)]
    impatient = [[*args, "--db", str(db)] for args in _without_reader(root, tmp_path)]

    def piped(args: list[str]) -> tuple[list[str], subprocess.CompletedProcess[bytes]]:
        return args, _imgcat(*args)

    def without_reader(args: list[str]) -> tuple[list[str], subprocess.CompletedProcess[bytes]]:
        reading, writing = os.pipe()
        os.close(reading)  # gone before imgcat writes a byte: `| head -1` at its most impatient
        try:
            return args, _imgcat(*args, stdout=writing)
        finally:
            os.close(writing)

    with ThreadPoolExecutor(2) as pool:
        outputs = list(pool.map(piped, listings))
        closed = list(pool.map(without_reader, impatient))
    seen = b""
    for args, run in outputs:
        assert run.returncode == 0, (args, run.stderr)
        try:
            text = run.stdout.decode("utf-8")  # strict: no raw byte of a name that is not UTF-8
        except UnicodeDecodeError as error:
            raise AssertionError(f"{args}: {run.stdout[error.start - 80 : error.end + 20]!r}") from error
        assert not any(raw in run.stdout + run.stderr for raw in RAW), args
        assert not set("─━│┃╭╮╰╯…") & set(text), args  # no box, nothing cut
        seen += run.stdout
    assert SHOWN.encode() in seen and COPY_SHOWN.encode() in seen
    for args, run in closed:
        assert (run.returncode, run.stderr) in ((0, b""), (141, b"")), args


def test_a_full_disk_under_the_output_is_one_error_line(tree: tuple[Path, Path]) -> None:
    root, db = tree
    with open("/dev/full", "wb") as full:
        for args in (["ls", str(root), "-r", "--json", "--workers", "2"], ["stats"], ["dupes"]):
            run = _imgcat(*args, "--db", str(db), stdout=full.fileno())
            assert run.returncode == 1, args
            assert run.stderr == b"error: cannot write the output: No space left on device\n", args


def test_a_script_shows_no_name_raw_and_moves_the_very_bytes(tree: tuple[Path, Path], tmp_path: Path) -> None:
    root, db = tree
    script = tmp_path / "plan.sh"
    assert _imgcat("dupes", "--script", str(script), "--db", str(db)).returncode == 0
    text = script.read_bytes()
    text.decode("utf-8")
    assert not any(raw in text for raw in RAW) and b"\t" not in text.replace(b"\n", b"")
    subprocess.run(["sh", str(script)], check=True, capture_output=True)
    assert not (root / COPY).exists()  # trashed, its name rebuilt byte for byte by printf
    assert (root / "nikon_d70" / "Nikon D70.jpg").exists()


def test_the_html_page_shows_names_escaped(tree: tuple[Path, Path], tmp_path: Path) -> None:
    root, db = tree
    page = tmp_path / "page.html"
    run = _imgcat("similar", str(root), "--html", str(page), "--db", str(db))
    assert run.returncode == 0, run.stderr
    text = page.read_bytes()
    assert not any(raw in text for raw in RAW)
    assert SHOWN in text.decode("utf-8") and "1 group of the same picture among" in text.decode()
    missing = _imgcat("similar", str(root), "--html", str(tmp_path / "no" / "page.html"), "--db", str(db))
    assert missing.returncode == 1
    assert missing.stderr.decode().startswith(f"error: cannot write {tmp_path}/no/page.html: No such file")
