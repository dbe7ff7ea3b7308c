"""Output for people and for pipes, through the real `imgcat` process: plain rows in a pipe, a rich
table on a terminal (a real pty), names from the disk never raw, quiet broken pipes, short usage
errors, counts in proper English, store options on every command."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import select
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from clirun import imgcat as in_process
from conftest import make_record
from imgcat.catalog.sqlite import SqliteCatalog
from imgcat.cli.app import main
from imgcat.cli.render import safe
from imgcat.record import camera_name
from media import MEDIA, copy_media
from test_docs import COMMANDS

ESC_NAME = "clear\x1b[2Jscreen\nand\tmore.jpg"


def imgcat(*args: str) -> subprocess.CompletedProcess[str]:
    """`python -m imgcat ARGS` with standard output and error captured through pipes."""
    return subprocess.run(
        [sys.executable, "-m", "imgcat", *args], capture_output=True, text=True, check=False, timeout=300
    )


def imgcat_on_a_terminal(*args: str, columns: int = 100) -> tuple[int, str]:
    """`python -m imgcat ARGS` on a real pseudo-terminal of `columns` columns: status and screen text."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    environment = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(columns)}
    process = subprocess.Popen(
        [sys.executable, "-m", "imgcat", *args],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=environment,
    )
    os.close(follower)
    screen = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 120)
        if not ready:
            break
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the process ended and closed the terminal
            break
        if not chunk:
            break
        screen += chunk
    os.close(leader)
    return process.wait(timeout=60), screen.decode("utf-8", "replace")


@pytest.fixture
def named_tree(tmp_path: Path) -> Path:
    """Real photos: a camera with a long name, one cataloged twice, and a file named with escapes."""
    root = copy_media(tmp_path / "m", "broken/corrupted.jpg", "canon_eos_20d", "exif_org", "sony_cybershot")
    (root / "broken" / "corrupted.jpg").rename(root / "broken" / ESC_NAME)
    return root


def test_piped_ls_prints_one_whole_line_per_file(named_tree: Path) -> None:
    run = imgcat("ls", str(named_tree), "-r", "--workers", "0")
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    files = [p for p in named_tree.rglob("*") if p.is_file()]
    assert len(lines) == len(files) == 5  # no title, no header, no wrapped cells
    for path in files:
        shown = safe(str(path.relative_to(named_tree)))
        assert sum(line.endswith("\t" + shown) for line in lines) == 1, shown  # grep NAME finds it
    corrupted = next(line for line in lines if "clear" in line).split("\t")
    assert corrupted[3] == "OLYMPUS IMAGING CORP. u1020,S1020"  # never cut
    assert corrupted[:3] == ["2015-09-08 11:02", "jpeg", "2.0 MB"]
    assert not set("─━│┃╭╮╰╯…") & set(run.stdout)


def test_a_terminal_keeps_the_rich_table(named_tree: Path) -> None:
    status, screen = imgcat_on_a_terminal("ls", str(named_tree), "-r", "--workers", "0", columns=100)
    assert status == 0, screen
    assert "captured" in screen and "camera" in screen and "─" in screen
    assert "OLYMPUS IMAGING COR…" in screen  # the terminal fits the camera column to the width
    assert "\x1b[2J" not in screen and "clear\\x1b[2Jscreen\\nand\\tmore.jpg" in "".join(screen.split())


def test_names_from_the_disk_are_escaped_in_tables_warnings_and_plans(tmp_path: Path) -> None:
    root = copy_media(tmp_path / "m", "nikon_coolpix_p6000/DSCN0010.jpg")
    folder = root / "nikon_coolpix_p6000"
    bad = folder / "bad\x1b]0;owned\x07name.png"
    bad.write_bytes((MEDIA / "misc_png/sampleWithExifData.png").read_bytes()[:100])
    evil = folder / ESC_NAME
    (folder / "DSCN0010.jpg").rename(evil)
    db = str(tmp_path / "c.sqlite")
    added = imgcat("add", str(root), "-r", "--db", db, "--workers", "0")
    assert added.returncode == 0, added.stderr
    assert "\x1b" not in added.stderr + added.stdout and "\x07" not in added.stderr
    assert added.stderr == (  # in words: never a Python object's repr
        f"warning: {folder}/bad\\x1b]0;owned\\x07name.png: "
        "image: cannot decode the picture (damaged or cut short)\n"
    )
    evil.rename(folder / "moved.jpg")
    dry = imgcat("sync", str(root), "--dry-run", "--db", db, "--workers", "0")
    assert dry.returncode == 0, dry.stderr
    assert f"would move: {folder}/clear\\x1b[2Jscreen\\nand\\tmore.jpg -> {folder}/moved.jpg" in dry.stdout
    (folder / "moved.jpg").rename(evil)
    listed = imgcat("ls", str(root), "-r", "--catalog", "--jsonl", "--db", db)
    assert "\x1b" not in listed.stdout and "\\u001b[2J" in listed.stdout  # JSON escapes as JSON does
    assert {json.loads(line)["name"] for line in listed.stdout.splitlines()} == {ESC_NAME, bad.name}


