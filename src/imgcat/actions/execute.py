"""Carrying out a journaled plan: verify → journal → act → catalog, step by step; and resuming.

`start_run` writes the plan into a new journal (nothing is touched yet). `execute_run` carries it
out, or finishes an interrupted one: each step is checked against the disk right before it is
done, written to the journal (fsynced) before, marked after; the catalog follows in batches, and
the journal says how far it has caught up. Ctrl-C, SIGTERM and SIGHUP wait for the step in hand to
finish; the run stops between steps and `execute_run` completes it later. A kill -9 at any moment
leaves at most one step in doubt, which the next `execute_run` or `undo_run` settles by looking
at the disk.
"""

from __future__ import annotations

import errno
import os
import signal
import stat
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Final, Protocol

from imgcat.actions import files
from imgcat.actions.journal import (
    Entry,
    Journal,
    JournalError,
    RunBusyError,
    RunState,
    check_not_busy,
    create_journal,
    discard_journal,
    now_text,
    read_entries,
    read_state,
    read_step_at,
    run_lock,
    runs_folder,
    step_to_json,
)
from imgcat.actions.plan import CARRYING, LINKING, Step
from imgcat.actions.roots import refuse_missing_roots
from imgcat.actions.trash import TrashFolders, trash_path
from imgcat.catalog.base import Catalog, ordered_pair
from imgcat.errors import ImgcatError, UsageError
from imgcat.record import MediaRecord
from imgcat.scan.checksum import file_checksum

CATALOG_BATCH: Final = 200
RENAME_BATCH: Final = 500  # renames journaled with one fsync, made durable with one sync
FAULT_ENV: Final = "IMGCAT_TEST_KILL_AFTER_STEP"  # tests only: "k" or "k:begin|act|done"
STOPPING_ERRNOS: Final = frozenset({errno.ENOSPC, errno.EROFS, errno.EDQUOT, errno.EIO})


class RunRefusedError(ImgcatError):
    """The run cannot be carried out as asked; nothing was changed."""


@dataclass(frozen=True, slots=True)
class PlannedRun:
    """A plan written to its journal, not yet carried out."""

    run_id: str
    path: Path
    steps: int
    bytes: int


@dataclass(frozen=True, slots=True)
class StepOutcome:
    n: int
    step: Step
    state: str  # done | skipped | failed
    reason: str = ""


@dataclass(frozen=True, slots=True)
class RunResult:
    """What a run did. `stopped` says why it ended early (then it can be resumed); `signal` is the
    signal that stopped it (Ctrl-C, SIGTERM, SIGHUP), held until the step in hand was done."""

    run_id: str
    done: int
    bytes: int
    skipped: tuple[StepOutcome, ...]
    failed: tuple[StepOutcome, ...]
    stopped: str | None = None
    signal: int | None = None
    folders: int = 0
    """Of `done`, the emptied folders removed (rmdir steps); the rest are files."""

    @property
    def files(self) -> int:
        return self.done - self.folders


class ActionEvents(Protocol):
    """Progress of a run: the CLI draws it; tests record it."""

    def started(self, steps: int) -> None: ...
    def finished(self, outcome: StepOutcome) -> None: ...


class NoActionEvents:
    def started(self, steps: int) -> None:
        pass

    def finished(self, outcome: StepOutcome) -> None:
        pass


def start_run(
    steps: Iterable[Step], *, command: str, catalog: Catalog, folder: Path | None = None
) -> PlannedRun:
    """Write the plan to a new journal (streamed: the plan never needs to fit in memory)."""
    folder = folder or runs_folder()
    check_not_busy(folder)  # a refused run leaves no journal behind
    now = datetime.now(UTC)
    header = {"started": now.isoformat(timespec="seconds"), "command": command, "catalog": catalog.location}
    journal = create_journal(folder, now, header)
    run_id = journal.run_id
    count = size = 0
    try:
        for step in steps:
            count += 1
            size += step.size if step.kind != "copy" else 0
            journal.write({"t": "step", "n": count, **step_to_json(step)})
        journal.write({"t": "planned", "steps": count}, sync=True)
    except JournalError as error:  # a full disk: no half plan is left behind to be resumed
        discard_journal(journal)
        raise JournalError(f"{error}; nothing changed") from error
    except BaseException:  # the plan was not made whole (Ctrl-C, a broken pipe): nothing of it stays
        discard_journal(journal)
        raise
    journal.close()
    return PlannedRun(run_id, journal.path, count, size)


