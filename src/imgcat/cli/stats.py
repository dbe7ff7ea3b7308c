"""`imgcat stats`: counts and bytes by kind, format, year, camera, device; duplicate space."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

import typer

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
    summary = figures.summary
    render.line(f"{render.count(summary.records, 'file')}, {render.human_bytes(summary.bytes)}")
    render.line(
        f"exact duplicates: {render.count(figures.duplicate_files, 'extra copy', 'extra copies')} in "
        f"{render.count(figures.duplicate_groups, 'group')}, {render.human_bytes(figures.duplicate_bytes)}"
    )
    if summary.with_errors:
        render.line(
            "read with errors (damaged, cut short or partly read): "
            f"{render.count(summary.with_errors, 'file')}; see 'error' below"
        )
    table = render.Table(
        render.Column("by", group=True),
        "",
        render.Column("files", right=True),
        render.Column("size", right=True),
    )
    for facet, buckets in (
        ("kind", summary.by_kind), ("format", summary.by_format), ("year", summary.by_year),
        ("camera", summary.by_camera), ("device", summary.by_device), ("error", summary.by_error),
    ):  # fmt: skip
        for bucket in buckets:
            table.row(facet, bucket.key, bucket.count, render.human_bytes(bucket.bytes))
    if table.rows:
        render.show(table)
