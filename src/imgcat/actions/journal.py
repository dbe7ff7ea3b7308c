"""The journal of a run: one append-only JSON-lines file per run in `<data>/runs/<run-id>.jsonl`.

First the header and every planned step (fsynced once, with a `planned` line), then `go` when the
run is carried out (a plan never confirmed stays "not started": no resume ever acts on it), then,
as the run goes, `begin` (fsynced before the step is done), `done`, `skip` or `fail` for each step, and
`cataloged` when the catalog has caught up. Undo appends `undo`, `undo-begin`/`undone` per step
and `undo-end`; emptying the trash appends `emptied`. Everything a resume, an undo or `runs`
needs is read back from this file. Paths that are not UTF-8 survive: JSON escapes their bytes.

A crash mid-write (a power cut, a full disk) can leave the last line torn: readers ignore it, and
whoever appends next cuts it off first, so a line is never glued onto torn bytes. A damaged line
elsewhere (written so by an older imgcat) is skipped with a `JournalDamaged` warning, and a whole
entry glued after its torn bytes is still read. A journal that cannot be written is a
`JournalError`, raised before the step it was to announce is done.
"""

from __future__ import annotations

import fcntl
import json
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from imgcat.actions.plan import Kept, Step
from imgcat.actions.trash import data_folder
from imgcat.errors import ImgcatError
from imgcat.record import record_from_json, record_to_json

VERSION: Final = 1
Entry = dict[str, Any]


class JournalError(ImgcatError):
    """A journal or the runs folder cannot be written or read (a full disk, no permission)."""


class JournalDamaged(UserWarning):
    """A journal line that cannot be read, skipped; `path` is the journal, `reason` says which line."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class RunBusyError(ImgcatError):
    """Another imgcat process is acting on files right now."""


class UnknownRunError(ImgcatError):
    """No run by that id in the journal folder."""


def runs_folder(home: Path | None = None) -> Path:
    return (home or data_folder()) / "runs"


def new_run_id(now: datetime) -> str:
    """Sortable by time to the millisecond: 20261125-093301-042 (`create_journal` makes it unique)."""
    return f"{now:%Y%m%d-%H%M%S}-{now.microsecond // 1000:03d}"


def step_to_json(step: Step) -> Entry:
    return {
        "kind": step.kind,
        "source": step.source,
        "size": step.size,
        "mtime_ns": step.mtime_ns,
        "target": step.target,
        "references": list(step.references),
        "checksum": step.checksum,
        "record": None if step.record is None else record_to_json(step.record),
        "unit": step.unit,
        "note": step.note,
        "kept": [[k.path, k.size, k.mtime_ns, k.checksum] for k in step.kept],
    }


def step_from_json(data: Entry) -> Step:
    record = data.get("record")
    return Step(
        kind=data["kind"],
        source=data["source"],
        size=data["size"],
        mtime_ns=data["mtime_ns"],
        target=data.get("target"),
        references=tuple(data.get("references", ())),
        checksum=data.get("checksum"),
        record=None if record is None else record_from_json(record),
        unit=data.get("unit", 0),
        note=data.get("note", ""),
        kept=tuple(Kept(*kept) for kept in data.get("kept", ())),
    )


class Journal:
    """An open journal, appended to. `sync=True` makes a line durable before returning. A torn last
    line (a crash mid-write) is cut off when the journal is opened. A line that cannot be written
    whole is taken back, and the journal refuses every later line: `JournalError`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.broken = False
        try:
            self._fd = os.open(path, os.O_RDWR | os.O_APPEND)
        except OSError as error:
            raise JournalError(_cannot("write", path, error)) from error
        try:
            self._size = _cut_torn_tail(self._fd)
        except OSError as error:
            os.close(self._fd)
            raise JournalError(_cannot("write", path, error)) from error

    @property
    def run_id(self) -> str:
        return self.path.stem

    def write(self, entry: Entry, *, sync: bool = False) -> None:
        if self.broken:
            raise JournalError(f"the journal {self.path} could not be written before: nothing more is done")
        data = (json.dumps(entry, ensure_ascii=True, separators=(",", ":")) + "\n").encode("ascii")
        try:
            written = 0
            while written < len(data):
                written += os.write(self._fd, data[written:])
            if sync:
                os.fsync(self._fd)
        except OSError as error:
            self.broken = True
            with suppress(OSError):
                os.ftruncate(self._fd, self._size)  # no torn line left for the next writer
            raise JournalError(_cannot("write", self.path, error)) from error
        self._size += len(data)

    def sync(self) -> None:
        """Make every line written so far durable (one fsync for a batch of lines)."""
        try:
            os.fsync(self._fd)
        except OSError as error:
            self.broken = True
            raise JournalError(_cannot("write", self.path, error)) from error

    def close(self) -> None:
        with suppress(OSError):
            os.close(self._fd)


def _cannot(what: str, path: Path, error: OSError) -> str:
    return f"cannot {what} the journal {path}: {error.strerror or error}"


