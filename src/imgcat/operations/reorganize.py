"""`reorganize`: a tidy library from the catalog's metadata, planned before anything moves.

`plan_reorganize` only reads: the files under each root are checked against the catalog as `sync`
checks them (a stat each; changed files are read again), then every cataloged photo is placed by the
pattern with its companions (a unit: Live Photo halves, RAW+JPEG, edited versions, sidecars, named
alike). Collisions are settled in the plan: a target holding the same content makes the unit a
duplicate (`on_duplicate`), other content gives the unit a numbered suffix, and nothing is ever
planned over a file. The plan is a frozen value: shown as it is for a dry run, carried out step by
step by the actions layer for `--apply`.
"""

from __future__ import annotations

import os
import shlex
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

from imgcat.actions.execute import (
    ActionEvents,
    RunResult,
    carry_out,
    execute_run,
    interrupted_runs,
    start_run,
    symlinked_files,
)
from imgcat.actions.journal import RunState
from imgcat.actions.plan import Step, StepKind
from imgcat.catalog.base import Catalog
from imgcat.errors import ImgcatError, UsageError
from imgcat.layout import (
    MAX_SEGMENT_BYTES,
    DateSource,
    Pattern,
    Placement,
    fit_stem,
    place,
    wall_time,
    within,
)
from imgcat.operations.events import NoEvents, ScanEvents
from imgcat.operations.sync import SyncPlan, apply_sync, plan_from_survey, survey_root, sync_roots
from imgcat.record import MediaRecord
from imgcat.scan.checksum import checksum_if_readable

OnDuplicate = Literal["skip", "trash", "keep-both"]
MAX_SUFFIX: Final = 9999
ROLE_NAMES: Final = {
    "live_video": "Live Photo video", "live_still": "Live Photo still", "raw": "RAW twin",
    "jpeg": "JPEG twin", "edited": "edited version", "original": "original", "sidecar": "sidecar",
}  # fmt: skip


class ReorganizeRefusedError(ImgcatError):
    """The catalog does not match the disk closely enough to plan from it; nothing was changed."""


@dataclass(frozen=True, slots=True)
class PlannedFile:
    """One file of a unit and where it goes; what it looked like when planned (checked again before
    it moves). `checksum` is the catalog's; None for a sidecar, which is not cataloged."""

    source: str
    target: str
    size: int
    mtime_ns: int
    inode: int
    checksum: str | None
    reason: str
    record: MediaRecord | None = field(default=None, compare=False, repr=False)
    """The catalog's entry as planned, when the catalog will hold it as it is (no sync change under
    its root); else None, and it is read from the catalog when the steps are made."""

    @property
    def cataloged(self) -> bool:
        return self.checksum is not None


@dataclass(frozen=True, slots=True)
class UnitMove:
    """A photo and its companions, moved (or copied, or trashed as a duplicate) together."""

    files: tuple[PlannedFile, ...]

    @property
    def leader(self) -> PlannedFile:
        return self.files[0]


@dataclass(frozen=True, slots=True)
class Skipped:
    path: str
    reason: str


@dataclass(frozen=True, slots=True)
class ReorganizeTotals:
    units: int
    files: int
    bytes: int
    folders: int
    in_place: int
    duplicates: int
    skipped: int
    not_cataloged: int
    refreshed: int


