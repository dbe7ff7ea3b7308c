"""`sync`: the disk is truth — but an unplugged disk is not an empty one.

`plan_sync` only reads: one walk of the root (a stat per file) and one streamed read of the catalog
entries under it; it re-reads the contents of changed files only, and of uncataloged files only when
their size matches a vanished entry (a possible move). `refusal` says whether the plan is safe to
apply; `apply_sync` writes it to the catalog. The disk is never changed.
"""

from __future__ import annotations

import functools
import os
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Final

import xxhash

from imgcat.catalog.base import Catalog, FileState
from imgcat.operations.events import NoEvents, ScanEvents
from imgcat.operations.relink import relink_folder
from imgcat.record import MediaRecord
from imgcat.scan.companions import sidecars_with_owner
from imgcat.scan.extract import FileStat, extract_file
from imgcat.scan.pool import extraction_pool
from imgcat.scan.walk import walk_folders

DEFAULT_THRESHOLD: Final = 0.5
PROGRESS_EVERY: Final = 500


@dataclass(frozen=True, slots=True)
class Move:
    """A cataloged file found again at a new path (same inode and size, or same content)."""

    old: FileState
    new: FileStat


@dataclass
class SyncPlan:
    """What a sync of one root would change in the catalog."""

    root: str
    device: str
    entries: int = 0
    unchanged: int = 0
    updates: list[MediaRecord] = field(default_factory=list)
    moves: list[Move] = field(default_factory=list)
    removals: list[FileState] = field(default_factory=list)
    kept_unreadable: int = 0
    not_cataloged: int = 0
    relink: dict[str, list[str]] = field(default_factory=dict)  # folder → its sidecars on disk
    missing_root: bool = False
    problems: list[tuple[str, str]] = field(default_factory=list)

    @property
    def removal_share(self) -> float:
        return len(self.removals) / self.entries if self.entries else 0.0


def sync_roots(catalog: Catalog, device: str, folder: str | None) -> list[str]:
    """The roots to sync: the folder given, else every location `add` cataloged on this device
    (a location inside another one is covered by it)."""
    if folder is not None:
        return [os.path.realpath(os.path.expanduser(folder))]
    roots: list[str] = []
    for location in catalog.iter_locations(device):
        if not any(location == r or location.startswith(r.rstrip("/") + "/") for r in roots):
            roots.append(location)
    return roots


def plan_sync(
    catalog: Catalog, root: str, *, device: str, workers: int, events: ScanEvents | None = None
) -> SyncPlan:
    events = events or NoEvents()
    plan = SyncPlan(root, device)
    if _root_is_missing(root):
        plan.missing_root = True
        paths = [stamp.path for stamp in catalog.iter_stamps(device, root)]
        plan.removals = list(catalog.states_of(device, paths))
        plan.entries = len(plan.removals)
        return plan
    unreadable: list[str] = []

    def problem(path: str, reason: str) -> None:
        plan.problems.append((path, reason))
        events.problem(path, reason)
        if reason.startswith("cannot list folder"):
            unreadable.append(path.rstrip("/") + "/")

    on_disk: dict[str, FileStat] = {}
    sidecars_on_disk: dict[str, list[str]] = {}
    in_sidecar_folder: dict[str, str] = {}  # path → folder, for folders that hold sidecars
    for folder in walk_folders(root, recursive=True, on_problem=problem):
        on_disk.update((found.path, found) for found in folder.files)
        if folder.sidecars:
            sidecars_on_disk[folder.path] = folder.sidecars
            in_sidecar_folder.update((found.path, folder.path) for found in folder.files)
    sidecars_linked: dict[str, set[str]] = defaultdict(set)
    cataloged_beside_sidecars: dict[str, list[str]] = defaultdict(list)
    changed: list[FileStat] = []
    vanished: list[str] = []
    checked = 0
    for stamp in catalog.iter_stamps(device, root):
        checked += 1
        if checked % PROGRESS_EVERY == 0:
            events.advanced(PROGRESS_EVERY, 0)
        if stamp.sidecars:
            sidecars_linked[os.path.dirname(stamp.path)].update(stamp.sidecars)
        if stamp.path in in_sidecar_folder:
            cataloged_beside_sidecars[in_sidecar_folder[stamp.path]].append(stamp.path)
        stat = on_disk.pop(stamp.path, None)
        if stat is None:
            if any(stamp.path.startswith(folder) for folder in unreadable) or os.path.lexists(stamp.path):
                plan.kept_unreadable += 1
            else:
                vanished.append(stamp.path)
        elif stat.size == stamp.size and stat.mtime_ns == stamp.mtime_ns:
            plan.unchanged += 1
        else:
            changed.append(stat)
    events.advanced(checked % PROGRESS_EVERY, 0)
    plan.entries = checked
    plan.moves, plan.removals = _find_moves(list(catalog.states_of(device, vanished)), list(on_disk.values()))
    plan.not_cataloged = len(on_disk) - len(plan.moves)
    plan.updates = _reread(catalog, device, changed, workers, plan)
    touched = {
        os.path.dirname(p) for p in [*vanished, *(m.new.path for m in plan.moves), *(s.path for s in changed)]
    }
    touched.update(
        folder
        for folder in {*sidecars_on_disk, *sidecars_linked}
        if sidecars_with_owner(sidecars_on_disk.get(folder, []), cataloged_beside_sidecars[folder])
        != sidecars_linked[folder]
    )
    plan.relink = {folder: sidecars_on_disk.get(folder, []) for folder in sorted(touched)}
    return plan


