"""`imgcat ls DIR` and `imgcat types DIR`: the original tool's debugging utilities."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from typing import Annotated, TypeVar

import typer

from imgcat import settings
from imgcat.catalog.base import Catalog
from imgcat.cli import render
from imgcat.cli.options import Device, Recursive, StoreOptions, Workers, opened, takes_store
from imgcat.cli.progress import ScanProgress
from imgcat.errors import ImgcatError, UsageError
from imgcat.operations.listing import file_types, scan_records
from imgcat.record import MediaRecord, RecordJson, camera_name, record_to_json
from imgcat.scan.walk import resolve_root

Folder = Annotated[str, typer.Argument(metavar="DIR", help="Folder to look in.", show_default=False)]
Json = Annotated[bool, typer.Option("--json", help="Print a JSON array.")]
JsonLines = Annotated[bool, typer.Option("--jsonl", help="Print one JSON object per line.")]
T = TypeVar("T")
FromCatalog = Annotated[
    bool, typer.Option("--catalog", help="List what the catalog holds under DIR instead.")
]


@takes_store
def ls(
    store: StoreOptions,
    folder: Folder,
    recursive: Recursive = False,
    from_catalog: FromCatalog = False,
    device: Device = None,
    workers: Workers = None,
    as_json: Json = False,
    jsonl: JsonLines = False,
) -> None:
    """List the media in a folder as `add` would catalog them, without touching the catalog.

    Example: imgcat ls ~/Pictures/2019 --json
    """
    name = settings.device_name(device)
    if from_catalog:  # the folder need not be on disk now: an unplugged disk is when people ask
        root = os.path.realpath(os.path.expanduser(folder))
        with opened(store) as catalog:
            if not os.path.isdir(root) and catalog.count(name, root) == 0:
                others = _other_devices(catalog, name, root)
                raise UsageError(
                    f"not a folder, and nothing is cataloged under it on device {name}: {folder} "
                    + (f"({others})" if others else "(--device names another device)")
                )
            listed = _Counted()
            if as_json or jsonl:  # JSON straight from the store: no record is built
                _print_json(listed(catalog.iter_json_under(name, root, recursive=recursive)), as_json)
            else:
                _show(listed(catalog.iter_under(name, root, recursive=recursive)), root, as_json, jsonl)
            others = "" if listed.count else _other_devices(catalog, name, root)
        if others:  # a disk added with `add --device usb`: say so, not an empty success
            raise ListingElsewhereError(f"nothing is cataloged under {folder} on device {name}: {others}")
        return
    root = resolve_root(folder)
    with ScanProgress(quiet=True) as progress:
        records = scan_records(
            root, device=name, recursive=recursive, workers=settings.worker_count(workers), events=progress
        )
        _show(records, root, as_json, jsonl)


class _Counted:
    """Counts what passes through it."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, items: Iterable[T]) -> Iterator[T]:
        for item in items:
            self.count += 1
            yield item


class ListingElsewhereError(ImgcatError):
    """DIR's entries are all another device's: the listing would be empty."""


def _other_devices(catalog: Catalog, device: str, root: str) -> str:
    """Where the entries under `root` are, when none is `device`'s: "21 entries there belong to
    device usb: pass --device usb" (or "" when there are none)."""
    found = [
        (bucket.key, catalog.count(bucket.key, root))
        for bucket in catalog.summary().by_device
        if bucket.key != device
    ]
    found = [(other, count) for other, count in found if count]
    if not found:
        return ""
    if len(found) == 1:
        other, count = found[0]
        entries = render.count(count, "entry", "entries")
        return f"{entries} there belong to device {other}: pass --device {other}"
    named = ", ".join(f"{other} ({count})" for other, count in found)
    return f"entries there belong to devices {named}: pass --device NAME"


def _print_json(lines: Iterable[RecordJson], as_array: bool) -> None:
    if as_array:
        render.print_json_array(lines)
    else:
        render.print_jsonl_many(lines)


def _show(records: Iterable[MediaRecord], root: str, as_json: bool, jsonl: bool) -> None:
    if as_json or jsonl:
        _print_json(map(record_to_json, records), as_json)
    else:
        table = render.Table(
            "captured", "format", render.Column("size", right=True), render.Column("camera", max_width=20),
            render.Column("file", fold=True),  # last, like ls -l: never cut
            title=root,
        )  # fmt: skip
        render.show(table, _rows(records, root))


def _rows(records: Iterable[MediaRecord], root: str) -> Iterator[tuple[str, ...]]:
    for r in records:
        captured = "" if r.captured_at is None else r.captured_at.strftime("%Y-%m-%d %H:%M")
        size = render.human_bytes(r.size)
        yield captured, r.format, size, camera_name(r.make, r.model), os.path.relpath(r.path, root)


@takes_store
def types(store: StoreOptions, folder: Folder, recursive: Recursive = False, as_json: Json = False) -> None:
    """List every file type in a folder: by extension and by detected content, with counts and bytes.

    Example: imgcat types -r /mnt/old-usb-disk
    """
    root = resolve_root(folder)
    with ScanProgress(quiet=True) as progress:
        found = file_types(root, recursive=recursive, events=progress)
    if as_json:
        render.print_json([asdict(t) for t in found])
        return
    table = render.Table("extension", "content", render.Column("files", right=True),
                         render.Column("size", right=True))  # fmt: skip
    for t in found:
        table.row(t.extension, t.content, t.count, render.human_bytes(t.bytes))
    render.show(table)
