"""`imgcat ls DIR` and `imgcat types DIR`: the original tool's debugging utilities."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import asdict
from typing import Annotated

import typer
from rich import box
from rich.table import Table

from imgcat.cli import render
from imgcat.cli.add import Device, Folder, Recursive, Workers, device_name
from imgcat.cli.options import StoreOptions, opened, takes_store
from imgcat.cli.progress import ScanProgress
from imgcat.operations.listing import file_types, scan_records
from imgcat.record import MediaRecord, record_to_json
from imgcat.scan.pool import default_workers
from imgcat.scan.walk import resolve_root

Json = Annotated[bool, typer.Option("--json", help="Print a JSON array.")]
JsonLines = Annotated[bool, typer.Option("--jsonl", help="Print one JSON object per line.")]
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
    root = resolve_root(folder)
    with ScanProgress(quiet=True) as progress:
        if from_catalog:
            with opened(store) as catalog:
                _show(
                    catalog.iter_under(device_name(device), root, recursive=recursive), root, as_json, jsonl
                )
        else:
            count = default_workers() if workers is None else workers
            records = scan_records(
                root, device=device_name(device), recursive=recursive, workers=count, events=progress
            )
            _show(records, root, as_json, jsonl)


def _show(records: Iterable[MediaRecord], root: str, as_json: bool, jsonl: bool) -> None:
    if jsonl:
        for record in records:
            render.print_jsonl(record_to_json(record))
        return
    items = list(records)
    if as_json:
        render.print_json([record_to_json(r) for r in items])
    else:
        table = Table(title=root, title_justify="left", box=box.SIMPLE_HEAD)
        table.add_column("captured", no_wrap=True)
        table.add_column("format", no_wrap=True)
        table.add_column("size", justify="right", no_wrap=True)
        table.add_column("camera", overflow="ellipsis", no_wrap=True, max_width=20)
        table.add_column("file", overflow="fold")  # last, like ls -l: never cut
        for r in items:
            captured = "" if r.captured_at is None else r.captured_at.strftime("%Y-%m-%d %H:%M")
            camera = render.camera_name(r.make, r.model)
            shown = os.path.relpath(r.path, root)
            table.add_row(captured, r.format, render.human_bytes(r.size), camera, shown)
        render.out().print(table, markup=False)


def types(folder: Folder, recursive: Recursive = False, as_json: Json = False) -> None:
    """List every file type in a folder: by extension and by detected content, with counts and bytes.

    Example: imgcat types -r /mnt/old-usb-disk
    """
    root = resolve_root(folder)
    with ScanProgress(quiet=True) as progress:
        found = file_types(root, recursive=recursive, events=progress)
    if as_json:
        render.print_json([asdict(t) for t in found])
        return
    table = Table("extension", "content", "files", "size")
    for t in found:
        table.add_row(t.extension, t.content, str(t.count), render.human_bytes(t.bytes))
    render.out().print(table)
