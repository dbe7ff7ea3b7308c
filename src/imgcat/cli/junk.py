"""`imgcat junk [PATH]`: pictures and videos with nothing in them, worst first, for a person to decide."""

from __future__ import annotations

import shlex
import sys
from collections import defaultdict
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from imgcat import settings
from imgcat.actions import PlannedRun, RunResult
from imgcat.catalog.base import JunkEntry
from imgcat.cli import render
from imgcat.cli.htmlreport import PREVIEW_SIDE, ReportGroup, ReportItem, write_report
from imgcat.cli.options import StoreOptions, opened, takes_store
from imgcat.errors import ImgcatError, UsageError
from imgcat.operations.junk import (
    JunkCandidate,
    JunkReport,
    apply_junk,
    find_junk,
    finish_interrupted,
    interrupted_junk_runs,
    junk_request,
)
from imgcat.policy.junk import CATEGORIES
from imgcat.record import path_to_text

ACTING = "Acting"

Folder = Annotated[
    str | None,
    typer.Argument(help="Only files at or below this folder (default: every cataloged file of this device).",
                   show_default=False, metavar="PATH"),
]  # fmt: skip
Categories = Annotated[
    list[str] | None,
    typer.Option("--category", "-c", help=f"Only these categories (repeatable): {', '.join(CATEGORIES)}.",
                 show_default=False, metavar="CATEGORY"),
]  # fmt: skip
MinScore = Annotated[
    float,
    typer.Option("--min-score", help="Only candidates scoring at least S (0.5 is a category's threshold, "
                 "1 its extreme).", metavar="S"),
]  # fmt: skip
Strict = Annotated[
    bool,
    typer.Option("--strict", help="Looser thresholds: more candidates (the config file's [junk.strict])."),
]
Lenient = Annotated[
    bool, typer.Option("--lenient", help="Tighter thresholds: only clear cases ([junk.lenient]).")
]
JunkDevice = Annotated[
    str | None,
    typer.Option("--device", help="Whose files (default: this machine's, by host name).",
                 envvar=settings.DEVICE.env, show_envvar=False, show_default=False, metavar="NAME"),
]  # fmt: skip
Json = Annotated[bool, typer.Option("--json", help="Print the candidates as one JSON object.")]
AllDevices = Annotated[bool, typer.Option("--all-devices", help="Files of every device in the catalog.")]
Html = Annotated[
    Path | None,
    typer.Option("--html", help="Write a self-contained page of the candidates (thumbnails, reasons) to look "
                 "at before acting.", dir_okay=False, show_default=False, metavar="FILE"),
]  # fmt: skip
Apply = Annotated[
    bool,
    typer.Option("--apply", help="Set this machine's candidates aside, after asking (--yes answers): each "
                 "is checked on disk first; 'imgcat undo RUN' puts them back.", rich_help_panel=ACTING),
]  # fmt: skip


class ActionChoice(StrEnum):
    trash = "trash"
    move_to = "move-to"


Action = Annotated[
    ActionChoice,
    typer.Option("--action", help="What --apply does with each file (and its sidecars): trash (a rename into "
                 "a trash folder on its own disk) or move-to (below --to DIR, its path mirrored).",
                 case_sensitive=False, rich_help_panel=ACTING, metavar="trash|move-to"),
]  # fmt: skip
To = Annotated[
    str | None,
    typer.Option("--to", help="Where --action move-to sets the files aside.", rich_help_panel=ACTING,
                 show_default=False, metavar="DIR"),
]  # fmt: skip
Yes = Annotated[
    bool,
    typer.Option(
        "--yes", "-y", help="Apply without asking (needed without a terminal).", rich_help_panel=ACTING
    ),
]


class JunkRefusedError(ImgcatError):
    """The user did not confirm (or could not be asked); nothing was changed."""