def cancel_run(run: PlannedRun) -> None:
    """Drop a plan that was not confirmed: nothing was done, so its journal goes."""
    files.remove_if_exists(str(run.path))


def carry_out(
    run: PlannedRun,
    catalog: Catalog,
    *,
    folder: Path | None = None,
    events: ActionEvents | None = None,
    steps: Sequence[Step] | None = None,
) -> RunResult:
    """Carry out a plan just journaled by `start_run` (`steps`: as for `execute_run`). Refused
    because another process is acting (it began between the plan and now), the plan goes: no run
    is left for a later resume."""
    try:
        return execute_run(run.run_id, catalog, folder=folder, events=events, steps=steps)
    except RunBusyError:
        cancel_run(run)
        raise


def interrupted_runs(
    folder: Path | None = None, catalog: Catalog | None = None, *, command: str | None = None
) -> list[RunState]:
    """Runs stopped before their end (by a kill, a full disk, Ctrl-C), oldest first; with
    `catalog`, only those made on it (a run is completed on the catalog it was planned on); with
    `command` ("dupes", "similar"...), only that command's."""
    from imgcat.actions.journal import list_runs

    return [
        r for r in list_runs(folder)
        if r.resumable and (catalog is None or r.header.get("catalog") in (None, catalog.location))
        and (command is None or run_command(r) == command)
    ]  # fmt: skip


def run_command(state: RunState) -> str:
    """The imgcat command that made a run: "dupes", "reorganize", "similar", "junk", after the
    options given before it (`imgcat --db FILE dupes --apply`: the store options take a value,
    --debug none), which were taken for the command's name."""
    words = state.command.split()
    if words[:1] != ["imgcat"]:
        return ""
    rest = iter(words[1:])
    for word in rest:
        if not word.startswith("-"):
            return word
        if word != "--debug" and "=" not in word:
            next(rest, None)  # the option's value
    return ""


def execute_run(
    run_id: str,
    catalog: Catalog,
    *,
    folder: Path | None = None,
    events: ActionEvents | None = None,
    steps: Sequence[Step] | None = None,
) -> RunResult:
    """Carry out the run's steps not yet settled (all of a fresh run; the rest of an interrupted one).
    `steps`: the very steps given to `start_run`, in order, when the caller still holds them (they
    are then not read back from the journal).
    Call it on a fresh run only once the plan is confirmed: until then the run is "not started",
    and nothing (`interrupted_runs`, the next --apply) ever carries it out."""
    folder = folder or runs_folder()
    with run_lock(folder):
        state = read_state(folder / f"{run_id}.jsonl")
        if not state.runnable:
            raise RunRefusedError(f"run {run_id} is {state.state}: nothing to carry out")
        _check_catalog(state, catalog)
        if state.begun or state.done or state.skipped or state.failed or state.stopped:  # a resume
            unsettled = {n for n in state.offsets if not state.settled(n)}
            refuse_missing_roots(state, catalog, unsettled, f"'imgcat runs {run_id} --resume'")
        if steps is not None and len(steps) != state.total:
            raise ValueError(f"run {run_id} has {state.total} steps, not {len(steps)}")
        runner = _Runner(state, catalog, events or NoActionEvents(), steps)
        if not state.went:
            try:
                runner.journal.write({"t": "go", "at": now_text()}, sync=True)
            except JournalError as error:  # a full disk before the first step: nothing was done
                runner.close()
                return replace(runner.result(), stopped=f"stopped: {error}")
        try:
            with deferred_signals() as stop:
                runner.run(stop)
        finally:
            runner.close()
        return replace(runner.result(), signal=stop.signal)


def _check_catalog(state: RunState, catalog: Catalog) -> None:
    planned_for = state.header.get("catalog")
    if planned_for and planned_for != catalog.location:
        raise UsageError(
            f"run {state.run_id} was made on catalog {planned_for}, not {catalog.location}: "
            "give the same store options"
        )


class Stop:
    """A stop asked for by a signal, honoured between steps."""

    def __init__(self) -> None:
        self.signal: int | None = None

    @property
    def requested(self) -> bool:
        return self.signal is not None


