"""`sync`: the disk is truth — but an unplugged disk is not an empty one, and a file that is still
there keeps its entry.

Two steps per root. `survey_root` only reads: one walk of the root (a stat per file), one streamed
read of the catalog entries under it, the contents of changed files, the first bytes of files the
catalog does not know (are they media?), and the checksum of those whose size matches a vanished
entry (a possible move). `plan_from_survey` is pure: it turns those facts into a frozen `SyncPlan`.
`refusal` says whether a plan is safe to apply, `apply_sync` writes it to the catalog, and
`sync_all` does all of it over several roots (planning every root before applying any). The disk
is never changed.

An entry is removed only when its file is known to be gone: not found at its path. A file that
cannot be examined (a folder that cannot be listed or entered, a permission or I/O error) keeps its
entry; a file that is no longer media (emptied, overwritten by a failed copy) keeps its entry too,
marked damaged.
"""

from __future__ import annotations

import functools
import os
import stat as stat_mode
from collections import defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Final, Literal, TypedDict

from imgcat.catalog.base import Catalog, FileState, Stamp, stamps_of_plain
from imgcat.operations.damage import damage_reason, marked_damaged
from imgcat.operations.events import NoEvents, ScanEvents
from imgcat.operations.relink import relink_folder
from imgcat.operations.roots import Refusal, RootsRun, plan_and_apply
from imgcat.record import MediaRecord, PathJson, path_json
from imgcat.scan.checksum import checksum_if_readable
from imgcat.scan.companions import orphan_sidecars, sidecars_with_owner
from imgcat.scan.detect import HEAD_BYTES, detect
from imgcat.scan.pool import extraction_pool
from imgcat.scan.reading import EXTRACTOR_VERSION, Extraction, FileStat, all_unchanged, is_unchanged
from imgcat.scan.walk import holds_only_litter, walk_folders

DEFAULT_THRESHOLD: Final = 0.5
PROGRESS_EVERY: Final = 500

RootState = Literal["present", "missing", "empty"]


@dataclass(frozen=True, slots=True)
class Move:
    """A cataloged file found again at a new path (same inode and size, or same content)."""

    old: FileState
    new: FileStat


@dataclass(frozen=True, slots=True)
class Reread:
    """A changed file read again: what reading gave, the entry it had, and, for a file that is no
    longer media, the checksum of what it holds now."""

    extraction: Extraction
    earlier: MediaRecord | None
    checksum: str | None = None


@dataclass(frozen=True, slots=True)
class RootSurvey:
    """What one look at a root found, on disk and in the catalog: facts, no decisions."""

    root: str
    device: str
    now: datetime
    state: RootState = "present"
    entries: int = 0
    unchanged: int = 0
    rereads: tuple[Reread, ...] = ()
    vanished: tuple[FileState, ...] = ()  # entries whose file is not found at its path
    unexamined: tuple[str, ...] = ()  # entries whose file may be there but could not be examined
    uncataloged: tuple[FileStat, ...] = ()  # media files on disk that no entry names
    not_media: int = 0  # other files on disk (notes, empty files, text named .jpg)
    checksums: Mapping[str, str | None] = field(default_factory=dict)  # of move candidates
    sidecars_on_disk: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    sidecars_linked: Mapping[str, frozenset[str]] = field(default_factory=dict)
    cataloged_beside_sidecars: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    orphan_sidecars: tuple[str, ...] = ()  # named after a file that is gone
    problems: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class SyncPlan:
    """What a sync of one root would change in the catalog: a value, built once by
    `plan_from_survey`, printed as JSON by `sync_plan_json`."""

    root: str
    device: str
    state: RootState
    entries: int
    unchanged: int = 0
    updates: tuple[MediaRecord, ...] = ()
    moves: tuple[Move, ...] = ()
    removals: tuple[FileState, ...] = ()
    damaged: tuple[MediaRecord, ...] = ()  # kept, marked: the entries as they will be stored
    unreadable: tuple[str, ...] = ()  # kept as they are: their files could not be examined
    not_cataloged: int = 0  # media files on disk that `add` would catalog
    not_media: int = 0
    relink: tuple[tuple[str, tuple[str, ...]], ...] = ()  # folder → its sidecars on disk
    orphan_sidecars: tuple[str, ...] = ()  # named after a file that is gone: reported, never removed
    problems: tuple[tuple[str, str], ...] = ()

    @property
    def missing_root(self) -> bool:
        return self.state != "present"

    @property
    def forgets(self) -> bool:
        """A missing root whose every entry goes (or none is left): once applied, the root itself
        is no longer one of the device's folders."""
        return self.state == "missing"

    @property
    def removal_share(self) -> float:
        return len(self.removals) / self.entries if self.entries else 0.0

    @property
    def changes(self) -> int:
        return len(self.updates) + len(self.moves) + len(self.removals) + len(self.damaged) + len(self.relink)