@takes_store
def junk(
    store: StoreOptions,
    path: Folder = None,
    category: Categories = None,
    min_score: MinScore = 0.0,
    strict: Strict = False,
    lenient: Lenient = False,
    device: JunkDevice = None,
    all_devices: AllDevices = False,
    as_json: Json = False,
    html: Html = None,
    apply: Apply = False,
    action: Action = ActionChoice.trash,
    to: To = None,
    yes: Yes = False,
) -> None:
    """Find pictures with nothing in them: broken, blank, dark, overexposed, blurry, tiny; and
    broken or very short videos. Worst first, each with a score and a reason. Measures come from
    the catalog (`imgcat add`); nothing is decoded again. Nothing is changed without --apply.

    Example: imgcat junk ~/Pictures --category blurry --min-score 0.7 --html junk.html
    """
    if strict and lenient:
        raise UsageError("--strict and --lenient exclude each other")
    if action is ActionChoice.move_to and not to:
        raise UsageError("--action move-to needs --to DIR")
    if to and action is not ActionChoice.move_to:
        raise UsageError("--to DIR goes with --action move-to")
    if apply and not yes and not sys.stdin.isatty():
        raise JunkRefusedError(
            "junk --apply asks before it changes files: no terminal to ask on, pass --yes; nothing changed"
        )
    here = settings.device_name(device)
    request = junk_request(
        path=path,
        device=None if all_devices else here,
        categories=category,
        min_score=min_score,
        preset="strict" if strict else "lenient" if lenient else "default",
    )
    aside = None if to is None else str(Path(to).expanduser().resolve())
    result: RunResult | None = None
    with opened(store) as catalog:
        if apply:
            for earlier in finish_interrupted(catalog):
                _print_result(earlier, resumed=True)
        else:
            for run_id in interrupted_junk_runs(catalog):
                render.note(
                    f"run {run_id} of 'imgcat junk --apply' was interrupted, so files it set aside may "
                    f"still be listed: 'imgcat junk --apply' completes it, 'imgcat undo {run_id}' undoes it"
                )
        report = find_junk(catalog, request)
        if report.cataloged == 0:
            render.note(_nothing_cataloged(report))
        if html is not None:
            _write_html(html, report)
            render.note(f"report: {html}")
        if not as_json:
            _print(report, applying=apply)
        if apply:
            result = apply_junk(
                catalog, report, action=action.value, to=aside, devices=frozenset({here}),
                command=_command_line(), confirm=lambda run: yes or _confirmed(run, action.value),
            )  # fmt: skip
            if result is None and report.candidates and not yes:
                raise JunkRefusedError("nothing changed")
    if as_json:
        render.print_json(report_json(report, result))
    elif result is not None:
        _print_result(result)
    if result is not None and result.signal is not None:
        raise typer.Exit(128 + result.signal)


def _nothing_cataloged(report: JunkReport) -> str:
    """Why nothing is listed, and what to do about it."""
    device, prefix = report.request.device, report.request.prefix
    of = f"of device {device}" if device else "of any device"
    if prefix is None:
        return f"the catalog holds no files {of} yet: 'imgcat add DIR' catalogs a folder"
    return f"nothing is cataloged under {prefix} ({of}): 'imgcat add -r {shlex.quote(prefix)}' catalogs it"


def _command_line() -> str:
    return "imgcat junk " + " ".join(sys.argv[2:]) if sys.argv[1:2] == ["junk"] else "imgcat junk --apply"


def _confirmed(run: PlannedRun, action: str) -> bool:
    """Ask on a terminal; elsewhere the answer is no (--yes answers for the user)."""
    if not sys.stdin.isatty():
        return False
    verb = "Move" if action == "trash" else "Set aside"
    where = "to the trash" if action == "trash" else "now"
    return typer.confirm(f"{verb} {render.count(run.steps, 'file')} {where}?", default=False, err=True)


def _print_result(result: RunResult, *, resumed: bool = False) -> None:
    """What the run did, each file left alone and why, and how to undo it."""
    for outcome in (*result.skipped, *result.failed):
        render.warning(outcome.step.source, f"left alone: {outcome.reason}")
    what = "completed the interrupted run" if resumed else "run"
    render.line(f"{what} {result.run_id}: {render.count(result.done, 'file')} set aside "
                f"({render.human_bytes(result.bytes)})")  # fmt: skip
    if result.skipped or result.failed:
        render.line(
            f"{render.count(len(result.skipped) + len(result.failed), 'file')} left alone (listed above)"
        )
    if result.stopped:
        render.line(
            f"{result.stopped}: run the same command again to complete it, or 'imgcat undo {result.run_id}'"
        )
    elif result.done:
        render.line(f"to put everything back: imgcat undo {result.run_id}")