@dataclass(frozen=True, slots=True)
class ReorganizePlan:
    """Everything `reorganize` would do. `moves` go to their targets (copied with `copy`);
    `duplicates` are units whose content is already at their target: trashed with
    on_duplicate `trash`, else listed in `skipped`."""

    pattern: str
    roots: tuple[str, ...]
    destination: str | None
    copy: bool
    on_duplicate: OnDuplicate
    moves: tuple[UnitMove, ...]
    duplicates: tuple[UnitMove, ...]
    skipped: tuple[Skipped, ...]
    in_place: int
    prune: tuple[str, ...] = ()
    """Folders the moves leave empty, deepest first: removed after them with --prune-empty."""
    absent_roots: tuple[str, ...] = ()
    """Added folders that are missing or empty now (an unplugged disk): left out, their files kept."""
    date_source: DateSource = "any"
    syncs: tuple[SyncPlan, ...] = field(default=(), compare=False)

    @property
    def not_cataloged(self) -> int:
        return sum(s.not_cataloged for s in self.syncs)

    @property
    def refreshed(self) -> int:
        return sum(len(s.updates) + len(s.moves) + len(s.removals) for s in self.syncs)

    def files(self) -> Iterator[PlannedFile]:
        for unit in self.moves:
            yield from unit.files

    def totals(self) -> ReorganizeTotals:
        files = list(self.files())
        return ReorganizeTotals(
            units=len(self.moves),
            files=len(files),
            bytes=sum(f.size for f in files),
            folders=len({os.path.dirname(f.target) for f in files}),
            in_place=self.in_place,
            duplicates=sum(len(u.files) for u in self.duplicates),
            skipped=len(self.skipped),
            not_cataloged=self.not_cataloged,
            refreshed=self.refreshed,
        )


def reorganize_roots(catalog: Catalog, device: str, sources: Sequence[str]) -> list[str]:
    """The folders whose files are placed: the SRCs given (a SRC inside another is covered by it),
    else every folder `add`ed on this device."""
    if not sources:
        return sync_roots(catalog, device, None)
    roots: list[str] = []
    for source in sorted(os.path.realpath(os.path.expanduser(s)) for s in sources):
        if not os.path.isdir(source):
            raise UsageError(f"not a folder: {source}")
        if not any(source == r or source.startswith(r.rstrip("/") + "/") for r in roots):
            roots.append(source)
    return roots


def plan_reorganize(
    catalog: Catalog,
    roots: Sequence[str],
    pattern: Pattern,
    *,
    device: str,
    destination: str | None = None,
    date_source: DateSource = "any",
    on_duplicate: OnDuplicate = "skip",
    copy: bool = False,
    prune_empty: bool = False,
    skip_absent_roots: bool = False,
    workers: int = 0,
    events: ScanEvents | None = None,
) -> ReorganizePlan:
    """Place every cataloged file under `roots` by `pattern`, below `destination` (default: the
    root it lies under). Reads the disk (stat, and the content of changed files and of occupied
    targets), never writes it, and never writes the catalog. A root that is missing or empty (an
    unplugged disk) is refused, or with `skip_absent_roots` (the roots were not named) left out."""
    events = events or NoEvents()
    destination = _destination(destination)
    planner = _Planner(pattern, date_source, on_duplicate, linked=None if copy else symlinked_files())
    syncs: list[SyncPlan] = []
    absent: list[str] = []
    for root in roots:
        survey = survey_root(catalog, root, device=device, workers=workers, events=events)
        sync = plan_from_survey(survey)
        if sync.missing_root:
            if skip_absent_roots:
                absent.append(root)
                continue
            what = "missing" if sync.state == "missing" else "empty (nothing but system files)"
            raise ReorganizeRefusedError(
                f"{root} is {what} (an unplugged disk or offline NAS?): nothing to reorganize there; "
                f"its {sync.entries} catalog entries are kept"
            )
        syncs.append(sync)
        planner.records_current = not sync.changes
        dest = destination or root
        planner.skipped.extend(Skipped(p, "cannot be examined; left where it is") for p in sync.unreadable)
        arrived = {m.new.path for m in sync.moves}
        planner.skipped.extend(
            Skipped(f.path, "not cataloged: left where it is ('imgcat add' it first)")
            for f in survey.uncataloged
            if f.path not in arrived
        )
        planner.skipped.extend(
            Skipped(r.path, "no longer reads as a photo or video (see imgcat sync); left where it is")
            for r in sync.damaged
        )
        for folder_records in _by_folder(_current_records(catalog, device, root, sync)).values():
            for unit in _units(folder_records):
                planner.plan_unit(unit, dest)
    leaving = [f.source for unit in planner.moves for f in unit.files] if not copy else []
    if on_duplicate == "trash":
        leaving += [f.source for unit in planner.duplicates for f in unit.files]
    targets = [f.target for unit in planner.moves for f in unit.files]
    return ReorganizePlan(
        pattern=pattern.text,
        roots=tuple(roots),
        prune=_emptied_folders(roots, leaving, targets) if prune_empty else (),
        destination=destination,
        copy=copy,
        on_duplicate=on_duplicate,
        moves=tuple(planner.moves),
        duplicates=tuple(planner.duplicates),
        skipped=tuple(planner.skipped),
        in_place=planner.in_place,
        absent_roots=tuple(absent),
        date_source=date_source,
        syncs=tuple(syncs),
    )


