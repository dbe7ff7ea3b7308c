"""`imgcat stats`: counts and bytes by kind, format, year, camera, device; duplicate space."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

import typer
from rich.table import Table

from imgcat.catalog.base import Bucket
from imgcat.cli import render
from imgcat.cli.options import StoreOptions, opened, takes_store
from imgcat.operations.stats import CatalogStats, catalog_stats

Json = Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")]


@takes_store
def stats(store: StoreOptions, as_json: Json = False) -> None:
    """Show what the catalog holds.

    Example: imgcat stats --json
    """
    with opened(store) as catalog:
        figures = catalog_stats(catalog)
    if as_json:
        render.print_json(asdict(figures))
    else:
        _print(figures)


def _print(figures: CatalogStats) -> None:
    console = render.out()
    summary = figures.summary
    console.print(f"{summary.records} files, {render.human_bytes(summary.bytes)}")
    console.print(
        f"exact duplicates: {figures.duplicate_files} extra copies in {figures.duplicate_groups} groups, "
        f"{render.human_bytes(figures.duplicate_bytes)}"
    )
    if summary.with_errors:
        console.print(
            f"read with errors (damaged, cut short or partly read): {summary.with_errors} files; "
            "see 'by error' below"
        )
    for title, buckets in (
        ("kind", summary.by_kind), ("format", summary.by_format), ("year", summary.by_year),
        ("camera", summary.by_camera), ("device", summary.by_device), ("error", summary.by_error),
    ):  # fmt: skip
        if buckets:
            console.print(_table(title, buckets))


def _table(title: str, buckets: tuple[Bucket, ...]) -> Table:
    table = Table(title=f"by {title}", title_justify="left")
    table.add_column(title)
    table.add_column("files", justify="right")
    table.add_column("size", justify="right")
    for bucket in buckets:
        table.add_row(bucket.key, str(bucket.count), render.human_bytes(bucket.bytes))
    return table