def _cut_torn_tail(fd: int) -> int:
    """Cut a last line that a crash left without its end; the journal's size after."""
    size = os.fstat(fd).st_size
    end = size
    while end > 0:
        start = max(0, end - 4096)
        chunk = os.pread(fd, end - start, start)
        if end == size and chunk.endswith(b"\n"):
            return size
        newline = chunk.rfind(b"\n")
        if newline >= 0:
            end = start + newline + 1
            break
        end = start
    os.ftruncate(fd, end)
    os.fsync(fd)
    return end


def create_journal(folder: Path, now: datetime, header: Entry) -> Journal:
    """A new journal, named after `now`; a run started in the same millisecond as the last one
    takes the next free millisecond, so runs sort by name in the order they were made."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        latest = max((p.stem for p in folder.glob("*.jsonl")), default="")
    except OSError as error:
        raise JournalError(f"cannot make a journal in {folder}: {error.strerror or error}") from error
    if latest and new_run_id(now) <= latest:  # same millisecond, or the clock went back
        with suppress(ValueError):
            now = datetime.strptime(latest, "%Y%m%d-%H%M%S-%f").replace(tzinfo=UTC) + timedelta(
                milliseconds=1
            )
    while True:
        run_id = new_run_id(now)
        path = folder / f"{run_id}.jsonl"
        try:
            if run_id > latest:
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
                break
        except FileExistsError:
            pass
        except OSError as error:
            raise JournalError(_cannot("make", path, error)) from error
        now += timedelta(milliseconds=1)
    journal = Journal(path)
    try:
        journal.write({"t": "run", "id": run_id, "version": VERSION, **header})
    except JournalError:
        discard_journal(journal)
        raise
    return journal


def discard_journal(journal: Journal) -> None:
    """Close and remove a journal whose run never started (nothing was done by it)."""
    journal.close()
    with suppress(OSError):
        journal.path.unlink()


def read_entries(path: Path) -> Iterator[tuple[int, Entry]]:
    """Each entry with its byte offset. A last line cut short by a crash is ignored; a damaged line
    before it is skipped with a `JournalDamaged` warning, or, when a whole entry was glued after
    torn bytes (as an older imgcat did), that entry is read."""
    try:
        handle = open(path, "rb")  # noqa: SIM115 (closed below)
    except OSError as error:
        raise JournalError(_cannot("read", path, error)) from error
    with handle:
        offset = 0
        for number, line in enumerate(handle, 1):
            start, offset = offset, offset + len(line)
            if not line.endswith(b"\n"):
                return
            entry = _entry(line)
            if entry is None:
                glued = line.rfind(b'{"t":')
                entry = _entry(line[glued:]) if glued > 0 else None
                skipped = "its start is skipped" if entry is not None else "skipped"
                warnings.warn(JournalDamaged(path, f"line {number} is damaged: {skipped}"), stacklevel=2)
                if entry is None:
                    continue
                start += glued
            yield start, entry


def _entry(line: bytes) -> Entry | None:
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    return entry if isinstance(entry, dict) and isinstance(entry.get("t"), str) else None


def read_step_at(path: Path, offset: int) -> Step:
    with open(path, "rb") as handle:
        handle.seek(offset)
        return step_from_json(json.loads(handle.readline()))


@dataclass
class RunState:
    """What the journal says about a run: its header, and what became of each step (by number)."""

    path: Path
    header: Entry = field(default_factory=dict)
    planned: int | None = None
    offsets: dict[int, int] = field(default_factory=dict)  # step number → byte offset of its line
    begun: dict[int, Entry] = field(default_factory=dict)
    done: dict[int, Entry] = field(default_factory=dict)
    skipped: dict[int, str] = field(default_factory=dict)
    failed: dict[int, str] = field(default_factory=dict)
    cataloged: int = 0
    stopped: str | None = None
    ended: bool = False
    cancelled: bool = False
    went: bool = False  # `go`: execute_run was asked to carry the plan out (it was confirmed)
    undo_started: bool = False
    undo_begun: dict[int, Entry] = field(default_factory=dict)
    undone: set[int] = field(default_factory=set)
    undo_skipped: dict[int, str] = field(default_factory=dict)
    undo_ended: bool = False
    emptied: set[int] = field(default_factory=set)
    kinds: dict[int, str] = field(default_factory=dict)
    sizes: dict[int, int] = field(default_factory=dict)

    @property
    def run_id(self) -> str:
        return self.path.stem

    @property
    def started(self) -> datetime:
        return datetime.fromisoformat(self.header.get("started", "1970-01-01T00:00:00+00:00"))

    @property
    def command(self) -> str:
        return str(self.header.get("command", ""))

    @property
    def total(self) -> int:
        return len(self.offsets)

    @property
    def state(self) -> str:
        if self.planned is None:
            return "incomplete plan"
        if self.cancelled:
            return "cancelled"
        if self.undo_started and not self.undo_ended:
            return "undo interrupted"
        if self.undone:
            left = any(n not in self.undone for n in self.done)
            return "partly undone" if left else "undone"
        if not self.ended:
            if not (self.went or self.begun or self.done or self.skipped or self.failed or self.stopped):
                return "not started"  # planned, never confirmed: nothing may carry it out later
            return "interrupted"  # an undo that put nothing back leaves the run as it was
        if self.emptied:
            return "trash emptied" if all(n in self.emptied for n in self.done) else "trash partly emptied"
        return "complete"

    @property
    def resumable(self) -> bool:
        return self.state == "interrupted"

    @property
    def runnable(self) -> bool:
        """A fresh plan (`execute_run` right after `start_run`) or an interrupted run."""
        return self.state in ("not started", "interrupted")

    @property
    def undoable(self) -> bool:
        if self.state == "trash emptied":
            return False
        return self.state in (
            "complete", "interrupted", "undo interrupted", "partly undone", "trash partly emptied"
        )  # fmt: skip

    @property
    def in_doubt(self) -> int:
        """Steps begun and never marked done (a kill): each may or may not have been done; the
        run's resume or undo settles them by looking at the disk."""
        return sum(1 for n in self.begun if not self.settled(n))

    def settled(self, n: int) -> bool:
        return n in self.done or n in self.skipped or n in self.failed