def _destination(destination: str | None) -> str | None:
    """DEST as an absolute path; a DEST that is a file (or lies below one) is refused."""
    if not destination:
        return None
    path = os.path.realpath(os.path.expanduser(destination))
    folder = path
    while not os.path.lexists(folder):
        folder = os.path.dirname(folder)
    if not os.path.isdir(folder):
        raise UsageError(f"--dest {destination}: {folder} is a file, not a folder")
    return path


def _emptied_folders(roots: Sequence[str], leaving: Sequence[str], targets: Sequence[str]) -> tuple[str, ...]:
    """The folders below the roots that hold nothing once `leaving` have left (their subfolders
    emptied too), deepest first; never a root, a target folder or a folder above one."""
    if not leaving:
        return ()
    out: dict[str, int] = defaultdict(int)
    for path in leaving:
        out[os.path.dirname(path)] += 1
    kept = {folder for target in targets for folder in _ancestors(os.path.dirname(target))}
    kept.update(roots)
    candidates = {folder for path in leaving for folder in _ancestors(os.path.dirname(path))}
    candidates = {f for f in candidates if f not in kept and any(_below(f, root) for root in roots)}
    emptied: list[str] = []
    for folder in sorted(candidates, key=lambda f: (-f.count("/"), f)):
        try:
            entries = len(os.listdir(folder))
        except OSError:
            continue
        if entries == out[folder]:
            emptied.append(folder)
            out[os.path.dirname(folder)] += 1
    return tuple(emptied)


def _ancestors(folder: str) -> Iterator[str]:
    while True:
        yield folder
        parent = os.path.dirname(folder)
        if parent == folder:
            return
        folder = parent


def _below(path: str, root: str) -> bool:
    return path.startswith(root.rstrip("/") + "/")


def _current_records(catalog: Catalog, device: str, root: str, sync: SyncPlan) -> Iterator[MediaRecord]:
    """The catalog's records under `root` as they will be once `sync` is applied: changed files
    read again, moved files at their new path; vanished, damaged and unexaminable files left out."""
    updates = {r.path: r for r in sync.updates}
    gone = {s.path for s in sync.removals} | set(sync.unreadable) | {r.path for r in sync.damaged}
    moved = {m.old.path: m.new.path for m in sync.moves}
    for record in catalog.iter_under(device, root):
        if record.path in gone:
            continue
        if record.path in moved:
            yield record.moved_to(moved[record.path])
            continue
        yield updates.pop(record.path, record)
    yield from updates.values()  # files sync found changed that were cataloged elsewhere before


def _by_folder(records: Iterable[MediaRecord]) -> dict[str, list[MediaRecord]]:
    folders: dict[str, list[MediaRecord]] = defaultdict(list)
    for record in records:
        folders[record.dir].append(record)
    return dict(sorted(folders.items()))


@dataclass(frozen=True, slots=True)
class _Unit:
    """A photo with its companions, all in one folder: media records (the leader first) and
    sidecars (path → the member that owns it). `roles`: what each non-leader is to the others."""

    records: tuple[MediaRecord, ...]
    sidecars: tuple[tuple[str, MediaRecord], ...]
    roles: dict[str, str]

    @property
    def leader(self) -> MediaRecord:
        return self.records[0]


