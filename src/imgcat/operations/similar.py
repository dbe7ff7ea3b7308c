"""`imgcat similar`: the same picture in other files (resized, re-encoded, converted, cropped, marked),
and, at level `similar`, shots of the same moment; each group names its best member.

How pictures are found (no pair of the catalog is compared unless its hashes are close):
1. Candidates: the hash index (catalog/hashindex.py) finds the pairs whose hashes of the
   border-trimmed picture are within `max_hash_distance` bits: pHash, dHash, pHash of one against
   the pHash of the other's centred 84 % (a crop), and the pHash of each half (a box over a
   corner). Files with the same content (exact copies) are one picture here.
2. Verification: each candidate pair's 32x32 likeness grids are aligned and compared cell by cell
   (scan/likeness.py); a pair whose difference is at most the level's `max_difference` is an edge.
   Pairs a person marked `--not-same` are never edges; at level `similar` with a time window, two
   shots whose capture times are both known and further apart are not either.
3. Groups: connected components of the edges, guarded against chaining: within a component, every
   picture must itself be close enough to the component's centre (the picture with the most
   edges); the others are grouped again among themselves.

The best member of a group wins by these, in order (BEST_ORDER; the first that differs decides and
is shown as the reason):
1. a camera original: it carries a capture time or camera from EXIF (a derivative lost them);
2. more picture: displayed pixels without uniform border bars (3 % apart or less is the same);
3. the older file: a copy is made after its source;
4. fewer clipped pixels (pure black or white, such as a caption box or crushed shadows), within 1 %;
5. sharper (variance of the Laplacian); 6. the bigger file (less compressed); 7. the path.
"""

from __future__ import annotations

import hashlib
import itertools
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Final, Literal

import numpy as np

from imgcat.actions import Kept, RunResult, Step, carry_out, start_run
from imgcat.catalog.base import Catalog, Fingerprinted, ordered_pair
from imgcat.catalog.hashindex import MAX_DISTANCE, close_pairs
from imgcat.errors import ImgcatError
from imgcat.policy.rules import Candidate, Policy, survivor_rank
from imgcat.record import MediaRecord
from imgcat.scan.likeness import difference

Level = Literal["near", "similar"]


@dataclass(frozen=True, slots=True)
class LevelPreset:
    max_hash_distance: int
    max_difference: float  # the share of the picture that may differ (scan/likeness.py)


LEVELS: Final[dict[str, LevelPreset]] = {
    "near": LevelPreset(max_hash_distance=MAX_DISTANCE, max_difference=0.12),
    "similar": LevelPreset(max_hash_distance=MAX_DISTANCE, max_difference=0.25),
}
# (hash of one picture, hash of the other) compared through the index, as positions in HASH_FIELDS:
# whole with whole, dHash with dHash, whole with centre (a crop of the other), half with half.
HASH_PAIRS: Final = ((0, 0), (1, 1), (0, 2), (2, 0), (3, 3), (4, 4), (5, 5), (6, 6))
GROUP_ID_DIGITS: Final = 8


class UnknownPictureError(ImgcatError):
    """A path or group id given to `similar --not-same` names no picture of the catalog."""


@dataclass(frozen=True, slots=True)
class SimilarMember:
    """One picture of a group: its file, the other files with the same content, and its verdict."""

    record: MediaRecord
    copies: tuple[MediaRecord, ...]
    difference: float  # from the best member: the share of the picture that differs (0-1)
    best: bool
    reason: str  # why it is the best, or why the best beat it


@dataclass(frozen=True, slots=True)
class SimilarGroup:
    id: str  # stable while the group's contents stay the same
    members: tuple[SimilarMember, ...]  # the best first


@dataclass(frozen=True, slots=True)
class SimilarReport:
    level: str
    pictures: int  # distinct contents compared
    candidates: int  # pairs the index proposed
    verified: int  # pairs that looked alike
    groups: tuple[SimilarGroup, ...]
    unverified: int = 0  # pictures of candidate pairs without a likeness grid (read by an older imgcat)


@dataclass(frozen=True, slots=True)
class NotSameResult:
    pairs: int  # pairs of contents recorded
    new: int  # of which not recorded before