@contextmanager
def deferred_signals() -> Iterator[Stop]:
    """Within, Ctrl-C, SIGTERM and SIGHUP only ask to stop: the step in hand is finished first.
    The handlers from before are put back after; the caller reports the stop (`Stop.signal`)."""
    stop = Stop()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    numbers = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    before = {number: signal.getsignal(number) for number in numbers}

    def hold(number: int, frame: FrameType | None) -> None:
        stop.signal = number

    for number in numbers:
        signal.signal(number, hold)
    try:
        yield stop
    finally:
        for number, handler in before.items():
            signal.signal(number, handler)


def fault_point(n: int, phase: str) -> None:
    """A deterministic kill -9 for the fault tests (the environment variable is never set otherwise)."""
    wanted = os.environ.get(FAULT_ENV)
    if wanted and wanted in (f"{n}:{phase}", str(n) if phase == "act" else ""):
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass
class _Checked:
    """What verification found: the source's stat, and the reference that matched."""

    info: os.stat_result
    reference: str | None = None
    reference_info: os.stat_result | None = None


@dataclass(frozen=True, slots=True)
class _Begun:
    """A verified step with its `begin` line; `renames`: done by a rename within one filesystem
    (a same-filesystem move, the trash), so it can be done in a batch."""

    n: int
    step: Step
    found: _Checked
    begin: Entry
    renames: bool


class StepRefused(Exception):
    """A step that must not be done (the file changed, vanished, or matches no kept copy)."""


def verify(step: Step) -> _Checked:
    """Check a step against the disk right before it is done; StepRefused says why not."""
    if step.kind == "rmdir":
        return _verify_folder(step)
    try:
        info = os.lstat(step.source)
    except FileNotFoundError:
        raise StepRefused("vanished since it was planned") from None
    except OSError as error:
        raise StepRefused(f"cannot be read: {error.strerror}") from error
    if not stat.S_ISREG(info.st_mode):
        raise StepRefused("is no longer a regular file")
    if (info.st_size, info.st_mtime_ns) != (step.size, step.mtime_ns):
        raise StepRefused("changed since it was cataloged (size or time differs): left alone")
    checked = _Checked(info)
    if step.target is not None and os.path.lexists(step.target):
        raise StepRefused(f"{step.target} exists: never overwritten")
    if step.kept:
        _check_kept(step)
    if step.references:
        checked.reference, checked.reference_info = _matching_reference(step, info)
    elif step.checksum is not None and file_checksum(step.source) != step.checksum:
        raise StepRefused("its content differs from the catalog's: left alone")
    return checked


def _check_kept(step: Step) -> None:
    """One of the versions kept instead of `step.source` is there as cataloged."""
    why: list[str] = []
    for kept in step.kept:
        try:
            theirs = os.stat(kept.path)
        except OSError:
            why.append(f"{kept.path} is gone")
            continue
        if not stat.S_ISREG(theirs.st_mode):
            why.append(f"{kept.path} is not a regular file")
        elif (theirs.st_size, theirs.st_mtime_ns) != (kept.size, kept.mtime_ns):
            why.append(f"{kept.path} changed")
        else:
            return
    raise StepRefused("the picture kept instead is not there as cataloged: " + "; ".join(why))


def _verify_folder(step: Step) -> _Checked:
    try:
        info = os.lstat(step.source)
        if not stat.S_ISDIR(info.st_mode):
            raise StepRefused("is no longer a folder")
        if os.listdir(step.source):
            raise StepRefused("is not empty: kept")
    except FileNotFoundError:
        raise StepRefused("vanished since it was planned") from None
    except OSError as error:
        raise StepRefused(f"cannot be read: {error.strerror}") from error
    return _Checked(info)


def _matching_reference(step: Step, info: os.stat_result) -> tuple[str, os.stat_result]:
    why: list[str] = []
    for reference in step.references:
        try:
            theirs = os.lstat(reference)
        except OSError:
            why.append(f"{reference} is gone")
            continue
        if not stat.S_ISREG(theirs.st_mode):
            why.append(f"{reference} is not a regular file")
        elif (theirs.st_dev, theirs.st_ino) == (info.st_dev, info.st_ino):
            why.append(f"{reference} is the same file (a hard link)")
        elif theirs.st_size != info.st_size:
            why.append(f"{reference} changed")
        elif step.kind in LINKING and theirs.st_dev != info.st_dev:
            why.append(f"{reference} is on another filesystem")
        elif not files.same_bytes(step.source, reference):
            why.append(f"{reference} differs byte for byte")
        else:
            return reference, theirs
    raise StepRefused("no kept copy matches it now: " + "; ".join(why))


