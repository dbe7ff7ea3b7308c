"""`imgcat junk [PATH]`: pictures and videos with nothing in them, worst first, for a person to decide."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from imgcat import settings
from imgcat.cli import render
from imgcat.cli.options import StoreOptions, opened, takes_store
from imgcat.errors import UsageError
from imgcat.operations.junk import JunkCandidate, JunkReport, find_junk, junk_request
from imgcat.policy.junk import CATEGORIES
from imgcat.record import path_to_text

Path = Annotated[
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


@takes_store
def junk(
    store: StoreOptions,
    path: Path = None,
    category: Categories = None,
    min_score: MinScore = 0.0,
    strict: Strict = False,
    lenient: Lenient = False,
    device: JunkDevice = None,
    all_devices: AllDevices = False,
    as_json: Json = False,
) -> None:
    """Find pictures with nothing in them: broken, blank, dark, overexposed, blurry, tiny; and
    broken or very short videos. Worst first, each with a score and a reason; nothing is changed.
    Measures come from the catalog (`imgcat add`); nothing is decoded again.

    Example: imgcat junk ~/Pictures --category blurry --min-score 0.7
    """
    if strict and lenient:
        raise UsageError("--strict and --lenient exclude each other")
    request = junk_request(
        path=path,
        device=None if all_devices else settings.device_name(device),
        categories=category,
        min_score=min_score,
        preset="strict" if strict else "lenient" if lenient else "default",
    )
    with opened(store) as catalog:
        report = find_junk(catalog, request)
    if as_json:
        render.print_json(report_json(report))
        return
    _print(report)


def report_json(report: JunkReport) -> dict[str, Any]:
    """`{"candidates": [{"path", "category", "score", "reason", ...}], "totals": {...}}`."""
    return {
        "candidates": [_candidate_json(c) for c in report.candidates],
        "totals": {
            "candidates": len(report.candidates),
            "bytes": report.bytes,
            "by_category": {c: report.count(c) for c in CATEGORIES if report.count(c)},
        },
        "preset": report.request.preset,
    }


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
    if raw is not None:
        data["path_raw"] = raw
    return data


def _print(report: JunkReport) -> None:
    table = render.Table(
        render.Column("score", right=True),
        render.Column("category"),
        render.Column("reason", max_width=60),
        render.Column("file", fold=True),
    )
    render.show(table, ((f"{c.score:.2f}", c.category, c.reason, c.record.path) for c in report.candidates))
    if not render.is_terminal():
        return
    counts = ", ".join(f"{report.count(c)} {c}" for c in CATEGORIES if report.count(c))
    found = render.count(len(report.candidates), "candidate")
    render.line(f"{found} ({render.human_bytes(report.bytes)})" + (f": {counts}" if counts else ""))
    render.line("nothing changed: look, then decide")
