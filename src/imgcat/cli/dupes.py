"""`imgcat dupes`: exact duplicates, decided by rules, shown as a plan (and acted on with --apply)."""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final, cast

import typer

from imgcat import settings
from imgcat.cli import acting, render
from imgcat.cli.options import StoreOptions, opened, takes_store
from imgcat.errors import UsageError
from imgcat.operations.dupes import (
    Action as ActionName,
)
from imgcat.operations.dupes import (
    DupesTotals,
    FileChoice,
    GroupPlan,
    Tally,
    action_target,
    coverage,
    dupes_request,
    load_policy,
    plan_dupes,
    refuse_aside_in_library,
)
from imgcat.policy.config import PolicySettings
from imgcat.record import path_json, path_to_text

if TYPE_CHECKING:
    from imgcat.actions import PlannedRun, RunResult, Step

RULES = "Rules"
FINDING = "Finding"
ACTING = "Acting"

Under = Annotated[
    list[str] | None,
    typer.Option("--under", help="Only groups with a copy under PATH (repeatable).", rich_help_panel=FINDING,
                 show_default=False, metavar="PATH"),
]  # fmt: skip
MinSize = Annotated[
    str | None,
    typer.Option("--min-size", help="Only files of at least this size: 500, 10k, 1.5MB, 2GiB.",
                 rich_help_panel=FINDING, show_default=False, metavar="SIZE"),
]  # fmt: skip
Kind = Annotated[
    str | None,
    typer.Option("--kind", help="Only images or only videos: image | video.", rich_help_panel=FINDING,
                 show_default=False, metavar="image|video"),
]  # fmt: skip
Devices = Annotated[
    list[str] | None,
    typer.Option("--device", help="This machine's device names (repeatable: the host and the disks "
                 "plugged in); only their files are checked and acted on. Default: the host name.",
                 rich_help_panel=FINDING, show_default=False, metavar="NAME"),
]  # fmt: skip
SameDir = Annotated[
    bool | None,
    typer.Option("--same-dir/--any-dir", help="In each folder keep one of identical files; leave copies "
                 "in other folders alone.", rich_help_panel=RULES, show_default=False),
]  # fmt: skip
KeepCopies = Annotated[
    int | None,
    typer.Option("--keep-copies", help="Keep N copies of each content. (default: 1; 2 for "
                 "--under-protected)", rich_help_panel=RULES, show_default=False, metavar="N"),
]  # fmt: skip
DistinctDevices = Annotated[
    bool | None,
    typer.Option("--distinct-devices/--any-devices", help="The N kept copies must be on N different devices "
                 "(device names, or disks of this machine).", rich_help_panel=RULES, show_default=False),
]  # fmt: skip
KeepIn = Annotated[
    list[str] | None,
    typer.Option("--keep-in", help="Copies under PATH are always kept (repeatable): the backup disk.",
                 rich_help_panel=RULES, show_default=False, metavar="PATH"),
]  # fmt: skip
RemoveFrom = Annotated[
    list[str] | None,
    typer.Option("--remove-from", help="Remove copies under PATH first (repeatable): the Downloads folder.",
                 rich_help_panel=RULES, show_default=False, metavar="PATH"),
]  # fmt: skip
Prefer = Annotated[
    list[str] | None,
    typer.Option("--prefer", help="Which copy to keep when the rules leave a choice (repeatable, in order): "
                 "original-name, shortest-path, oldest, newest, root:PATH. (default: original-name, "
                 "shortest-path)", rich_help_panel=RULES, show_default=False, metavar="RULE"),
]  # fmt: skip
CountOtherDevices = Annotated[
    bool | None,
    typer.Option("--count-other-devices/--only-this-device", help="Copies on other devices of a shared "
                 "catalog count toward --keep-copies (they are never acted on).", rich_help_panel=RULES,
                 show_default=False),
]  # fmt: skip
PolicyName = Annotated[
    str | None,
    typer.Option("--policy", help="A named policy from policies.toml in the user config folder; options "
                 "given here override it.", rich_help_panel=RULES, show_default=False, metavar="NAME"),
]  # fmt: skip
UnderProtected = Annotated[
    bool,
    typer.Option("--under-protected", help="List every content (single copies too) with fewer copies or "
                 "devices than --keep-copies (default 2) and --distinct-devices ask."),
]  # fmt: skip
Json = Annotated[bool, typer.Option("--json", help="Print the plan as one JSON object.")]
Apply = Annotated[
    bool,
    typer.Option("--apply", help="Act on the plan, after asking (--yes answers): each file is checked on "
                 "disk and against a kept copy first; the run is journaled and can be undone.",
                 rich_help_panel=ACTING),
]  # fmt: skip
Action = Annotated[
    str,
    typer.Option("--action", help="What --apply does with each removed copy: trash (a rename into "
                 ".imgcat-trash on its own disk; undo puts it back), delete (for good), move-to (set aside "
                 "under --to DIR, its path mirrored), hardlink, symlink (same disk only).",
                 rich_help_panel=ACTING, metavar="ACTION"),
]  # fmt: skip
To = Annotated[
    str | None,
    typer.Option("--to", help="Where --action move-to sets copies aside.", rich_help_panel=ACTING,
                 show_default=False, metavar="DIR"),
]  # fmt: skip
Script = Annotated[
    Path | None,
    typer.Option("--script", help="Write the plan as a shell script to review and run yourself (each "
                 "file compared with its kept copy by cmp first); nothing else is done.",
                 rich_help_panel=ACTING, dir_okay=False, show_default=False, metavar="FILE"),
]  # fmt: skip


