"""`imgcat reorganize [SRC...] --pattern P`: a tidy layout from the catalog, shown before anything moves."""

from __future__ import annotations

import os
from collections import defaultdict
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.text import Text
from rich.tree import Tree

from imgcat import settings
from imgcat.actions.execute import RunResult
from imgcat.catalog.base import Catalog
from imgcat.cli import acting, render
from imgcat.cli.add import Json, Quiet
from imgcat.cli.options import Device, StoreOptions, Workers, opened, takes_store
from imgcat.cli.progress import ScanProgress
from imgcat.errors import ImgcatError
from imgcat.layout import DateSource, parse_pattern, valid_tokens
from imgcat.operations.reorganize import (
    OnDuplicate,
    PlannedFile,
    ReorganizePlan,
    apply_reorganize,
    complete_run,
    interrupted_reorganize_runs,
    plan_reorganize,
    reorganize_roots,
)
from imgcat.record import path_to_text

NAMES_SHOWN = 3

Sources = Annotated[
    list[str] | None,
    typer.Argument(help="Folders whose cataloged files are placed (default: every folder added on this "
                   "device).", show_default=False, metavar="SRC"),
]  # fmt: skip
PatternOption = Annotated[
    str,
    typer.Option("--pattern", "-p", show_default=False,
                 help=f"Path template below DEST, e.g. '<year>/<month>'. Tokens: {valid_tokens()} "
                 "({year} works too). A last segment with <name>, <ext>, <hour>, <minute> or <second> "
                 "names the file; else names are kept.", metavar="PATTERN"),
]  # fmt: skip
Dest = Annotated[
    str | None,
    typer.Option("--dest", help="Where the pattern starts (default: the root each file lies under).",
                 show_default=False, metavar="DEST"),
]  # fmt: skip


class DateSourceChoice(StrEnum):
    exif = "exif"
    any = "any"


class OnDuplicateChoice(StrEnum):
    skip = "skip"
    trash = "trash"
    keep_both = "keep-both"


DateSourceOption = Annotated[
    DateSourceChoice,
    typer.Option("--date-source", help="exif: dates guessed from a file name or mtime count as none "
                 "(such files go to unknown/); any: every capture date counts.", case_sensitive=False,
                 metavar="exif|any"),
]  # fmt: skip
OnDuplicateOption = Annotated[
    OnDuplicateChoice,
    typer.Option("--on-duplicate", help="A unit whose content is already at its target: skip (leave it "
                 "where it is), trash, or keep-both (a numbered name).", case_sensitive=False,
                 metavar="skip|trash|keep-both"),
]  # fmt: skip
Copy = Annotated[bool, typer.Option("--copy", help="Copy instead of moving (the sources stay).")]
Apply = Annotated[
    bool, typer.Option("--apply", help="Move the files (journaled: 'imgcat undo' puts them back).")
]
PruneEmpty = Annotated[
    bool,
    typer.Option("--prune-empty", help="Remove the folders the moves leave empty (undo makes them again)."),
]


class ReorganizeIncompleteError(ImgcatError):
    """The run stopped (a full or read-only disk) or some moves failed; it can be completed or undone."""


@takes_store
def reorganize(
    store: StoreOptions,
    pattern: PatternOption,
    sources: Sources = None,
    dest: Dest = None,
    date_source: DateSourceOption = DateSourceChoice.any,
    on_duplicate: OnDuplicateOption = OnDuplicateChoice.skip,
    copy: Copy = False,
    apply: Apply = False,
    yes: acting.Yes = False,
    prune_empty: PruneEmpty = False,
    device: Device = None,
    workers: Workers = None,
    as_json: Json = False,
    quiet: Quiet = False,
) -> None:
    """Lay out photos and videos by their catalog metadata, each with its companions (Live Photo
    halves, RAW+JPEG, sidecars). Shows the planned layout; with --apply, moves the files.

    Example: imgcat reorganize ~/Pictures --pattern '<year>/<month>'
    """
    parsed = parse_pattern(pattern)
    name = settings.device_name(device)
    if apply:
        acting.refuse_without_terminal(yes, "reorganize --apply")
    result: RunResult | None = None
    with opened(store) as catalog:
        if apply:
            _finish_interrupted(catalog, quiet=quiet or as_json)
        roots = reorganize_roots(catalog, name, sources or [])
        if not roots:
            raise typer.BadParameter(f"no folder was added on device {name}; give SRC", param_hint="SRC")
        with ScanProgress(quiet=quiet or as_json) as progress:
            plan = plan_reorganize(
                catalog, roots, parsed, device=name, destination=dest,
                date_source=_date_source(date_source), on_duplicate=_on_duplicate(on_duplicate),
                copy=copy, prune_empty=prune_empty, skip_absent_roots=not sources,
                workers=settings.worker_count(workers), events=progress,
            )  # fmt: skip
        if not as_json and not quiet:
            _print(plan, applying=apply)
        if apply and _has_work(plan):
            verb = "Copy" if plan.copy else "Move"
            if not acting.confirmed(f"{verb} {render.count(plan.totals().files, 'file')} now?", yes):
                raise acting.NotConfirmedError("not confirmed; nothing changed")
            with acting.StepProgress() as steps:
                result = apply_reorganize(catalog, plan, device=name, events=steps)
    if as_json:
        render.print_json(plan_json(plan, applied=result is not None, result=result))
    elif result is not None and not quiet:
        acting.report(result, "copy" if plan.copy else "move")
    if result is not None:
        _end(result)


