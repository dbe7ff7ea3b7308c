"""`dupes`: exact duplicates from the catalog, decided by the policy engine, checked on disk.

`plan_dupes` streams the catalog's groups of identical content (same checksum and size) in
bounded memory, checks each copy on this device's disks against what was cataloged (size and
mtime; a file that changed or vanished is left alone and reported), folds hard links to one inode
into one file, and asks `policy.decide` which copies stay. Nothing is changed here:
`dupes_apply.dupes_steps` turns the decisions into steps for `imgcat.actions`, which verifies each
file again right before acting (that half, and the actions layer, load only for --apply/--script).
`coverage` is the backup view: every content with fewer copies or devices than asked.
"""

from __future__ import annotations

import os
import stat
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal, NamedTuple

import platformdirs

from imgcat.catalog.base import Catalog, ContentCopy, ContentGroup, ContentQuery, batched
from imgcat.errors import UsageError
from imgcat.policy import DEFAULT_PREFER, Candidate, CompanionFact, Decision, Policy, decide, shortfall
from imgcat.policy.config import PolicySettings, parse_policies
from imgcat.policy.rules import MEDIA_ROLES
from imgcat.quantities import parse_size
from imgcat.scan.checksum import checksum_if_readable

PAGE_GROUPS: Final = 256
Action = Literal["trash", "delete", "move-to", "hardlink", "symlink"]
ACTIONS: Final = ("trash", "delete", "move-to", "hardlink", "symlink")
KINDS: Final = ("image", "video")
State = Literal["ok", "changed", "missing", "unreadable"]


@dataclass(frozen=True, slots=True)
class DupesRequest:
    """What to look for and how to decide. `devices` are this machine's device names (the host
    and the disks plugged in): only their files are checked on disk and ever acted on."""

    query: ContentQuery
    policy: Policy
    devices: frozenset[str]
    check_disk: bool = True


class FileChoice(NamedTuple):
    """One file of a group (its hard links folded in) and what the policy decided for it. (A named
    tuple: immutable, and cheap to make once per file of a big plan.)"""

    device: str
    path: str
    decision: Decision
    reason: str
    links: tuple[str, ...] = ()
    local: bool = True
    state: State = "ok"
    mtime_ns: int = 0
    sidecars: tuple[tuple[str, str], ...] = ()  # (this copy's sidecar, the kept copy's same-content one)

    @property
    def paths(self) -> tuple[str, ...]:
        return (self.path, *self.links)


@dataclass(frozen=True, slots=True)
class GroupPlan:
    """One content's copies, decided. `shortfall`: why it is under-protected (nothing removed)."""

    checksum: str
    size: int
    files: tuple[FileChoice, ...]
    shortfall: str | None = None

    @property
    def removed(self) -> tuple[FileChoice, ...]:
        return tuple(f for f in self.files if f.decision == "remove")

    @property
    def present(self) -> tuple[FileChoice, ...]:
        """The files found as cataloged (and those on other devices, which cannot be checked)."""
        return tuple(f for f in self.files if f.state == "ok")

    @property
    def stale(self) -> tuple[FileChoice, ...]:
        return tuple(f for f in self.files if f.state != "ok")

    @property
    def is_duplicate(self) -> bool:
        return len(self.present) > 1

    def references(self, removed: FileChoice) -> tuple[str, ...]:
        """The kept copies here to compare `removed` with, those in its folder first."""
        folder = os.path.dirname(removed.path)
        kept = [f.path for f in self.files if f.decision == "keep" and f.local and f.state == "ok"]
        return tuple(sorted(kept, key=lambda p: os.path.dirname(p) != folder))


@dataclass(frozen=True, slots=True)
class DupesTotals:
    contents: int = 0
    groups: int = 0
    files: int = 0
    removed: int = 0
    bytes: int = 0
    under_protected: int = 0
    stale: int = 0


