"""`junk`: the pictures and videos with nothing in them, found from what `add` stored.

Nothing is decoded here: the store returns the entries whose stored measures could put them in a
wanted category (`junk_query` builds that superset, `Catalog.junk_candidates` filters in the
store), `policy.junk.judge` decides each exactly, and the candidates come back worst first.

A blurred picture is judged against its group too: the shots of the device taken around it are
fetched by capture time (`Catalog.captured_between`, one indexed query per stretch of blurred
pictures, any folder). Its burst: the shots of its folder taken within BURST_SECONDS that look
alike (pHashes at most BURST_BITS apart); its near-duplicates: shots in any folder taken within
NEAR_SECONDS that are nearly the same picture (pHashes at most NEAR_BITS apart: a copy, an
export, a second shot of the same view). When one of them is sharp, the blurred picture is a
surer candidate (`policy.junk.with_sharp_sibling`): the moment is kept anyway. A picture without
a capture time read from the file is judged alone (finding its near-duplicates by hash alone
would mean reading every fingerprint of the catalog: `imgcat similar` does that).
Entries cataloged by an older imgcat lack the newer measures (the edge width) until the next `add`
reads them again; they are judged on what they have.
"""

from __future__ import annotations

import math
import os
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final, Literal, cast, get_args

import platformdirs

from imgcat.actions import (
    ActionEvents,
    PlannedRun,
    RunResult,
    Step,
    aside_target,
    cancel_run,
    execute_run,
    interrupted_runs,
    lstat_or_none,
    start_run,
)
from imgcat.catalog.base import Catalog, JunkEntry, JunkQuery, batched
from imgcat.errors import UsageError
from imgcat.policy.junk import (
    CATEGORIES,
    PRESETS,
    Category,
    Finding,
    JunkThresholds,
    judge,
    parse_junk_settings,
    with_sharp_sibling,
)
from imgcat.policy.rules import PolicyError

PRESET_NAMES: Final = tuple(PRESETS)
BURST_SECONDS: Final = 10.0
BURST_BITS: Final = 20  # of 64: a burst's frames differ by a few bits, other pictures by about 32
NEAR_SECONDS: Final = 60.0
NEAR_BITS: Final = 6  # the same picture: a blur of radius 12 at full size moves a pHash by 0-3 bits
JunkAction = Literal["trash", "move-to"]
ACTIONS: Final[tuple[JunkAction, ...]] = get_args(JunkAction)


@dataclass(frozen=True, slots=True)
class JunkRequest:
    """What to look for: entries under `prefix` (everywhere when None) on `device` (every device
    when None), in `categories`, scoring at least `min_score`, by the thresholds of `preset`."""

    thresholds: JunkThresholds
    categories: frozenset[Category] = frozenset(CATEGORIES)
    prefix: str | None = None
    device: str | None = None
    min_score: float = 0.0
    preset: str = "default"


@dataclass(frozen=True, slots=True)
class JunkCandidate:
    """One file with nothing worth keeping: its surest category (`finding`) and all it falls in."""

    record: JunkEntry
    findings: tuple[Finding, ...]
    sharp_sibling: JunkEntry | None = None  # a sharp picture of a blurred one's group
    group: Literal["burst", "near-duplicate"] = "burst"  # the sharp sibling's: a frame of its burst, or not

    @property
    def finding(self) -> Finding:
        return self.findings[0]

    @property
    def category(self) -> Category:
        return self.finding.category

    @property
    def score(self) -> float:
        return self.finding.score

    @property
    def reason(self) -> str:
        return self.finding.reason


@dataclass(frozen=True, slots=True)
class JunkReport:
    """The candidates, worst first (highest score, then path), and how many per category. When
    there is none, `cataloged` says how many entries were looked at (0: nothing is cataloged there)."""

    candidates: tuple[JunkCandidate, ...]
    request: JunkRequest
    cataloged: int | None = None

    def count(self, category: Category) -> int:
        return sum(1 for c in self.candidates if c.category == category)

    @property
    def bytes(self) -> int:
        return sum(c.record.size for c in self.candidates)


def junk_query(request: JunkRequest) -> JunkQuery:
    """The store's side of the search: every entry that might fall in a wanted category (a picture
    under `tiny_pixels` has a side under its square root)."""
    t, wanted = request.thresholds, request.categories
    return JunkQuery(
        device=request.device,
        prefix=request.prefix,
        damaged="broken" in wanted,
        side_below=math.ceil(math.sqrt(t.tiny_pixels)) if "tiny" in wanted else None,
        contrast_below=t.blank_contrast if "blank" in wanted else None,
        brightness_below=t.dark_brightness if "dark" in wanted else None,
        brightness_at_least=t.overexposed_brightness if "overexposed" in wanted else None,
        edge_width_at_least=t.blurry_edge_width if "blurry" in wanted else None,
        duration_below=t.very_short_seconds if "very-short" in wanted else None,
    )


