"""Faults are one line and leave nothing behind: a full disk, a read-only catalog.

Real faults, not mocks: the catalog goes on a small tmpfs (tests run as root; mounting needs
CAP_SYS_ADMIN), and permissions are made to hold for root by running without the capabilities that
let root read and write anything (setpriv, as in test_bad_input.py).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from imgcat.catalog.sqlite import SqliteCatalog
from imgcat.operations.add import add_folder
from media import MEDIA, copy_media

SMALL_JPEG = MEDIA / "sony_cybershot" / "Sony Cybershot (3).jpg"  # 34 kB: quick to read


@contextmanager
def small_disk(where: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` mounted at `where` for the test's length."""
    where.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def imgcat_process(*args: str, as_user: bool = False) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "imgcat", *args]
    if as_user and os.geteuid() == 0:
        command = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", *command]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def integrity(db: Path) -> str:
    check = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        answer: str = check.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        check.close()
    return answer


PHOTOS = 1200  # entries of about 1.5 kB with the WAL: 1.8 MB, far more than the room left


def test_a_full_disk_is_one_error_line_and_the_next_run_completes(tmp_path: Path) -> None:
    tree = tmp_path / "photos"
    tree.mkdir()
    for i in range(PHOTOS):  # real photos, as hard links: no copying
        os.link(SMALL_JPEG, tree / f"IMG_{i:04d}.jpg")
    with small_disk(tmp_path / "small", "8m") as disk:
        db = disk / "catalog.sqlite"
        SqliteCatalog(db).close()
        free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
        filler = disk / "filler"
        # room for a window or two of 256 entries (about 0.4 MB each, written to the WAL and then
        # the catalog), not for all
        filler.write_bytes(b"\0" * (free - 1024 * 1024))
        full = imgcat_process("add", str(tree), "--db", str(db), "--workers", "2", "-q")
        assert full.returncode == 1
        assert full.stderr == f"error: cannot write catalog {db}: the disk is full\n"
        assert integrity(db) == "ok"
        saved = SqliteCatalog(db).count()
        assert 0 < saved < PHOTOS
        filler.unlink()  # space freed
        again = imgcat_process("add", str(tree), "--db", str(db), "--workers", "2", "-q")
        assert (again.returncode, again.stderr) == (0, "")
        assert SqliteCatalog(db).count() == PHOTOS
        assert integrity(db) == "ok"


def _cataloged(tmp_path: Path) -> tuple[Path, Path]:
    root = copy_media(tmp_path / "m", "nikon_coolpix_p6000")
    folder = tmp_path / "catalog"
    folder.mkdir()
    catalog = SqliteCatalog(folder / "c.sqlite")
    add_folder(catalog, str(root), device="d", recursive=True, workers=0)
    catalog.close()
    return root, folder / "c.sqlite"


def _reads_and_refuses_writes(root: Path, db: Path, why: str, *, as_user: bool) -> None:
    store = ["--db", str(db), "--device", "d"]
    photo = root / "nikon_coolpix_p6000" / "DSCN0010.jpg"
    stats, listed, status, dry, add, sync = _in_one_process(
        [
            ["stats", "--json", "--db", str(db)],
            ["ls", str(root), "-r", "--catalog", "--json", *store],
            ["--db", str(db)],
            ["sync", str(root), "--dry-run", "-q", *store],
            ["add", str(root), "--workers", "0", "-q", *store],
            ["sync", str(root / "nikon_coolpix_p6000"), "-q", "--yes", *store],  # after a deletion
        ],
        before_last=lambda: photo.unlink(),
        as_user=as_user,
    )
    assert stats["code"] == 0, stats["err"]
    assert json.loads(str(stats["out"]))["summary"]["records"] == 4
    assert listed["code"] == 0, listed["err"]
    assert len(json.loads(str(listed["out"]))) == 4
    assert status["code"] == 0, status["err"]
    assert f"catalog: {db}\n4 files" in str(status["out"])
    assert (dry["code"], dry["err"]) == (0, "")
    refused = f"error: cannot write catalog {db}: {why}\n"
    assert (add["code"], add["err"]) == (1, refused)
    assert (sync["code"], sync["err"]) == (1, refused)


def _in_one_process(
    command_lines: list[list[str]], *, before_last: Callable[[], None], as_user: bool
) -> list[dict[str, object]]:
    """Run the command lines in one imgcat process (one start-up), then the last one in another,
    after `before_last` changed the disk."""

    def run(lines: list[list[str]]) -> list[dict[str, object]]:
        command = [sys.executable, str(Path(__file__).parent / "imgcat_runs.py"), json.dumps(lines)]
        if as_user and os.geteuid() == 0:
            command = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", *command]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        results: list[dict[str, object]] = json.loads(done.stdout)
        return results

    first = run(command_lines[:-1])
    before_last()
    return [*first, *run(command_lines[-1:])]


