"""`imgcat add DIR`: catalog the photos and videos of a folder."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

import typer

from imgcat import settings
from imgcat.cli import render, signals
from imgcat.cli.options import Device, Recursive, StoreOptions, Workers, has_command, opened, takes_store
from imgcat.cli.progress import ScanProgress
from imgcat.operations.add import AddReport, add_folder
from imgcat.scan.walk import resolve_root

Folder = Annotated[str, typer.Argument(metavar="DIR", help="Folder to catalog.", show_default=False)]
AllowDuplicates = Annotated[
    bool,
    typer.Option("--allow-duplicates", "--allow_duplicates", "-d",
                 help="Do not report files whose content is already cataloged."),
]  # fmt: skip
Json = Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar, no summary; warnings only.")]


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
    with opened(store, create=True) as catalog, ScanProgress(quiet=quiet or as_json) as progress:
        report = add_folder(
            catalog,
            root,
            device=settings.device_name(device),
            recursive=recursive,
            workers=settings.worker_count(workers),
            events=progress,
            count_first=progress.visible,
        )
    if as_json:
        render.print_json({k: v for k, v in asdict(report).items() if k != "problems"})
    elif not quiet:
        _print(report, allow_duplicates=allow_duplicates)
    if report.interrupted:
        render.note("interrupted: what was read so far is saved; run the same command to go on")
        raise typer.Exit(signals.interrupted_exit_code())


def _print(report: AddReport, *, allow_duplicates: bool) -> None:
    render.line(f"imgcat add {report.root}")
    table = render.Table("what", render.Column("files", right=True), header=False)
    for label, value in (
        ("added", report.added), ("updated", report.updated), ("unchanged", report.unchanged),
        ("moved", report.moved), ("duplicates", report.duplicates),
        ("damaged (entry kept)", report.damaged), ("not media (skipped)", report.not_media),
        ("other skipped", report.skipped), ("with errors", report.errors),
    ):  # fmt: skip
        table.row(label, value)
    render.show(table)
    if report.duplicates and not allow_duplicates:
        have = "has" if report.duplicates == 1 else "have"
        pointer = ": see 'imgcat dupes'" if has_command("dupes") else ""
        render.line(
            f"{render.count(report.duplicates, 'new file')} {have} content already cataloged{pointer}."
        )
