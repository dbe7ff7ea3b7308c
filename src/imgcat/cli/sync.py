"""`imgcat sync [DIR]`: make the catalog match the disk, refusing when the disk looks unplugged."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from imgcat.cli import render
from imgcat.cli.add import Device, Json, Quiet, Workers, device_name
from imgcat.cli.options import StoreOptions, opened, takes_store
from imgcat.cli.progress import ScanProgress
from imgcat.errors import ImgcatError
from imgcat.operations.sync import DEFAULT_THRESHOLD, SyncPlan, apply_sync, plan_sync, refusal, sync_roots
from imgcat.scan.pool import default_workers

Folder = Annotated[
    str | None,
    typer.Argument(help="Folder to sync (default: every folder added on this device).", show_default=False),
]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Show what would change; change nothing.")]
PruneMissingRoot = Annotated[
    bool, typer.Option("--prune-missing-root", help="Drop the entries of a root that is missing or empty.")
]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Remove entries even past the --threshold share.")]
Threshold = Annotated[
    float,
    typer.Option(
        "--threshold", min=0.0, max=1.0, help="Share of a root's entries sync may remove without --yes."
    ),
]


class SyncRefusedError(ImgcatError):
    """Sync would remove too much, or the root looks unplugged; nothing was changed."""


@takes_store
def sync(
    store: StoreOptions,
    folder: Folder = None,
    quiet: Quiet = False,
    dry_run: DryRun = False,
    prune_missing_root: PruneMissingRoot = False,
    yes: Yes = False,
    threshold: Threshold = DEFAULT_THRESHOLD,
    device: Device = None,
    workers: Workers = None,
    as_json: Json = False,
) -> None:
    """Make the catalog match the disk: drop entries of deleted files, refresh changed ones, follow
    moves. New files are counted, not added (that is 'imgcat add').

    Example: imgcat sync ~/Pictures --dry-run
    """
    name = device_name(device)
    plans: list[SyncPlan] = []
    with opened(store) as catalog:
        roots = sync_roots(catalog, name, folder)
        if not roots:
            raise SyncRefusedError(f"nothing to sync: no folder was added on device {name}; give DIR")
        for root in roots:
            with ScanProgress(quiet=quiet or as_json) as progress:
                plan = plan_sync(catalog, root, device=name, workers=_workers(workers), events=progress)
            reason = refusal(plan, threshold=threshold, prune_missing_root=prune_missing_root, yes=yes)
            if reason and not dry_run and not _confirmed(plan, reason, missing=plan.missing_root):
                raise SyncRefusedError(f"{reason}; nothing changed")
            if not dry_run:
                apply_sync(catalog, plan)
            plans.append(plan)
    if as_json:
        render.print_json([_summary(p, applied=not dry_run) for p in plans])
    elif not quiet:
        for plan in plans:
            _print(plan, applied=not dry_run)


def _workers(given: int | None) -> int:
    return default_workers() if given is None else given


def _confirmed(plan: SyncPlan, reason: str, *, missing: bool) -> bool:
    """Ask on a terminal (never for a missing root: that needs the flag); elsewhere, refuse."""
    if missing or not sys.stdin.isatty():
        return False
    return typer.confirm(f"{reason}.\nRemove them now?", default=False, err=True)


def _summary(plan: SyncPlan, *, applied: bool) -> dict[str, object]:
    return {
        "root": plan.root,
        "applied": applied,
        "checked": plan.entries,
        "unchanged": plan.unchanged,
        "updated": len(plan.updates),
        "moved": len(plan.moves),
        "removed": len(plan.removals),
        "kept_unreadable": plan.kept_unreadable,
        "not_cataloged": plan.not_cataloged,
        "missing_root": plan.missing_root,
        "removed_paths": [s.path for s in plan.removals],
        "moves": [{"from": m.old.path, "to": m.new.path} for m in plan.moves],
        "updated_paths": [r.path for r in plan.updates],
        "relinked_folders": list(plan.relink),
    }


def _print(plan: SyncPlan, *, applied: bool) -> None:
    console = render.out()
    verb = "" if applied else " (dry run: nothing changed)"
    console.print(f"imgcat sync {plan.root}{verb}", markup=False)
    table = Table(show_header=False)
    table.add_column("what")
    table.add_column("files", justify="right")
    for label, value in (
        ("checked", plan.entries), ("unchanged", plan.unchanged), ("updated", len(plan.updates)),
        ("moved", len(plan.moves)), ("removed", len(plan.removals)),
        ("kept (unreadable)", plan.kept_unreadable), ("not cataloged", plan.not_cataloged),
    ):  # fmt: skip
        table.add_row(label, str(value))
    console.print(table)
    if not applied:
        for state in plan.removals:
            console.print(f"would remove: {state.path}", markup=False)
        for move in plan.moves:
            console.print(f"would move: {move.old.path} -> {move.new.path}", markup=False)
        for record in plan.updates:
            console.print(f"would update: {record.path}", markup=False)
        for folder in plan.relink:
            console.print(f"would relink companions in: {folder}", markup=False)
    if plan.not_cataloged:
        console.print(
            f"{plan.not_cataloged} files on disk are not cataloged: run 'imgcat add -r {plan.root}'."
        )