def test_a_catalog_without_write_permission_is_read_and_writers_say_why(tmp_path: Path) -> None:
    root, db = _cataloged(tmp_path)
    db.chmod(0o444)
    _reads_and_refuses_writes(root, db, "no write permission on the file", as_user=True)
    db.chmod(0o644)
    assert SqliteCatalog(db).count() == 4


def test_a_catalog_in_a_folder_without_write_permission_is_read_and_writers_say_why(tmp_path: Path) -> None:
    root, db = _cataloged(tmp_path)
    db.parent.chmod(0o555)  # WAL needs files beside the catalog: none can be made
    try:
        _reads_and_refuses_writes(
            root,
            db,
            f"no write permission on its folder {db.parent} (needed beside it while writing)",
            as_user=True,
        )
    finally:
        db.parent.chmod(0o755)
    assert SqliteCatalog(db).count() == 4


def test_a_catalog_on_a_read_only_mount_is_read_and_writers_say_why(tmp_path: Path) -> None:
    root, db = _cataloged(tmp_path)
    with small_disk(tmp_path / "usb", "4m") as disk:
        shutil.copy2(db, disk / "c.sqlite")
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        _reads_and_refuses_writes(root, disk / "c.sqlite", "it is on a read-only file system", as_user=False)


def _children(parent: int) -> dict[int, str]:
    """The live processes whose parent is `parent`, with their state letter."""
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == parent:
                found[int(entry.name)] = fields[0]
    return found


def _ended(pid: int) -> bool:
    """Gone, or a zombie waiting for whoever adopted it to reap it: either way, no longer running."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state in ("Z", "X")


def test_after_kill_9_of_imgcat_its_workers_end_by_themselves(tmp_path: Path) -> None:
    import time

    root = tmp_path / "many"
    root.mkdir()
    for i in range(3000):
        os.link(SMALL_JPEG, root / f"IMG_{i:04d}.jpg")
    command = [sys.executable, "-m", "imgcat", "add", str(root), "--db", str(tmp_path / "c.sqlite")]
    process = subprocess.Popen([*command, "--workers", "2", "-q"], stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        workers: dict[int, str] = {}
        while len(workers) < 2 and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
            workers = _children(process.pid)
        assert len(workers) == 2, "the workers never started"
    finally:
        process.kill()  # SIGKILL: no handler, no clean-up in the parent
        process.wait()
    deadline = time.monotonic() + 60  # "within seconds": a bound for a loaded machine, not a timing
    while not all(_ended(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [pid for pid in workers if not _ended(pid)]
    for pid in left:  # a failing run leaves nothing behind either
        os.kill(pid, signal.SIGKILL)
    assert left == []


def test_an_upgrade_on_a_full_disk_is_one_line_and_leaves_the_old_catalog_as_it_was(tmp_path: Path) -> None:
    """Schema 12 rebuilds the indexes: on a disk without room for them the command fails in one
    line that says the upgrade (not the opening) failed, and the catalog stays at schema 11,
    whole, for an older imgcat; with room again it upgrades."""
    from conftest import make_record
    from imgcat.catalog import sqlite as sqlite_store

    with small_disk(tmp_path / "small", "4m") as disk:
        db = disk / "catalog.sqlite"
        old = sqlite3.connect(db, isolation_level=None)
        old.executescript(sqlite_store._CREATE_V1)
        for step in range(1, 11):
            sqlite_store._run_script(old, sqlite_store.MIGRATIONS[step])
        old.execute("PRAGMA user_version = 11")
        marks = ", ".join("?" for _ in sqlite_store.COLUMNS)
        records = [make_record(f"/photos/{i // 100}/IMG_{i:05d}.jpg", checksum=f"c{i}") for i in range(3000)]
        old.executemany(
            f"INSERT INTO media ({', '.join(sqlite_store.COLUMNS)}) VALUES ({marks})",
            [sqlite_store.record_to_row(r) for r in records],
        )
        old.close()
        free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
        filler = disk / "filler"
        filler.write_bytes(b"\0" * (free - 64 * 1024))  # room for a little, not for the new indexes
        full = imgcat_process("stats", "--db", str(db))
        assert full.returncode == 1
        assert full.stderr == (
            f"error: cannot upgrade catalog {db} from schema 11 to {sqlite_store.SCHEMA_VERSION}: "
            "the disk is full; the catalog is left as it was\n"
        )  # it said "cannot open catalog ...: the disk is full"
        assert integrity(db) == "ok"
        check = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        assert check.execute("PRAGMA user_version").fetchone()[0] == 11
        assert check.execute("SELECT count(*) FROM media").fetchone()[0] == 3000
        check.close()
        filler.unlink()
        again = imgcat_process("stats", "--db", str(db))
        assert (again.returncode, again.stdout.splitlines()[0]) == (0, "3000 files, 3.0 MB"), again.stderr
        assert SqliteCatalog(db).schema_version == sqlite_store.SCHEMA_VERSION