@dataclass
class Tally:
    """Totals kept while groups stream past."""

    contents: int = 0
    groups: int = 0
    files: int = 0
    removed: int = 0
    bytes: int = 0
    under_protected: int = 0
    stale: int = 0

    def add(self, group: GroupPlan) -> None:
        self.contents += 1
        present = removed = 0
        for file in group.files:  # one pass: a million files go through here
            if file.state != "ok":
                self.stale += 1
            else:
                present += 1
                removed += file.decision == "remove"
        if present < 2:
            return
        self.groups += 1
        self.files += present
        self.removed += removed
        self.bytes += group.size * removed
        self.under_protected += group.shortfall is not None

    def totals(self) -> DupesTotals:
        return DupesTotals(
            self.contents, self.groups, self.files, self.removed, self.bytes, self.under_protected, self.stale
        )


class _File(NamedTuple):
    """Copies that are one file (hard links), with what the disk said."""

    copies: tuple[ContentCopy, ...]
    local: bool
    state: State
    storage: str

    @property
    def first(self) -> ContentCopy:
        return self.copies[0]


class _Examined(NamedTuple):
    group: ContentGroup
    files: tuple[_File, ...]


@dataclass
class _Disks:
    """The disk under each device number: /sys/dev/block names a partition's disk."""

    names: dict[int, str] = field(default_factory=dict)

    def of(self, st_dev: int) -> str:
        if st_dev not in self.names:
            number = f"{os.major(st_dev)}:{os.minor(st_dev)}"
            node = os.path.realpath(f"/sys/dev/block/{number}")
            if os.path.exists(node):
                is_partition = os.path.exists(os.path.join(node, "partition"))
                self.names[st_dev] = os.path.basename(os.path.dirname(node) if is_partition else node)
            else:
                self.names[st_dev] = number
        return self.names[st_dev]


def policies_file() -> Path:
    """Where named policies live: `policies.toml` in the user config folder."""
    return platformdirs.user_config_path("imgcat") / "policies.toml"


def load_policy(name: str, path: Path | None = None) -> PolicySettings:
    """The named policy from the policies file; a usage error if there is none by that name."""
    path = path or policies_file()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"no policy {name!r}: {path} does not exist") from None
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror or error}") from error
    policies = parse_policies(text, str(path))
    if name not in policies:
        known = ", ".join(sorted(policies)) or "none"
        raise UsageError(f"no policy {name!r} in {path} (defined: {known})")
    return policies[name]


def dupes_request(settings: PolicySettings, devices: Iterable[str], *, keep_copies: int = 1) -> DupesRequest:
    """The request the settings describe, checked: folders must exist (they are resolved as `add`
    resolves its roots), sizes and kinds must parse. `keep_copies` is the default N."""
    kind = settings.kind
    if kind is not None and kind not in KINDS:
        raise UsageError(f"--kind expects image or video, not {kind!r}")
    query = ContentQuery(
        min_copies=2,
        under=_folders(settings.under, "--under"),
        min_size=0 if settings.min_size is None else parse_size(settings.min_size),
        kind=kind,  # type: ignore[arg-type]
    )
    prefer = tuple(
        f"root:{_folders((p.removeprefix('root:'),), '--prefer root:')[0]}" if p.startswith("root:") else p
        for p in settings.prefer or DEFAULT_PREFER
    )
    policy = Policy(
        keep_copies=keep_copies if settings.keep_copies is None else settings.keep_copies,
        same_dir=bool(settings.same_dir),
        distinct_devices=bool(settings.distinct_devices),
        keep_in=_folders(settings.keep_in, "--keep-in"),
        remove_from=_folders(settings.remove_from, "--remove-from"),
        prefer=prefer,
        count_other_devices=bool(settings.count_other_devices),
    )
    return DupesRequest(query, policy, frozenset(devices))


def _folders(given: Iterable[str] | None, option: str) -> tuple[str, ...]:
    folders = []
    for folder in given or ():
        resolved = os.path.realpath(os.path.expanduser(folder))
        if not os.path.exists(resolved):
            raise UsageError(f"{option} {folder}: no such file or folder")
        folders.append(resolved)
    return tuple(folders)