def find_similar(
    catalog: Catalog,
    *,
    level: Level = "near",
    threshold: float | None = None,
    time_window: timedelta | None = None,
    device: str | None = None,
    prefix: str | None = None,
) -> SimilarReport:
    """Group the catalog's pictures (under `prefix` on `device`, if given) that show the same picture."""
    preset = LEVELS[level]
    max_difference = preset.max_difference if threshold is None else threshold
    units, files = content_units(catalog.iter_fingerprints(device, prefix))
    pairs = candidate_pairs(units, preset.max_hash_distance)
    refused = set(catalog.iter_not_same())
    checksums = [u.checksum for u in units]
    pairs = [
        (i, j)
        for i, j in pairs
        if ordered_pair(checksums[i], checksums[j]) not in refused
        and (time_window is None or _close_in_time(units[i], units[j], time_window))
    ]
    involved = sorted({i for pair in pairs for i in pair})
    grids = dict(catalog.likeness_of([units[i].id for i in involved]))

    def apart(i: int, j: int) -> float:
        a, b = grids.get(units[i].id), grids.get(units[j].id)
        if a is None or b is None:
            return 1.0
        shapes = (units[i].aspect, units[j].aspect)
        return difference(a, b, None if None in shapes else shapes)  # type: ignore[arg-type]

    edges = {(i, j): d for i, j in pairs if (d := apart(i, j)) <= max_difference}
    components = _guarded_components(edges, apart, max_difference)
    groups = [
        _group(catalog, [units[i] for i in members], files, apart_of(apart, members))
        for members in components
    ]
    groups.sort(key=lambda g: (g.members[0].record.path, g.id))
    unverified = sum(1 for i in involved if units[i].id not in grids)
    return SimilarReport(level, len(units), len(pairs), len(edges), tuple(groups), unverified)


def apart_of(apart: Callable[[int, int], float], members: Sequence[int]) -> Callable[[int, int], float]:
    """`apart` on positions within `members` instead of catalog positions."""
    return lambda a, b: 0.0 if a == b else apart(members[a], members[b])


def mark_not_same(catalog: Catalog, picks: Sequence[str], device: str) -> NotSameResult:
    """Remember that the pictures named by `picks` (file paths, or one group id from the listing,
    whose members then all differ) are different pictures."""
    checksums: list[str] = []
    for pick in picks:
        record = catalog.get(device, pick)
        if record is not None:
            checksums.append(record.checksum)
            continue
        group = _group_by_id(catalog, pick)
        if group is None:
            raise UnknownPictureError(f"{pick}: neither a cataloged file nor a group id of `imgcat similar`")
        checksums.extend(m.record.checksum for m in group.members)
    distinct = sorted(set(checksums))
    if len(distinct) < 2:
        raise UnknownPictureError("--not-same needs two different pictures (two files, or a group id)")
    pairs = list(itertools.combinations(distinct, 2))
    return NotSameResult(len(pairs), catalog.add_not_same(pairs))


def _group_by_id(catalog: Catalog, group_id: str) -> SimilarGroup | None:
    for level in LEVELS:
        for group in find_similar(catalog, level=level).groups:  # type: ignore[arg-type]
            if group.id == group_id:
                return group
    return None


def content_units(
    prints: Iterable[Fingerprinted],
) -> tuple[list[Fingerprinted], dict[str, list[Fingerprinted]]]:
    """One fingerprint per content (the first path of its copies), and the files of each content
    that has copies (only those: a million pictures keep one object each, not a list each)."""
    first: dict[str, Fingerprinted] = {}
    copies: dict[str, list[Fingerprinted]] = {}
    for print_ in prints:
        seen = first.setdefault(print_.checksum, print_)
        if seen is not print_:
            copies.setdefault(print_.checksum, [seen]).append(print_)
    for checksum, group in copies.items():
        first[checksum] = min(group, key=lambda f: (f.device, f.path))
    units = [first[checksum] for checksum in sorted(first)]
    return units, copies


def candidate_pairs(units: Sequence[Fingerprinted], max_distance: int) -> list[tuple[int, int]]:
    if len(units) < 2:
        return []
    count = len(units[0].hashes)
    columns = []
    for k in range(count):
        values = [u.hashes[k] for u in units]
        present = np.array([v is not None for v in values])
        columns.append((np.array([v or 0 for v in values], dtype=np.uint64), np.nonzero(present)[0]))
    found: set[tuple[int, int]] = set()
    for left, right in HASH_PAIRS:
        (a, rows_a), (b, rows_b) = columns[left], columns[right]
        if len(rows_a) == 0 or len(rows_b) == 0:
            continue
        if left == right:
            pairs = close_pairs(a[rows_a], max_distance)
            mapped = np.stack((rows_a[pairs[:, 0]], rows_a[pairs[:, 1]]), axis=1)
        else:
            pairs = close_pairs(a[rows_a], max_distance, b[rows_b])
            mapped = np.stack((rows_a[pairs[:, 0]], rows_b[pairs[:, 1]]), axis=1)
        for i, j in mapped.tolist():
            if i != j:
                found.add((i, j) if i < j else (j, i))
    return sorted(found)