def report_json(report: JunkReport, result: RunResult | None = None) -> dict[str, Any]:
    """`{"candidates": [{"path", "category", "score", "reason", ...}], "totals": {...}}`, and with
    --apply, `"applied"` and the `"run"` (its id, files done, files left alone and why)."""
    data: dict[str, Any] = {
        "candidates": [_candidate_json(c) for c in report.candidates],
        "totals": {
            "candidates": len(report.candidates),
            "bytes": report.bytes,
            "by_category": {c: report.count(c) for c in CATEGORIES if report.count(c)},
        },
        "preset": report.request.preset,
        "applied": result is not None,
    }
    if result is not None:
        data["run"] = {
            "id": result.run_id,
            "done": result.done,
            "bytes": result.bytes,
            "left_alone": [
                {"path": path_to_text(o.step.source)[0], "reason": o.reason}
                for o in (*result.skipped, *result.failed)
            ],
            "stopped": result.stopped,
        }
    return data


def _candidate_json(candidate: JunkCandidate) -> dict[str, Any]:
    text, raw = path_to_text(candidate.record.path)
    data: dict[str, Any] = {
        "path": text,
        "category": candidate.category,
        "score": candidate.score,
        "reason": candidate.reason,
        "device": candidate.record.device,
        "size": candidate.record.size,
        "also": [
            {"category": f.category, "score": f.score, "reason": f.reason} for f in candidate.findings[1:]
        ],
    }
    if candidate.sharp_sibling is not None:
        data["sharp_sibling"] = path_to_text(candidate.sharp_sibling.path)[0]
        data["sharp_sibling_group"] = candidate.group
    if raw is not None:
        data["path_raw"] = raw
    return data


def _print(report: JunkReport, *, applying: bool = False) -> None:
    if not report.candidates:
        if report.cataloged and render.is_terminal():
            under = f" under {report.request.prefix}" if report.request.prefix else ""
            render.line(f"no junk among {render.count(report.cataloged, 'cataloged file')}{under}")
        return
    table = render.Table(
        render.Column("score", right=True),
        render.Column("category"),
        render.Column("reason", fold=True),
        render.Column("file", fold=True),
    )
    render.show(table, ((f"{c.score:.2f}", c.category, c.reason, c.record.path) for c in report.candidates))
    if not render.is_terminal():
        return
    counts = ", ".join(f"{report.count(c)} {c}" for c in CATEGORIES if report.count(c))
    found = render.count(len(report.candidates), "candidate")
    render.line(f"{found} ({render.human_bytes(report.bytes)})" + (f": {counts}" if counts else ""))
    if not applying:
        render.line("nothing changed: look, then decide (--apply sets them aside in the trash)")


def _write_html(target: Path, report: JunkReport) -> None:
    """One section per category, and one per blurred frame beside the sharp frame of its burst."""
    from imgcat.scan.pixels import preview_jpeg

    by_category: dict[str, list[JunkCandidate]] = defaultdict(list)
    bursts: list[ReportGroup] = []
    for candidate in report.candidates:
        sibling = candidate.sharp_sibling
        if candidate.category == "blurry" and sibling is not None:
            burst = candidate.group == "burst"
            why = "the sharp frame of the burst" if burst else "the sharp near-duplicate"
            items = (_item(candidate), ReportItem(sibling.path, True, _facts(sibling), why))
            title = (
                "a blurred frame beside its burst's sharp one"
                if burst
                else "a blurred picture beside its sharp near-duplicate"
            )
            bursts.append(ReportGroup(f"{'burst' if burst else 'near'}-{len(bursts) + 1}", title, items))
        else:
            by_category[candidate.category].append(candidate)
    groups = [
        ReportGroup(
            category, f"{category}: {render.count(len(found), 'file')}", tuple(_item(c) for c in found)
        )
        for category in CATEGORIES
        if (found := by_category.get(category))
    ]
    counted = render.count(len(report.candidates), "candidate")
    summary = (
        f"{counted} ({render.human_bytes(report.bytes)}), worst first. Nothing has been changed: "
        "'imgcat junk --apply' sets them aside, 'imgcat undo' puts them back."
    )
    write_report(
        target, "imgcat junk", summary, [*groups, *bursts], lambda path: preview_jpeg(path, PREVIEW_SIDE)
    )


def _item(candidate: JunkCandidate) -> ReportItem:
    facts = (f"score {candidate.score:.2f}", *_facts(candidate.record))
    return ReportItem(candidate.record.path, False, facts, candidate.reason)


def _facts(record: JunkEntry) -> tuple[str, ...]:
    shown = f"{record.display_width}x{record.display_height}, " if record.display_width else ""
    return (f"{shown}{render.human_bytes(record.size)}",)