@takes_store
def dupes(
    store: StoreOptions,
    under: Under = None,
    min_size: MinSize = None,
    kind: Kind = None,
    devices: Devices = None,
    same_dir: SameDir = None,
    keep_copies: KeepCopies = None,
    distinct_devices: DistinctDevices = None,
    keep_in: KeepIn = None,
    remove_from: RemoveFrom = None,
    prefer: Prefer = None,
    count_other_devices: CountOtherDevices = None,
    policy: PolicyName = None,
    under_protected: UnderProtected = False,
    as_json: Json = False,
    apply: Apply = False,
    action: Action = "trash",
    to: To = None,
    yes: acting.Yes = False,
    script: Script = None,
) -> None:
    """Find exact duplicates in the catalog and show which copies the rules keep or remove, and why.

    Nothing changes without --apply; every file is checked on disk, and each copy removed is
    compared byte for byte with a kept copy right before. `imgcat undo` reverts a run.

    Example: imgcat dupes --keep-copies 2 --distinct-devices --keep-in /media/backup
    """
    given = PolicySettings(
        same_dir=same_dir,
        keep_copies=keep_copies,
        distinct_devices=distinct_devices,
        keep_in=_tuple(keep_in),
        remove_from=_tuple(remove_from),
        prefer=_tuple(prefer),
        count_other_devices=count_other_devices,
        under=_tuple(under),
        min_size=min_size,
        kind=kind,
    )
    chosen = given if policy is None else given.over(load_policy(policy))
    request = dupes_request(chosen, _devices(devices), keep_copies=2 if under_protected else 1)
    aside = action_target(action, to)
    if under_protected and (apply or script is not None):
        raise UsageError("--under-protected only lists: it has nothing to --apply or --script")
    if apply and script is not None:
        raise UsageError("--script writes the plan for you to run, --apply runs it: choose one")
    if apply:
        acting.refuse_without_terminal(yes, "dupes --apply")
    with opened(store) as catalog:
        if apply or script is not None:
            refuse_aside_in_library(catalog, aside, sorted(request.devices))
        if apply:
            acting.complete_own_runs(catalog, "dupes", quiet=as_json)
        groups = coverage(catalog, request) if under_protected else plan_dupes(catalog, request)
        tally = Tally()
        counted = _counting(groups, tally)
        shown = _json_groups(counted) if as_json else _table_groups(counted)
        if apply or script is not None:  # the acting half loads when it acts (a dry run is the usual case)
            from imgcat.operations.dupes_apply import apply_dupes, dupes_steps
        if script is not None:
            _write_script(script, dupes_steps(catalog, shown, cast(ActionName, action), aside))
            _print_totals(tally, as_json=as_json, under_protected=False, run=None, script=script)
            return
        if not apply:
            for _ in shown:
                pass
            _print_totals(tally, as_json=as_json, under_protected=under_protected, run=None)
            return
        answers: list[bool] = []
        with acting.StepProgress() as progress:
            result = apply_dupes(
                catalog, shown, action=cast(ActionName, action), to=aside, command=_command_line(),
                confirm=lambda run: _confirm(run, tally, action, yes, answers, as_json=as_json),
                events=progress,
            )  # fmt: skip
    if as_json or not answers:  # else the totals were printed before the question
        _print_totals(tally, as_json=as_json, under_protected=False, run=result, applied=True)
    if not answers and not as_json:
        render.line("nothing to do: no copy to remove")
    if answers == [False]:
        raise acting.NotConfirmedError("not confirmed; nothing changed")
    if result is not None:
        if not as_json:
            acting.report(result, action)
        acting.stop_as_signalled(result.signal)
        if result.failed:
            raise typer.Exit(1)