def temporary_name(path: str, run_id: str, n: int) -> str:
    """imgcat's own half-made file beside `path` (a copy or link not yet renamed into place)."""
    return os.path.join(os.path.dirname(path), f".imgcat-{run_id}-{n}.part")


def same_filesystem(path: str, target: str) -> bool:
    """Whether `target` (which may not exist yet) would be on the filesystem of `path`."""
    folder = os.path.dirname(target)
    while not os.path.lexists(folder):
        folder = os.path.dirname(folder)
    return os.lstat(folder).st_dev == os.lstat(path).st_dev


class CatalogBatch:
    """Catalog changes queued as steps are done, written every CATALOG_BATCH steps; the journal
    records how far the catalog has caught up."""

    def __init__(self, catalog: Catalog, journal: Journal) -> None:
        self._catalog = catalog
        self._journal = journal
        self._deletes: list[str] = []
        self._upserts: list[MediaRecord] = []
        self._moves: list[tuple[MediaRecord, str]] = []
        self._upto = 0

    def add(
        self,
        n: int,
        deletes: Iterable[str],
        upserts: Iterable[MediaRecord],
        moves: Iterable[tuple[MediaRecord, str]] = (),
    ) -> None:
        self._deletes.extend(deletes)
        self._upserts.extend(upserts)
        self._moves.extend(moves)
        self._upto = max(self._upto, n)
        if len(self._deletes) + len(self._upserts) + len(self._moves) >= CATALOG_BATCH:
            self.flush()

    def flush(self, marker: str = "cataloged") -> None:
        if self._deletes:
            self._catalog.delete_many(self._deletes)
        if self._moves:
            self._catalog.move_many(self._moves)
        if self._upserts:
            self._catalog.upsert_many(self._upserts)
        if self._upto and marker:
            self._journal.write({"t": marker, "upto": self._upto})
        self._deletes, self._upserts, self._moves = [], [], []


@dataclass(frozen=True, slots=True)
class CatalogChange:
    """What the catalog must do after a step: ids to delete, records to write, and records to give
    a new path (the record as it will be, at its old path; the new path)."""

    deletes: tuple[str, ...] = ()
    upserts: tuple[MediaRecord, ...] = ()
    moves: tuple[tuple[MediaRecord, str], ...] = ()


def catalog_change(
    step: Step, begin: Entry, done: Entry, carried: Mapping[str, str] | None = None
) -> CatalogChange:
    """What the catalog must do after a step. A moved or copied record's companions that the run
    carries too (`carried`: source → target) name their new paths."""
    record = step.record
    if record is None:
        return CatalogChange()
    inode = done.get("inode")
    if step.kind in ("trash", "delete", "move-to", "symlink"):
        return CatalogChange(deletes=(record.id,))
    if step.kind == "hardlink":
        return CatalogChange(
            upserts=(
                replace(record, inode=int(inode or record.inode), mtime_ns=int(done.get("mtime_ns") or 0)),
            )
        )
    target = str(begin["target"])
    companions = record.companions
    if carried and companions:
        companions = tuple(replace(c, path=carried.get(c.path, c.path)) for c in companions)
    inode = int(inode or record.inode)
    carried_record = (
        record
        if inode == record.inode and companions == record.companions
        else replace(record, inode=inode, companions=companions)
    )
    if step.kind == "move":
        return CatalogChange(moves=((carried_record, target),))
    return CatalogChange(upserts=(carried_record.moved_to(target),))


