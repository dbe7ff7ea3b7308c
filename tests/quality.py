"""Precision and recall of near-duplicate finders on the variants of tests/variants.py.

Every pair of files is judged: a positive when both come from the same real photo, a negative
otherwise (every other real photo, and its variants, is a negative). A finder answers with groups
of paths; a pair is found when both files sit in one group. Figures are given over all pairs, and
per variant kind over the pairs (original, variant of that kind) for recall and the found pairs
that hold a variant of that kind for precision.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import imagehash
import numpy as np
from PIL import Image, ImageOps

from variants import Variant

PLAIN_PHASH_THRESHOLD = 10  # imagehash's customary cut-off for "the same image" (of 64 bits)


@dataclass(frozen=True, slots=True)
class Figures:
    kind: str
    precision: float
    recall: float
    found: int
    missed: int
    wrong: int


def score(variants: Sequence[Variant], groups: Iterable[Iterable[str]]) -> list[Figures]:
    """Figures over all pairs (kind "all"), then per variant kind."""
    index = {str(v.path): k for k, v in enumerate(variants)}
    label = np.full(len(variants), -1)
    for number, group in enumerate(groups):
        for path in group:
            if path in index:
                label[index[path]] = number
    sources = np.unique([v.source for v in variants], return_inverse=True)[1]
    kinds = np.array([v.kind for v in variants])
    upper = np.triu(np.ones((len(variants), len(variants)), dtype=bool), 1)
    same = (sources[:, None] == sources[None, :]) & upper
    together = (label[:, None] == label[None, :]) & (label[:, None] >= 0) & upper
    rows = [_figures("all", same, together, same, upper)]
    original = kinds == "original"
    for kind in sorted(set(kinds.tolist()) - {"original"}):
        this = kinds == kind
        recall_pairs = (original[:, None] & this[None, :]) | (this[:, None] & original[None, :])
        holds = (this[:, None] | this[None, :]) & upper
        rows.append(_figures(kind, same & recall_pairs, together, same & holds, holds))
    return rows


def _figures(
    kind: str, positives: np.ndarray, together: np.ndarray, same: np.ndarray, counted: np.ndarray
) -> Figures:
    """Recall over `positives`; precision over the found pairs among `counted` (true ones: `same`)."""
    found = int((positives & together).sum())
    missed = int((positives & ~together).sum())
    right = int((same & together).sum())
    wrong = int((together & counted & ~same).sum())
    precision = right / (right + wrong) if right + wrong else 1.0
    recall = found / (found + missed) if found + missed else 1.0
    return Figures(kind, precision, recall, found, missed, wrong)


def table(name: str, rows: Sequence[Figures]) -> str:
    lines = [f"{name}: kind precision recall (found/missed/wrong pairs)"]
    lines.extend(
        f"  {r.kind:10s} {r.precision:6.3f} {r.recall:6.3f}  ({r.found}/{r.missed}/{r.wrong})" for r in rows
    )
    return "\n".join(lines)


def side_by_side(named: Mapping[str, Sequence[Figures]]) -> str:
    """One line per kind, precision/recall of each finder beside the others."""
    names = list(named)
    header = f"{'kind':10s} " + " ".join(f"{n[:22]:>23s}" for n in names)
    lines = [header, " " * 11 + " ".join(f"{'P':>11s} {'R':>11s}" for _ in names)]
    kinds = [r.kind for r in named[names[0]]]
    for position, kind in enumerate(kinds):
        cells = " ".join(
            f"{named[n][position].precision:11.3f} {named[n][position].recall:11.3f}" for n in names
        )
        lines.append(f"{kind:10s} {cells}")
    return "\n".join(lines)


def _plain_phash(path: str) -> int:
    with Image.open(path) as image:
        return int(str(imagehash.phash(ImageOps.exif_transpose(image))), 16)


def plain_phash_groups(paths: Sequence[str], threshold: int = PLAIN_PHASH_THRESHOLD) -> list[list[str]]:
    """The plain way: imagehash pHash of every file, all pairs compared, pairs within `threshold`
    joined into groups (connected components)."""
    with ProcessPoolExecutor() as pool:
        hashes = np.array(list(pool.map(_plain_phash, paths, chunksize=16)), dtype=np.uint64)
    close = np.bitwise_count(hashes[:, None] ^ hashes[None, :]) <= threshold
    return _components(paths, close)


def findimagedupes_groups(paths: Sequence[str], workdir: Path) -> list[list[str]] | None:
    """Groups found by Debian's `findimagedupes` (default threshold), or None if not installed.
    Fingerprints are taken by two processes at once (half the files each), then compared."""
    if shutil.which("findimagedupes") is None:
        return None
    half = len(paths) // 2
    databases = [workdir / "fp-1.db", workdir / "fp-2.db"]
    runs = [
        subprocess.Popen(
            ["findimagedupes", "-q", "-n", "-f", str(db), "-"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for db in databases
    ]
    for run, part in zip(runs, (paths[:half], paths[half:]), strict=True):
        assert run.stdin is not None
        run.stdin.write("\n".join(part) + "\n")
        run.stdin.close()
    for run in runs:
        run.wait()
    merged = workdir / "fp-all.db"
    command = ["findimagedupes", "-q", *(f"--fingerprints={db}" for db in databases), f"--merge={merged}"]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    known = set(paths)
    groups = []
    for line in done.stdout.splitlines():
        members = _split_known(line, known)
        if len(members) > 1:
            groups.append(members)
    return groups


def _split_known(line: str, known: set[str]) -> list[str]:
    """findimagedupes prints a group as paths joined by spaces; paths may hold spaces too."""
    members, current = [], ""
    for word in line.split(" "):
        current = f"{current} {word}" if current else word
        if current in known:
            members.append(current)
            current = ""
    return members


def _components(paths: Sequence[str], close: np.ndarray) -> list[list[str]]:
    parent = list(range(len(paths)))

    def root(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for a, b in zip(*np.nonzero(np.triu(close, 1)), strict=True):
        parent[root(int(a))] = root(int(b))
    groups: dict[int, list[str]] = {}
    for k, path in enumerate(paths):
        groups.setdefault(root(k), []).append(path)
    return [g for g in groups.values() if len(g) > 1]
