"""`imgcat runs`, `imgcat undo`, `imgcat trash`: the journal of what imgcat did to files, and the
ways back."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer

from imgcat.actions import (
    RunRefusedError,
    RunState,
    empty_trash,
    execute_run,
    find_run,
    interrupted_runs,
    list_runs,
    plan_trash_empty,
    undo_run,
    undoable_run,
)
from imgcat.actions.journal import read_step_at
from imgcat.cli import acting, render
from imgcat.cli.options import StoreOptions, opened, takes_store
from imgcat.errors import ImgcatError
from imgcat.quantities import parse_duration
from imgcat.record import path_to_text

RunId = Annotated[
    str | None,
    typer.Argument(
        help="The run's id, or its beginning (see 'imgcat runs').", show_default=False, metavar="RUN"
    ),
]
Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]
Resume = Annotated[
    bool, typer.Option("--resume", help="Complete an interrupted run (the latest if none named).")
]
OlderThan = Annotated[
    str | None,
    typer.Option("--older-than", help="Only files trashed at least this long ago: 12h, 30d, 2w.",
                 show_default=False, metavar="AGE"),
]  # fmt: skip


@takes_store
def runs(store: StoreOptions, run_id: RunId = None, resume: Resume = False, as_json: Json = False) -> None:
    """List the runs that changed files (time, command, steps done of all, state), or one run's steps.

    A run stopped by a kill, a full disk or Ctrl-C is 'interrupted': --resume completes it
    (as the next --apply of the same command does).

    Example: imgcat runs 20261125-093301 --resume
    """
    if resume:
        with opened(store) as catalog:
            if run_id is None:
                waiting = interrupted_runs(catalog=catalog)
                if not waiting:
                    raise RunRefusedError("no interrupted run to resume (see 'imgcat runs')")
                run_id = waiting[-1].run_id
            state = find_run(run_id)
            if not state.resumable:
                raise RunRefusedError(f"run {state.run_id} is {state.state}: nothing to resume")
            with acting.StepProgress() as progress:
                result = execute_run(state.run_id, catalog, events=progress)
        acting.report(result, _kind(state))
        acting.stop_as_signalled(result.signal)
        return
    if run_id is not None:
        _show_run(find_run(run_id), as_json=as_json)
        return
    states = list_runs()
    if as_json:
        render.print_json([_run_json(s) for s in states])
        return
    table = render.Table(
        "run", "started", render.Column("command", fold=True), render.Column("steps", right=True), "state"
    )
    for s in states:
        steps = f"{len(s.done)}/{s.total}"
        left = f", {len(s.skipped) + len(s.failed)} left alone" if s.skipped or s.failed else ""
        if s.in_doubt:
            left += f", {s.in_doubt} in doubt"
        table.row(s.run_id, f"{s.started.astimezone():%Y-%m-%d %H:%M}", s.command, steps, s.state + left)
    render.show(table)
    if not states:
        render.note("no runs yet: 'imgcat dupes --apply' and the like record theirs here")


def _kind(state: RunState) -> str:
    return next(iter(state.kinds.values()), "")


def _run_json(state: RunState) -> dict[str, Any]:
    return {
        "id": state.run_id,
        "started": state.started.isoformat(),
        "command": state.command,
        "catalog": state.header.get("catalog"),
        "steps": state.total,
        "done": len(state.done),
        "in_doubt": state.in_doubt,
        "skipped": len(state.skipped),
        "failed": len(state.failed),
        "undone": len(state.undone),
        "emptied": len(state.emptied),
        "state": state.state,
    }


def _step_status(state: RunState, n: int) -> str:
    if n in state.emptied:
        return "done, trash emptied"
    if n in state.undone:
        return "undone"
    if n in state.undo_skipped:
        return f"done; not undone: {state.undo_skipped[n]}"
    if n in state.done:
        return "done"
    if n in state.skipped:
        return f"left alone: {state.skipped[n]}"
    if n in state.failed:
        return f"failed: {state.failed[n]}"
    return "in doubt (interrupted)" if n in state.begun else "pending"


def _show_run(state: RunState, *, as_json: bool) -> None:
    steps = []
    for n in sorted(state.offsets):
        step = read_step_at(state.path, state.offsets[n])
        target = state.begun.get(n, {}).get("target") or step.target
        steps.append((n, step.kind, step.source, target, _step_status(state, n)))
    if as_json:
        render.print_json(
            {
                **_run_json(state),
                "steps": [
                    {
                        "n": n,
                        "kind": kind,
                        "path": path_to_text(source)[0],
                        "to": None if target is None else path_to_text(target)[0],
                        "status": status,
                    }
                    for n, kind, source, target, status in steps
                ],
            }
        )
        return
    render.line(f"run {state.run_id}: {state.command} ({state.state})")
    table = render.Table(
        render.Column("#", right=True), "action", render.Column("file", fold=True),
        render.Column("to", fold=True, optional=True), render.Column("status", fold=True),
    )  # fmt: skip
    render.show(table, ((n, kind, source, target or "", status) for n, kind, source, target, status in steps))


class NothingUndoneError(ImgcatError):
    """Undo found every step impossible to revert: nothing was changed."""


@takes_store
def undo(store: StoreOptions, run_id: RunId = None, yes: acting.Yes = False, as_json: Json = False) -> None:
    """Undo a run (the latest if none is named): trashed and moved files go back, links become files
    again, the catalog gets its entries back. Each file is checked first; nothing is overwritten.

    Example: imgcat undo 20261125-093301
    """
    acting.refuse_without_terminal(yes, "undo")
    state = undoable_run(run_id)
    left = [n for n in state.done if n not in state.undone]
    folders = sum(state.kinds.get(n) == "rmdir" for n in left)
    files = render.count(len(left) - folders, "file")
    again = f" and make {render.count(folders, 'folder')} again" if folders else ""
    if not acting.confirmed(f"Undo run {state.run_id} ({state.command}): put back {files}{again}?", yes):
        raise acting.NotConfirmedError("not confirmed; nothing changed")
    with opened(store) as catalog, acting.StepProgress() as progress:
        result = undo_run(state.run_id, catalog, events=progress)
    if as_json:
        render.print_json(
            {
                "id": result.run_id,
                "restored": result.restored,
                "folders": result.folders,
                "not_restored": [
                    {"path": path_to_text(o.step.source)[0], "reason": o.reason} for o in result.skipped
                ],
                "stopped": result.stopped,
            }
        )
    else:
        for outcome in result.skipped:
            render.warning(outcome.step.source, outcome.reason)
        again = f", {render.count(result.folders, 'folder')} made again" if result.folders else ""
        render.line(f"run {result.run_id}: {render.count(result.files, 'file')} put back{again}")
        if result.skipped and result.restored:
            render.line(f"{render.count(len(result.skipped), 'file')} left as they are (listed above)")
        if result.stopped:
            render.line(f"stopped: 'imgcat undo {result.run_id}' completes it")
    acting.stop_as_signalled(result.signal)
    if result.skipped and not result.restored:
        raise NothingUndoneError(
            f"nothing of run {result.run_id} could be undone ({render.count(len(result.skipped), 'file')}, "
            "listed above); the run is left as it was"
        )


trash = typer.Typer(name="trash", no_args_is_help=True)


@trash.callback()
@takes_store
def trash_group(store: StoreOptions) -> None:
    """What imgcat put in the trash (list), and freeing the space for good (empty).

    Trashed files sit in a .imgcat-trash folder on their own disk, under the run's id and their
    old path, until 'imgcat undo RUN' puts them back or 'imgcat trash empty' deletes them.

    Example: imgcat trash empty --older-than 30d
    """


@trash.command("list")
@takes_store
def trash_list(store: StoreOptions, older_than: OlderThan = None, as_json: Json = False) -> None:
    """Show the files in imgcat's trash, on every disk, by run.

    Example: imgcat trash list --older-than 30d
    """
    plan = plan_trash_empty(_age(older_than), datetime.now(UTC))
    if as_json:
        render.print_json(
            {
                "files": [
                    {
                        "run": t.run_id,
                        "path": path_to_text(t.path)[0],
                        "from": path_to_text(t.step.source)[0],
                        "size": t.size,
                    }
                    for t in plan.files
                ],
                "bytes": plan.bytes,
            }
        )
        return
    table = render.Table(render.Column("run", group=True), render.Column("file", fold=True),
                         render.Column("size", right=True))  # fmt: skip
    render.show(table, ((t.run_id, t.step.source, render.human_bytes(t.size)) for t in plan.files))
    render.line(f"{render.count(len(plan.files), 'file')} in the trash, {render.human_bytes(plan.bytes)}")


@trash.command("empty")
@takes_store
def trash_empty(store: StoreOptions, older_than: OlderThan = None, yes: acting.Yes = False) -> None:
    """Delete the files in imgcat's trash for good (those trashed at least --older-than ago).

    Example: imgcat trash empty --older-than 30d
    """
    found = plan_trash_empty(_age(older_than), datetime.now(UTC))
    for run_id, state in found.held().items():
        render.note(
            f"run {run_id} is {state}: its files stay in the trash ('imgcat undo {run_id}' or "
            f"'imgcat runs {run_id} --resume' settles it first)"
        )
    plan = found.emptiable()
    if not plan.files:
        render.line("the trash holds nothing" + (f" older than {older_than}" if older_than else ""))
        return
    files = f"{render.count(len(plan.files), 'file')} ({render.human_bytes(plan.bytes)})"
    runs = ", ".join(plan.runs)
    if not yes and not sys.stdin.isatty():
        raise acting.NotConfirmedError(
            f"trash empty would delete {files} for good (runs {runs} could no longer be undone): "
            "no terminal to ask on, pass --yes; nothing changed"
        )
    question = f"Delete {files} from the trash for good? Runs {runs} can no longer be undone after this."
    if not acting.confirmed(question, yes):
        raise acting.NotConfirmedError("not confirmed; nothing changed")
    with acting.StepProgress() as progress:
        result = empty_trash(plan, events=progress)
    render.line(
        f"{render.count(result.deleted, 'file')} deleted for good, {render.human_bytes(result.bytes)} freed; "
        f"runs {runs} can no longer be undone (of these files)"
    )
    for outcome in result.skipped:
        render.warning(outcome.step.source, outcome.reason)
    acting.stop_as_signalled(result.signal)


def _age(text: str | None) -> timedelta | None:
    return None if text is None else parse_duration(text)