def _confirm(
    run: PlannedRun, tally: Tally, action: str, yes: bool, answers: list[bool], *, as_json: bool
) -> bool:
    """The totals, then the question (on a terminal; --yes answers it); the answer is kept in `answers`."""
    if not as_json:
        _print_totals(tally, as_json=False, under_protected=False, run=None, applied=True)
    files = render.count(run.steps, "file")
    question = {
        "trash": f"Move {files} ({render.human_bytes(run.bytes)}) to the trash?",
        "delete": f"Delete {files} ({render.human_bytes(run.bytes)}) for good? This cannot be undone.",
        "move-to": f"Set {files} ({render.human_bytes(run.bytes)}) aside?",
        "hardlink": f"Replace {files} by hard links to the kept copies?",
        "symlink": f"Replace {files} by symbolic links to the kept copies?",
    }[action]
    answers.append(acting.confirmed(question, yes))
    return answers[-1]


def _command_line() -> str:
    return " ".join(["imgcat", *(shlex.quote(a) for a in sys.argv[1:])])


def _write_script(path: Path, steps: Iterable[Step]) -> None:
    from imgcat.actions import TrashFolders
    from imgcat.actions.script import shell_script

    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    lines = shell_script(steps, title=_command_line(), stamp=stamp, trash=TrashFolders())
    try:
        with open(path, "w", encoding="utf-8", errors="surrogateescape") as handle:
            for line in lines:
                handle.write(line + "\n")
    except BrokenPipeError:  # the plan's rows print as the script is written: our reader went away
        raise
    except OSError as error:
        raise UsageError(f"--script {path}: {error.strerror or error}") from error
    path.chmod(0o755)


def _tuple(values: list[str] | None) -> tuple[str, ...] | None:
    return None if not values else tuple(values)


def _devices(given: list[str] | None) -> list[str]:
    return list(given) if given else [settings.device_name()]


def _counting(groups: Iterable[GroupPlan], tally: Tally) -> Iterator[GroupPlan]:
    for group in groups:
        tally.add(group)
        yield group


_COLUMNS: Final = (
    render.Column("group", group=True), render.Column("decision"), render.Column("device", optional=True),
    render.Column("file", fold=True), render.Column("why", fold=True),
)  # fmt: skip
_LINK: Final = "the same file as the line above (a hard link)"


def _table_groups(groups: Iterable[GroupPlan]) -> Iterator[GroupPlan]:
    """A table per group on a terminal, printed as the group passes; in a pipe one line per file:
    group, decision, device, path, why (a hard link of a file is a line of its own, decided with it)."""
    if not render.is_terminal():
        plain = render.Table(*_COLUMNS)  # no title in a pipe: the group's rows are the lines
        for group in groups:
            render.show(plain, _rows(group))
            yield group
        return
    for group in groups:
        table = render.Table(*_COLUMNS, title=_title(group))
        for row in _rows(group):
            table.row(*row)
        render.show(table)
        yield group