def test_a_reader_that_goes_away_ends_imgcat_quietly(tmp_path: Path) -> None:
    db = tmp_path / "c.sqlite"
    catalog = SqliteCatalog(db)
    catalog.upsert_many(make_record(f"{tmp_path}/IMG_{i:05d}.jpg", checksum=f"c{i}") for i in range(3000))
    catalog.close()  # about 2 MB of JSON lines: far more than a pipe holds
    for command in ("stats", f"ls {tmp_path} -r --catalog --jsonl --device laptop"):
        shell = f"{sys.executable} -m imgcat {command} --db {db} | head -1; exit ${{PIPESTATUS[0]}}"
        run = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, check=False)
        assert run.returncode in (0, 141), (command, run.stderr)
        assert run.stderr == "", command
        assert len(run.stdout.splitlines()) == 1
    with subprocess.Popen(
        [sys.executable, "-m", "imgcat", "stats", "--db", str(db)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    ) as closed:  # fmt: skip
        assert closed.stdout is not None and closed.stderr is not None
        closed.stdout.close()  # gone before imgcat writes a byte
        assert closed.wait(timeout=120) in (0, 141)
        assert closed.stderr.read() == b""


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--bogus"], ["error: no such option --bogus", "see 'imgcat --help'"]),
        (["add", "{dir}", "--bogus"], ["error: no such option --bogus", "see 'imgcat add --help'"]),
        (
            ["ls", "{dir}", "--recursiv"],
            ["error: no such option --recursiv", "did you mean --recursive? (see 'imgcat ls --help')"],
        ),
        (["add", ""], ["error: the folder name is empty"]),
        (["add", "{dir}", "more"], ["error: unexpected argument: more", "see 'imgcat add --help'"]),
        (["ls", "{dir}", "a", "b"], ["error: unexpected arguments: a b", "see 'imgcat ls --help'"]),
        (["sync", ""], ["error: the folder name is empty"]),
        (["ls", "", "--catalog"], ["error: the folder name is empty"]),
        (["reorganize", "", "--pattern", "<year>"], ["error: the folder name is empty"]),
        (["similar", ""], ["error: the folder name is empty"]),
        (["junk", ""], ["error: the folder name is empty"]),
        (["dupes", "--keep-in", ""], ["error: --keep-in needs a value, not an empty one"]),
        (["dupes", "--under={dir}", "--under="], ["error: --under needs a value, not an empty one"]),
        (["add", "{dir}", "--device", ""], ["error: --device needs a value, not an empty one"]),
        (["runs", ""], ["error: the run id is empty"]),
        (["undo", "", "--yes"], ["error: the run id is empty"]),
        (["--db", "", "stats"], ["error: --db needs a value, not an empty one"]),
        (["dupes", "--yes=1"], ["error: --yes takes no value", "see 'imgcat dupes --help'"]),
    ],
)
def test_a_usage_error_is_at_most_two_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], expected: list[str]
) -> None:
    run = in_process(capsys, *(a.format(dir=tmp_path) for a in args), "--db", str(tmp_path / "c.sqlite"))
    assert (run.code, run.err.splitlines(), run.out) == (2, expected, "")
    assert not (tmp_path / "c.sqlite").exists()  # nothing was cataloged, nothing opened


@pytest.mark.parametrize(
    "args", [["--db"], ["stats", "--db"], ["sync", "--threshold"], ["ls", "--catalog", "--db"]]
)
def test_an_option_given_without_its_value_is_named_as_needing_one(
    capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    """`imgcat stats --db` (the file name forgotten) said "no such option --db": it is one."""
    run = in_process(capsys, *args)
    assert (run.code, run.err.splitlines()[0], run.out) == (2, f"error: {args[-1]} needs a value", "")


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_takes_the_store_options_after_its_name(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for option, value in (("--db", str(tmp_path / "c.sqlite")), ("--es", "http://127.0.0.1:1"),
                          ("--host", "h"), ("--port", "1"), ("--index", "i")):  # fmt: skip
        assert main([command, option, value, "--help"]) == 0, (command, option)


def test_types_takes_the_store_options_before_or_after_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = copy_media(tmp_path / "m", "misc_png")
    db = str(tmp_path / "c.sqlite")
    after = in_process(capsys, "types", str(root), "-r", "--db", db)
    before = in_process(capsys, "--db", db, "types", str(root), "-r")
    assert after.code == before.code == 0, after.err
    assert after.out == before.out
    assert after.out.startswith("png\timage/png\t2\t")


def test_stats_names_cameras_as_ls_does_and_counts_in_english(
    named_tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "c.sqlite")
    added = in_process(capsys, "add", str(named_tree), "-r", "--db", db, "--workers", "0", "--device", "d")
    assert added.code == 0, added.err
    assert "1 new file has content already cataloged" in added.out
    listed = in_process(capsys, "ls", str(named_tree), "-r", "--workers", "0", "--device", "d")
    cameras_in_ls = {line.split("\t")[3] for line in listed.out.splitlines()}
    figures = json.loads(in_process(capsys, "stats", "--json", "--db", db).out)
    assert {b["key"] for b in figures["summary"]["by_camera"]} == cameras_in_ls
    assert "Canon EOS 20D" in cameras_in_ls and "Canon Canon EOS 20D" not in cameras_in_ls
    table = in_process(capsys, "stats", "--db", db)
    first, second = table.out.splitlines()[:2]
    assert first.startswith("5 files, ") and second == "exact duplicates: 1 extra copy in 1 group, 63.6 kB"
    assert "camera\tCanon EOS 20D\t1\t" in table.out  # a facet on every row: grep finds it


def test_camera_names_drop_a_make_the_model_repeats() -> None:
    assert camera_name("Canon", "Canon EOS 1000D") == "Canon EOS 1000D"
    assert camera_name("NIKON CORPORATION", "NIKON D70s") == "NIKON D70s"
    assert camera_name("Apple", "iPhone 11 Pro") == "Apple iPhone 11 Pro"
    assert camera_name(None, "X100") == "X100" and camera_name("Leica", None) == "Leica"
    assert camera_name(" ", "") == ""


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("plain name.jpg", "plain name.jpg"),
        ("tab\there", "tab\\there"),
        ("\x1b[2J", "\\x1b[2J"),
        ("del\x7f c1\x9b", "del\\x7f c1\\x9b"),
        ("rlo\u202egpj.exe", "rlo\\u202egpj.exe"),
        (os.fsdecode(b"caf\xe9.jpg"), "caf\\xe9.jpg"),
        ("émoji 👨\u200d👩\u200d👧 ok", "émoji 👨\u200d👩\u200d👧 ok"),
    ],
)
def test_safe_shows_what_could_move_the_cursor(raw: str, shown: str) -> None:
    assert safe(raw) == shown


