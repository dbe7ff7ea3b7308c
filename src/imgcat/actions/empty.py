"""Emptying the trash: files trashed by runs (older than some age) deleted for good.

Only files that a run's journal says it put in a `.imgcat-trash` folder are deleted, each checked
to be that file still (same size and time); the run's journal records it, so an undo later says
the file cannot come back. The run folders left empty in the trash go too.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from imgcat.actions import files
from imgcat.actions.execute import ActionEvents, NoActionEvents, StepOutcome, deferred_signals
from imgcat.actions.journal import Journal, list_runs, read_step_at, run_lock, runs_folder
from imgcat.actions.plan import Step
from imgcat.actions.trash import TRASH_NAME, run_folder


@dataclass(frozen=True, slots=True)
class Trashed:
    """A file in the trash: the step of run `run_id` that put it at `path`."""

    run_id: str
    n: int
    path: str
    step: Step
    trashed_at: datetime
    run_state: str = "complete"

    @property
    def held(self) -> bool:
        """In the trash of a run still in progress (interrupted, or its undo interrupted): not
        emptied, the run's resume or undo settles it first."""
        return self.run_state in ("interrupted", "undo interrupted")

    @property
    def size(self) -> int:
        return self.step.size


@dataclass(frozen=True, slots=True)
class TrashPlan:
    files: tuple[Trashed, ...]

    @property
    def bytes(self) -> int:
        return sum(t.size for t in self.files)

    @property
    def runs(self) -> tuple[str, ...]:
        return tuple(sorted({t.run_id for t in self.files}))

    def emptiable(self) -> TrashPlan:
        """The files `empty_trash` may delete: not those of a run still in progress (`held`)."""
        return TrashPlan(tuple(t for t in self.files if not t.held))

    def held(self) -> dict[str, str]:
        """Run id → its state, for the runs whose files are held."""
        return {t.run_id: t.run_state for t in self.files if t.held}


@dataclass(frozen=True, slots=True)
class EmptyResult:
    deleted: int
    bytes: int
    skipped: tuple[StepOutcome, ...]
    stopped: bool = False
    signal: int | None = None


def plan_trash_empty(older_than: timedelta | None, now: datetime, folder: Path | None = None) -> TrashPlan:
    """Every file still in the trash (trashed at least `older_than` ago), from the journals."""
    return TrashPlan(tuple(_trashed(older_than, now, folder)))


def _trashed(older_than: timedelta | None, now: datetime, folder: Path | None) -> Iterator[Trashed]:
    for state in list_runs(folder):
        if older_than is not None and now - state.started < older_than:
            continue
        run_state = state.state
        for n, begin in state.begun.items():
            if state.kinds.get(n) != "trash" or n in state.undone or n in state.emptied:
                continue
            if n not in state.done and not (n in state.begun and not state.settled(n)):
                continue  # skipped or failed: never renamed
            target = str(begin["target"])
            if os.path.lexists(target):  # a begun step in doubt whose file is there is listed too
                step = read_step_at(state.path, state.offsets[n])
                yield Trashed(state.run_id, n, target, step, state.started, run_state)


def empty_trash(
    plan: TrashPlan, folder: Path | None = None, events: ActionEvents | None = None
) -> EmptyResult:
    """Delete the planned files from the trash for good, each checked first."""
    folder = folder or runs_folder()
    events = events or NoActionEvents()
    deleted = size = 0
    skipped: list[StepOutcome] = []
    with run_lock(folder), deferred_signals() as stop:
        events.started(len(plan.files))
        journals: dict[str, Journal] = {}
        try:
            for trashed in plan.files:
                if stop.requested:
                    break
                if trashed.held:
                    continue
                if trashed.run_id not in journals:
                    journals[trashed.run_id] = Journal(folder / f"{trashed.run_id}.jsonl")
                journal = journals[trashed.run_id]
                step = trashed.step
                reason = _not_ours(trashed, step.size, step.mtime_ns)
                if reason is not None:
                    outcome = StepOutcome(trashed.n, step, "skipped", reason)
                    skipped.append(outcome)
                    events.finished(outcome)
                    continue
                journal.write({"t": "emptied", "n": trashed.n}, sync=True)
                files.remove_if_exists(trashed.path)
                deleted += 1
                size += trashed.size
                events.finished(StepOutcome(trashed.n, step, "done"))
                top = run_folder(trashed.path, trashed.run_id)
                if top is not None:
                    files.remove_empty_folders(os.path.dirname(trashed.path), os.path.dirname(top))
        finally:
            for journal in journals.values():
                journal.close()
    return EmptyResult(deleted, size, tuple(skipped), stop.requested, stop.signal)


def _not_ours(trashed: Trashed, size: int, mtime_ns: int) -> str | None:
    """Why a path in the plan must not be deleted, if it must not."""
    if run_folder(trashed.path, trashed.run_id) is None or f"/{TRASH_NAME}/" not in trashed.path:
        return f"{trashed.path} is not in a trash folder"
    try:
        info = os.lstat(trashed.path)
    except FileNotFoundError:
        return f"{trashed.path} is already gone"
    if not stat.S_ISREG(info.st_mode) or (info.st_size, info.st_mtime_ns) != (size, mtime_ns):
        return f"{trashed.path} changed since it was trashed: left there"
    return None