def _close_in_time(a: Fingerprinted, b: Fingerprinted, window: timedelta) -> bool:
    if a.captured_at is None or b.captured_at is None:
        return True
    first, second = a.captured_at, b.captured_at
    if (first.tzinfo is None) != (second.tzinfo is None):
        first, second = first.replace(tzinfo=None), second.replace(tzinfo=None)
    return abs(first - second) <= window


def _guarded_components(
    edges: dict[tuple[int, int], float], apart: Callable[[int, int], float], max_difference: float
) -> list[list[int]]:
    """Connected components of `edges`, each split until every member is close to its centre."""
    neighbours: dict[int, set[int]] = defaultdict(set)
    for i, j in edges:
        neighbours[i].add(j)
        neighbours[j].add(i)
    result: list[list[int]] = []
    pending = _components(set(neighbours), neighbours)
    while pending:
        members = pending.pop()
        if len(members) < 2:
            continue
        centre = max(members, key=lambda m: (len(neighbours[m] & set(members)), -m))
        close = [m for m in members if m == centre or apart(centre, m) <= max_difference]
        if len(close) == len(members):
            result.append(sorted(members))
            continue
        result.append(sorted(close)) if len(close) > 1 else None
        rest = set(members) - set(close)
        pending.extend(_components(rest, {m: neighbours[m] & rest for m in rest}))
    return result


def _components(nodes: set[int], neighbours: dict[int, set[int]]) -> list[list[int]]:
    seen: set[int] = set()
    found = []
    for start in sorted(nodes):
        if start in seen:
            continue
        stack, members = [start], []
        seen.add(start)
        while stack:
            node = stack.pop()
            members.append(node)
            for other in neighbours.get(node, ()):
                if other in nodes and other not in seen:
                    seen.add(other)
                    stack.append(other)
        found.append(members)
    return found


def _group(
    catalog: Catalog,
    units: Sequence[Fingerprinted],
    files: dict[str, list[Fingerprinted]],
    apart: Callable[[int, int], float],
) -> SimilarGroup:
    records = []
    for unit in units:
        copies = [catalog.get(f.device, f.path) for f in files.get(unit.checksum, [unit])]
        records.append(sorted((r for r in copies if r is not None), key=_kept_first))
    firsts = [copies[0] for copies in records]
    largest = max(content_pixels(r) for r in firsts)
    ranking = sorted(range(len(firsts)), key=lambda k: best_key(firsts[k], largest), reverse=True)
    best = ranking[0]
    members = []
    for k in ranking:
        if k == best:
            reason = _why(firsts[best], firsts[ranking[1]], loser=False)
        else:
            reason = _why(firsts[best], firsts[k])
        members.append(
            SimilarMember(firsts[k], tuple(records[k][1:]), round(apart(best, k), 3), k == best, reason)
        )
    digest = hashlib.blake2b("\n".join(sorted(u.checksum for u in units)).encode(), digest_size=8).hexdigest()
    return SimilarGroup(digest[:GROUP_ID_DIGITS], tuple(members))


_COPY_RANK: Final = survivor_rank(Policy())


def _kept_first(record: MediaRecord) -> tuple[object, ...]:
    """The order of an exact copy's files: the one `dupes` keeps by default first (an original name
    over "copy" or " (1)" names, then the shortest path), so the file named is the one kept."""
    return _COPY_RANK(Candidate(record.device, record.path, mtime_ns=record.mtime_ns))


def camera_original(record: MediaRecord) -> bool:
    return record.captured_source == "exif" or bool(record.make or record.model)


def content_pixels(record: MediaRecord) -> float:
    width, height = record.display_width or 0, record.display_height or 0
    return width * height * (1 - (record.border_share or 0.0))


SAME_PIXELS: Final = 0.97  # a picture with 97 % of the group's most pixels has as much picture
PIXEL_STEPS: Final = 20  # below that, pictures compare by twentieths of an octave of pixels
BEST_ORDER: Final = (
    "camera original",
    "more picture",
    "older file",
    "fewer clipped pixels",
    "sharper",
    "bigger file",
)


def _pixel_step(pixels: float, largest: float) -> int:
    if pixels <= 0 or largest <= 0:
        return -(10**9)
    ratio = pixels / largest
    return 0 if ratio >= SAME_PIXELS else int(np.floor(PIXEL_STEPS * np.log2(ratio)))


