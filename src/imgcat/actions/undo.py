"""Undo: a run's steps reverted, last first, each file checked before it is put back; nothing is
ever overwritten. Trashed and moved files go back to their paths, copies made are removed (while
the original is there), links made become files of their own again (with the original's mode
and time); a deleted file cannot come back and is reported. The catalog gets its entries back.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, replace
from pathlib import Path

from imgcat.actions import files
from imgcat.actions.execute import (
    ActionEvents,
    CatalogBatch,
    NoActionEvents,
    RunRefusedError,
    StepOutcome,
    _check_catalog,
    _Runner,
    deferred_signals,
    temporary_name,
)
from imgcat.actions.journal import (
    Entry,
    Journal,
    RunState,
    list_runs,
    now_text,
    read_state,
    read_step_at,
    run_lock,
    runs_folder,
)
from imgcat.actions.plan import Step
from imgcat.actions.roots import Roots, refuse_missing_roots
from imgcat.actions.trash import run_folder
from imgcat.catalog.base import Catalog
from imgcat.record import MediaRecord
from imgcat.scan.checksum import checksum_if_readable


@dataclass(frozen=True, slots=True)
class UndoResult:
    run_id: str
    restored: int  # steps undone: files put back, and `folders` made again
    skipped: tuple[StepOutcome, ...]
    stopped: bool = False
    signal: int | None = None
    folders: int = 0  # folders the run had removed as emptied (--prune-empty), made again

    @property
    def files(self) -> int:
        return self.restored - self.folders


class StepKept(Exception):
    """A step that cannot be undone (the file changed, something is in the way, or it is gone)."""


def undoable_run(run_id: str | None, folder: Path | None = None) -> RunState:
    """The run to undo: the one named, else the latest that did something and is not undone."""
    from imgcat.actions.journal import find_run

    if run_id is not None:
        state = find_run(run_id, folder)
        if not state.undoable:
            raise RunRefusedError(_not_undoable(state))
        refuse_moved_since(state)
        return state
    for state in reversed(list_runs(folder)):
        if state.undoable and (state.done or state.begun):
            refuse_moved_since(state)
            return state
    raise RunRefusedError("no run to undo (see 'imgcat runs')")


def refuse_moved_since(state: RunState) -> None:
    """Refuse, before anything is done, to undo a run whose files later runs (not undone) moved
    away: each would be a warning and the folders the run pruned would come back empty. The later
    runs are named, the latest first: undone in that order, this one can be undone after them."""
    moved = _later_moves(state)
    if not moved:
        return
    by_run: dict[str, int] = {}
    for n in state.done:
        if n in state.undone or state.kinds.get(n) == "rmdir":
            continue
        begin = state.begun.get(n, {})
        where = begin.get("target") if state.kinds.get(n) in ("trash", "move-to", "move", "copy") else None
        path = str(where) if where else read_step_at(state.path, state.offsets[n]).source
        if path in moved:
            by_run[moved[path]] = by_run.get(moved[path], 0) + 1
    if by_run:
        count = sum(by_run.values())
        runs = sorted(by_run, reverse=True)
        files = f"{count} of its files {'was' if count == 1 else 'were'}"
        named = f"run {runs[0]}" if len(runs) == 1 else f"runs {', '.join(runs)}"
        raise RunRefusedError(
            f"run {state.run_id}: {files} moved since by {named} (imgcat undo {runs[0]} first); "
            "nothing changed"
        )


def _later_moves(state: RunState) -> dict[str, str]:
    """The paths that runs after `state` moved away and did not put back: path → that run's id."""
    moved: dict[str, str] = {}
    for later in list_runs(state.path.parent):
        if later.run_id <= state.run_id or later.state in ("undone", "cancelled"):
            continue
        for n in later.done:
            if n not in later.undone and later.kinds.get(n) in ("move", "move-to", "trash"):
                moved[read_step_at(later.path, later.offsets[n]).source] = later.run_id
    return moved


def _not_undoable(state: RunState) -> str:
    if state.state == "trash emptied":
        return f"run {state.run_id}: the trash was emptied of its files, nothing of it can come back"
    return f"run {state.run_id} is {state.state}: nothing to undo"