def plan_dupes(catalog: Catalog, request: DupesRequest) -> Iterator[GroupPlan]:
    """Every group of identical content, decided; streamed, a page of groups at a time."""
    decided: dict[tuple[str, str], Decision] = {}  # files with media companions: a photo is a unit
    disks = _Disks()
    for page in batched(catalog.content_groups(request.query), PAGE_GROUPS):
        examined = [_examine(group, request, disks) for group in page]
        facts = _companion_facts(catalog, examined, request)
        for item in examined:
            plan = _decide(item, request.policy, facts, decided)
            if plan is not None:
                yield plan


def coverage(catalog: Catalog, request: DupesRequest) -> Iterator[GroupPlan]:
    """Every content (single copies too) with fewer copies, or devices, than the policy asks:
    the backup view. Copies here are checked on disk; a missing or changed one does not count."""
    query = ContentQuery(1, request.query.under, request.query.min_size, request.query.kind)
    disks = _Disks()
    for group in catalog.content_groups(query):
        item = _examine(group, request, disks)
        candidates = [_candidate(f, {}, None) for f in item.files if f.state == "ok"]
        why = shortfall(candidates, request.policy)
        if why is not None:
            files = tuple(
                _choice(f, "keep", why if f.state == "ok" else _stale_reason(f.state)) for f in item.files
            )
            yield GroupPlan(group.checksum, group.size, files, why)


def _examine(group: ContentGroup, request: DupesRequest, disks: _Disks) -> _Examined:
    """Check this device's copies on disk and fold hard links into files."""
    by_file: dict[tuple[object, ...], list[ContentCopy]] = defaultdict(list)
    facts: dict[tuple[object, ...], tuple[bool, State, str]] = {}
    for copy in group.copies:
        local = copy.device in request.devices
        key: tuple[object, ...] = (copy.device, "catalog", copy.inode) if copy.inode > 0 else (copy.id,)
        state: State = "ok"
        storage = copy.device
        if local and request.check_disk:
            try:
                info = os.lstat(copy.path)
            except FileNotFoundError:
                state = "missing"
            except OSError:
                state = "unreadable"
            else:
                if not stat.S_ISREG(info.st_mode) or (info.st_size, info.st_mtime_ns) != (
                    copy.size,
                    copy.mtime_ns,
                ):
                    state = "changed"
                else:
                    key = (copy.device, info.st_dev, info.st_ino)
                    storage = f"{copy.device}:{disks.of(info.st_dev)}"
            if state != "ok":
                key = (copy.id,)
        by_file[key].append(copy)
        facts.setdefault(key, (local, state, storage))
    files = tuple(_File(tuple(copies), *facts[key]) for key, copies in by_file.items())
    return _Examined(group, files)


def _companion_facts(
    catalog: Catalog, examined: Sequence[_Examined], request: DupesRequest
) -> dict[tuple[str, str], str | None]:
    """The content checksum of every companion of a page's copies: media from the catalog,
    sidecars (not cataloged) read from this device's disks."""
    media: dict[str, set[str]] = defaultdict(set)
    facts: dict[tuple[str, str], str | None] = {}
    for item in examined:
        for file in item.files:
            for copy in file.copies:
                for companion in copy.companions:
                    if companion.role in MEDIA_ROLES:
                        media[copy.device].add(companion.path)
                    elif file.local and file.state == "ok":
                        facts[(copy.device, companion.path)] = checksum_if_readable(companion.path)
    for device, paths in media.items():
        for state in catalog.states_of(device, paths):
            facts[(device, state.path)] = state.checksum
    return facts