def _units(records: Sequence[MediaRecord]) -> list[_Unit]:
    """The folder's records grouped by their companion links (Live Photo, RAW+JPEG, edited),
    each with the sidecars its members own. The leader is the photo the others belong to."""
    by_path = {r.path: r for r in records}
    parent = {path: path for path in by_path}

    def find(path: str) -> str:
        while parent[path] != path:
            parent[path] = parent[parent[path]]
            path = parent[path]
        return path

    roles: dict[str, str] = {}
    for record in records:
        for companion in record.companions:
            if companion.role != "sidecar" and companion.path in by_path:
                roles.setdefault(companion.path, companion.role)
                parent[find(companion.path)] = find(record.path)
    groups: dict[str, list[MediaRecord]] = defaultdict(list)
    for record in records:
        groups[find(record.path)].append(record)
    units: list[_Unit] = []
    claimed: set[str] = set()
    for members in groups.values():
        ordered = sorted(members, key=lambda r: (roles.get(r.path) == "edited", r.kind == "video", r.path))
        sidecars: list[tuple[str, MediaRecord]] = []
        for member in ordered:
            for companion in member.companions:
                if companion.role == "sidecar" and companion.path not in claimed:
                    claimed.add(companion.path)
                    if os.path.lexists(companion.path):
                        sidecars.append((companion.path, member))
        unit_roles = {r.path: roles[r.path] for r in ordered if r.path in roles}
        units.append(_Unit(tuple(ordered), tuple(sidecars), unit_roles))
    return sorted(units, key=lambda u: u.leader.path)


@dataclass(frozen=True, slots=True)
class _Candidate:
    """One file of a unit at a candidate target."""

    source: str
    target: str
    size: int
    mtime_ns: int
    inode: int
    checksum: str | None
    reason: str
    record: MediaRecord | None = None