def _finish_interrupted(catalog: Catalog, *, quiet: bool) -> None:
    """An interrupted reorganize run on this catalog is completed before anything new is planned;
    other commands' are named and left as they are."""
    acting.name_other_runs(catalog, "reorganize")
    for state in interrupted_reorganize_runs(catalog):
        if not quiet:
            render.note(f"completing the interrupted run {state.run_id} ({state.command}) first")
        result = complete_run(state.run_id, catalog)
        if not quiet:
            acting.report(result, "move")
        _end(result)


def _end(result: RunResult) -> None:
    """A run stopped by a signal ends the command as the signal would; one that stopped early (a
    full or read-only disk) or had failed moves is an error saying how to go on."""
    acting.stop_as_signalled(result.signal)
    if result.stopped or result.failed:
        why = result.stopped or "some moves failed"
        raise ReorganizeIncompleteError(
            f"run {result.run_id} did not finish ({why}): every file is at its old or its new path; "
            f"'imgcat runs {result.run_id} --resume' completes it, 'imgcat undo {result.run_id}' reverts it"
        )


def _has_work(plan: ReorganizePlan) -> bool:
    return bool(plan.moves or plan.prune or (plan.duplicates and plan.on_duplicate == "trash"))


def _date_source(choice: DateSourceChoice) -> DateSource:
    return "exif" if choice is DateSourceChoice.exif else "any"


def _on_duplicate(choice: OnDuplicateChoice) -> OnDuplicate:
    if choice is OnDuplicateChoice.skip:
        return "skip"
    return "trash" if choice is OnDuplicateChoice.trash else "keep-both"


def plan_json(plan: ReorganizePlan, *, applied: bool, result: RunResult | None = None) -> dict[str, Any]:
    """The plan as one JSON object: moves (from, to, reason), duplicates, skipped, totals; once
    applied, the run (its id, steps done, what was left alone)."""
    totals = plan.totals()
    run: dict[str, Any] | None = None
    if result is not None:
        run = {
            "id": result.run_id, "done": result.files, "folders_removed": result.folders,
            "bytes": result.bytes, "stopped": result.stopped,
            "left_alone": [
                {"path": _text(o.step.source), "reason": o.reason} for o in (*result.skipped, *result.failed)
            ],
        }  # fmt: skip
    return {
        "run": run,
        "pattern": plan.pattern,
        "roots": [_text(r) for r in plan.roots],
        "destination": plan.destination,
        "action": "copy" if plan.copy else "move",
        "applied": applied,
        "moves": [_file_json(f) for f in plan.files()],
        "duplicates": [
            {"path": _text(f.source), "duplicate_of": _text(f.target), "action": plan.on_duplicate}
            for unit in plan.duplicates
            for f in unit.files
        ],
        "skipped": [{"path": _text(s.path), "reason": s.reason} for s in plan.skipped],
        "prune": [_text(f) for f in plan.prune],
        "absent_roots": [_text(r) for r in plan.absent_roots],
        "totals": {
            "units": totals.units, "files": totals.files, "bytes": totals.bytes, "folders": totals.folders,
            "in_place": totals.in_place, "duplicates": totals.duplicates, "skipped": totals.skipped,
            "not_cataloged": totals.not_cataloged, "refreshed": totals.refreshed,
        },
    }  # fmt: skip


def _file_json(planned: PlannedFile) -> dict[str, str]:
    data = {"from": _text(planned.source), "to": _text(planned.target), "reason": planned.reason}
    for key, path in (("from_raw", planned.source), ("to_raw", planned.target)):
        raw = path_to_text(path)[1]
        if raw is not None:
            data[key] = raw
    return data


