"""`imgcat dupes`: exact duplicates, decided by rules, shown as a plan (and acted on with --apply)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from typing import Annotated, Any

import typer

from imgcat import settings
from imgcat.cli import render
from imgcat.cli.options import StoreOptions, opened, takes_store
from imgcat.operations.dupes import (
    DupesRequest,
    FileChoice,
    GroupPlan,
    Tally,
    coverage,
    dupes_request,
    load_policy,
    plan_dupes,
)
from imgcat.policy.config import PolicySettings
from imgcat.record import path_to_text

RULES = "Rules"
FINDING = "Finding"

Under = Annotated[
    list[str] | None,
    typer.Option("--under", help="Only groups with a copy under PATH (repeatable).", rich_help_panel=FINDING,
                 show_default=False),
]  # fmt: skip
MinSize = Annotated[
    str | None,
    typer.Option("--min-size", help="Only files of at least this size: 500, 10k, 1.5MB, 2GiB.",
                 rich_help_panel=FINDING, show_default=False),
]  # fmt: skip
Kind = Annotated[
    str | None,
    typer.Option("--kind", help="Only images or only videos: image | video.", rich_help_panel=FINDING,
                 show_default=False),
]  # fmt: skip
Devices = Annotated[
    list[str] | None,
    typer.Option("--device", help="This machine's device names (repeatable: the host and the disks "
                 "plugged in); only their files are checked and acted on. Default: the host name.",
                 rich_help_panel=FINDING, show_default=False),
]  # fmt: skip
SameDir = Annotated[
    bool | None,
    typer.Option("--same-dir/--any-dir", help="In each folder keep one of identical files; leave copies "
                 "in other folders alone.", rich_help_panel=RULES, show_default=False),
]  # fmt: skip
KeepCopies = Annotated[
    int | None,
    typer.Option("--keep-copies", help="Keep N copies of each content. (default: 1; 2 for "
                 "--under-protected)", rich_help_panel=RULES, show_default=False),
]  # fmt: skip
DistinctDevices = Annotated[
    bool | None,
    typer.Option("--distinct-devices/--any-devices", help="The N kept copies must be on N different devices "
                 "(device names, or disks of this machine).", rich_help_panel=RULES, show_default=False),
]  # fmt: skip
KeepIn = Annotated[
    list[str] | None,
    typer.Option("--keep-in", help="Copies under PATH are always kept (repeatable): the backup disk.",
                 rich_help_panel=RULES, show_default=False),
]  # fmt: skip
RemoveFrom = Annotated[
    list[str] | None,
    typer.Option("--remove-from", help="Remove copies under PATH first (repeatable): the Downloads folder.",
                 rich_help_panel=RULES, show_default=False),
]  # fmt: skip
Prefer = Annotated[
    list[str] | None,
    typer.Option("--prefer", help="Which copy to keep when the rules leave a choice (repeatable, in order): "
                 "original-name, shortest-path, oldest, newest, root:PATH. (default: original-name, "
                 "shortest-path)", rich_help_panel=RULES, show_default=False),
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
                 "given here override it.", rich_help_panel=RULES, show_default=False),
]  # fmt: skip
UnderProtected = Annotated[
    bool,
    typer.Option("--under-protected", help="List every content (single copies too) with fewer copies or "
                 "devices than --keep-copies (default 2) and --distinct-devices ask."),
]  # fmt: skip
Json = Annotated[bool, typer.Option("--json", help="Print the plan as one JSON object.")]


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
) -> None:
    """Find exact duplicates in the catalog and show which copies the rules keep or remove, and why.

    Nothing changes without --apply; every file is checked on disk first.

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
    with opened(store) as catalog:
        groups = coverage(catalog, request) if under_protected else plan_dupes(catalog, request)
        tally = Tally()
        counted = _counting(groups, tally)
        if as_json:
            _print_json(counted, tally, under_protected=under_protected)
        else:
            _print_tables(counted, tally, request, under_protected=under_protected)


def _tuple(values: list[str] | None) -> tuple[str, ...] | None:
    return None if not values else tuple(values)


def _devices(given: list[str] | None) -> list[str]:
    return list(given) if given else [settings.device_name()]


def _counting(groups: Iterable[GroupPlan], tally: Tally) -> Iterator[GroupPlan]:
    for group in groups:
        tally.add(group)
        yield group


def _print_tables(
    groups: Iterable[GroupPlan], tally: Tally, request: DupesRequest, *, under_protected: bool
) -> None:
    """A table per group on a terminal; in a pipe one line per file: group, decision, device, path,
    why (a hard link of a file is a line of its own, decided with it)."""
    for group in groups:
        table = render.Table(
            render.Column("group", group=True), "decision", render.Column("device", optional=True),
            render.Column("file", fold=True), render.Column("why", fold=True),
            title=_title(group),
        )  # fmt: skip
        for file in group.files:
            for index, path in enumerate(file.paths):
                why = file.reason if index == 0 else "the same file as the line above (a hard link)"
                table.row(group.checksum[:12], _decision(file), file.device, path, why)
        render.show(table)
    totals = tally.totals()
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
        "reason": file.reason,
        "state": file.state,
        "links": [path_to_text(p)[0] for p in file.links],
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


def _print_json(groups: Iterable[GroupPlan], tally: Tally, *, under_protected: bool) -> None:
    """One JSON object, written a group at a time (a big catalog's plan never sits in memory)."""
    out = sys.stdout
    out.write('{"groups": [')
    for index, group in enumerate(groups):
        out.write(("\n  " if index == 0 else ",\n  ") + json.dumps(group_json(group), ensure_ascii=False))
    totals = tally.totals()
    figures = {
        "groups": totals.groups,
        "files": totals.files,
        "remove": totals.removed,
        "bytes": totals.bytes,
        "under_protected": totals.under_protected,
        "stale": totals.stale,
    }
    if under_protected:
        figures = {"contents": totals.contents}
    out.write(f'\n], "totals": {json.dumps(figures)}}}\n')