class _Runner:
    def __init__(
        self, state: RunState, catalog: Catalog, events: ActionEvents, steps: Sequence[Step] | None = None
    ) -> None:
        self.state = state
        self.events = events
        self.journal = Journal(state.path)
        self.batch = CatalogBatch(catalog, self.journal)
        self.trash = TrashFolders()
        self.done = self.bytes = self.folders = 0
        self.skipped: list[StepOutcome] = []
        self.failed: list[StepOutcome] = []
        self.stopped: str | None = None
        self.steps = steps
        self.carried = carried_paths(state) if steps is None else _carried(steps)
        self.catalog = catalog
        self.doubtful: list[str] = []  # begun steps whose file is at neither end (a disk unplugged?)
        self._not_same: set[tuple[str, str]] | None = None
        self.others = _paths_of_other_interrupted_runs(state, catalog)
        self.linked = _symlinked_files(state)

    def close(self) -> None:
        self.journal.close()

    def result(self) -> RunResult:
        return RunResult(
            self.state.run_id, self.done, self.bytes, tuple(self.skipped), tuple(self.failed), self.stopped,
            folders=self.folders,
        )  # fmt: skip

    def run(self, stop: Stop) -> None:
        state = self.state
        self.events.started(sum(1 for n in state.offsets if not state.settled(n)))
        self._catch_up_catalog()
        pending: list[_Begun] = []  # verified renames, carried out together
        try:
            for unit in self._units():
                if stop.requested:
                    self.stopped = "interrupted"
                    break
                if any(step.kind == "rmdir" for _, step in unit):  # it sees what the steps before left
                    self._rename_batch(pending)
                    pending = []
                try:
                    begun = [self._begin_entry(n, step, found) for n, step, found in self._verified(unit)]
                except OSError as error:  # no trash folder can be made there: none of the unit begun
                    if self._unit_failed(unit, error):
                        break
                    continue
                if all(b.renames for b in begun):
                    pending.extend(begun)
                    if len(pending) >= RENAME_BATCH:
                        self._rename_batch(pending)
                        pending = []
                else:
                    self._rename_batch(pending)
                    pending = []
                    self._carry_out(begun)
                if self.stopped:
                    break
            else:
                self._rename_batch(pending)
        except JournalError as error:  # each step is journaled before it is done: this one was not
            self.stopped = f"stopped: {error}"
        finally:
            self._finish()

    def _finish(self) -> None:
        """The catalog catches up; the journal says how the run ended. If the journal cannot be
        written any more, the run stays interrupted (a resume settles it) and says why it stopped."""
        try:
            self.batch.flush()
            if self.doubtful and not self.stopped:
                self.stopped = (
                    f"{len(self.doubtful)} begun step(s) in doubt: {self.doubtful[0]} is neither at its "
                    "path nor where it was going (a disk unplugged?)"
                )
            if self.stopped:
                self.journal.write({"t": "stop", "reason": self.stopped, "at": now_text()}, sync=True)
            else:
                self.journal.write({"t": "end", "at": now_text()}, sync=True)
        except JournalError as error:
            self.stopped = self.stopped or f"stopped: {error}"

    def _catch_up_catalog(self) -> None:
        """Steps done before an interruption whose catalog changes may not have been written."""
        state = self.state
        for n in sorted(state.done):
            if n > state.cataloged:
                step = read_step_at(state.path, state.offsets[n])
                change = catalog_change(step, state.begun.get(n, {}), state.done[n], self.carried)
                self.batch.add(n, change.deletes, change.upserts, change.moves)
        self.batch.flush()

    def _units(self) -> Iterator[list[tuple[int, Step]]]:
        """The steps not yet settled, a unit (consecutive steps with one unit number) at a time."""
        state = self.state
        unit: list[tuple[int, Step]] = []
        for n in sorted(state.offsets):
            if state.settled(n):
                continue
            step = self.steps[n - 1] if self.steps is not None else read_step_at(state.path, state.offsets[n])
            if unit and (step.unit == 0 or step.unit != unit[-1][1].unit):
                yield unit
                unit = []
            unit.append((n, step))
        if unit:
            yield unit

    def _verified(self, unit: list[tuple[int, Step]]) -> list[tuple[int, Step, _Checked]]:
        """The unit's steps still to do, each checked against the disk; none if one is refused."""
        fresh: list[tuple[int, Step]] = []
        for n, step in unit:
            if n in self.state.begun:
                if self._settle(n, step):
                    continue
                if self._nowhere(n, step):
                    self.doubtful.append(step.source)
                    return []  # its unit waits with it
            fresh.append((n, step))
        checked: list[tuple[int, Step, _Checked]] = []
        for n, step in fresh:
            try:
                self._check_not_in_other_run(step)
                self._check_not_linked(step)
                self._check_still_same(step)
                checked.append((n, step, verify(step)))
            except StepRefused as refused:
                for m, other in fresh:  # a photo is a unit: none of it goes
                    self._skip(
                        m, other, str(refused) if m == n else f"left alone with {step.source}: {refused}"
                    )
                return []
        return checked

    def _nowhere(self, n: int, step: Step) -> bool:
        """A begun rename or move whose file is neither at its path nor at its target: still in
        doubt (a disk unplugged, the file moved away), not "vanished": the run stays interrupted."""
        target = self.state.begun[n].get("target")
        if step.kind not in ("trash", "move", "move-to") or not target:
            return False
        return not os.path.lexists(step.source) and not os.path.lexists(str(target))

    def _check_not_in_other_run(self, step: Step) -> None:
        """A file another interrupted run is moving or removing (its step not settled) is left to
        that run: its resume or undo must find it where it left it."""
        other = self.others.get(step.source) or (self.others.get(step.target) if step.target else None)
        if other is not None:
            raise StepRefused(
                f"interrupted run {other} has a step on it: 'imgcat runs {other} --resume' or "
                f"'imgcat undo {other}' first"
            )

    def _check_not_linked(self, step: Step) -> None:
        """A file that symbolic links made by a run point to is not moved or removed: the links
        would dangle. (Hard links need nothing: each is the file.)"""
        run = self.linked.get(step.source) if step.kind not in ("copy", "rmdir") else None
        if run is not None:
            raise StepRefused(
                f"symbolic links made by run {run} point to it and would dangle: 'imgcat undo {run}' "
                "first (the links become files again), or leave it here"
            )

    def _check_still_same(self, step: Step) -> None:
        """A picture marked different from the one kept instead (`similar --not-same`, maybe after
        the run was planned and interrupted) is not removed for it."""
        kept = [k for k in step.kept if k.checksum is not None]
        if step.checksum is None or not kept:
            return
        if self._not_same is None:
            self._not_same = set(self.catalog.iter_not_same())
        for k in kept:
            if ordered_pair(step.checksum, str(k.checksum)) in self._not_same:
                raise StepRefused(f"marked as a different picture from {k.path} (similar --not-same)")

    def _carry_out(self, begun: list[_Begun]) -> None:
        """Steps one by one: each journaled (fsynced) before it is done."""
        for item in begun:
            try:
                self.journal.write(item.begin, sync=True)
                fault_point(item.n, "begin")
                done = self._perform(item)
                fault_point(item.n, "act")
                self._mark_done(item.n, item.step, item.begin, done)
            except OSError as error:
                if self._failed(item, error):
                    return

    def _rename_batch(self, batch: list[_Begun]) -> None:
        """Renames within one filesystem (moves, the trash), many at a time: every
        step is journaled, then one fsync, then they are done, then one sync of the filesystems
        they touched before they are marked done. A kill leaves the batch's steps begun; the next
        run or undo settles each by looking at the disk, as for a single step."""
        if not batch:
            return
        for item in batch:
            self.journal.write(item.begin)
        self.journal.sync()
        acted: list[tuple[_Begun, Entry]] = []
        touched: set[str] = set()
        for item in batch:
            fault_point(item.n, "begin")
            try:
                done = self._perform(item, durable=False)
            except OSError as error:
                if self._failed(item, error):
                    break
                continue
            fault_point(item.n, "act")
            acted.append((item, done))
            touched.add(os.path.dirname(item.step.source))
            if item.begin.get("target"):
                touched.add(os.path.dirname(str(item.begin["target"])))
        files.sync_folders(touched)
        for item, done in acted:
            self._mark_done(item.n, item.step, item.begin, done)

    def _failed(self, item: _Begun, error: OSError) -> bool:
        """Record a step that failed; whether the run must stop (a full or read-only disk). A step
        stopped by its disk is not marked failed: the run's resume tries it again. The folders
        the step made for its target go again where they are empty."""
        files.remove_made_folders(list(item.begin.get("made", [])))
        if error.errno in STOPPING_ERRNOS:
            self.stopped = f"stopped: {error.strerror} ({item.step.source})"
            outcome = StepOutcome(item.n, item.step, "failed", f"{error.strerror}: to be done by a resume")
            self.failed.append(outcome)
            self.events.finished(outcome)
            return True
        self._fail(item.n, item.step, f"{error.strerror or error}")
        return False

    def _unit_failed(self, unit: list[tuple[int, Step]], error: OSError) -> bool:
        """A unit that could not be begun; whether the run must stop (as `_failed` says)."""
        stops = error.errno in STOPPING_ERRNOS
        for n, step in unit:
            if stops:
                self.stopped = f"stopped: {error.strerror} ({step.source})"
                outcome = StepOutcome(n, step, "failed", f"{error.strerror}: to be done by a resume")
                self.failed.append(outcome)
                self.events.finished(outcome)
            else:
                self._fail(n, step, f"{error.strerror or error}")
        return stops

    def _skip(self, n: int, step: Step, reason: str) -> None:
        self.journal.write({"t": "skip", "n": n, "reason": reason})
        outcome = StepOutcome(n, step, "skipped", reason)
        self.skipped.append(outcome)
        self.events.finished(outcome)

    def _fail(self, n: int, step: Step, reason: str) -> None:
        self.journal.write({"t": "fail", "n": n, "reason": reason})
        outcome = StepOutcome(n, step, "failed", reason)
        self.failed.append(outcome)
        self.events.finished(outcome)

    def _begin_entry(self, n: int, step: Step, found: _Checked) -> _Begun:
        """The journal's `begin` line for a verified step: where it goes, and what it found."""
        run_id = self.state.run_id
        begin: Entry = {"t": "begin", "n": n, "inode": found.info.st_ino, "mode": found.info.st_mode}
        if step.kind == "trash":
            begin["target"] = trash_path(self.trash.root_for(step.source), run_id, step.source)
        elif step.target is not None:
            begin["target"] = step.target
            begin["cross"] = not same_filesystem(step.source, step.target)
            made = files.missing_parents(step.target)
            if made:
                begin["made"] = made  # undo removes them once they are empty again
        if found.reference is not None and found.reference_info is not None:
            begin["ref"] = found.reference
            begin["ref_inode"] = found.reference_info.st_ino
        renames = step.kind == "trash" or (step.kind == "move" and not begin["cross"])
        return _Begun(n, step, found, begin, renames)

    def _perform(self, item: _Begun, *, durable: bool = True) -> Entry:
        """Do one begun step; its `done` line. `durable=False` leaves syncing the folders it
        changed to the caller."""
        n, step, found, begin = item.n, item.step, item.found, item.begin
        run_id = self.state.run_id
        done: Entry = {"t": "done", "n": n}
        target = begin.get("target")
        match step.kind:
            case "trash":
                files.make_parents(str(target))
                files.rename_noreplace(step.source, str(target))
            case "delete":
                files.unlink(step.source)
            case "rmdir":
                files.remove_folder(step.source, durable=durable)
            case "move-to" | "move" | "copy":
                done["inode"] = self._carry(n, step, str(target), cross=bool(begin["cross"]), durable=durable)
            case "hardlink" | "symlink":
                temporary = temporary_name(step.source, run_id, n)
                files.replace_with_link(
                    step.source, str(found.reference), temporary, symbolic=step.kind == "symlink"
                )
                if step.kind == "hardlink" and found.reference_info is not None:
                    done["inode"] = found.reference_info.st_ino
                    done["mtime_ns"] = found.reference_info.st_mtime_ns
        return done

    def _carry(self, n: int, step: Step, target: str, *, cross: bool, durable: bool = True) -> int:
        """Move or copy `step.source` to `target`; across filesystems (or for a copy): copy to a
        temporary name, fsync, rename into place, compare byte for byte, then remove the source."""
        files.make_parents(target)
        if not cross and step.kind != "copy":
            files.rename_noreplace(step.source, target)
            if durable:
                files.sync_folder(os.path.dirname(target))
            return os.lstat(target).st_ino
        temporary = temporary_name(target, self.state.run_id, n)
        files.remove_if_exists(temporary)
        try:
            files.copy_new(step.source, temporary)
            files.rename_noreplace(temporary, target)
        except OSError:
            files.remove_if_exists(temporary)  # a full disk leaves no half copy behind
            raise
        if not files.same_bytes(step.source, target):
            files.unlink(target)
            raise OSError(errno.EIO, "the copy differs from the original (removed; original kept)")
        if step.kind != "copy":
            files.unlink(step.source)
        return os.lstat(target).st_ino

    def _mark_done(self, n: int, step: Step, begin: Entry, done: Entry) -> None:
        self.journal.write(done)
        fault_point(n, "done")
        change = catalog_change(step, begin, done, self.carried)
        self.batch.add(n, change.deletes, change.upserts, change.moves)
        self.done += 1
        self.folders += step.kind == "rmdir"
        self.bytes += step.size
        self.events.finished(StepOutcome(n, step, "done"))

    def _settle(self, n: int, step: Step) -> bool:
        """A step begun before an interruption: finish what the disk shows was done (True), or
        clean imgcat's half-made file and leave it to be done again (False)."""
        begin = self.state.begun[n]
        target = begin.get("target")
        run_id = self.state.run_id
        source_there = os.path.lexists(step.source)
        if step.kind in LINKING:
            files.remove_if_exists(temporary_name(step.source, run_id, n))
            if _is_link_to(step, begin):
                info = os.lstat(step.source)
                self._mark_done(n, step, begin, {"t": "done", "n": n, "inode": info.st_ino,
                                                  "mtime_ns": info.st_mtime_ns})  # fmt: skip
                return True
            return False
        if step.kind in ("delete", "rmdir"):
            if source_there:
                return False
            self._mark_done(n, step, begin, {"t": "done", "n": n})
            return True
        assert target is not None
        files.remove_if_exists(temporary_name(str(target), run_id, n))
        target_there = os.path.lexists(target)
        if not target_there:
            return False
        if source_there and step.kind in CARRYING and step.kind != "copy":
            if not files.same_bytes(step.source, target):
                self._skip(
                    n, step, f"interrupted: {target} differs from {step.source}; both left as they are"
                )
                return True
            files.unlink(step.source)  # the copy was complete and equal: finish the move
        elif source_there and step.kind == "trash":
            self._skip(n, step, f"interrupted: a file is at {step.source} and in the trash at {target}")
            return True
        info = os.lstat(target)
        if step.kind == "trash" and info.st_ino != begin.get("inode"):
            self._skip(n, step, f"interrupted: {target} is not the file that was trashed")
            return True
        self._mark_done(n, step, begin, {"t": "done", "n": n, "inode": info.st_ino})
        return True