def find_junk(catalog: Catalog, request: JunkRequest) -> JunkReport:
    """The junk candidates of the catalog, worst first."""
    judged = []
    for record in catalog.junk_candidates(junk_query(request)):
        findings = judge(record, request.thresholds, request.categories)
        if findings:
            judged.append(JunkCandidate(record, findings))
    judged = _against_groups(catalog, judged, request.thresholds)
    candidates = [c for c in judged if c.score >= request.min_score]
    candidates.sort(key=lambda c: (-c.score, c.record.path, c.record.device))
    if candidates:
        return JunkReport(tuple(candidates), request)
    cataloged = catalog.count(request.device, request.prefix)
    if cataloged == 0 and request.prefix is not None and not os.path.isdir(request.prefix):
        # a folder of an unplugged disk is listed from the catalog; a typo is not
        where = f"on device {request.device}" if request.device else "on any device"
        raise UsageError(
            f"not a folder, and nothing is cataloged under it {where}: {request.prefix}"
            + (" (--device names another device)" if request.device else "")
        )
    return JunkReport((), request, cataloged)


def _against_groups(
    catalog: Catalog, candidates: list[JunkCandidate], thresholds: JunkThresholds
) -> list[JunkCandidate]:
    """The candidates, the blurred ones with a sharp frame of their burst or a sharp near-duplicate
    judged surer. One query per stretch of time around blurred pictures of a device (pictures
    closer than two windows share one), so no folder or catalog is ever read whole."""
    by_device: dict[tuple[str, bool], list[int]] = defaultdict(list)
    for index, candidate in enumerate(candidates):
        taken = candidate.record.captured_at
        if taken is not None and candidate.record.phash is not None and _blurry(candidate):
            # aware and local times never compare: each kind is looked up apart
            by_device[(candidate.record.device, taken.tzinfo is None)].append(index)
    window = timedelta(seconds=NEAR_SECONDS)
    out = list(candidates)
    for (device, _), indexes in by_device.items():
        indexes.sort(key=lambda i: cast(datetime, candidates[i].record.captured_at))
        for stretch in _stretches(indexes, candidates, window):
            first = cast(datetime, candidates[stretch[0]].record.captured_at)
            last = cast(datetime, candidates[stretch[-1]].record.captured_at)
            shots = list(catalog.captured_between(device, None, first - window, last + window))
            for i in stretch:
                record = candidates[i].record
                burst = _sharp_sibling(record, shots, thresholds, same_folder=True)
                near = None if burst else _sharp_sibling(record, shots, thresholds, same_folder=False)
                if burst is not None:
                    findings = with_sharp_sibling(candidates[i].findings, burst)
                    out[i] = JunkCandidate(record, findings, burst, "burst")
                elif near is not None:
                    findings = with_sharp_sibling(candidates[i].findings, near, ", a near-duplicate,")
                    out[i] = JunkCandidate(record, findings, near, "near-duplicate")
    return out


def _stretches(indexes: list[int], candidates: list[JunkCandidate], window: timedelta) -> Iterator[list[int]]:
    """Runs of candidates (in capture order) whose windows overlap."""
    stretch: list[int] = []
    for i in indexes:
        taken = cast(datetime, candidates[i].record.captured_at)
        if stretch and taken - cast(datetime, candidates[stretch[-1]].record.captured_at) > 2 * window:
            yield stretch
            stretch = []
        stretch.append(i)
    if stretch:
        yield stretch


def _blurry(candidate: JunkCandidate) -> bool:
    return any(f.category == "blurry" for f in candidate.findings)


def _sharp_sibling(
    record: JunkEntry, shots: list[JunkEntry], thresholds: JunkThresholds, *, same_folder: bool
) -> JunkEntry | None:
    """The sharpest other shot of `record`'s burst (`same_folder`) or of its near-duplicates (any
    folder, the same picture), if one is sharp."""
    taken = cast(datetime, record.captured_at)
    seconds, bits = (BURST_SECONDS, BURST_BITS) if same_folder else (NEAR_SECONDS, NEAR_BITS)
    siblings = [
        shot for shot in shots
        if shot.path != record.path and shot.kind == "image" and shot.edge_width is not None
        and shot.edge_width < thresholds.blurry_edge_width and shot.phash is not None
        and (shot.dir == record.dir or not same_folder)
        and shot.captured_at is not None and (shot.captured_at.tzinfo is None) == (taken.tzinfo is None)
        and abs((shot.captured_at - taken).total_seconds()) <= seconds
        and (cast(int, record.phash) ^ shot.phash).bit_count() <= bits
    ]  # fmt: skip
    return min(siblings, key=lambda s: (s.edge_width, s.path), default=None)


