"""Deciding, per group of identical files, which copies stay and which go, and saying why.

Pure: the copies come in as `Candidate`s (what the catalog and the disk said about them), and a
`GroupVerdict` goes out. Nothing here reads the disk or the catalog.
"""

from __future__ import annotations

import functools
import math
import posixpath
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Literal, NamedTuple, Protocol

from imgcat.errors import ImgcatError, UsageError
from imgcat.policy.names import copy_names, looks_like_copy

Decision = Literal["keep", "remove"]
PREFERENCES: Final = ("original-name", "shortest-path", "oldest", "newest")
DEFAULT_PREFER: Final = ("original-name", "shortest-path")
MEDIA_ROLES: Final = frozenset({"live_video", "live_still", "raw", "jpeg", "edited", "original"})


class PolicyError(UsageError):
    """The rules given cannot be applied as written."""


class UnsafePlanError(ImgcatError):
    """A rule set would leave a content without a copy verified here; nothing is done."""


@dataclass(frozen=True, slots=True)
class Policy:
    """The rules, combinable. Every group keeps `keep_copies` copies (on as many devices with
    `distinct_devices`); `same_dir` removes only copies that share a folder with a kept one."""

    keep_copies: int = 1
    same_dir: bool = False
    distinct_devices: bool = False
    keep_in: tuple[str, ...] = ()
    remove_from: tuple[str, ...] = ()
    prefer: tuple[str, ...] = DEFAULT_PREFER
    count_other_devices: bool = False

    def __post_init__(self) -> None:
        if self.keep_copies < 1:
            raise PolicyError(f"--keep-copies must be 1 or more, not {self.keep_copies}")
        for preference in self.prefer:
            if preference not in PREFERENCES and not (preference.startswith("root:") and len(preference) > 5):
                known = ", ".join((*PREFERENCES, "root:PATH"))
                raise PolicyError(f"unknown --prefer {preference!r}; use one of {known}")


@dataclass(frozen=True, slots=True)
class CompanionFact:
    """A file that makes one photo with a copy (Live Photo half, RAW/JPEG twin, sidecar), and its
    content checksum when known (None: not cataloged, unreadable, or on another device)."""

    role: str
    path: str
    checksum: str | None


class Candidate(NamedTuple):
    """One file of a group as the rules see it. `links` are its other paths (hard links: one file).
    `local`: on a device reachable here, checked on disk, and the only kind ever acted on.
    `storage`: what --distinct-devices counts (the device, or the disk under it). `follows`: the
    decision already made for one of its media companions (a photo is a unit).
    (A named tuple, as `Verdict`: immutable and four times cheaper to make than a frozen
    dataclass; a plan makes one per file.)"""

    device: str
    path: str
    links: tuple[str, ...] = ()
    mtime_ns: int = 0
    captured_at: datetime | None = None
    local: bool = True
    storage: str = ""
    companions: tuple[CompanionFact, ...] = ()
    follows: Decision | None = None

    @property
    def paths(self) -> tuple[str, ...]:
        return (self.path, *self.links)

    @property
    def where(self) -> str:
        return self.storage or self.device


class Verdict(NamedTuple):
    candidate: Candidate
    decision: Decision
    reason: str
    twins: tuple[tuple[str, str], ...] = ()  # (companion path, its kept twin's path)


@dataclass(frozen=True, slots=True)
class GroupVerdict:
    """The decision for every file of one group; `shortfall` says why a group that cannot meet the
    rules (under-protected) is left alone."""

    verdicts: tuple[Verdict, ...]
    shortfall: str | None = None

    @property
    def removed(self) -> tuple[Verdict, ...]:
        return tuple(v for v in self.verdicts if v.decision == "remove")

    @property
    def kept(self) -> tuple[Verdict, ...]:
        return tuple(v for v in self.verdicts if v.decision == "keep")


def is_under(path: str, folder: str) -> bool:
    """Whether `path` is `folder` or below it (a folder prefix, never a mere string prefix)."""
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _first_under(paths: Iterable[str], folders: Sequence[str]) -> str | None:
    if not folders:
        return None
    for path in paths:
        for folder in folders:
            if is_under(path, folder):
                return folder
    return None