def _rows(group: GroupPlan) -> Iterator[tuple[str, ...]]:
    checksum = group.checksum[:12]
    for file in group.files:
        decision = _decision(file)
        yield checksum, decision, file.device, file.path, file.reason
        for link in file.links:
            yield checksum, decision, file.device, link, _LINK


def _print_totals(
    tally: Tally,
    *,
    as_json: bool,
    under_protected: bool,
    run: RunResult | None,
    applied: bool = False,
    script: Path | None = None,
) -> None:
    totals = tally.totals()
    if as_json:
        _end_json(totals, under_protected=under_protected, run=run, applied=applied)
        return
    if run is not None:
        return  # said once, before the question
    if under_protected:
        render.line(f"{render.count(totals.contents, 'content')} under-protected")
        return
    render.line(
        f"{render.count(totals.groups, 'group')}, {render.count(totals.files, 'file')}: "
        f"{totals.removed} to remove, {render.human_bytes(totals.bytes)} to reclaim"
    )
    if totals.under_protected:
        render.line(f"{render.count(totals.under_protected, 'under-protected group')} left alone")
    if totals.stale:
        changed = render.count(totals.stale, "file")
        render.line(f"{changed} changed or missing since cataloged, left alone: run 'imgcat sync'")
    if script is not None:
        render.line(f"script written: {script} (review it, then run: sh {shlex.quote(str(script))})")
    elif not applied:
        render.line("dry run: nothing changed")


def _title(group: GroupPlan) -> str:
    copies = render.count(len(group.present), "copy", "copies")
    title = f"{render.human_bytes(group.size)} · {copies}"
    return title if group.shortfall is None else f"{title} · {group.shortfall}"


def _decision(file: FileChoice) -> str:
    if file.state != "ok":
        return f"keep ({file.state})"
    return file.decision


def _file_json(file: FileChoice) -> dict[str, Any]:
    text, raw = path_to_text(file.path)
    data: dict[str, Any] = {
        "path": text,
        "device": file.device,
        "decision": file.decision,
        "reason": path_to_text(file.reason)[0],
        "state": file.state,
        "links": [path_json(p) for p in file.links],
    }
    if raw is not None:
        data["path_raw"] = raw
    return data


def group_json(group: GroupPlan) -> dict[str, Any]:
    return {
        "checksum": group.checksum,
        "size": group.size,
        "under_protected": group.shortfall,
        "files": [_file_json(f) for f in group.files],
    }


def _json_groups(groups: Iterable[GroupPlan]) -> Iterator[GroupPlan]:
    """The start of one JSON object and its groups, written as they pass (a big catalog's plan
    never sits in memory); `_end_json` closes it."""
    out = sys.stdout
    out.write('{"groups": [')
    for index, group in enumerate(groups):
        out.write(("\n  " if index == 0 else ",\n  ") + json.dumps(group_json(group), ensure_ascii=False))
        yield group
    out.write("\n]")


def _end_json(totals: DupesTotals, *, under_protected: bool, run: RunResult | None, applied: bool) -> None:
    figures: dict[str, int] = {
        "groups": totals.groups,
        "files": totals.files,
        "remove": totals.removed,
        "bytes": totals.bytes,
        "under_protected": totals.under_protected,
        "stale": totals.stale,
    }
    if under_protected:
        figures = {"contents": totals.contents}
    sys.stdout.write(f', "totals": {json.dumps(figures)}')
    if applied:
        sys.stdout.write(
            f', "run": {json.dumps(None if run is None else _run_json(run), ensure_ascii=False)}'
        )
    sys.stdout.write("}\n")


def _run_json(run: RunResult) -> dict[str, Any]:
    return {
        "id": run.run_id,
        "done": run.done,
        "bytes": run.bytes,
        "stopped": run.stopped,
        "left_alone": [
            {"path": path_json(o.step.source), "reason": path_to_text(o.reason)[0], "state": o.state}
            for o in (*run.skipped, *run.failed)
        ],
    }
