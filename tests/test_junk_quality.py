"""How well `imgcat junk` finds junk: precision and recall per category, beside a plain global rule.

Positives are made at test time from every real photo of the shared media (junk_variants.py: a
flat colour with noise, darkened, pushed to clipping, blurred by radius 8-12, cut at 60 %, shrunk
to a thumbnail), plus the real files the corpus itself marks as junk; negatives are every other
real file, untouched: night shots, skies, snow, screenshots, scans. The catalog is built by `add`,
the candidates come from `find_junk`: the same path as `imgcat junk`.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from imgcat.catalog.sqlite import SqliteCatalog
from imgcat.operations.add import add_folder
from imgcat.operations.junk import JunkRequest, find_junk
from imgcat.policy.junk import CATEGORIES, PRESETS
from imgcat.record import MediaRecord
from imgcat.settings import worker_count
from junk_variants import Variant, is_source, label_of, make_variants
from media import copy_media, manifest

TARGET = 0.95


@dataclass(frozen=True, slots=True)
class Judged:
    """One file of the test: what it truly is, what `junk` found, and its catalog record."""

    name: str
    truth: frozenset[str]
    found: frozenset[str]
    record: MediaRecord
    variant: bool


# The plain global rules the issue compares with: one threshold on one stored measure, for all.
PLAIN: dict[str, tuple[str, Callable[[MediaRecord], bool]]] = {
    "blurry": ("variance of the Laplacian < 100", lambda r: r.sharpness is not None and r.sharpness < 100),
    "dark": ("mean brightness < 10 %", lambda r: r.brightness is not None and r.brightness < 0.1),
    "overexposed": ("mean brightness > 90 %", lambda r: r.brightness is not None and r.brightness > 0.9),
}


@pytest.fixture(scope="module")
def judged(tmp_path_factory: pytest.TempPathFactory) -> list[Judged]:
    root = tmp_path_factory.mktemp("junk")
    made = root / "made"
    made.mkdir()
    rows = manifest()
    sources = [row for row in rows if is_source(row)]
    with ProcessPoolExecutor(max(1, worker_count())) as pool:
        variants: list[Variant] = [
            v for batch in pool.map(make_variants, sources, [str(made)] * len(sources)) for v in batch
        ]
    real = copy_media(root / "real")
    catalog = SqliteCatalog(tmp_path_factory.mktemp("db") / "catalog.sqlite")
    add_folder(catalog, str(root), device="test", recursive=True, workers=worker_count())
    report = find_junk(catalog, JunkRequest(PRESETS["default"], device="test"))
    found = {c.record.path: frozenset(f.category for f in c.findings) for c in report.candidates}
    records = {r.path: r for r in catalog.iter_under("test", str(root))}
    catalog.close()
    out = [
        Judged(
            Path(v.path).name, frozenset({v.category}), found.get(v.path, frozenset()), records[v.path], True
        )
        for v in variants
    ]
    for row in rows:
        truth = label_of(row)
        path = str(real / row["path"].removeprefix("media/"))
        if truth is not None:
            out.append(Judged(row["path"], truth, found.get(path, frozenset()), records[path], False))
    return out


def _figures(
    files: list[Judged], category: str, fires: Callable[[Judged], bool]
) -> tuple[float, float, int, int]:
    positives = [f for f in files if category in f.truth]
    negatives = [f for f in files if not f.variant and category not in f.truth]
    hits = sum(fires(f) for f in positives)
    false = sum(fires(f) for f in negatives)
    precision = hits / (hits + false) if hits + false else 1.0
    return precision, hits / len(positives), len(positives), len(negatives)


def _found_in(category: str) -> Callable[[Judged], bool]:
    return lambda f: category in f.found


def _by_rule(fires: Callable[[MediaRecord], bool]) -> Callable[[Judged], bool]:
    return lambda f: fires(f.record)


def test_each_category_reaches_precision_and_recall_of_095_beside_a_plain_rule(
    judged: list[Judged], capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [f"{'category':<12} {'pos':>4} {'neg':>4}  {'precision':>9} {'recall':>6}   plain global rule"]
    ours: dict[str, tuple[float, float]] = {}
    for category in CATEGORIES:
        precision, recall, positives, negatives = _figures(judged, category, _found_in(category))
        ours[category] = precision, recall
        plain = "—"
        if category in PLAIN:
            rule, fires = PLAIN[category]
            p, r, _, _ = _figures(judged, category, _by_rule(fires))
            plain = f"{p:9.3f} {r:6.3f}   ({rule})"
        lines.append(
            f"{category:<12} {positives:>4} {negatives:>4}  {precision:9.3f} {recall:6.3f}   {plain}"
        )
    missed = [f"  missed {sorted(f.truth)}: {f.name} (found {sorted(f.found)})" for f in judged
              if f.truth - f.found]  # fmt: skip
    wrong = [f"  wrongly {sorted(f.found)}: {f.name}" for f in judged if not f.variant and f.found - f.truth]
    with capsys.disabled():
        print("\n" + "\n".join([*lines, *missed, *wrong]))
    for name, (precision, recall) in ours.items():
        assert precision >= TARGET and recall >= TARGET, (name, precision, recall)


def test_the_edge_width_beats_the_plain_laplacian_rule_on_blur(judged: list[Judged]) -> None:
    ours = _figures(judged, "blurry", lambda f: "blurry" in f.found)
    plain = _figures(judged, "blurry", lambda f: PLAIN["blurry"][1](f.record))
    assert min(ours[:2]) > min(plain[:2]) + 0.1


def test_night_shots_and_bright_skies_are_not_junk(judged: list[Judged]) -> None:
    by_name = {f.name: f for f in judged}
    night = by_name["media/canon_powershot_s400/Canon PowerShot S400.jpg"]  # a dark street at night
    sky = by_name["media/sony_dsc_hx5v/Sony DSC-HX5V (2).jpg"]  # a road sign under a white sky
    assert night.record.brightness is not None and night.record.brightness < 0.05
    assert sky.record.clipped_bright is not None and sky.record.clipped_bright > 0.4
    assert not night.found and not sky.found