def _root_is_missing(root: str) -> bool:
    """Gone, not a folder, or an empty folder (an unmounted mount point)."""
    if not os.path.isdir(root):
        return True
    try:
        with os.scandir(root) as entries:
            return next(entries, None) is None
    except OSError:
        return False  # unreadable is not missing: its entries are kept


def _find_moves(vanished: list[FileState], uncataloged: list[FileStat]) -> tuple[list[Move], list[FileState]]:
    """Pair vanished entries with uncataloged files: same inode, size and mtime (a rename) first,
    else same size and checksum (only files whose size matches a vanished entry are read)."""
    by_inode = {(s.inode, s.size, s.mtime_ns): s for s in vanished}
    by_size: dict[int, list[FileState]] = defaultdict(list)
    for state in vanished:
        by_size[state.size].append(state)
    moves: list[Move] = []
    taken: set[str] = set()
    for stat in uncataloged:
        old = by_inode.get((stat.inode, stat.size, stat.mtime_ns))
        if old is None or old.id in taken:
            candidates = [s for s in by_size.get(stat.size, []) if s.id not in taken]
            checksum = _checksum(stat.path) if candidates else None
            old = next((s for s in candidates if s.checksum == checksum), None)
        if old is not None:
            taken.add(old.id)
            moves.append(Move(old, stat))
    return moves, [s for s in vanished if s.id not in taken]


def _checksum(path: str) -> str | None:
    digest = xxhash.xxh3_128()
    try:
        with open(path, "rb") as file:
            while chunk := file.read(1024 * 1024):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def _reread(
    catalog: Catalog, device: str, changed: list[FileStat], workers: int, plan: SyncPlan
) -> list[MediaRecord]:
    """Fresh records for changed files, with their history (first_seen) kept."""
    extract = functools.partial(extract_file, device=device, now=datetime.now(UTC))
    updates: list[MediaRecord] = []
    not_media: list[str] = []
    history = {path: r.first_seen for path, r in catalog.get_many(device, [s.path for s in changed]).items()}
    with extraction_pool(workers if len(changed) > 8 else 0) as pool:
        results = pool.map(extract, changed, chunksize=4) if pool else map(extract, changed)
        for extraction in results:
            path = extraction.stat.path
            if extraction.problem:
                plan.problems.append((path, extraction.problem))
            if extraction.record is not None:
                first_seen = history.get(path, extraction.record.first_seen)
                updates.append(replace(extraction.record, first_seen=first_seen))
            elif extraction.not_media:
                not_media.append(path)  # replaced by something that is not a photo or video
    plan.removals.extend(catalog.states_of(device, not_media))
    return updates


def refusal(plan: SyncPlan, *, threshold: float, prune_missing_root: bool, yes: bool) -> str | None:
    """Why this plan must not be applied without the user's word, or None if it is safe."""
    if plan.missing_root and plan.entries == 0:
        return f"{plan.root} is missing or empty, and nothing is cataloged under it"
    if plan.missing_root and not prune_missing_root:
        return (
            f"{plan.root} is missing or empty (an unplugged disk or offline NAS?): its {plan.entries} "
            "catalog entries are kept; pass --prune-missing-root to drop them"
        )
    if plan.missing_root or yes or plan.removal_share <= threshold:
        return None
    return (
        f"sync would remove {len(plan.removals)} of {plan.entries} entries under {plan.root} "
        f"({plan.removal_share:.0%}, more than {threshold:.0%}); pass --yes if those files are really gone"
    )


def apply_sync(catalog: Catalog, plan: SyncPlan) -> None:
    """Write the plan to the catalog: moves keep their history, updates replace, removals go, and
    the folders where files or sidecars came or went get their companions linked again."""
    moved: list[tuple[MediaRecord, str]] = []
    refreshed: list[MediaRecord] = []
    records = catalog.get_many(plan.device, [move.old.path for move in plan.moves])
    for move in plan.moves:
        record = records.get(move.old.path)
        if record is None:
            continue
        moved.append((record, move.new.path))
        refreshed.append(
            replace(record.moved_to(move.new.path), inode=move.new.inode, mtime_ns=move.new.mtime_ns)
        )
    catalog.move_many(moved)
    catalog.upsert_many(refreshed + plan.updates)
    catalog.delete_many(s.id for s in plan.removals)
    for folder, sidecars in plan.relink.items():
        relink_folder(catalog, plan.device, folder, sidecars)