class _Planner:
    """Places units one by one, remembering every target planned so far."""

    def __init__(
        self,
        pattern: Pattern,
        date_source: DateSource,
        on_duplicate: OnDuplicate,
        linked: dict[str, str] | None = None,
    ) -> None:
        self.linked = linked or {}  # files runs' symbolic links point to → the run (left where they are)
        self.pattern = pattern
        self.date_source = date_source
        self.on_duplicate = on_duplicate
        self.moves: list[UnitMove] = []
        self.duplicates: list[UnitMove] = []
        self.skipped: list[Skipped] = []
        self.in_place = 0
        self.planned: dict[str, _Candidate] = {}  # folded target → the file planned there
        self.blocked: dict[str, str | None] = {}  # folder → why nothing can be placed in it
        self.folders: dict[tuple[str, tuple[str, ...]], str] = {}
        self.records_current = False  # the records planned are the catalog's as they will be

    def plan_unit(self, unit: _Unit, destination: str) -> None:
        run = next((self.linked[r.path] for r in unit.records if r.path in self.linked), None)
        if run is not None:  # moved, the links would dangle: act would refuse it, the plan says so
            self.skipped.extend(
                Skipped(r.path, f"symbolic links made by run {run} point to it: left where it is "
                        f"('imgcat undo {run}' first, the links become files again)")
                for r in unit.records
            )  # fmt: skip
            return
        placement = place(self.pattern, unit.leader, self.date_source)
        folder = self.folders.get((destination, placement.folders))
        if folder is None:
            folder = self.folders[(destination, placement.folders)] = within(destination, placement.folders)
        problem = self._folder_problem(folder, destination)
        if problem is not None:
            self.skipped.extend(Skipped(r.path, problem) for r in unit.records)
            return
        if self._already_placed(unit, folder, placement):
            self.in_place += len(unit.records) + len(unit.sidecars)
            return
        try:
            stats = {path: os.lstat(path) for path, _ in unit.sidecars}
        except OSError as error:
            self.skipped.append(Skipped(unit.leader.path, f"a sidecar cannot be read: {error}"))
            return
        for suffix in range(MAX_SUFFIX + 1):
            files = self._candidates(unit, folder, placement, suffix, stats)
            moving = [f for f in files if f.source != f.target]
            if not moving:
                self.in_place += len(files)
                return
            verdict = self._occupancy(moving)
            if verdict == "free":
                self._take(files, moving)
                return
            if verdict == "same" and self.on_duplicate != "keep-both":
                self.duplicates.append(UnitMove(tuple(_planned(f) for f in moving)))
                if self.on_duplicate == "skip":
                    self.skipped.extend(
                        Skipped(f.source, f"duplicate: the same content is at {f.target}") for f in moving
                    )
                return
        self.skipped.append(Skipped(unit.leader.path, f"every name up to _{MAX_SUFFIX} is taken in {folder}"))

    def _take(self, files: list[_Candidate], moving: list[_Candidate]) -> None:
        for candidate in moving:
            self.planned[_fold(candidate.target)] = candidate
        self.in_place += len(files) - len(moving)
        self.moves.append(UnitMove(tuple(_planned(f) for f in moving)))

    def _already_placed(self, unit: _Unit, folder: str, placement: Placement) -> bool:
        """The leader sits in its target folder under a name this pattern gave it on an earlier run."""
        leader = unit.leader
        return (
            placement.earlier is not None
            and leader.dir == folder
            and placement.earlier.fullmatch(leader.name) is not None
        )

    def _candidates(
        self,
        unit: _Unit,
        folder: str,
        placement: Placement,
        suffix: int,
        sidecar_stats: dict[str, os.stat_result],
    ) -> list[_Candidate]:
        leader = unit.leader
        names = _unit_names(unit, placement, "" if suffix == 0 else f"_{suffix}", lower=self.pattern.file_ext)
        reason = _date_reason(leader, self.date_source)
        if suffix:
            reason += f"; _{suffix}: other content has the name"
        files: list[_Candidate] = []
        for record in unit.records:
            why = reason if record is leader else _companion_reason(unit, record.path, leader)
            files.append(
                _Candidate(
                    record.path, os.path.join(folder, names[record.path]), record.size, record.mtime_ns,
                    record.inode, record.checksum, why, record if self.records_current else None,
                )
            )  # fmt: skip
        for path, owner in unit.sidecars:
            st = sidecar_stats[path]
            why = f"sidecar of {owner.name}"
            files.append(
                _Candidate(
                    path, os.path.join(folder, names[path]), st.st_size, st.st_mtime_ns, st.st_ino, None, why
                )
            )
        return files

    def _occupancy(self, files: Sequence[_Candidate]) -> Literal["free", "same", "other"]:
        """Whether the targets are free, all hold the same content as their sources, or not."""
        same = 0
        for candidate in files:
            key = _fold(candidate.target)
            planned = self.planned.get(key)
            if planned is not None:
                if not _same_planned(candidate, planned):
                    return "other"
                same += 1
            elif os.path.lexists(candidate.target):
                if not _same_on_disk(candidate):
                    return "other"
                same += 1
        if same == 0:
            return "free"
        return "same" if same == len(files) else "other"

    def _folder_problem(self, folder: str, destination: str) -> str | None:
        """Why no file can go into `folder`: it, or a folder on the way, is a file."""
        if folder in self.blocked:
            return self.blocked[folder]
        problem: str | None = None
        path = folder
        while True:
            if os.path.lexists(path) and not os.path.isdir(path):
                problem = f"{path} is a file, not a folder"
                break
            if path == destination or path == os.path.dirname(path):
                break
            path = os.path.dirname(path)
        self.blocked[folder] = problem
        return problem