def _candidate(file: _File, facts: dict[tuple[str, str], str | None], follows: Decision | None) -> Candidate:
    first = file.first
    companions = (
        tuple(CompanionFact(c.role, c.path, facts.get((first.device, c.path))) for c in first.companions)
        if first.companions
        else ()
    )
    links = tuple(c.path for c in file.copies[1:]) if len(file.copies) > 1 else ()
    return Candidate(
        first.device, first.path, links, first.mtime_ns, first.captured_at, file.local, file.storage,
        companions, follows,
    )  # fmt: skip


def _decide(
    item: _Examined,
    policy: Policy,
    facts: dict[tuple[str, str], str | None],
    decided: dict[tuple[str, str], Decision],
) -> GroupPlan | None:
    present = [f for f in item.files if f.state == "ok"]
    stale = [f for f in item.files if f.state != "ok"]
    if len(present) < 2 and not stale:
        return None  # hard links of one file: not duplicates
    candidates = [_candidate(f, facts, _follows(f, decided)) for f in present]
    verdict = decide(candidates, policy)
    choices: list[FileChoice] = []
    for file, v in zip(present, verdict.verdicts, strict=True):
        if not v.twins:
            choices.append(_choice(file, v.decision, v.reason))
            if not file.first.companions:
                continue
        else:
            sidecars = tuple((mine, twin) for mine, twin in v.twins if _role(file, mine) == "sidecar")
            choices.append(_choice(file, v.decision, v.reason, sidecars))
        if any(c.role in MEDIA_ROLES for c in file.first.companions):
            for companion in file.first.companions:
                if companion.role in MEDIA_ROLES:
                    key = (file.first.device, companion.path)
                    decided[key] = "keep" if decided.get(key) == "keep" else v.decision
    choices.extend(_choice(f, "keep", _stale_reason(f.state)) for f in stale)
    return GroupPlan(item.group.checksum, item.group.size, tuple(choices), verdict.shortfall)


def _follows(file: _File, decided: dict[tuple[str, str], Decision]) -> Decision | None:
    """The decision already made for a file that has this one as media companion."""
    return decided.get((file.first.device, file.first.path)) if decided else None


def _role(file: _File, path: str) -> str | None:
    return next((c.role for c in file.first.companions if c.path == path), None)


def _choice(
    file: _File, decision: Decision, reason: str, sidecars: tuple[tuple[str, str], ...] = ()
) -> FileChoice:
    first = file.first
    links = tuple(c.path for c in file.copies[1:]) if len(file.copies) > 1 else ()
    return FileChoice(
        first.device, first.path, decision, reason, links, file.local, file.state, first.mtime_ns, sidecars
    )


def _stale_reason(state: State) -> str:
    return {
        "changed": "changed since cataloged: left alone (run imgcat sync)",
        "missing": "missing on disk: left alone (run imgcat sync)",
        "unreadable": "cannot be read: left alone",
        "ok": "",
    }[state]


def action_target(action: str, to: str | None) -> str | None:
    """The folder `move-to` sets copies aside in (checked: it must be given; created if missing),
    or None for the other actions."""
    if action not in ACTIONS:
        raise UsageError(f"--action expects one of {', '.join(ACTIONS)}, not {action!r}")
    if action != "move-to":
        if to is not None:
            raise UsageError("--to goes with --action move-to only")
        return None
    if to is None:
        raise UsageError("--action move-to needs --to DIR: where the removed copies are set aside")
    folder = os.path.realpath(os.path.expanduser(to))
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise UsageError(f"--to {to}: not a folder")
    return folder


def refuse_aside_in_library(catalog: Catalog, aside: str | None, devices: Iterable[str]) -> None:
    """`move-to`'s folder must lie outside every folder added on these devices: copies set aside
    there would be cataloged again by `add`/`sync`, as duplicates, and set aside within themselves."""
    if aside is None:
        return
    for device in devices:
        for location in catalog.iter_locations(device):
            if aside == location or aside.startswith(location.rstrip("/") + "/"):
                raise UsageError(
                    f"--to {aside} lies inside {location}, a folder added on device {device}: the copies "
                    "set aside there would be cataloged again as duplicates; choose a folder outside it"
                )
