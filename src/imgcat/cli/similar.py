"""`imgcat similar`: the same picture in several files, grouped, the best of each named."""

from __future__ import annotations

import os
import re
import sys
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from imgcat import settings
from imgcat.cli import acting, render
from imgcat.cli.htmlreport import PREVIEW_SIDE, ReportGroup, ReportItem, write_report
from imgcat.cli.options import Device, StoreOptions, opened, takes_store
from imgcat.errors import ImgcatError, UsageError
from imgcat.record import path_json, path_to_text

if TYPE_CHECKING:  # the command imports them when it runs: `imgcat --help` loads no numpy
    from imgcat.operations.similar import SimilarMember, SimilarReport

Targets = Annotated[
    list[str] | None,
    typer.Argument(
        help="Folder to look in (default: the whole catalog); with --not-same, two files or a group id.",
        show_default=False,
        metavar="TARGET",
    ),
]
LevelOption = Annotated[
    str,
    typer.Option(
        "--level",
        help="near: the same picture resized, re-encoded, converted, cropped or marked; "
        "similar: also shots of the same moment (bursts).",
        metavar="near|similar",
    ),
]
Threshold = Annotated[
    float | None,
    typer.Option(
        "--threshold", metavar="SHARE", min=0.0, max=1.0, show_default=False,
        help="Share of the picture that may differ (overrides the level: near 0.08, similar 0.25).",
    ),
]  # fmt: skip
TimeWindow = Annotated[
    str | None,
    typer.Option(
        "--time-window", show_default=False,
        help="With --level similar: only shots taken this close together, where capture times are "
        "known (10s, 2m, 1h).", metavar="DURATION",
    ),
]  # fmt: skip
NotSame = Annotated[
    bool, typer.Option("--not-same", help="Remember that these pictures differ: never group them again.")
]
Json = Annotated[bool, typer.Option("--json", help="Print the groups as JSON.")]
Apply = Annotated[
    bool,
    typer.Option("--apply", help="Move every picture but the best of each group to the trash "
                 "(journaled: 'imgcat undo RUN' puts them back)."),
]  # fmt: skip
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Apply without asking (needed without a terminal).")]
CountOtherDevices = Annotated[
    bool,
    typer.Option("--count-other-devices", help="With --apply: a best picture that is only on another device "
                 "of a shared catalog counts as kept (it cannot be checked from here)."),
]  # fmt: skip


class SimilarRefusedError(ImgcatError):
    """The user did not confirm; nothing was changed."""


Html = Annotated[
    Path | None,
    typer.Option(
        "--html", help="Write a self-contained page of the groups to look at.", dir_okay=False, metavar="FILE"
    ),
]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h)?\s*$")
_UNITS = {None: 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600}


def parse_duration(text: str) -> timedelta:
    match = _DURATION.match(text)
    if match is None:
        raise UsageError(f"--time-window {text!r}: give seconds, minutes or hours, such as 10s, 2m or 1h")
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


@takes_store
def similar(
    store: StoreOptions,
    targets: Targets = None,
    level: LevelOption = "near",
    threshold: Threshold = None,
    time_window: TimeWindow = None,
    not_same: NotSame = False,
    device: Device = None,
    as_json: Json = False,
    html: Html = None,
    apply: Apply = False,
    yes: Yes = False,
    count_other_devices: CountOtherDevices = False,
) -> None:
    """Find the same picture in several files (resized, re-encoded, converted, cropped, marked) and
    name the best of each group. Nothing is changed without --apply, which moves the others to the
    trash (journaled, each file checked first; 'imgcat undo RUN' puts them back).

    Example: imgcat similar ~/Pictures --html similar.html
    """
    from imgcat.operations.similar import (
        apply_similar,
        find_similar,
        kept_elsewhere,
        mark_not_same,
        similar_steps,
    )

    if level not in ("near", "similar"):
        raise UsageError(f"--level {level!r}: choose near or similar")
    chosen: Literal["near", "similar"] = "near" if level == "near" else "similar"
    window = None if time_window is None else parse_duration(time_window)
    name = settings.device_name(device)
    with opened(store) as catalog:
        if not_same:
            picks = [_absolute(t) if os.sep in t or os.path.exists(t) else t for t in targets or []]
            marked = mark_not_same(catalog, picks, name)
            render.line(
                f"remembered: {render.count(marked.pairs, 'pair')} of pictures differ ({marked.new} new); "
                "'imgcat similar' will not group them again"
            )
            return
        if targets and len(targets) > 1:
            raise UsageError("give one folder (or none for the whole catalog)")
        if apply and (yes or sys.stdin.isatty()):
            acting.complete_own_runs(catalog, "similar", quiet=as_json)
        prefix = _absolute(targets[0]) if targets else None
        report = find_similar(
            catalog, level=chosen, threshold=threshold, time_window=window,
            device=name if prefix else None, prefix=prefix,
        )  # fmt: skip
        if html is not None:
            _write_html(html, report)
        if as_json:
            render.print_json(report_json(report))
        else:
            _print(report, html, applying=apply)
        if report.unverified:
            render.note(
                f"note: {render.count(report.unverified, 'picture')} could not be compared: cataloged by an "
                "older imgcat without a likeness grid; `imgcat add` of their folders reads it"
            )
        if apply and not count_other_devices:
            for group in kept_elsewhere(report, name):
                best = group.members[0].record
                render.warning(
                    f"group {group.id}",
                    f"left alone: its best, {best.path}, is on device {best.device} "
                    "(pass --count-other-devices to count it)",
                )
        steps = similar_steps(report, name, count_other_devices=count_other_devices) if apply else []
        if not steps:
            return
        if not yes and not _confirmed(len(steps)):
            raise SimilarRefusedError("nothing changed: confirm on a terminal, or pass --yes")
        result = apply_similar(catalog, report, device=name, count_other_devices=count_other_devices)
    for outcome in (*result.skipped, *result.failed):
        render.warning(outcome.step.source, f"left alone: {outcome.reason}")
    if not as_json:
        moved = render.count(result.done, "file")
        render.line(f"run {result.run_id}: {moved} moved to the trash ({render.human_bytes(result.bytes)})")
        render.line(f"to put them back: imgcat undo {result.run_id}")
    if result.signal is not None:
        raise typer.Exit(128 + result.signal)