def undo_run(
    run_id: str, catalog: Catalog, *, folder: Path | None = None, events: ActionEvents | None = None
) -> UndoResult:
    """Revert every step the run did, last first. An interrupted run's step in doubt is settled
    first (finished if the disk shows it was done), so it is reverted too."""
    folder = folder or runs_folder()
    events = events or NoActionEvents()
    with run_lock(folder):
        state = read_state(folder / f"{run_id}.jsonl")
        if not state.undoable:
            raise RunRefusedError(_not_undoable(state))
        refuse_moved_since(state)
        _check_catalog(state, catalog)
        todo_numbers = {n for n in state.done if n not in state.undone} | set(state.begun)
        roots = refuse_missing_roots(state, catalog, todo_numbers, f"'imgcat undo {state.run_id}'")
        with deferred_signals() as stop:
            if state.resumable and any(not state.settled(n) for n in state.begun):
                _settle_doubtful(state, catalog)
                state = read_state(state.path)
            journal = Journal(state.path)
            batch = CatalogBatch(catalog, journal)
            restored = folders = 0
            skipped: list[StepOutcome] = []
            vacated: set[str] = set()  # folders files were moved back out of
            try:
                journal.write({"t": "undo", "at": now_text()}, sync=True)
                todo = [n for n in sorted(state.done, reverse=True) if n not in state.undone]
                events.started(len(todo))
                for n in todo:
                    if stop.requested:
                        break
                    step = read_step_at(state.path, state.offsets[n])
                    journal.write({"t": "undo-begin", "n": n}, sync=True)
                    try:
                        deletes, upserts = _revert(n, step, state, roots)
                    except (StepKept, OSError) as error:
                        reason = str(error) if isinstance(error, StepKept) else f"{error.strerror or error}"
                        journal.write({"t": "undo-skip", "n": n, "reason": reason})
                        outcome = StepOutcome(n, step, "skipped", reason)
                        skipped.append(outcome)
                        events.finished(outcome)
                        continue
                    journal.write({"t": "undone", "n": n})
                    batch.add(n, deletes, upserts)
                    restored += 1
                    folders += step.kind == "rmdir"
                    if step.kind in ("move", "move-to"):
                        vacated.add(os.path.dirname(str(state.begun[n]["target"])))
                    events.finished(StepOutcome(n, step, "done"))
                for n in sorted(state.begun.keys() - state.done.keys(), reverse=True):  # begun, never done
                    files.remove_made_folders(list(state.begun[n].get("made", [])))
                _remove_folders_left_by_undone_runs(state, vacated)
            finally:
                batch.flush(marker="")
                if not stop.requested:
                    journal.write({"t": "undo-end", "at": now_text()}, sync=True)
                journal.close()
    return UndoResult(state.run_id, restored, tuple(skipped), stop.requested, stop.signal, folders)


def _remove_folders_left_by_undone_runs(state: RunState, vacated: set[str]) -> None:
    """Folders an undone run made and could not remove then, as this run had moved a file into
    them, are removed now that this undo moved it out, where they are empty (QA F4)."""
    if not vacated:
        return
    for other in list_runs(state.path.parent):
        if other.run_id == state.run_id:
            continue
        for n in other.undone:
            made = [str(f) for f in other.begun.get(n, {}).get("made", [])]
            if made and made[-1] in vacated:
                files.remove_made_folders(made)


def _settle_doubtful(state: RunState, catalog: Catalog) -> None:
    runner = _Runner(state, catalog, NoActionEvents())
    try:
        for n in sorted(state.begun):
            if not state.settled(n):
                runner._settle(n, read_step_at(state.path, state.offsets[n]))
        runner.batch.flush()
    finally:
        runner.close()


def _revert(n: int, step: Step, state: RunState, roots: Roots) -> tuple[list[str], list[MediaRecord]]:
    """Put one step back; the catalog's changes to make. StepKept says why it cannot be."""
    begin, done = state.begun.get(n, {}), state.done[n]
    if n in state.emptied:
        raise StepKept("the trash was emptied: it cannot come back")
    match step.kind:
        case "delete":
            raise StepKept("was deleted for good: it cannot come back")
        case "rmdir":
            if os.path.lexists(step.source) and not os.path.isdir(step.source):
                raise StepKept(f"a file is at {step.source} now: the folder is not made again")
            _check_root(step.source, roots)
            files.make_folder(step.source, int(begin.get("mode", 0o755)))
            return [], []
        case "trash" | "move-to" | "move":
            inode = _put_back(n, step, begin, state.path, roots)
            files.remove_made_folders(list(begin.get("made", [])))
            return _restored(step, inode, moved_from=begin["target"] if step.kind == "move" else None)
        case "copy":
            _remove_copy(step, str(begin["target"]))
            files.remove_made_folders(list(begin.get("made", [])))
            copy = None if step.record is None else step.record.moved_to(str(begin["target"]))
            return ([] if copy is None else [copy.id]), []
        case _:
            inode = _unlink_link(n, step, begin, done, state.path)
            return _restored(step, inode)


def _restored(step: Step, inode: int, moved_from: str | None = None) -> tuple[list[str], list[MediaRecord]]:
    if step.record is None:
        return [], []
    deletes = [] if moved_from is None else [step.record.moved_to(moved_from).id]
    return deletes, [replace(step.record, inode=inode)]


def _check_free(path: str, where: str) -> None:
    if os.path.lexists(path):
        raise StepKept(f"a file is at {path} now: never overwritten; the original stays at {where}")


