"""What every command that changes files shares on the command line: asking first (or --yes),
refusing without a terminal, a progress bar while steps are done, and the run's summary.

Importing this module is cheap (a dry run such as `imgcat dupes` imports it for `--yes`): the
actions layer and Rich's progress bar load in the functions that act, when a command acts."""

from __future__ import annotations

import signal
import sys
from types import TracebackType
from typing import TYPE_CHECKING, Annotated, Final

import typer

from imgcat.cli import render
from imgcat.errors import ImgcatError

if TYPE_CHECKING:
    from imgcat.actions import RunResult, StepOutcome
    from imgcat.catalog.base import Catalog

Yes = Annotated[bool, typer.Option("--yes", "-y", help="Answer yes to the question before acting.")]

VERBS: Final = {
    "trash": "trashed", "delete": "deleted", "move-to": "set aside", "move": "moved", "copy": "copied",
    "hardlink": "replaced by hard links", "symlink": "replaced by symbolic links",
}  # fmt: skip


class NotConfirmedError(ImgcatError):
    """Files would change, but nobody said yes: nothing was changed."""


def refuse_without_terminal(yes: bool, what: str) -> None:
    """Before anything is planned: without --yes a terminal must be there to ask on."""
    if not yes and not sys.stdin.isatty():
        raise NotConfirmedError(f"{what} asks before it changes files: no terminal to ask on, pass --yes; "
                                "nothing changed")  # fmt: skip


def confirmed(question: str, yes: bool) -> bool:
    """--yes, or the user's answer on the terminal (no by default). Ctrl-C at the question stops
    the command as Ctrl-C does anywhere (exit 130: nothing changed); Ctrl-D is a no."""
    if yes:
        return True
    try:
        return typer.confirm(render.safe(question), default=False, err=True)
    except typer.Abort as abort:  # Click turns both Ctrl-C and Ctrl-D at a prompt into Abort
        if isinstance(abort.__context__, KeyboardInterrupt):
            # the terminal shows "[y/N]: ^C" with no line end: end it, and say what came of it
            sys.stderr.write("\n")
            render.note("interrupted: nothing changed")
            raise abort.__context__ from None
        raise


class StepProgress:
    """Implements ActionEvents: a bar on a terminal (stderr), nothing elsewhere. The bar is drawn
    from the first step on, not before: a question asked before acting stays readable."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        console = Console(stderr=True, highlight=False)
        self._progress = Progress(
            TextColumn("acting"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
            console=console, transient=True, disable=not (console.is_terminal and sys.stderr.isatty()),
        )  # fmt: skip
        self._task = self._progress.add_task("steps", total=None)

    def __enter__(self) -> StepProgress:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._progress.stop()

    def started(self, steps: int) -> None:
        self._progress.update(self._task, total=steps)
        self._progress.start()

    def finished(self, outcome: StepOutcome) -> None:
        self._progress.advance(self._task)


def report(result: RunResult, kind: str) -> None:
    """What a run did, on standard output; each file left alone as a warning; how to undo."""
    verb = VERBS.get(kind, "done")
    done = render.count(result.files, "file")
    folders = f"; {render.count(result.folders, 'emptied folder')} removed" if result.folders else ""
    render.line(f"run {result.run_id}: {done} {verb}, {render.human_bytes(result.bytes)}{folders}")
    for outcome in (*result.skipped, *result.failed):
        render.warning(outcome.step.source, outcome.reason)
    if result.skipped or result.failed:
        render.line(f"{render.count(len(result.skipped) + len(result.failed), 'file')} left alone")
    if result.stopped:
        render.line(f"{result.stopped}: 'imgcat runs {result.run_id} --resume' completes it")
    if result.done and kind != "delete":
        render.line(f"undo: imgcat undo {result.run_id}")


def stop_as_signalled(number: int | None) -> None:
    """A signal held while a step finished now stops the command as it would have."""
    if number is not None:
        signal.raise_signal(number)


def name_other_runs(catalog: Catalog, command: str) -> None:
    """The interrupted runs of other commands are named, and left as they are: this command does
    not carry out what another one planned (the user may have stopped it on purpose)."""
    from imgcat.actions import interrupted_runs, run_command

    for state in interrupted_runs(catalog=catalog):
        if run_command(state) != command:
            render.note(
                f"run {state.run_id} ({state.command}) was interrupted and is left as it is: "
                f"'imgcat runs {state.run_id} --resume' completes it, 'imgcat undo {state.run_id}' reverts it"
            )


def complete_own_runs(catalog: Catalog, command: str, *, quiet: bool = False) -> None:
    """Before a new plan, this command's interrupted runs on this catalog are completed, said on
    standard output first (each step checked again against the disk and the catalog); the other
    commands' are named (`name_other_runs`)."""
    from imgcat.actions import RootMissingError, execute_run, interrupted_runs

    name_other_runs(catalog, command)
    for state in interrupted_runs(catalog=catalog, command=command):
        if not quiet:
            render.line(f"completing the interrupted run {state.run_id} ({state.command}) first")
        try:
            result = execute_run(state.run_id, catalog)
        except RootMissingError as missing:  # its files are not here: the new plan cannot meet them
            render.note(f"left as it is: {missing}")
            continue
        if not quiet:
            report(result, next(iter(state.kinds.values()), "trash"))
        stop_as_signalled(result.signal)
