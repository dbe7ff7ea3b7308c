"""Each fact has one definition: the content checksum, "this file is unchanged", the defaults of
device and workers. What could drift between commands is computed in one place."""

from __future__ import annotations

import ast
import os
from dataclasses import replace
from pathlib import Path

import pytest
import xxhash

from imgcat import settings
from imgcat.catalog.sqlite import SqliteCatalog
from imgcat.operations.add import add_folder
from imgcat.operations.sync import apply_sync, plan_sync
from imgcat.scan.checksum import checksum_if_readable, content_checksum, file_checksum
from imgcat.scan.reading import EXTRACTOR_VERSION, FileStat, all_unchanged, is_unchanged
from media import MEDIA, copy_media

SRC = Path(__file__).resolve().parents[1] / "src" / "imgcat"


def _importers(module: str) -> set[str]:
    found = set()
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names] if isinstance(node, ast.Import)
                else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            )  # fmt: skip
            if module in names:
                found.add(str(path.relative_to(SRC)))
    return found


def test_content_is_hashed_in_one_module() -> None:
    """xxhash appears twice: the content checksum, and record ids (a hash of device and path)."""
    assert _importers("xxhash") == {"scan/checksum.py", "record.py"}


def test_the_checksum_of_a_buffer_a_stream_and_a_file_agree(tmp_path: Path) -> None:
    data = (MEDIA / "misc_video/with-gps.mp4").read_bytes()  # more than one chunk
    path = tmp_path / "v.mp4"
    path.write_bytes(data)
    with open(path, "rb") as rest:
        streamed = content_checksum(rest.read(100), rest)
    assert content_checksum(data) == streamed == file_checksum(str(path)) == xxhash.xxh3_128_hexdigest(data)
    assert checksum_if_readable(str(tmp_path / "gone")) is None


def test_add_and_sync_store_the_checksum_of_the_content(tmp_path: Path) -> None:
    root = copy_media(tmp_path / "m", "nikon_coolpix_p6000/DSCN0010.jpg", "misc_video/with-gps.mp4")
    catalog = SqliteCatalog(tmp_path / "c.sqlite")
    add_folder(catalog, str(root), device="d", recursive=True, workers=0)
    for record in catalog.iter_under("d", str(root)):
        assert record.checksum == xxhash.xxh3_128_hexdigest(Path(record.path).read_bytes())


def test_sync_reads_again_what_an_older_extractor_read(tmp_path: Path) -> None:
    """Unchanged means the same for add and sync: same size and time, read by this extractor."""
    root = copy_media(tmp_path / "m", "nikon_coolpix_p6000")
    catalog = SqliteCatalog(tmp_path / "c.sqlite")
    add_folder(catalog, str(root), device="d", recursive=True, workers=0)
    path = str(root / "nikon_coolpix_p6000" / "DSCN0010.jpg")
    current = catalog.get("d", path)
    assert current is not None
    catalog.upsert_many([replace(current, extractor_version=current.extractor_version - 1, phash=None)])
    plan = plan_sync(catalog, str(root), device="d", workers=0)
    assert [r.path for r in plan.updates] == [path] and plan.unchanged == 3
    apply_sync(catalog, plan)
    again = catalog.get("d", path)
    assert again is not None and again.phash == current.phash
    assert again.extractor_version == current.extractor_version
    assert plan_sync(catalog, str(root), device="d", workers=0).unchanged == 4


def test_unchanged_needs_the_same_size_time_and_extractor(tmp_path: Path) -> None:
    catalog = SqliteCatalog(tmp_path / "c.sqlite")
    add_folder(catalog, str(copy_media(tmp_path / "m", "misc_png")), device="d", recursive=True, workers=0)
    stamp = next(iter(catalog.iter_stamps("d", str(tmp_path / "m"))))
    same = FileStat(stamp.path, stamp.size, stamp.mtime_ns, 0)
    assert is_unchanged(stamp, same)
    assert not is_unchanged(stamp, same._replace(size=stamp.size + 1))
    assert not is_unchanged(stamp, same._replace(mtime_ns=stamp.mtime_ns + 1))
    assert not is_unchanged(stamp._replace(extractor_version=stamp.extractor_version - 1), same)


def test_a_folder_unchanged_at_once_is_unchanged_file_by_file(tmp_path: Path) -> None:
    """The re-scan's one-step form of the predicate (`all_unchanged` over the catalog's plain
    stamps) says "unchanged" exactly when `is_unchanged` says it of every file."""
    root = copy_media(tmp_path / "m", "misc_png")
    catalog = SqliteCatalog(tmp_path / "c.sqlite")
    add_folder(catalog, str(root), device="d", recursive=True, workers=0)
    folder = str(root / "misc_png")
    stamps = {s.path: s for s in catalog.iter_stamps("d", folder, recursive=False)}
    found = [FileStat.of(path) for path in sorted(stamps)]
    plain = catalog.plain_stamps("d", folder, EXTRACTOR_VERSION)
    assert all(is_unchanged(stamps[f.path], f) for f in found)
    assert all_unchanged(plain, found) and all_unchanged(plain, found[1:]) and all_unchanged(plain, [])
    for changed in (found[0]._replace(size=found[0].size + 1), found[0]._replace(mtime_ns=1)):
        assert not is_unchanged(stamps[changed.path], changed)
        assert not all_unchanged(plain, [changed, *found[1:]])
    assert not all_unchanged(plain, [*found, found[0]._replace(path=folder + "/new.png")])
    cataloged = catalog.get("d", found[0].path)
    assert cataloged is not None
    catalog.upsert_many([replace(cataloged, extractor_version=EXTRACTOR_VERSION - 1)])
    assert not is_unchanged(next(iter(catalog.iter_stamps("d", found[0].path))), found[0])
    assert not all_unchanged(catalog.plain_stamps("d", folder, EXTRACTOR_VERSION), found)


def test_device_and_worker_defaults_are_declared_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    assert settings.device_name("usb-1") == "usb-1"
    assert settings.device_name() == socket.gethostname()
    monkeypatch.setenv(settings.DEVICE.env, "nas")
    assert settings.device_name() == "nas"
    assert settings.worker_count(0) == 0
    assert settings.worker_count() == len(os.sched_getaffinity(0))
    assert _importers("socket") == {"settings.py"}
