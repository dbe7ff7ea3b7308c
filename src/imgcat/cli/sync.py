"""`imgcat sync [DIR]`: make the catalog match the disk, refusing when the disk looks unplugged."""

from __future__ import annotations

import shlex
import sys
from typing import Annotated

import typer

from imgcat import settings
from imgcat.cli import render, signals
from imgcat.cli.add import Json, Quiet
from imgcat.cli.options import Device, StoreOptions, Workers, opened, takes_store
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
from imgcat.scan.walk import named

Folder = Annotated[
    str | None,
    typer.Argument(
        help="Folder to sync (default: every folder added on this device).", show_default=False, metavar="DIR"
    ),
]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Show what would change; change nothing.")]
PruneMissingRoot = Annotated[
    bool, typer.Option("--prune-missing-root", help="Drop the entries of a root that is missing or empty.")
]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Remove entries even past the --threshold share.")]
Threshold = Annotated[
    float,
    typer.Option(
        "--threshold",
        min=0.0,
        max=1.0,
        help="Share of a root's entries sync may remove without --yes.",
        metavar="SHARE",
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
    name = settings.device_name(device)
    options = SyncOptions(threshold, prune_missing_root, yes, dry_run)
    given = None if folder is None else named(folder)
    with opened(store) as catalog:
        roots = sync_roots(catalog, name, given)
        if not roots:
            raise SyncRefusedError(f"nothing to sync: no folder was added on device {name}; give DIR")
        with ScanProgress(quiet=quiet or as_json) as progress:

            def confirm(plan: SyncPlan, refusal: Refusal) -> bool:
                """Ask on a terminal; elsewhere, refuse."""
                if not sys.stdin.isatty():
                    return False
                with progress.paused():
                    question = f"{render.safe(refusal.reason)}.\nRemove them now?"
                    return typer.confirm(question, default=False, err=True)

            run = sync_all(
                catalog,
                roots,
                device=name,
                workers=settings.worker_count(workers),
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
        render.note(message)
        raise typer.Exit(signals.interrupted_exit_code())
    refused = run.refused
    if run.dry_run or not refused:
        return
    reasons = [outcome.refusal.reason for outcome in refused if outcome.refusal is not None]
    if len(run.outcomes) == 1:
        raise SyncRefusedError(f"{reasons[0]}; nothing changed")
    for reason in reasons:
        render.note(f"refused: {reason}; nothing changed under it")
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
        "root_dropped": outcome.applied and outcome.plan.forgets,
    }


def _print(outcome: RootOutcome[SyncPlan], run: RootsRun[SyncPlan]) -> None:
    plan = outcome.plan
    dropping = plan.forgets and outcome.refusal is None and (outcome.applied or run.dry_run)
    if dropping and plan.entries == 0:
        verb = "would be dropped" if run.dry_run else "dropped"
        render.note(f"{plan.root} is missing and nothing is cataloged under it: {verb} from the folders of "
                    f"device {plan.device} ('imgcat add' brings it back)")  # fmt: skip
        return
    if outcome.applied:
        verb = ""
    elif run.dry_run:
        verb = " (dry run: nothing changed)"
    elif outcome.refusal is not None and not run.interrupted:
        verb = " (refused: nothing changed)"
    else:
        verb = " (interrupted: not applied)" if run.interrupted_at != outcome.root else " (interrupted)"
    render.line(f"imgcat sync {plan.root}{verb}")
    table = render.Table("what", render.Column("files", right=True), header=False)
    for label, value in (
        ("checked", plan.entries), ("unchanged", plan.unchanged), ("updated", len(plan.updates)),
        ("moved", len(plan.moves)), ("removed", len(plan.removals)),
        ("damaged (entry kept)", len(plan.damaged)), ("unreadable (entry kept)", len(plan.unreadable)),
        ("not cataloged", plan.not_cataloged), ("not media", plan.not_media),
    ):  # fmt: skip
        table.row(label, value)
    render.show(table)
    if run.dry_run:
        if outcome.refusal is not None:
            render.line(f"a real run would refuse: {outcome.refusal.reason}")
        for state in plan.removals:
            render.line(f"would remove: {state.path}")
        for move in plan.moves:
            render.line(f"would move: {move.old.path} -> {move.new.path}")
        for record in plan.updates:
            render.line(f"would update: {record.path}")
        for record in plan.damaged:
            render.line(f"would mark damaged: {record.path}")
        for folder, _sidecars in plan.relink:
            render.line(f"would relink companions in: {folder}")
    for sidecar in plan.orphan_sidecars:
        render.line(f"orphan sidecar (its photo is gone; kept): {sidecar}")
    if dropping or (plan.forgets and outcome.applied):
        verb = "would be dropped" if run.dry_run else "dropped"
        render.note(f"{plan.root} is missing: {verb} from the folders of device {plan.device} "
                    "with its entries")  # fmt: skip
    if plan.not_cataloged:
        are = "is" if plan.not_cataloged == 1 else "are"
        render.line(
            f"{render.count(plan.not_cataloged, 'photo or video', 'photos and videos')} on disk {are} "
            f"not cataloged: run 'imgcat add -r {shlex.quote(plan.root)}'."
        )
