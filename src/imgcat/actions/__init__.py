"""Safe actions: the only code that changes people's files. Shared by dupes, reorganize, similar, junk.

A plan is a stream of `Step`s (frozen: kind, source, the size and mtime it must still have, a
target, the kept copies it must equal, its catalog record, a unit number). Carrying one out:

    run = start_run(steps, command="imgcat dupes --apply", catalog=catalog)   # journal written
    if confirmed:                                   # the CLI asks (or --yes); below cli/ nothing asks
        result = execute_run(run.run_id, catalog)   # verify → journal → act → catalog, per step
    else:
        cancel_run(run)

- `start_run` writes the header and every step to `<data>/runs/<run-id>.jsonl` (fsynced); nothing
  is touched yet. Steps stream in, so a plan never has to fit in memory.
- `execute_run` checks each step right before it is done (`verify`: the source still has its
  cataloged size and mtime, and equals one of its `references` byte for byte, a kept copy that
  exists now; or, without references, its `checksum`), writes `begin` (fsynced), acts, writes
  `done`, and updates the catalog in batches (`trash`/`delete`/`move-to`/`symlink`: the entry goes;
  `move`: it follows, and its companions' paths follow the run's other moves; `copy`: a new entry;
  `hardlink`: the new inode). Steps of one `unit` are all verified before any is done. A file that
  changed is skipped and reported, never acted on. Renames within one filesystem (`move`,
  `trash`) go in batches of RENAME_BATCH: every `begin` written, one fsync, the renames, one
  syncfs of the filesystems they touched, then the `done` lines (10,000 moves cost a few dozen
  syncs, not 20,000 fsyncs).
- Kinds: `trash` (a rename into `.imgcat-trash/<run-id>/<absolute path>` on the file's own
  filesystem, see `trash.py`), `delete`, `move-to`/`move`/`copy` (mirrored targets chosen by the
  caller; across filesystems: copy, fsync, compare, then remove), `hardlink`/`symlink` (same
  filesystem; made under a temporary name and renamed over the source), `rmdir` (a folder the
  run's moves emptied, removed if it is empty then; undo makes it again). Nothing is overwritten.
- Interruptions: Ctrl-C/SIGTERM/SIGHUP finish the step in hand and stop (`RunResult.signal`);
  after a kill -9 or a full disk, `execute_run` on the same run completes it (the one step in
  doubt is settled by looking at the disk), `interrupted_runs()` lists such runs.
- `undo_run(run_id, catalog)` reverts a run last step first, checking each file and never
  overwriting, and removes the folders the run made once they are empty again;
  `undoable_run(None)` is the latest run. `plan_trash_empty` / `empty_trash` delete trashed
  files for good. `list_runs()` reads every journal (`RunState`: steps, done, state).
- A run is completed or undone only while every root folder its steps touch is on disk
  (`RootMissingError`: an unplugged disk); undo makes folders again only below a root that is
  there; a begun step whose file is at neither end stays in doubt (the run stays interrupted).
- One process acts at a time (`run_lock`); a second gets `RunBusyError`.

For tests, `IMGCAT_TEST_KILL_AFTER_STEP=k` (or `k:begin`, `k:done`) SIGKILLs the process at step k.
"""

from imgcat.actions.empty import EmptyResult, Trashed, TrashPlan, empty_trash, plan_trash_empty
from imgcat.actions.execute import (
    FAULT_ENV,
    ActionEvents,
    NoActionEvents,
    PlannedRun,
    RunRefusedError,
    RunResult,
    StepOutcome,
    cancel_run,
    carry_out,
    execute_run,
    interrupted_runs,
    run_command,
    start_run,
    symlinked_files,
    verify,
)
from imgcat.actions.journal import RunBusyError, RunState, UnknownRunError, find_run, list_runs, runs_folder
from imgcat.actions.plan import STEP_KINDS, Kept, Step, StepKind, aside_target, lstat_or_none
from imgcat.actions.roots import RootMissingError
from imgcat.actions.trash import TRASH_NAME, TrashFolders, data_folder
from imgcat.actions.undo import UndoResult, undo_run, undoable_run

__all__ = [
    "FAULT_ENV",
    "STEP_KINDS",
    "TRASH_NAME",
    "ActionEvents",
    "EmptyResult",
    "Kept",
    "NoActionEvents",
    "PlannedRun",
    "RootMissingError",
    "RunBusyError",
    "RunRefusedError",
    "RunResult",
    "RunState",
    "Step",
    "StepKind",
    "StepOutcome",
    "TrashFolders",
    "TrashPlan",
    "Trashed",
    "UndoResult",
    "UnknownRunError",
    "aside_target",
    "cancel_run",
    "carry_out",
    "data_folder",
    "empty_trash",
    "execute_run",
    "find_run",
    "interrupted_runs",
    "list_runs",
    "lstat_or_none",
    "plan_trash_empty",
    "run_command",
    "runs_folder",
    "start_run",
    "symlinked_files",
    "undo_run",
    "undoable_run",
    "verify",
]