@dataclass(frozen=True, slots=True)
class SyncOptions:
    """What the user allows a sync: how much it may remove without --yes, whether a missing root's
    entries may go, and whether to change anything at all."""

    threshold: float = DEFAULT_THRESHOLD
    prune_missing_root: bool = False
    yes: bool = False
    dry_run: bool = False


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


def sync_all(
    catalog: Catalog,
    roots: Sequence[str],
    *,
    device: str,
    workers: int,
    options: SyncOptions,
    events: ScanEvents | None = None,
    confirm: Callable[[SyncPlan, Refusal], bool] | None = None,
) -> RootsRun[SyncPlan]:
    """Sync several roots: plan each, then apply those that are safe (or that `confirm` lets
    through); the outcome of each root says whether it was applied, or why not. A root `add`
    cataloged that is gone with nothing cataloged under it any more (a renamed folder that `add`
    followed, a pruned disk) is forgotten (`SyncPlan.forgets`), so it is never refused again."""
    locations = set(catalog.iter_locations(device))

    def check(plan: SyncPlan) -> Refusal | None:
        if plan.entries == 0 and (plan.state == "empty" or plan.root in locations):
            return None  # nothing to keep: an empty folder, or a root gone for good
        return sync_refusal(plan, options)

    def apply(plan: SyncPlan) -> None:
        apply_sync(catalog, plan)
        if plan.forgets:
            for location in locations:
                if location == plan.root or location.startswith(plan.root.rstrip("/") + "/"):
                    catalog.remove_location(device, location)

    return plan_and_apply(
        roots,
        plan=lambda root: plan_sync(catalog, root, device=device, workers=workers, events=events),
        check=check,
        apply=apply,
        dry_run=options.dry_run,
        confirm=confirm,
    )


def plan_sync(
    catalog: Catalog, root: str, *, device: str, workers: int, events: ScanEvents | None = None
) -> SyncPlan:
    return plan_from_survey(survey_root(catalog, root, device=device, workers=workers, events=events))


def survey_root(
    catalog: Catalog, root: str, *, device: str, workers: int, events: ScanEvents | None = None
) -> RootSurvey:
    """Look at a root on disk and in the catalog; change nothing."""
    events = events or NoEvents()
    now = datetime.now(UTC)
    state = _root_state(root)
    if state != "present":
        paths = [stamp.path for stamp in catalog.iter_stamps(device, root)]
        everything = tuple(catalog.states_of(device, paths))
        return RootSurvey(root, device, now, state, entries=len(everything), vanished=everything)
    problems: list[tuple[str, str]] = []
    unreadable: list[str] = []

    def problem(path: str, reason: str) -> None:
        problems.append((path, reason))
        events.problem(path, reason)

    sidecars_on_disk: dict[str, tuple[str, ...]] = {}
    beside_sidecars: dict[str, list[str]] = defaultdict(list)
    orphans: list[str] = []
    not_cataloged: list[FileStat] = []
    seen: set[str] = set()  # the folders walked
    tally = _Tally(events, tuple(unreadable))
    walk = walk_folders(
        root,
        recursive=True,
        on_problem=problem,
        on_unreadable=lambda folder: unreadable.append(folder.rstrip("/") + "/"),
    )
    for folder in walk:  # folder by folder: memory follows the biggest folder, not the tree
        seen.add(folder.path)
        plain = None if folder.sidecars else catalog.plain_stamps(device, folder.path, EXTRACTOR_VERSION)
        if plain is not None and len(plain) == len(folder.files) and all_unchanged(plain, folder.files):
            tally.check_unchanged(len(plain))  # all unchanged, none new, none gone: no code per file
            continue
        on_disk = {found.path: found for found in folder.files}
        if folder.sidecars:
            sidecars_on_disk[folder.path] = tuple(folder.sidecars)
            orphans.extend(orphan_sidecars(folder.sidecars, list(on_disk)))
        if plain is None:
            stamps = catalog.iter_stamps(device, folder.path, recursive=False)
        else:  # plain stamps stand for the folder's stamps: no second look
            stamps = stamps_of_plain(plain, EXTRACTOR_VERSION)
        for stamp in stamps:
            found = on_disk.pop(stamp.path, None)
            tally.check(stamp, found)
            if folder.sidecars and found is not None:
                beside_sidecars[folder.path].append(stamp.path)
        not_cataloged.extend(on_disk.values())
    tally.unreadable = tuple(unreadable)
    for unseen in catalog.iter_folders(device, root):  # entries in folders the walk did not see
        if unseen not in seen:
            for stamp in catalog.iter_stamps(device, unseen, recursive=False):
                tally.check(stamp, None)
    checked, unchanged, changed = tally.checked, tally.unchanged, sorted(tally.changed)
    gone, unexamined, sidecars_linked = sorted(tally.gone), sorted(tally.unexamined), tally.sidecars_linked
    events.advanced(checked % PROGRESS_EVERY, 0)
    states = tuple(catalog.states_of(device, gone))
    uncataloged, not_media = _media_only(not_cataloged, problem)
    return RootSurvey(
        root,
        device,
        now,
        entries=checked,
        unchanged=unchanged,
        rereads=_reread(catalog, device, changed, workers, now, problem),
        vanished=states,
        unexamined=tuple(unexamined),
        uncataloged=tuple(uncataloged),
        not_media=not_media,
        checksums=_move_checksums(states, uncataloged),
        sidecars_on_disk=sidecars_on_disk,
        sidecars_linked={folder: frozenset(paths) for folder, paths in sidecars_linked.items()},
        cataloged_beside_sidecars={folder: tuple(paths) for folder, paths in beside_sidecars.items()},
        orphan_sidecars=tuple(orphans),
        problems=tuple(problems),
    )