def _confirmed(files: int) -> bool:
    """Ask on a terminal; elsewhere the answer is no (--yes answers for the user)."""
    if not sys.stdin.isatty():
        return False
    return typer.confirm(f"Move {render.count(files, 'file')} to the trash now?", default=False, err=True)


def _absolute(path: str) -> str:
    return os.path.abspath(os.path.expanduser(path))


def report_json(report: SimilarReport) -> dict[str, object]:
    return {
        "level": report.level,
        "pictures": report.pictures,
        "unverified": report.unverified,
        "groups": [{"id": g.id, "files": [_member_json(m) for m in g.members]} for g in report.groups],
    }


def _member_json(member: SimilarMember) -> dict[str, object]:
    record = member.record
    text, raw = path_to_text(record.path)
    return {
        "path": text,
        **({"path_raw": raw} if raw is not None else {}),
        "device": record.device,
        "distance": member.difference,
        "best": member.best,
        "decision": "keep" if member.best else "remove",
        "reason": member.reason,
        "copies": [path_json(c.path) for c in member.copies],
        "size": record.size,
        "width": record.display_width,
        "height": record.display_height,
        "sharpness": record.sharpness,
    }


def _facts(member: SimilarMember) -> list[str]:
    record = member.record
    facts = [
        render.human_bytes(record.size),
        f"{record.display_width or 0}x{record.display_height or 0}",
        f"sharpness {record.sharpness or 0:.0f}",
    ]
    if member.copies:
        facts.append(f"+{render.count(len(member.copies), 'exact copy', 'exact copies')}")
    return facts


def _print(report: SimilarReport, html: Path | None, *, applying: bool = False) -> None:
    pictures = sum(len(g.members) for g in report.groups)
    render.line(
        f"{render.count(len(report.groups), 'group')} of the same picture "
        f"({render.count(pictures, 'picture')}) among {render.count(report.pictures, 'picture')}, "
        f"level {report.level}" + ("" if applying else "; nothing changed (--apply trashes the others)")
    )
    table = render.Table(
        render.Column("group", group=True), "decision", render.Column("size", right=True),
        render.Column("pixels", right=True), "sharpness", render.Column("file", fold=True),
        render.Column("why", fold=True),
    )  # fmt: skip
    for group in report.groups:
        for member in group.members:
            table.row(group.id, *_row(member), member.record.path, member.reason)
    if table.rows:
        render.show(table)
    if html is not None:
        render.line(f"report: {html}")
    if report.groups:
        render.line("Not the same picture? imgcat similar --not-same FILE FILE (or --not-same GROUP)")


def _row(member: SimilarMember) -> tuple[str, str, str, str]:
    record = member.record
    copies = f" +{render.count(len(member.copies), 'copy', 'copies')}" if member.copies else ""
    return (
        "keep" if member.best else "remove",
        render.human_bytes(record.size),
        f"{record.display_width or 0}x{record.display_height or 0}",
        f"{record.sharpness or 0:.0f}{copies}",
    )


def _write_html(target: Path, report: SimilarReport) -> None:
    from imgcat.scan.pixels import preview_jpeg

    groups = [
        ReportGroup(
            g.id,
            f"group {g.id}: {render.count(len(g.members), 'picture')}",
            tuple(ReportItem(m.record.path, m.best, tuple(_facts(m)), m.reason) for m in g.members),
        )
        for g in report.groups
    ]
    summary = (
        f"{render.count(len(groups), 'group')} of the same picture among "
        f"{render.count(report.pictures, 'picture')} (level {report.level}). "
        "The picture marked keep is the best of its group; nothing has been changed."
    )
    write_report(target, "imgcat similar", summary, groups, lambda path: preview_jpeg(path, PREVIEW_SIDE))
