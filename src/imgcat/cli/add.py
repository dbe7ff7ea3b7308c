"""`imgcat add DIR`: catalog the photos and videos of a folder."""

from __future__ import annotations

import socket
from dataclasses import asdict
from typing import Annotated

import typer
from rich.table import Table

from imgcat import settings
from imgcat.cli import render, signals
from imgcat.cli.options import StoreOptions, opened, takes_store
from imgcat.cli.progress import ScanProgress
from imgcat.operations.add import AddReport, add_folder
from imgcat.scan.pool import default_workers
from imgcat.scan.walk import resolve_root

Folder = Annotated[str, typer.Argument(help="Folder to catalog.", show_default=False)]
Recursive = Annotated[bool, typer.Option("--recursive", "-r", help="Also catalog every subfolder.")]
AllowDuplicates = Annotated[
    bool,
    typer.Option("--allow-duplicates", "--allow_duplicates", "-d",
                 help="Do not report files whose content is already cataloged."),
]  # fmt: skip
Device = Annotated[
    str | None,
    typer.Option("--device", help="Name of this disk or machine in the catalog (default: host name; "
                 "name removable disks).", envvar=settings.DEVICE.env, show_envvar=False),
]  # fmt: skip
Workers = Annotated[
    int | None,
    typer.Option("--workers", help="Processes for reading files (default: all cores; 0 = serial).",
                 envvar=settings.WORKERS.env, show_envvar=False, min=0),
]  # fmt: skip
Json = Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar, no summary; warnings only.")]


def device_name(given: str | None) -> str:
    return given or socket.gethostname()


@takes_store
def add(
    store: StoreOptions,
    folder: Folder,
    recursive: Recursive = False,
    allow_duplicates: AllowDuplicates = False,
    device: Device = None,
    workers: Workers = None,
    as_json: Json = False,
    quiet: Quiet = False,
) -> None:
    """Catalog the photos and videos in a folder; unchanged files are not read again.

    Example: imgcat add -r ~/Pictures --device usb-disk-1
    """
    root = resolve_root(folder)
    with opened(store) as catalog, ScanProgress(quiet=quiet or as_json) as progress:
        report = add_folder(
            catalog,
            root,
            device=device_name(device),
            recursive=recursive,
            workers=default_workers() if workers is None else workers,
            events=progress,
            count_first=progress.visible,
        )
    if as_json:
        render.print_json({k: v for k, v in asdict(report).items() if k != "problems"})
    elif not quiet:
        _print(report, allow_duplicates=allow_duplicates)
    if report.interrupted:
        render.err().print("interrupted: what was read so far is saved; run the same command to go on")
        raise typer.Exit(signals.interrupted_exit_code())


def _print(report: AddReport, *, allow_duplicates: bool) -> None:
    console = render.out()
    console.print(f"imgcat add {report.root}", markup=False)
    table = Table(show_header=False)
    table.add_column("what")
    table.add_column("files", justify="right")
    for label, value in (
        ("added", report.added), ("updated", report.updated), ("unchanged", report.unchanged),
        ("moved", report.moved), ("duplicates", report.duplicates),
        ("damaged (entry kept)", report.damaged), ("not media (skipped)", report.not_media),
        ("other skipped", report.skipped),
        ("with errors", report.errors),
    ):  # fmt: skip
        table.add_row(label, str(value))
    console.print(table)
    if report.duplicates and not allow_duplicates:
        console.print(
            f"{report.duplicates} new files have content that is already cataloged: see 'imgcat dupes'."
        )
