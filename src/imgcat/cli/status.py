"""`imgcat` without a command: where the catalog is and what it holds."""

from __future__ import annotations

from imgcat.actions import interrupted_runs
from imgcat.cli import render
from imgcat.cli.options import StoreOptions, opened


def show(store: StoreOptions) -> None:
    with opened(store) as catalog:
        summary = catalog.summary()
        render.line(f"catalog: {catalog.location}")
        render.line(f"{render.count(summary.records, 'file')}, {render.human_bytes(summary.bytes)}")
        for state in interrupted_runs(catalog=catalog):
            render.line(
                f"interrupted run {state.run_id} ({state.command}): 'imgcat runs {state.run_id} --resume' "
                f"completes it, 'imgcat undo {state.run_id}' reverts it"
            )
        render.line("Run 'imgcat --help' for the commands.")