def best_key(record: MediaRecord, largest: float) -> tuple[object, ...]:
    """The sort key of BEST_ORDER (bigger is better) in a group whose largest picture has `largest`
    content pixels; see the module's docstring."""
    clipped = (record.clipped_dark or 0.0) + (record.clipped_bright or 0.0)
    pixels = content_pixels(record)
    return (
        camera_original(record),
        _pixel_step(pixels, largest),
        -record.mtime_ns,
        -round(clipped * 100),
        record.sharpness or 0.0,
        record.size,
        [-ord(c) for c in record.path],
    )


def _why(best: MediaRecord, other: MediaRecord, *, loser: bool = True) -> str:
    """The first rule of BEST_ORDER by which `best` beats `other`, said for people: of `other`
    (why it lost) when `loser`, else of `best` (why it won)."""
    largest = max(content_pixels(best), content_pixels(other))
    mine, theirs = best_key(best, largest), best_key(other, largest)
    for rule, a, b in zip(BEST_ORDER, mine, theirs, strict=False):
        if a != b:
            return _lost(rule, best, other) if loser else "best: " + _won(rule, best, other)
    return "same picture, same quality" if loser else "best: same quality (first by path)"


def _won(rule: str, best: MediaRecord, other: MediaRecord) -> str:
    match rule:
        case "camera original":
            return "camera original (EXIF capture time or camera)"
        case "more picture":
            return f"more picture ({_pixels(best)} vs {_pixels(other)})"
        case "older file":
            return "older file (copies are made later)"
        case "fewer clipped pixels":
            return "fewer pure black or white pixels"
        case "sharper":
            return f"sharper ({best.sharpness or 0:.0f} vs {other.sharpness or 0:.0f})"
    return f"bigger file ({best.size} vs {other.size} bytes)"


def _lost(rule: str, best: MediaRecord, other: MediaRecord) -> str:
    match rule:
        case "camera original":
            return "no EXIF capture time or camera: a derivative of the best"
        case "more picture":
            return f"less picture ({_pixels(other)} vs {_pixels(best)})"
        case "older file":
            return "newer file: a later copy"
        case "fewer clipped pixels":
            return "more pure black or white pixels"
        case "sharper":
            return f"less sharp ({other.sharpness or 0:.0f} vs {best.sharpness or 0:.0f})"
    return f"smaller file ({other.size} vs {best.size} bytes)"


def _pixels(record: MediaRecord) -> str:
    return f"{record.display_width or 0}x{record.display_height or 0}"


def similar_steps(report: SimilarReport, device: str, *, count_other_devices: bool = False) -> list[Step]:
    """The plan of `similar --apply`: every file of each group but the best (with their exact
    copies) to the trash, checked against its cataloged content right before, and only while the
    best (or one of its exact copies) is on disk as cataloged; files of other devices are left out
    (they are not on this machine). A group whose best is only on another device is left alone
    unless `count_other_devices` (see `kept_elsewhere`)."""
    steps = []
    for group in report.groups:
        kept = _kept_here(group, device)
        if not kept and not count_other_devices:
            continue
        for member in group.members[1:]:
            for record in (member.record, *member.copies):
                if record.device != device:
                    continue
                steps.append(
                    Step("trash", record.path, record.size, record.mtime_ns, checksum=record.checksum,
                         record=record, note=f"similar {group.id}: {member.reason}", kept=kept)
                )  # fmt: skip
    return steps


def _kept_here(group: SimilarGroup, device: str) -> tuple[Kept, ...]:
    best = group.members[0]
    return tuple(
        Kept(r.path, r.size, r.mtime_ns, r.checksum)
        for r in (best.record, *best.copies)
        if r.device == device
    )


def kept_elsewhere(report: SimilarReport, device: str) -> list[SimilarGroup]:
    """The groups with files to remove here whose best is only on another device: left alone by
    `similar_steps` unless it counts other devices (their disk cannot be checked from here)."""
    return [
        group for group in report.groups
        if not _kept_here(group, device)
        and any(r.device == device for m in group.members[1:] for r in (m.record, *m.copies))
    ]  # fmt: skip


def apply_similar(
    catalog: Catalog, report: SimilarReport, *, device: str, count_other_devices: bool = False
) -> RunResult:
    """Trash every picture but the best of each group, through the actions layer (journaled, each
    file checked right before, the catalog following; `imgcat undo RUN` puts them back)."""
    steps = similar_steps(report, device, count_other_devices=count_other_devices)
    run = start_run(steps, command=f"imgcat similar --apply (level {report.level})", catalog=catalog)
    return carry_out(run, catalog)