def read_state(path: Path) -> RunState:
    state = RunState(path)
    for offset, entry in read_entries(path):
        try:
            _read_entry(state, offset, entry)
        except (KeyError, TypeError, ValueError):
            damaged = JournalDamaged(path, f"the entry at byte {offset} is damaged: skipped")
            warnings.warn(damaged, stacklevel=2)
    return state


def _read_entry(state: RunState, offset: int, entry: Entry) -> None:
    kind = entry["t"]
    n = entry.get("n", 0)
    if kind == "run":
        state.header = entry
    elif kind == "step":
        state.offsets[n] = offset
        state.kinds[n] = entry["kind"]
        state.sizes[n] = entry["size"]
    elif kind == "planned":
        state.planned = entry["steps"]
    elif kind == "begin":
        state.begun[n] = entry
    elif kind == "done":
        state.done[n] = entry
    elif kind == "skip":
        state.skipped[n] = entry["reason"]
    elif kind == "fail":
        state.failed[n] = entry["reason"]
    elif kind == "cataloged":
        state.cataloged = max(state.cataloged, entry["upto"])
    elif kind == "stop":
        state.stopped = entry.get("reason")
    elif kind == "end":
        state.ended = True
    elif kind == "cancelled":
        state.cancelled = True
    elif kind == "go":
        state.went = True
    elif kind == "undo":  # a new undo: the one before it ended
        state.undo_started, state.undo_ended = True, False
    elif kind == "go":
        state.went = True
    elif kind == "undo-begin":
        state.undo_begun[n] = entry
    elif kind == "undone":
        state.undone.add(n)
    elif kind == "undo-skip":
        state.undo_skipped[n] = entry["reason"]
    elif kind == "undo-end":
        state.undo_ended = True
    elif kind == "emptied":
        state.emptied.add(n)


def list_runs(folder: Path | None = None) -> list[RunState]:
    """Every run in the journal folder, oldest first."""
    folder = folder or runs_folder()
    if not folder.is_dir():
        return []
    runs: list[RunState] = []
    for path in sorted(folder.glob("*.jsonl")):
        try:
            runs.append(read_state(path))
        except JournalError as error:  # unreadable (no permission): the other runs still count
            warnings.warn(JournalDamaged(path, str(error).removeprefix(f"cannot read the journal {path}: ")
                                         + ": left out"), stacklevel=2)  # fmt: skip
    return runs


def find_run(run_id: str, folder: Path | None = None) -> RunState:
    folder = folder or runs_folder()
    path = folder / f"{run_id}.jsonl"
    if "/" in run_id or not path.is_file():
        matches = sorted(folder.glob(f"{run_id}*.jsonl")) if "/" not in run_id and folder.is_dir() else []
        if len(matches) != 1:
            raise UnknownRunError(f"no run {run_id!r} in {folder} (see 'imgcat runs')")
        path = matches[0]
    return read_state(path)


BUSY: Final = (
    "another imgcat process is changing files right now (apply, undo or trash empty); nothing changed: "
    "try again when it has finished"
)


@contextmanager
def run_lock(folder: Path | None = None) -> Iterator[None]:
    """One imgcat process acting on files at a time (apply, resume, undo, emptying the trash)."""
    folder = folder or runs_folder()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle = open(folder / ".lock", "a")  # noqa: SIM115 (closed below)
    except OSError as error:
        raise JournalError(f"cannot use the runs folder {folder}: {error.strerror or error}; "
                           "nothing changed") from error  # fmt: skip
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunBusyError(BUSY) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def check_not_busy(folder: Path | None = None) -> None:
    """RunBusyError now, before a plan is journaled, if another process is acting."""
    with run_lock(folder):
        pass


def now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