def shortfall(candidates: Sequence[Candidate], policy: Policy) -> str | None:
    """Why a group cannot keep what the policy asks (too few copies, or on too few devices)."""
    counted = [c for c in candidates if c.local or policy.count_other_devices]
    wanted = policy.keep_copies
    if len(counted) < wanted:
        return f"under-protected: {_copies(len(counted))}, {wanted} asked"
    devices = len({c.where for c in counted})
    if policy.distinct_devices and devices < wanted:
        return f"under-protected: on {devices} device{'s' if devices != 1 else ''}, {wanted} asked"
    return None


def _copies(count: int) -> str:
    return f"{count} cop{'ies' if count != 1 else 'y'}" + ("" if count else " here")


def decide(candidates: Sequence[Candidate], policy: Policy) -> GroupVerdict:
    """Keep or remove each file of one group of identical files, with a one-line reason each.

    Only files on this device's disks (`local`) are ever removed, and at least one of them is
    always kept: the copy the removed ones are compared with before anything happens.
    """
    if _plain(candidates, policy):
        return _decide_plain(candidates, policy)
    return _decide(candidates, policy)


def _plain(candidates: Sequence[Candidate], policy: Policy) -> bool:
    """The common case: one copy to keep, every copy here, no companions, no folder rules but
    --remove-from. `_decide_plain` gives it the same verdicts as `_decide`, with less work (a test
    checks they agree)."""
    if policy.keep_copies != 1 or policy.same_dir or policy.keep_in or len(candidates) < 2:
        return False
    return all(c.local and not c.companions and c.follows is None for c in candidates)


def _decide_plain(candidates: Sequence[Candidate], policy: Policy) -> GroupVerdict:
    ranking = _ranking(policy)
    copies = _copies_of(candidates, policy)
    keys = [ranking(c, copies) for c in candidates]
    best = min(range(len(candidates)), key=keys.__getitem__)
    chosen = candidates[best]
    runner_up = min(key for n, key in enumerate(keys) if n != best)
    references = _References([chosen])
    verdicts = []
    for n, c in enumerate(candidates):
        if n == best:
            verdicts.append(Verdict(c, "keep", _why(keys[best], runner_up, policy, "kept")))
            continue
        reason = references.reason(c)
        if policy.remove_from:
            folder = _first_under(c.paths, policy.remove_from)
            if folder is not None:
                reason = f"under --remove-from {folder}; {reason}"
        verdicts.append(Verdict(c, "remove", reason))
    return GroupVerdict(tuple(verdicts))