def _unit_names(unit: _Unit, placement: Placement, suffix: str, *, lower: bool) -> dict[str, str]:
    """The new name of every file of `unit` (path → name). The leader takes the pattern's stem (or
    keeps its own) plus `suffix`; a companion named after its photo keeps the rest of its name
    (`IMG_1.MOV`, `IMG_1.JPG.xmp`, `IMG_1-edited.jpg` follow `IMG_1`); when the pattern renames, an
    edited version with a name of its own becomes `<stem>-edited` and any other companion takes the
    new stem with its own extension. `lower`: extensions in lower case (a pattern ending `.<ext>`)."""

    def case(text: str) -> str:
        return text.lower() if lower else text

    leader = unit.leader
    leader_stem, leader_ext = os.path.splitext(leader.name)
    renames = placement.stem is not None
    tails = [_tail(r.name, leader_stem) or os.path.splitext(r.name)[1] for r in unit.records]
    tails += [os.path.basename(path)[len(os.path.splitext(owner.name)[0]) :] for path, owner in unit.sidecars]
    longest = max(len(os.fsencode(t)) for t in tails)
    base = placement.stem if placement.stem is not None else leader_stem
    if renames or suffix:
        base = fit_stem(base, longest + len(suffix) + len("-edited"), reserve=0)
    stem = base + suffix
    names: dict[str, str] = {leader.path: stem + ((placement.extension or "") if renames else leader_ext)}
    new_stems: dict[str, str] = {leader.path: stem}
    for record in unit.records[1:]:
        own_stem, own_ext = os.path.splitext(record.name)
        tail = _tail(record.name, leader_stem)
        if tail is not None:
            name = stem + case(tail)
        elif not renames:
            name = _fit_name(own_stem + suffix, own_ext)
        elif unit.roles.get(record.path) == "edited":
            name = stem + "-edited" + case(own_ext)
        else:
            name = stem + case(own_ext)
        names[record.path] = name
        new_stems[record.path] = os.path.splitext(name)[0]
    for path, owner in unit.sidecars:
        sidecar_name = os.path.basename(path)
        tail = _tail(sidecar_name, os.path.splitext(owner.name)[0])
        if tail is not None:
            names[path] = new_stems[owner.path] + case(tail)
        else:
            own_stem, own_ext = os.path.splitext(sidecar_name)
            names[path] = _fit_name(own_stem + suffix, own_ext)
    return names


def _tail(name: str, stem: str) -> str | None:
    """What follows `stem` in `name` (`.MOV`, `.JPG.xmp`, `-edited.jpg`), if `name` starts with it."""
    if stem and len(name) > len(stem) and name[: len(stem)].lower() == stem.lower():
        return name[len(stem) :]
    return None


def _fit_name(stem: str, ext: str) -> str:
    return (
        fit_stem(stem, len(os.fsencode(ext)), reserve=0) + ext
        if len(os.fsencode(stem + ext)) > (MAX_SEGMENT_BYTES)
        else stem + ext
    )


def _date_reason(record: MediaRecord, date_source: DateSource) -> str:
    when = wall_time(record)
    if when is None:
        return "no capture date"
    source = record.captured_source or "unknown source"
    if date_source == "exif" and source not in ("exif", "video"):
        return f"capture date only guessed (from the {source}); --date-source exif"
    return f"captured {when:%Y-%m-%d %H:%M:%S} ({source})"


def _companion_reason(unit: _Unit, path: str, leader: MediaRecord) -> str:
    role = unit.roles.get(path, "companion")
    return f"{ROLE_NAMES.get(role, role)} of {leader.name}"


def _planned(candidate: _Candidate) -> PlannedFile:
    return PlannedFile(
        candidate.source, candidate.target, candidate.size, candidate.mtime_ns, candidate.inode,
        candidate.checksum, candidate.reason, candidate.record,
    )  # fmt: skip


def _fold(path: str) -> str:
    """Targets compared as a case-insensitive filesystem (exFAT, APFS, NTFS) would compare them."""
    return path.casefold()


def _same_planned(candidate: _Candidate, planned: _Candidate) -> bool:
    if candidate.size != planned.size:
        return False
    if candidate.checksum is not None and planned.checksum is not None:
        return candidate.checksum == planned.checksum
    return checksum_if_readable(candidate.source) == checksum_if_readable(planned.source)


def _same_on_disk(candidate: _Candidate) -> bool:
    try:
        if os.lstat(candidate.target).st_size != candidate.size:
            return False
    except OSError:
        return False
    theirs = checksum_if_readable(candidate.target)
    ours = candidate.checksum or checksum_if_readable(candidate.source)
    return theirs is not None and theirs == ours


