"""`imgcat` without a command: where the catalog is and what it holds."""

from __future__ import annotations

from imgcat.cli import render
from imgcat.cli.options import StoreOptions, opened


def show(store: StoreOptions) -> None:
    with opened(store) as catalog:
        summary = catalog.summary()
        render.out().print(
            f"catalog: {catalog.location}\n"
            f"{summary.records} files, {render.human_bytes(summary.bytes)}\n"
            "Run 'imgcat --help' for the commands."
        )