def config_file() -> Path:
    """The config file `junk` reads its presets from: the one named `dupes` policies live in."""
    return platformdirs.user_config_path("imgcat") / "policies.toml"


def load_presets(path: Path | None = None) -> dict[str, JunkThresholds]:
    """The presets, as the config file's `[junk]` tables change them (the built-in ones when the
    file does not exist)."""
    path = path or config_file()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return dict(PRESETS)
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror or error}") from error
    try:
        return parse_junk_settings(text, str(path))
    except PolicyError as error:
        raise UsageError(str(error)) from error


def junk_request(
    *,
    path: str | None,
    device: str | None,
    categories: list[str] | None,
    min_score: float,
    preset: str,
    presets: dict[str, JunkThresholds] | None = None,
) -> JunkRequest:
    """The request the options describe, checked: known categories, a score between 0 and 1."""
    unknown = sorted(set(categories or ()) - set(CATEGORIES))
    if unknown:
        raise UsageError(f"unknown category {unknown[0]!r} (known: {', '.join(CATEGORIES)})")
    if not 0 <= min_score <= 1:
        raise UsageError(f"--min-score expects a number between 0 and 1, not {min_score:g}")
    chosen = (presets or load_presets())[preset]
    prefix = None if path is None else os.path.realpath(os.path.expanduser(path))
    wanted = frozenset(c for c in CATEGORIES if c in categories) if categories else frozenset(CATEGORIES)
    return JunkRequest(chosen, wanted, prefix, device, min_score, preset)


def junk_steps(
    catalog: Catalog, report: JunkReport, action: JunkAction, to: str | None, devices: frozenset[str]
) -> Iterator[Step]:
    """The steps that set the candidates aside: one unit per file of this machine's `devices` (other
    devices' files are listed, never touched), with its sidecars (left alone they would describe
    nothing). Each file must still be as cataloged, its content too (its checksum is read again),
    right before it is moved. A Live Photo's other half and a RAW or JPEG twin stay: they are
    pictures of their own, judged on their own. `move-to` mirrors each path below `to`."""
    mine = [(unit, c) for unit, c in enumerate(report.candidates, start=1) if c.record.device in devices]
    for page in batched(mine):
        wanted: dict[str, list[str]] = defaultdict(list)
        for _, candidate in page:
            wanted[candidate.record.device].append(candidate.record.path)
        records = {(device, path): record for device, paths in wanted.items()
                   for path, record in catalog.get_many(device, paths).items()}  # fmt: skip
        for unit, candidate in page:
            record = records.get((candidate.record.device, candidate.record.path))
            if record is None:
                continue  # gone from the catalog since it was listed
            yield Step(
                action, record.path, record.size, record.mtime_ns,
                target=aside_target(action, to, record.path),
                checksum=record.checksum, record=record, unit=unit,
                note=f"{candidate.category}: {candidate.reason}",
            )  # fmt: skip
            for companion in record.companions:
                info = lstat_or_none(companion.path) if companion.role == "sidecar" else None
                if info is not None:
                    yield Step(
                        action, companion.path, info.st_size, info.st_mtime_ns,
                        target=aside_target(action, to, companion.path), unit=unit,
                        note=f"sidecar of {record.path}",
                    )  # fmt: skip


def apply_junk(
    catalog: Catalog,
    report: JunkReport,
    *,
    action: JunkAction,
    to: str | None,
    devices: frozenset[str],
    command: str,
    confirm: Callable[[PlannedRun], bool],
    events: ActionEvents | None = None,
) -> RunResult | None:
    """Journal the steps, ask `confirm` (the CLI's question), then carry them out through the
    actions layer (`imgcat undo` puts everything back). None when there was nothing to do or the
    answer was no: then nothing was changed."""
    if action == "move-to" and not to:
        raise UsageError("--action move-to needs --to DIR")
    run = start_run(junk_steps(catalog, report, action, to, devices), command=command, catalog=catalog)
    if run.steps == 0 or not confirm(run):
        cancel_run(run)
        return None
    return execute_run(run.run_id, catalog, events=events)


def interrupted_junk_runs(catalog: Catalog) -> list[str]:
    """The ids of the `junk` runs on `catalog` that an interruption (Ctrl-C, kill, full disk) left
    unfinished, oldest first (runs on other catalogs are theirs to complete)."""
    return [s.run_id for s in interrupted_runs(catalog=catalog, command="junk")]


def finish_interrupted(catalog: Catalog, events: ActionEvents | None = None) -> list[RunResult]:
    """Complete the `junk` runs on `catalog` that an interruption left unfinished."""
    return [execute_run(run_id, catalog, events=events) for run_id in interrupted_junk_runs(catalog)]