def _paths_of_other_interrupted_runs(state: RunState, catalog: Catalog) -> dict[str, str]:
    """Path → run id for the files (and targets) of the other interrupted runs' unsettled steps."""
    paths: dict[str, str] = {}
    for other in interrupted_runs(state.path.parent, catalog):
        if other.run_id == state.run_id:
            continue
        for _, entry in read_entries(other.path):
            if entry.get("t") == "step" and not other.settled(entry["n"]) and entry["kind"] != "rmdir":
                paths[entry["source"]] = other.run_id
                target = other.begun.get(entry["n"], {}).get("target") or entry.get("target")
                if target:
                    paths[str(target)] = other.run_id
    return paths


def _symlinked_files(state: RunState) -> dict[str, str]:
    """Path → run id for the files the other runs' symbolic links (done, not undone) point to."""
    return symlinked_files(state.path.parent, but=state.run_id)


def symlinked_files(folder: Path | None = None, *, but: str | None = None) -> dict[str, str]:
    """Path → run id for the files the symbolic links of runs (done, not undone; all but run `but`)
    point to: a run refuses to move or remove them, and a plan says so (they would dangle)."""
    from imgcat.actions.journal import list_runs

    linked: dict[str, str] = {}
    for other in list_runs(folder):
        if other.run_id == but or "symlink" not in other.kinds.values():
            continue
        for n, kind in other.kinds.items():
            if kind == "symlink" and n in other.done and n not in other.undone:
                reference = other.begun.get(n, {}).get("ref")
                if reference:
                    linked[str(reference)] = other.run_id
    return linked


def carried_paths(state: RunState) -> dict[str, str]:
    """Source → target of every step of the run that moves or copies a file."""
    carried: dict[str, str] = {}
    for _, entry in read_entries(state.path):
        if entry["t"] == "step" and entry["kind"] in ("move", "copy") and entry.get("target"):
            carried[entry["source"]] = entry["target"]
    return carried


def _carried(steps: Iterable[Step]) -> dict[str, str]:
    return {step.source: step.target for step in steps if step.kind in ("move", "copy") and step.target}


def _is_link_to(step: Step, begin: Entry) -> bool:
    reference = begin.get("ref")
    try:
        info = os.lstat(step.source)
    except OSError:
        return False
    if step.kind == "symlink":
        with suppress(OSError):
            return stat.S_ISLNK(info.st_mode) and os.readlink(step.source) == reference
        return False
    return info.st_ino == begin.get("ref_inode") and stat.S_ISREG(info.st_mode)


def run_bytes(steps: Iterable[Step]) -> int:
    return sum(step.size for step in steps if step.kind != "copy")