def _text(path: str) -> str:
    return path_to_text(path)[0]


def _print(plan: ReorganizePlan, *, applying: bool) -> None:
    """A tree of the planned layout on a terminal; one `from<TAB>to` line per file in a pipe (and
    the totals on standard error)."""
    if not render.is_terminal():
        table = render.Table("from", "to")
        render.show(table, ((planned.source, planned.target) for planned in plan.files()))
    else:
        for tree in _trees(plan):
            render.draw(tree)
    for skipped in plan.skipped:
        render.note(f"skipped: {skipped.path}: {skipped.reason}")
    for root in plan.absent_roots:
        render.note(f"left out: {root} is missing or empty (an unplugged disk?); its files stay as cataloged")
    say = render.line if render.is_terminal() else render.note  # a pipe gets the rows alone
    for line in _summary(plan, applying=applying):
        say(line)


def _trees(plan: ReorganizePlan) -> list[Tree]:
    """Per destination, its planned folders: files counted (below, for folders that hold folders),
    the first few names of each."""
    by_folder: dict[str, list[str]] = defaultdict(list)
    for planned in plan.files():
        by_folder[os.path.dirname(planned.target)].append(os.path.basename(planned.target))
    bases = [plan.destination] if plan.destination else list(plan.roots)
    bases = [os.path.realpath(os.path.expanduser(b)) for b in bases]
    trees: list[Tree] = []
    for base in bases:
        folders = {f: names for f, names in by_folder.items() if f == base or f.startswith(base + "/")}
        if not folders:
            continue
        below: dict[str, int] = defaultdict(int)
        for folder, names in folders.items():
            relative = os.path.relpath(folder, base)
            parts = [] if relative == "." else relative.split("/")
            for depth in range(len(parts) + 1):
                below["/".join(parts[:depth])] += len(names)
        tree = Tree(Text(f"{render.safe(base)}  ({render.count(below[''], 'file')})"))
        nodes: dict[str, Tree] = {"": tree}
        keys = {os.path.relpath(f, base).replace(".", "", 1) if f == base else os.path.relpath(f, base): f
                for f in folders}  # fmt: skip
        parents = {"/".join(k.split("/")[:depth]) for k in keys for depth in range(len(k.split("/")))}
        for key in sorted(below, key=lambda k: k.split("/")):
            if key == "":
                continue
            parts = key.split("/")
            label = Text(f"{render.safe(parts[-1])}/  ({render.count(below[key], 'file')})")
            if key in keys and key not in parents:
                label.append(": " + _names(folders[keys[key]]), style="dim")
            nodes[key] = nodes["/".join(parts[:-1])].add(label)
        for key, folder in keys.items():
            if key in parents or key == "":
                nodes[key].add(Text(_names(folders[folder]), style="dim"))
        trees.append(tree)
    return trees


def _names(names: list[str]) -> str:
    first = sorted(names)[:NAMES_SHOWN]
    more = f", … {len(names) - NAMES_SHOWN} more" if len(names) > NAMES_SHOWN else ""
    return ", ".join(render.safe(n) for n in first) + more


def _summary(plan: ReorganizePlan, *, applying: bool) -> list[str]:
    totals = plan.totals()
    verb = "copy" if plan.copy else "move"
    companions = totals.files - totals.units
    also = f" and {render.count(companions, 'companion')}" if companions else ""
    what = render.count(totals.units, "photo or video", "photos and videos") + also
    moving = (
        f"{verb} {render.count(totals.files, 'file')} ({render.human_bytes(totals.bytes)}: {what}) "
        f"into {render.count(totals.folders, 'folder')}"
    )
    lines = [
        moving if totals.files else f"nothing to {verb}",
        f"{render.count(totals.in_place, 'file')} already in place",
    ]
    if plan.duplicates:
        action = "to trash" if plan.on_duplicate == "trash" else "left where they are (--on-duplicate skip)"
        lines.append(f"{render.count(totals.duplicates, 'duplicate')} of files at their target: {action}")
    if totals.skipped > totals.not_cataloged:
        lines.append(f"{render.count(totals.skipped - totals.not_cataloged, 'file')} skipped (listed above)")
    if totals.not_cataloged:
        lines.append(
            f"{render.count(totals.not_cataloged, 'file')} not cataloged, left in place: "
            "run 'imgcat add' first"
        )
    if plan.prune:
        lines.append(f"{render.count(len(plan.prune), 'folder')} left empty, to remove (--prune-empty)")
    if not applying:
        lines.append("dry run: nothing changed (--apply moves the files)")
    return lines