def _decide(candidates: Sequence[Candidate], policy: Policy) -> GroupVerdict:
    ranking = _ranking(policy)
    copies = _copies_of(candidates, policy)
    keys = {id(c): ranking(c, copies) for c in candidates if c.local}  # each copy's rank, computed once

    def rank(c: Candidate) -> RankKey:
        return keys[id(c)]

    local = sorted((c for c in candidates if c.local), key=rank)
    reasons: dict[int, str] = {}
    for c in candidates:
        if not c.local:
            counts = "counted" if policy.count_other_devices else "not counted (--count-other-devices)"
            reasons[id(c)] = f"on device {c.device}: not checked from here, never acted on; {counts}"
    missing = shortfall(candidates, policy)
    if missing is not None or len(local) < 2:
        why = missing or "the only copy here"
        return GroupVerdict(
            tuple(Verdict(c, "keep", reasons.get(id(c), why)) for c in candidates),
            missing,
        )
    kept: list[Candidate] = []

    def keep(candidate: Candidate, reason: str) -> None:
        if id(candidate) not in reasons:
            reasons[id(candidate)] = reason
            kept.append(candidate)

    for c in local:
        protected = _first_under(c.paths, policy.keep_in)
        if protected is not None:
            keep(c, f"under --keep-in {protected}")
        elif c.follows == "keep":
            keep(c, "kept with its companions (a photo is a unit)")
    if policy.same_dir:
        for c in local:
            folder = _folder(c.path)
            if not any(_folder(k.path) == folder for k in kept):
                mates = [m for m in local if _folder(m.path) == folder]
                lead = "kept in its folder (--same-dir)" if len(mates) > 1 else "the only copy in its folder"
                keep(c, _why_best(c, mates, rank, policy, lead))
    counted = [c for c in candidates if not c.local and policy.count_other_devices]
    while not _enough([*counted, *kept], policy):
        devices = {c.where for c in [*counted, *kept]}
        spare = [c for c in local if id(c) not in reasons]
        fresh = [c for c in spare if c.where not in devices] if policy.distinct_devices else spare
        pick = (fresh or spare)[0]
        nth = f"copy {len(counted) + len(kept) + 1} of {policy.keep_copies}"
        if not kept:
            keep(pick, _why_best(pick, local, rank, policy, "kept"))
        elif policy.distinct_devices and pick.where not in devices:
            keep(pick, f"{nth}, on {pick.where} (--distinct-devices)")
        else:
            keep(pick, f"{nth} (--keep-copies)")
    if not kept:
        keep(local[0], _why_best(local[0], local, rank, policy, "kept: the copy checked against"))
    verdicts = {id(c): Verdict(c, "keep", reasons[id(c)]) for c in candidates if id(c) in reasons}
    references = _References(kept)
    for c in local:
        if id(c) not in reasons:
            verdicts[id(c)] = _removal(c, kept, references, policy)
    result = GroupVerdict(tuple(verdicts[id(c)] for c in candidates))
    if result.removed and not any(v.candidate.local for v in result.kept):
        raise UnsafePlanError(f"the rules would leave no copy here of {candidates[0].path}")
    return result


def _enough(kept: Sequence[Candidate], policy: Policy) -> bool:
    if len(kept) < policy.keep_copies:
        return False
    return not policy.distinct_devices or len({c.where for c in kept}) >= policy.keep_copies


class _References:
    """What a removed copy is compared with: a kept copy here in its folder, else the first."""

    def __init__(self, kept: Sequence[Candidate]) -> None:
        local = [k for k in kept if k.local]
        self.first = local[0]
        self.by_folder: dict[str, Candidate] = {}
        for k in reversed(local):
            self.by_folder[_folder(k.path)] = k

    def reason(self, candidate: Candidate) -> str:
        mate = self.by_folder.get(_folder(candidate.path))
        if mate is not None:
            return f"duplicate of {mate.path[mate.path.rfind('/') + 1 :]} in the same folder"
        return f"duplicate of {self.first.path}"


def _removal(
    candidate: Candidate, kept: Sequence[Candidate], references: _References, policy: Policy
) -> Verdict:
    """Remove, unless a companion of this copy has no same-content twin beside a kept copy."""
    twins: list[tuple[str, str]] = []
    for companion in candidate.companions:
        twin = _twin(companion, kept)
        if twin is None:
            name = posixpath.basename(companion.path)
            return Verdict(
                candidate, "keep", f"kept: its companion {name} has no same-content twin beside a kept copy"
            )
        twins.append((companion.path, twin))
    reason = references.reason(candidate)
    if policy.remove_from:
        folder = _first_under(candidate.paths, policy.remove_from)
        if folder is not None:
            reason = f"under --remove-from {folder}; {reason}"
    if candidate.follows == "remove":
        reason += "; goes with its companions"
    return Verdict(candidate, "remove", reason, tuple(twins))


def _folder(path: str) -> str:
    return path[: path.rfind("/")]


def _twin(companion: CompanionFact, kept: Sequence[Candidate]) -> str | None:
    if companion.checksum is None:
        return None
    for k in kept:
        for theirs in k.companions:
            if theirs.role == companion.role and theirs.checksum == companion.checksum:
                return theirs.path
    return None


RankKey = tuple[float | str, ...]


_FOLLOWS: Final = {"keep": 0, None: 1, "remove": 2}


def _copies_of(candidates: Sequence[Candidate], policy: Policy) -> frozenset[str] | None:
    """The group's copy-named paths (`copy_names`), when the policy prefers original names."""
    if "original-name" not in policy.prefer:
        return None
    return copy_names([c.path for c in candidates])