def _check_root(path: str, roots: Roots) -> None:
    """Folders are made again only below a root that is on disk: never a root or a mount point."""
    folder = os.path.dirname(path)
    if os.path.isdir(folder):
        return
    root = roots.of(path)
    if root is None:
        raise StepKept(f"its folder {folder} is gone and no folder added to the catalog holds it: "
                       "not made again")  # fmt: skip
    if not os.path.isdir(root):
        raise StepKept(f"root {root} is missing (a disk unplugged?): plug it in and undo again")


def _same_content(step: Step, where: str) -> bool:
    """Whether `where` holds the step's content (by the checksum journaled with it): a trash that
    was copied, restored from a backup or remounted (exFAT) gives its files new inode numbers."""
    expected = step.checksum or (step.record.checksum if step.record is not None else None)
    return expected is not None and checksum_if_readable(where) == expected


def _moved_since(state_path: Path, path: str) -> str:
    """ ", moved to T by run R: undo R first" when a later run moved `path` (and is not undone)."""
    for later in list_runs(state_path.parent):
        if later.run_id <= state_path.stem or later.state in ("undone", "cancelled"):
            continue
        for n in later.done:
            if n in later.undone or later.kinds.get(n) not in ("move", "move-to", "trash"):
                continue
            step = read_step_at(later.path, later.offsets[n])
            if step.source == path:
                target = later.begun.get(n, {}).get("target") or step.target
                return f": moved to {target} by run {later.run_id} since (imgcat undo {later.run_id} first)"
    return ""


def _put_back(n: int, step: Step, begin: Entry, state_path: Path, roots: Roots) -> int:
    """A trashed or moved file goes back to its path, if it is still as it was left there."""
    run_id = state_path.stem
    where = str(begin["target"])
    try:
        info = os.lstat(where)
    except FileNotFoundError:
        raise StepKept(f"no longer at {where}{_moved_since(state_path, where)}") from None
    if not stat.S_ISREG(info.st_mode) or (info.st_size, info.st_mtime_ns) != (step.size, step.mtime_ns):
        raise StepKept(f"{where} changed since it was put there: left where it is")
    if not begin.get("cross") and info.st_ino != begin.get("inode") and not _same_content(step, where):
        raise StepKept(f"{where} is not the file that was put there: left where it is")
    _check_free(step.source, where)
    _check_root(step.source, roots)
    files.make_parents(step.source)
    if begin.get("cross"):
        temporary = temporary_name(step.source, run_id, n)
        files.remove_if_exists(temporary)
        files.copy_new(where, temporary)
        files.rename_noreplace(temporary, step.source)
        if not files.same_bytes(where, step.source):
            files.unlink(step.source)
            raise StepKept(f"the copy back from {where} differs: left where it is")
        files.unlink(where)
    else:
        files.rename_noreplace(where, step.source)
    files.sync_folder(os.path.dirname(step.source))
    top = run_folder(where, run_id)
    if step.kind == "trash" and top is not None:
        files.remove_empty_folders(os.path.dirname(where), os.path.dirname(top))
    return os.lstat(step.source).st_ino


def _remove_copy(step: Step, copy: str) -> None:
    """A copy imgcat made goes, while the original is there and the copy is still the same."""
    if not os.path.lexists(copy):
        return
    if not os.path.isfile(step.source) or not files.same_bytes(step.source, copy):
        raise StepKept(f"{copy} is kept: the original {step.source} is gone or differs from it")
    files.unlink(copy)


def _unlink_link(n: int, step: Step, begin: Entry, done: Entry, state_path: Path) -> int:
    """A link imgcat made becomes a file of its own again, with the original's mode and time."""
    run_id = state_path.stem
    reference = str(begin.get("ref"))
    try:
        info = os.lstat(step.source)
    except FileNotFoundError:
        raise StepKept(f"is gone: nothing to put back{_moved_since(state_path, step.source)}") from None
    if step.kind == "symlink":
        if not stat.S_ISLNK(info.st_mode) or os.readlink(step.source) != reference:
            raise StepKept("is no longer the link imgcat made: left as it is")
        origin = reference
    else:
        if not stat.S_ISREG(info.st_mode) or info.st_ino != done.get("inode", begin.get("ref_inode")):
            raise StepKept("is no longer the link imgcat made: left as it is")
        origin = step.source  # the same inode as the reference: its bytes
    try:
        content = os.stat(origin)
    except OSError:
        raise StepKept(f"its kept copy {reference} is gone{_moved_since(state_path, reference)}") from None
    if content.st_size != step.size:
        raise StepKept(f"{reference} changed since the link was made: left as it is")
    temporary = temporary_name(step.source, run_id, n)
    files.replace_with_copy(step.source, origin, temporary, int(begin.get("mode", 0o644)), step.mtime_ns)
    return os.lstat(step.source).st_ino
