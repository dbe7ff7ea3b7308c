"""`imgcat sync [DIR]`: make the catalog match the disk, refusing when the disk looks unplugged."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from imgcat.cli import render, signals
from imgcat.cli.add import Device, Json, Quiet, Workers, device_name
from imgcat.cli.options import StoreOptions, opened, takes_store
from imgcat.cli.progress import ScanProgress
from imgcat.errors import ImgcatError
from imgcat.operations.roots import Refusal, RootOutcome, RootsRun
from imgcat.operations.sync import (
    DEFAULT_THRESHOLD,
    SyncOptions,
    SyncPlan,
    sync_all,
    sync_plan_json,
    sync_roots,
)
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
    """Sync would remove too much, or a root looks unplugged; nothing was changed under it."""


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
    options = SyncOptions(threshold, prune_missing_root, yes, dry_run)
    with opened(store) as catalog:
        roots = sync_roots(catalog, name, folder)
        if not roots:
            raise SyncRefusedError(f"nothing to sync: no folder was added on device {name}; give DIR")
        with ScanProgress(quiet=quiet or as_json) as progress:

            def confirm(plan: SyncPlan, refusal: Refusal) -> bool:
                """Ask on a terminal; elsewhere, refuse."""
                if not sys.stdin.isatty():
                    return False
                with progress.paused():
                    return typer.confirm(f"{refusal.reason}.\nRemove them now?", default=False, err=True)

            run = sync_all(
                catalog,
                roots,
                device=name,
                workers=default_workers() if workers is None else workers,
                options=options,
                events=progress,
                confirm=confirm,
            )
    if as_json:
        render.print_json([_outcome_json(outcome) for outcome in run.outcomes])
    elif not quiet:
        for outcome in run.outcomes:
            _print(outcome, run)
    _finish(run)


def _finish(run: RootsRun[SyncPlan]) -> None:
    """Say how the run ended, in sentences that are true, and exit accordingly."""
    if run.interrupted:
        if run.interrupted_at is None:
            message = "interrupted while planning: nothing changed"
        else:
            message = (
                f"interrupted while applying the changes under {run.interrupted_at}: part of them are in "
                "the catalog; run the same command again to finish"
            )
        render.err().print(message, markup=False, soft_wrap=True)
        raise typer.Exit(signals.interrupted_exit_code())
    refused = run.refused
    if run.dry_run or not refused:
        return
    reasons = [outcome.refusal.reason for outcome in refused if outcome.refusal is not None]
    if len(run.outcomes) == 1:
        raise SyncRefusedError(f"{reasons[0]}; nothing changed")
    for reason in reasons:
        render.err().print(f"refused: {reason}; nothing changed under it", markup=False, soft_wrap=True)
    synced = len(run.applied)
    raise SyncRefusedError(
        f"{len(refused)} of {len(run.outcomes)} roots refused (named above); "
        + (f"the other {synced} synced" if synced else "none synced")
    )


def _outcome_json(outcome: RootOutcome[SyncPlan]) -> dict[str, object]:
    return {
        **sync_plan_json(outcome.plan),
        "applied": outcome.applied,
        "refused": None if outcome.refusal is None or outcome.applied else outcome.refusal.reason,
    }


def _print(outcome: RootOutcome[SyncPlan], run: RootsRun[SyncPlan]) -> None:
    console = render.out()
    plan = outcome.plan
    if outcome.applied:
        verb = ""
    elif run.dry_run:
        verb = " (dry run: nothing changed)"
    elif outcome.refusal is not None and not run.interrupted:
        verb = " (refused: nothing changed)"
    else:
        verb = " (interrupted: not applied)" if run.interrupted_at != outcome.root else " (interrupted)"
    console.print(f"imgcat sync {plan.root}{verb}", markup=False)
    table = Table(show_header=False)
    table.add_column("what")
    table.add_column("files", justify="right")
    for label, value in (
        ("checked", plan.entries), ("unchanged", plan.unchanged), ("updated", len(plan.updates)),
        ("moved", len(plan.moves)), ("removed", len(plan.removals)),
        ("damaged (entry kept)", len(plan.damaged)), ("unreadable (entry kept)", len(plan.unreadable)),
        ("not cataloged", plan.not_cataloged), ("not media", plan.not_media),
    ):  # fmt: skip
        table.add_row(label, str(value))
    console.print(table)
    if run.dry_run:
        if outcome.refusal is not None:
            console.print(f"a real run would refuse: {outcome.refusal.reason}", markup=False)
        for state in plan.removals:
            console.print(f"would remove: {state.path}", markup=False)
        for move in plan.moves:
            console.print(f"would move: {move.old.path} -> {move.new.path}", markup=False)
        for record in plan.updates:
            console.print(f"would update: {record.path}", markup=False)
        for record in plan.damaged:
            console.print(f"would mark damaged: {record.path}", markup=False)
        for folder, _sidecars in plan.relink:
            console.print(f"would relink companions in: {folder}", markup=False)
    for sidecar in plan.orphan_sidecars:
        console.print(f"orphan sidecar (its photo is gone; kept): {sidecar}", markup=False, soft_wrap=True)
    if plan.not_cataloged:
        console.print(
            f"{plan.not_cataloged} photos and videos on disk are not cataloged: "
            f"run 'imgcat add -r {plan.root}'.",
            markup=False,
        )