class Ranking(Protocol):
    def __call__(self, c: Candidate, copies: frozenset[str] | None = None) -> RankKey: ...


@functools.lru_cache(maxsize=16)
def _ranking(policy: Policy) -> Ranking:
    """The survivor order: the best copy to keep first. Copies under --keep-in, those whose
    companion was kept, those outside --remove-from, those with companions, then --prefer, then
    the path (a deterministic tie-break)."""
    preferences = [_preference(p) for p in policy.prefer]
    keep_in, remove_from = policy.keep_in, policy.remove_from

    def rank(c: Candidate, copies: frozenset[str] | None = None) -> RankKey:
        paths = c.paths
        key: list[float | str] = [
            0 if keep_in and _first_under(paths, keep_in) else 1,
            _FOLLOWS[c.follows],
            1 if remove_from and all(_first_under([p], remove_from) for p in paths) else 0,
            0 if c.companions else 1,
        ]
        for preference in preferences:
            key.extend(preference(c, copies))
        key.append(c.path)
        key.append(c.device)
        return tuple(key)

    return rank


def survivor_rank(policy: Policy) -> Callable[[Candidate], RankKey]:
    """The sort key of the survivor order (smallest first: the copy to keep); see `_ranking`.
    Other commands show an exact copy's files in this order, so the one named is the one kept."""
    return _ranking(policy)


_LABELS: Final = (
    "under --keep-in", "its companions were kept", "outside --remove-from", "with its companions",
)  # fmt: skip


def _why_best(
    chosen: Candidate,
    local: Sequence[Candidate],
    rank: Callable[[Candidate], RankKey],
    policy: Policy,
    lead: str,
) -> str:
    """`lead`, and what made `chosen` win over the next best copy (the first rank part that differs)."""
    others = [c for c in local if c is not chosen]
    if not others:
        return lead
    return _why(rank(chosen), min(rank(c) for c in others), policy, lead)


def _why(mine: RankKey, theirs: RankKey, policy: Policy, lead: str) -> str:
    """`lead`, and the first rank part in which `mine` beats `theirs`."""
    for index, (a, b) in enumerate(zip(mine, theirs, strict=False)):
        if a != b:
            labels = _labels(policy)
            if index < len(labels):
                return f"{lead}: {labels[index]}"
            break
    return f"{lead}: first by path"


@functools.lru_cache(maxsize=16)
def _labels(policy: Policy) -> tuple[str, ...]:
    return (*_LABELS, *(label for p in policy.prefer for label in _preference_labels(p)), "first by path")


def _preference(name: str) -> Callable[[Candidate, frozenset[str] | None], tuple[float | str, ...]]:
    """One --prefer rule's part of the rank; `copies`: the group's copy-named paths (`copy_names`),
    None to judge the name alone."""
    if name == "original-name":
        return lambda c, copies: (
            1 if (looks_like_copy(c.path) if copies is None else c.path in copies) else 0,
        )
    if name == "shortest-path":
        return lambda c, copies: (len(c.path),)
    if name == "oldest":
        return lambda c, copies: (_captured(c), c.mtime_ns)
    if name == "newest":
        return lambda c, copies: (-_captured(c) if c.captured_at else math.inf, -c.mtime_ns)
    root = name.removeprefix("root:")
    return lambda c, copies: (0 if _first_under(c.paths, [root]) else 1,)


def _preference_labels(name: str) -> tuple[str, ...]:
    if name == "oldest":
        return ("oldest capture time", "oldest file")
    if name == "newest":
        return ("newest capture time", "newest file")
    labels = {"original-name": "original name", "shortest-path": "shortest path"}
    return (labels.get(name, f"under {name.removeprefix('root:')} (--prefer root:)"),)


def _captured(c: Candidate) -> float:
    """Capture time as a number (a naive local time read as UTC: copies of one content share it)."""
    if c.captured_at is None:
        return math.inf
    moment = c.captured_at if c.captured_at.tzinfo else c.captured_at.replace(tzinfo=UTC)
    return moment.timestamp()
