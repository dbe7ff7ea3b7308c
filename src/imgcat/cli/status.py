"""`imgcat` without a command: where the catalog is and what it holds."""

from __future__ import annotations

from imgcat.cli import render
from imgcat.cli.options import StoreOptions, opened


def show(store: StoreOptions) -> None:
    with opened(store) as catalog:
        summary = catalog.summary()
        render.line(f"catalog: {catalog.location}")
        render.line(f"{render.count(summary.records, 'file')}, {render.human_bytes(summary.bytes)}")
        render.line("Run 'imgcat --help' for the commands.")