@dataclass
class _Tally:
    """What comparing each catalog entry with what the walk found has given so far."""

    events: ScanEvents
    unreadable: tuple[str, ...]  # folders that could not be listed or entered, ending in "/"
    checked: int = 0
    unchanged: int = 0
    changed: list[FileStat] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)
    unexamined: list[str] = field(default_factory=list)
    sidecars_linked: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))

    def check_unchanged(self, count: int) -> None:
        """`check` of `count` entries without sidecars, each found unchanged."""
        steps = (self.checked + count) // PROGRESS_EVERY - self.checked // PROGRESS_EVERY
        self.checked += count
        self.unchanged += count
        if steps:
            self.events.advanced(steps * PROGRESS_EVERY, 0)

    def check(self, stamp: Stamp, found: FileStat | None) -> None:
        self.checked += 1
        if self.checked % PROGRESS_EVERY == 0:
            self.events.advanced(PROGRESS_EVERY, 0)
        if stamp.sidecars:
            self.sidecars_linked[os.path.dirname(stamp.path)].update(stamp.sidecars)
        if found is None:
            if stamp.path.startswith(self.unreadable) or _may_still_be_there(stamp.path):
                self.unexamined.append(stamp.path)
            else:
                self.gone.append(stamp.path)
        elif is_unchanged(stamp, found):
            self.unchanged += 1
        else:
            self.changed.append(found)


def plan_from_survey(survey: RootSurvey) -> SyncPlan:
    """The changes a survey calls for. Pure: the same survey always gives the same plan."""
    if survey.state != "present":  # every entry would go, and only with --prune-missing-root
        return SyncPlan(survey.root, survey.device, survey.state, survey.entries, removals=survey.vanished)
    moves, removals = match_moves(survey.vanished, survey.uncataloged, survey.checksums)
    updates: list[MediaRecord] = []
    damaged: list[MediaRecord] = []
    kept = list(survey.unexamined)
    for reread in survey.rereads:
        extraction, earlier = reread.extraction, reread.earlier
        if extraction.record is not None:
            first_seen = extraction.record.first_seen if earlier is None else earlier.first_seen
            updates.append(replace(extraction.record, first_seen=first_seen))
        elif extraction.not_media and earlier is not None and reread.checksum is not None:
            damaged.append(marked_damaged(earlier, extraction.stat, reread.checksum, survey.now))
        elif earlier is not None:
            kept.append(extraction.stat.path)  # could not be read now: kept as it was
    touched = {
        os.path.dirname(p)
        for p in [
            *(s.path for s in survey.vanished),
            *(m.new.path for m in moves),
            *(r.extraction.stat.path for r in survey.rereads),
        ]
    }
    touched.update(
        folder
        for folder in {*survey.sidecars_on_disk, *survey.sidecars_linked}
        if sidecars_with_owner(
            survey.sidecars_on_disk.get(folder, ()), survey.cataloged_beside_sidecars.get(folder, ())
        )
        != survey.sidecars_linked.get(folder, frozenset())
    )
    return SyncPlan(
        survey.root,
        survey.device,
        survey.state,
        survey.entries,
        unchanged=survey.unchanged,
        updates=tuple(updates),
        moves=tuple(moves),
        removals=tuple(removals),
        damaged=tuple(damaged),
        unreadable=tuple(kept),
        not_cataloged=len(survey.uncataloged) - len(moves),
        not_media=survey.not_media,
        relink=tuple((folder, survey.sidecars_on_disk.get(folder, ())) for folder in sorted(touched)),
        orphan_sidecars=survey.orphan_sidecars,
        problems=survey.problems,
    )