@pytest.mark.parametrize(
    "args",
    [
        ["stats"],
        ["dupes"],
        ["junk", "{dir}"],
        ["similar", "{dir}"],
        ["reorganize", "{dir}", "--pattern", "<year>"],
        ["sync", "{dir}", "--dry-run"],
        ["add", "{dir}"],
        ["ls", "{dir}", "--catalog"],
    ],
    ids=lambda args: args[0],
)
def test_the_store_options_reach_the_catalog_before_or_after_the_command(
    args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = copy_media(tmp_path / "m", "misc_png")
    command = [a.format(dir=folder) for a in args]
    for where in ("before", "after"):
        db = tmp_path / f"{where}.sqlite"
        given = ["--db", str(db), *command] if where == "before" else [*command, "--db", str(db)]
        run = in_process(capsys, *given)
        if args[0] == "add":
            assert run.code == 0, (where, run.err)
            assert db.exists(), where  # this catalog was opened, not the default one
        else:  # this catalog was looked for, not the default one
            assert f"no catalog at {db}" in run.err, (where, run.err)


def test_a_group_without_its_command_shows_its_help_and_no_empty_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = in_process(capsys, "trash")
    assert run.code == 2 and run.err == ""
    assert "list" in run.out and "empty" in run.out


def test_add_draws_its_progress_bar_on_a_terminal_and_nothing_in_a_pipe(tmp_path: Path) -> None:
    """The bar (rich, loaded only then) shows files, bytes and speed on a terminal's standard error."""
    root = copy_media(tmp_path / "m", "canon_eos_20d", "exif_org")
    db = str(tmp_path / "c.sqlite")
    code, screen = imgcat_on_a_terminal("add", "-r", str(root), "--db", db, "--workers", "0")
    assert code == 0 and "2 of 2 files" in screen and "files/s" in screen, screen
    (root / "canon_eos_20d" / "more.jpg").write_bytes(
        (root / "exif_org" / os.listdir(root / "exif_org")[0]).read_bytes()
    )
    piped = imgcat("add", "-r", str(root), "--db", db, "--workers", "0")
    assert piped.returncode == 0 and "files/s" not in piped.stderr + piped.stdout, piped.stderr
    assert "added\t1" in piped.stdout, piped.stdout


def test_json_lines_written_in_chunks_are_the_lines_written_one_by_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`ls --catalog --jsonl` writes its lines a few hundred at a time: the same text as one
    `print_jsonl` per line, a chunk holding a name that is not UTF-8 (a surrogate) included."""
    from imgcat.cli import render

    items: list[dict[str, object]] = [
        {"path": f"/p/{i}.jpg", "n": i, "f": i / 7, "ok": i % 2 == 0, "none": None, "é\x1b": [i, {"a": -0.5}]}
        for i in range(700)
    ]
    items[300]["path"] = "/p/caf\udce9.jpg"  # the byte 0xE9 alone
    for item in items:
        render.print_jsonl(item)
    one_by_one = capsys.readouterr().out
    sys.stdout.write("before\n")
    render.print_jsonl_many(iter(items))
    sys.stdout.write("after\n")
    assert capsys.readouterr().out == "before\n" + one_by_one + "after\n"
    assert "caf\\\\xe9.jpg" in one_by_one and one_by_one.count("\n") == 700
