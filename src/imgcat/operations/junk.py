"""`junk`: the pictures and videos with nothing in them, found from what `add` stored.

Nothing is decoded here: the store returns the entries whose stored measures could put them in a
wanted category (`junk_query` builds that superset, `Catalog.junk_candidates` filters in the
store), `policy.junk.judge` decides each exactly, and the candidates come back worst first.
Entries cataloged by an older imgcat lack the newer measures (the edge width) until the next `add`
reads them again; they are judged on what they have.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import platformdirs

from imgcat.catalog.base import Catalog, JunkQuery
from imgcat.errors import UsageError
from imgcat.policy.junk import (
    CATEGORIES,
    PRESETS,
    Category,
    Finding,
    JunkThresholds,
    judge,
    parse_junk_settings,
)
from imgcat.policy.rules import PolicyError
from imgcat.record import MediaRecord

PRESET_NAMES: Final = tuple(PRESETS)


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

    record: MediaRecord
    findings: tuple[Finding, ...]

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
    """The candidates, worst first (highest score, then path), and how many per category."""

    candidates: tuple[JunkCandidate, ...]
    request: JunkRequest

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
    candidates = []
    for record in catalog.junk_candidates(junk_query(request)):
        findings = judge(record, request.thresholds, request.categories)
        if findings and findings[0].score >= request.min_score:
            candidates.append(JunkCandidate(record, findings))
    candidates.sort(key=lambda c: (-c.score, c.record.path, c.record.device))
    return JunkReport(tuple(candidates), request)


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