def match_moves(
    vanished: Sequence[FileState], uncataloged: Sequence[FileStat], checksums: Mapping[str, str | None]
) -> tuple[list[Move], list[FileState]]:
    """Pair vanished entries with uncataloged files: same inode, size and mtime (a rename) first,
    else same size and checksum. The rest of the vanished entries are removals."""
    by_inode = {(s.inode, s.size, s.mtime_ns): s for s in vanished}
    by_size: dict[int, list[FileState]] = defaultdict(list)
    for state in vanished:
        by_size[state.size].append(state)
    moves: list[Move] = []
    taken: set[str] = set()
    for found in uncataloged:
        old = by_inode.get((found.inode, found.size, found.mtime_ns))
        if old is None or old.id in taken:
            checksum = checksums.get(found.path)
            candidates = [s for s in by_size.get(found.size, []) if s.id not in taken]
            old = next((s for s in candidates if checksum is not None and s.checksum == checksum), None)
        if old is not None:
            taken.add(old.id)
            moves.append(Move(old, found))
    return moves, [s for s in vanished if s.id not in taken]


def _root_state(root: str) -> RootState:
    """Gone or not a folder: missing. Holding nothing but system litter (an unmounted mount point
    with a `.DS_Store`, a recreated folder): empty. A root that cannot be listed is present: its
    entries are kept, as unreadable."""
    if not os.path.isdir(root):
        return "missing"
    return "empty" if holds_only_litter(root) else "present"


def _may_still_be_there(path: str) -> bool:
    """False only when the file is known to be gone: nothing at its path, or something else there
    now (a folder, a link). A file that cannot be examined (permission, I/O error, timeout) may
    still be there."""
    try:
        info = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError:
        return True
    if not stat_mode.S_ISREG(info.st_mode):
        return False
    parent = os.path.dirname(path)
    return os.path.realpath(parent) == parent  # reached through a link now: not this tree's file


def _media_only(
    found: Collection[FileStat], problem: Callable[[str, str], None]
) -> tuple[list[FileStat], int]:
    """The files on disk that are photos or videos by their first bytes, and how many are not."""
    media: list[FileStat] = []
    others = 0
    for stat in found:
        try:
            with open(stat.path, "rb") as file:
                head = file.read(HEAD_BYTES)
        except OSError as error:
            problem(stat.path, f"cannot read: {error.strerror or error}")
            continue
        if detect(head, os.path.splitext(stat.path)[1].lstrip(".")) is None:
            others += 1
        else:
            media.append(stat)
    return media, others


def _move_checksums(vanished: Sequence[FileState], uncataloged: Sequence[FileStat]) -> dict[str, str | None]:
    """Checksums of the uncataloged files that may be a vanished entry moved: same size, and no
    entry with the same inode (a rename needs no reading)."""
    sizes = {s.size for s in vanished}
    renames = {(s.inode, s.size, s.mtime_ns) for s in vanished}
    return {
        found.path: checksum_if_readable(found.path)
        for found in uncataloged
        if found.size in sizes and (found.inode, found.size, found.mtime_ns) not in renames
    }


def _reread(
    catalog: Catalog,
    device: str,
    changed: list[FileStat],
    workers: int,
    now: datetime,
    problem: Callable[[str, str], None],
) -> tuple[Reread, ...]:
    """Read changed files again, with the entries they had."""
    if not changed:
        return ()
    from imgcat.scan.extract import extract_file  # Pillow & co., loaded only when a file is read

    extract = functools.partial(extract_file, device=device, now=now)
    rereads: list[Reread] = []
    entries = catalog.get_many(device, [s.path for s in changed])
    with extraction_pool(workers if len(changed) > 8 else 0) as pool:
        results = pool.map(extract, changed, chunksize=4) if pool else map(extract, changed)
        for extraction in results:
            path = extraction.stat.path
            earlier = entries.get(path)
            checksum = None
            if extraction.not_media and earlier is not None:
                checksum = checksum_if_readable(path)
                problem(path, f"damaged: {damage_reason(extraction.stat, earlier)}; its entry is kept")
            elif extraction.problem:
                problem(path, extraction.problem)
            rereads.append(Reread(extraction, earlier, checksum))
    return tuple(rereads)