STEP_BATCH: Final = 500


def reorganize_steps(plan: ReorganizePlan, catalog: Catalog, device: str) -> Iterator[Step]:
    """The plan as steps for the actions layer: each unit's files moved (or copied) together, the
    duplicates trashed (with --on-duplicate trash; each checked against the copy it duplicates
    right before), then the emptied folders removed. Records the plan does not carry are read in
    batches."""
    kind: StepKind = "copy" if plan.copy else "move"
    units: list[tuple[StepKind, UnitMove]] = [(kind, unit) for unit in plan.moves]
    if plan.on_duplicate == "trash":
        units += [("trash", unit) for unit in plan.duplicates]
    number = 0
    for start in range(0, len(units), STEP_BATCH):
        chunk = units[start : start + STEP_BATCH]
        paths = [f.source for _, unit in chunk for f in unit.files if f.cataloged and f.record is None]
        records = catalog.get_many(device, paths) if paths else {}
        for step_kind, unit in chunk:
            number += 1
            for planned in unit.files:
                record = planned.record or records.get(planned.source)
                if step_kind == "trash":
                    yield Step(
                        "trash", planned.source, planned.size, planned.mtime_ns, references=(planned.target,),
                        record=record, unit=number, note=f"duplicate of {planned.target}",
                    )  # fmt: skip
                else:
                    yield Step(
                        step_kind, planned.source, planned.size, planned.mtime_ns, target=planned.target,
                        record=record, unit=number, note=planned.reason,
                    )  # fmt: skip
    for folder in plan.prune:
        yield Step("rmdir", folder, 0, 0, note="left empty by the moves")


def reorganize_command(plan: ReorganizePlan) -> str:
    """How `runs` shows the run: a command line that can be pasted."""
    words = ["imgcat", "reorganize", *plan.roots, "--pattern", plan.pattern]
    if plan.destination:
        words += ["--dest", plan.destination]
    if plan.copy:
        words.append("--copy")
    if plan.date_source != "any":
        words += ["--date-source", plan.date_source]
    if plan.on_duplicate != "skip":
        words += ["--on-duplicate", plan.on_duplicate]
    if plan.prune:
        words.append("--prune-empty")
    return shlex.join([*words, "--apply"])


def apply_reorganize(
    catalog: Catalog, plan: ReorganizePlan, *, device: str, events: ActionEvents | None = None
) -> RunResult:
    """Carry the plan out through the actions layer: the catalog first catches up with the disk (as
    `sync` would), then each unit is checked against the disk and moved, journaled step by step
    (`imgcat undo` reverts it; an interrupted run is completed by the next `--apply`)."""
    for sync in plan.syncs:
        if sync.changes:
            apply_sync(catalog, sync)
    steps = list(reorganize_steps(plan, catalog, device))
    run = start_run(steps, command=reorganize_command(plan), catalog=catalog)
    result = carry_out(run, catalog, events=events, steps=steps)
    _remember_destination(catalog, device, plan, result)
    return result


def _remember_destination(catalog: Catalog, device: str, plan: ReorganizePlan, result: RunResult) -> None:
    """DEST, once files are in it, becomes a folder of this device's library (as an `add`ed one is):
    `sync` and `reorganize` without SRC cover it from then on."""
    dest = plan.destination
    if dest is None or not result.done or not os.path.isdir(dest):
        return
    if not any(dest == known or _below(dest, known) for known in catalog.iter_locations(device)):
        catalog.add_location(device, dest)


def interrupted_reorganize_runs(catalog: Catalog) -> list[RunState]:
    """The reorganize runs on this catalog that an interruption (Ctrl-C, kill, full disk) left
    unfinished, oldest first."""
    return interrupted_runs(catalog=catalog, command="reorganize")


def complete_run(run_id: str, catalog: Catalog, events: ActionEvents | None = None) -> RunResult:
    """Carry out what an interrupted run has left to do (the step in doubt settled from the disk)."""
    return execute_run(run_id, catalog, events=events)
