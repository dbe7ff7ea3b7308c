"""The journal of a run: one append-only JSON-lines file per run in `<data>/runs/<run-id>.jsonl`.

First the header and every planned step (fsynced once, with a `planned` line), then, as the run
goes, `begin` (fsynced before the step is done), `done`, `skip` or `fail` for each step, and
`cataloged` when the catalog has caught up. Undo appends `undo`, `undo-begin`/`undone` per step
and `undo-end`; emptying the trash appends `emptied`. Everything a resume, an undo or `runs`
needs is read back from this file. Paths that are not UTF-8 survive: JSON escapes their bytes.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any, Final

from imgcat.actions.plan import Step
from imgcat.actions.trash import data_folder
from imgcat.errors import ImgcatError
from imgcat.record import record_from_json, record_to_json

VERSION: Final = 1
Entry = dict[str, Any]


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
    )


class Journal:
    """An open journal, appended to. `sync=True` makes a line durable before returning."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] = open(path, "a", encoding="ascii")  # noqa: SIM115 (closed by close())

    @property
    def run_id(self) -> str:
        return self.path.stem

    def write(self, entry: Entry, *, sync: bool = False) -> None:
        self._file.write(json.dumps(entry, ensure_ascii=True, separators=(",", ":")) + "\n")
        self._file.flush()
        if sync:
            os.fsync(self._file.fileno())

    def sync(self) -> None:
        """Make every line written so far durable (one fsync for a batch of lines)."""
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()


def create_journal(folder: Path, now: datetime, header: Entry) -> Journal:
    """A new journal, named after `now`; a run started in the same millisecond as the last one
    takes the next free millisecond, so runs sort by name in the order they were made."""
    folder.mkdir(parents=True, exist_ok=True)
    latest = max((p.stem for p in folder.glob("*.jsonl")), default="")
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
        now += timedelta(milliseconds=1)
    journal = Journal(path)
    journal.write({"t": "run", "id": run_id, "version": VERSION, **header})
    return journal


def read_entries(path: Path) -> Iterator[tuple[int, Entry]]:
    """Each entry with its byte offset; a last line cut short by a crash is ignored."""
    with open(path, "rb") as handle:
        offset = 0
        for line in handle:
            start, offset = offset, offset + len(line)
            if not line.endswith(b"\n"):
                return
            yield start, json.loads(line)


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
        if self.undo_ended:
            left = any(n not in self.undone for n in self.undo_skipped)
            return "partly undone" if left else "undone"
        if self.undo_started:
            return "undo interrupted"
        if self.ended:
            return "complete"
        return "interrupted"

    @property
    def resumable(self) -> bool:
        return self.state == "interrupted"

    @property
    def undoable(self) -> bool:
        return self.state in ("complete", "interrupted", "undo interrupted", "partly undone")

    def settled(self, n: int) -> bool:
        return n in self.done or n in self.skipped or n in self.failed


def read_state(path: Path) -> RunState:
    state = RunState(path)
    for offset, entry in read_entries(path):
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
        elif kind == "undo":
            state.undo_started = True
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
    return state


def list_runs(folder: Path | None = None) -> list[RunState]:
    """Every run in the journal folder, oldest first."""
    folder = folder or runs_folder()
    if not folder.is_dir():
        return []
    return [read_state(path) for path in sorted(folder.glob("*.jsonl"))]


def find_run(run_id: str, folder: Path | None = None) -> RunState:
    folder = folder or runs_folder()
    path = folder / f"{run_id}.jsonl"
    if "/" in run_id or not path.is_file():
        matches = sorted(folder.glob(f"{run_id}*.jsonl")) if "/" not in run_id and folder.is_dir() else []
        if len(matches) != 1:
            raise UnknownRunError(f"no run {run_id!r} in {folder} (see 'imgcat runs')")
        path = matches[0]
    return read_state(path)


@contextmanager
def run_lock(folder: Path | None = None) -> Iterator[None]:
    """One imgcat process acting on files at a time (apply, resume, undo, emptying the trash)."""
    folder = folder or runs_folder()
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunBusyError(
                "another imgcat process is changing files right now (apply, undo or trash empty); "
                "try again when it has finished"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