def sync_refusal(plan: SyncPlan, options: SyncOptions) -> Refusal | None:
    """Why this plan must not be applied with these options, or None if it is safe."""
    reason = refusal(
        plan, threshold=options.threshold, prune_missing_root=options.prune_missing_root, yes=options.yes
    )
    return None if reason is None else Refusal(reason, askable=not plan.missing_root)


def refusal(plan: SyncPlan, *, threshold: float, prune_missing_root: bool, yes: bool) -> str | None:
    """Why this plan must not be applied without the user's word, or None if it is safe."""
    what = "missing" if plan.state == "missing" else "empty (nothing but system files)"
    if plan.missing_root and plan.entries == 0:
        return f"{plan.root} is {what}, and nothing is cataloged under it"
    if plan.missing_root and not prune_missing_root:
        kept = "catalog entry is kept" if plan.entries == 1 else f"{plan.entries} catalog entries are kept"
        return (
            f"{plan.root} is {what} (an unplugged disk or offline NAS?): its {kept}; "
            f"pass --prune-missing-root to drop {'it' if plan.entries == 1 else 'them'}"
        )
    if plan.missing_root or yes or plan.removal_share <= threshold:
        return None
    return (
        f"sync would remove {len(plan.removals)} of {plan.entries} entries under {plan.root} "
        f"({plan.removal_share:.0%}, more than {threshold:.0%}); pass --yes if those files are really gone"
    )


def apply_sync(catalog: Catalog, plan: SyncPlan) -> None:
    """Write the plan to the catalog: moves keep their history, updates replace, damaged entries are
    marked, removals go, and the folders where files or sidecars came or went get their companions
    linked again."""
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
    catalog.upsert_many([*refreshed, *plan.updates, *plan.damaged])
    catalog.delete_many(s.id for s in plan.removals)
    for folder, sidecars in plan.relink:
        relink_folder(catalog, plan.device, folder, sidecars)


class ProblemJson(TypedDict):
    path: PathJson
    reason: str


class SyncPlanJson(TypedDict):
    root: PathJson
    root_state: str
    missing_root: bool
    checked: int
    unchanged: int
    updated: int
    moved: int
    removed: int
    damaged: int
    kept_unreadable: int
    not_cataloged: int
    not_media: int
    updated_paths: list[PathJson]
    moves: list[dict[str, PathJson]]
    removed_paths: list[PathJson]
    damaged_paths: list[PathJson]
    unreadable_paths: list[PathJson]
    relinked_folders: list[PathJson]
    orphan_sidecars: list[PathJson]
    problems: list[ProblemJson]


def sync_plan_json(plan: SyncPlan) -> SyncPlanJson:
    """The plan as JSON: its figures, then every path it names (each as `path_json` writes it: the
    path, or `{"path", "path_raw"}` for one that is not UTF-8)."""
    return {
        "root": path_json(plan.root),
        "root_state": plan.state,
        "missing_root": plan.missing_root,
        "checked": plan.entries,
        "unchanged": plan.unchanged,
        "updated": len(plan.updates),
        "moved": len(plan.moves),
        "removed": len(plan.removals),
        "damaged": len(plan.damaged),
        "kept_unreadable": len(plan.unreadable),
        "not_cataloged": plan.not_cataloged,
        "not_media": plan.not_media,
        "updated_paths": [path_json(r.path) for r in plan.updates],
        "moves": [{"from": path_json(m.old.path), "to": path_json(m.new.path)} for m in plan.moves],
        "removed_paths": [path_json(s.path) for s in plan.removals],
        "damaged_paths": [path_json(r.path) for r in plan.damaged],
        "unreadable_paths": [path_json(p) for p in plan.unreadable],
        "relinked_folders": [path_json(folder) for folder, _ in plan.relink],
        "orphan_sidecars": [path_json(p) for p in plan.orphan_sidecars],
        "problems": [{"path": path_json(p), "reason": reason} for p, reason in plan.problems],
    }
