"""The `imgcat` command: one root app, one module per command, errors mapped in one place.

A command's module is imported when that command runs (or its help is shown), never for another
command: `imgcat --version`, a usage error or `imgcat stats` do not pay for loading `dupes`. The
root `--help` lists the commands by the first paragraph of their docstrings, read from the source
files (`ast`), so it loads none of them either.

Help is plain text (Typer's `rich_markup_mode=None`): drawing it with rich's panels meant importing
Typer's rich_utils, which loads rich's Markdown, Syntax and Traceback (pygments, markdown-it) —
0.25 s of a 0.38 s `--help`. Options keep their groups (`rich_help_panel`: "Catalog store", …),
each under its own heading, and the lines use the terminal's width.
"""

from __future__ import annotations

import contextlib
import errno
import importlib
import inspect
import os
import re
import signal
import sys
import traceback
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

import typer
import typer.core
import typer.main
from typer import _click as click  # typer 0.28 carries its own Click

from imgcat import __version__, settings
from imgcat.cli import options, render, signals
from imgcat.errors import ImgcatError, UsageError

# name → (module in imgcat.cli, its function or sub-app), in the order --help lists them
COMMANDS: Final[dict[str, tuple[str, str]]] = {
    "add": ("add", "add"),
    "dupes": ("dupes", "dupes"),
    "junk": ("junk", "junk"),
    "ls": ("listing", "ls"),
    "types": ("listing", "types"),
    "reorganize": ("reorganize", "reorganize"),
    "runs": ("runs", "runs"),
    "undo": ("runs", "undo"),
    "stats": ("stats", "stats"),
    "sync": ("sync", "sync"),
    "similar": ("similar", "similar"),
    "trash": ("runs", "trash"),  # a group of commands: its help is its callback's
}
_MARKUP: Final = None  # plain help: no rich (see the module's docstring)


def load_command(name: str) -> click.Command:
    """The Click command `name`, its module imported now."""
    module, attribute = COMMANDS[name]
    target = getattr(importlib.import_module(f"imgcat.cli.{module}"), attribute)
    if isinstance(target, typer.Typer):
        command: click.Command = for_people(typer.main.get_group(target))
        return command
    single = typer.Typer(pretty_exceptions_enable=False, rich_markup_mode=_MARKUP, add_completion=False)
    single.command(name=name, cls=_Command)(target)
    command = for_people(typer.main.get_command(single))
    return command


def loaded_app() -> Any:
    """The root command with every command loaded, as people see them (tests, documentation)."""
    root = for_people(typer.main.get_command(app))
    for name in COMMANDS:
        root.add_command(load_command(name), name)
    return root


def _naming_itself(parse: Callable[[Any, click.Context, list[str]], list[str]]) -> Any:
    """`parse_args` whose usage errors name this command: Click's parser leaves the context out of
    "option needs a value", so the hint said `see 'imgcat --help'` for `imgcat dupes --keep-copies`."""

    def parse_args(self: Any, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return parse(self, ctx, args)
        except click.exceptions.UsageError as failure:
            if failure.ctx is None:
                failure.ctx = ctx
            raise

    return parse_args


class _Command(typer.core.TyperCommand):
    """A command whose help is plain text with its options grouped under their headings."""

    parse_args = _naming_itself(typer.core.TyperCommand.parse_args)

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        _format_parameters(self, ctx, formatter)


class _Group(typer.core.TyperGroup):
    """A group whose help is plain text: its options grouped, then its commands, each with the
    whole first paragraph of its help (Click would cut it to fit one line)."""

    parse_args = _naming_itself(typer.core.TyperGroup.parse_args)

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        _format_parameters(self, ctx, formatter)
        self.format_commands(ctx, formatter)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, (command.short_help or command.help or "").split("\n\n")[0]))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _format_parameters(command: click.Command, ctx: click.Context, formatter: click.HelpFormatter) -> None:
    """Arguments, then options, then each group of options (`rich_help_panel`) under its heading."""
    sections: dict[str, list[tuple[str, str]]] = {"Arguments": [], "Options": []}
    for parameter in command.get_params(ctx):
        row = parameter.get_help_record(ctx)
        if row is not None:
            heading = "Arguments" if parameter.param_type_name == "argument" else "Options"
            sections.setdefault(getattr(parameter, "rich_help_panel", None) or heading, []).append(row)
    for heading, rows in sections.items():
        if rows:
            with formatter.section(heading):
                formatter.write_dl(rows)


_PLAIN: Final[dict[type, type]] = {typer.core.TyperCommand: _Command, typer.core.TyperGroup: _Group}
# Help as wide as the terminal (Click's own limit is 80 columns)
_WIDE: Final = 10_000


class _Summary(_Command):
    """A command as the root --help lists it: its name and the first paragraph of its docstring."""


def _summary(name: str) -> click.Command:
    """The command's function (or its group's callback) as far as --help lists it, from the source."""
    import ast

    module, attribute = COMMANDS[name]
    tree = ast.parse((Path(__file__).parent / f"{module}.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and (node.name == attribute or _is_callback_of(node, attribute)):
            return _Summary(name, help=prose(ast.get_docstring(node) or ""))
    raise LookupError(f"imgcat.cli.{module} has no command {attribute}")


def _is_callback_of(function: Any, group: str) -> bool:
    """Whether the function is decorated `@group.callback(...)`."""
    import ast

    for decorator in function.decorator_list:
        call = decorator.func if isinstance(decorator, ast.Call) else decorator
        if isinstance(call, ast.Attribute) and call.attr == "callback" and isinstance(call.value, ast.Name):
            return call.value.id == group
    return False


class _LazyGroup(_Group):
    """The root group: commands loaded on first use."""

    listing = False  # True while the root --help lists the commands: summaries, nothing imported

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        if self.listing and cmd_name not in self.commands:
            return _summary(cmd_name)
        if cmd_name not in self.commands:
            self.add_command(load_command(cmd_name), cmd_name)
        return self.commands[cmd_name]

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self.listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self.listing = False


app = typer.Typer(
    name="imgcat",
    help="Catalog every photo and video you have, on every disk, then clean up safely.",
    epilog="Example: imgcat add -r ~/Pictures",
    pretty_exceptions_enable=False,
    rich_markup_mode=_MARKUP,
    add_completion=False,
    cls=_LazyGroup,
)


def _version(show: bool) -> None:
    if show:
        print(f"imgcat {__version__}")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def root(
    ctx: typer.Context,
    es: options.Es = None,
    host: options.Host = None,
    port: options.Port = None,
    index: options.Index = None,
    es_ca_certs: options.CaCerts = None,
    db: options.Db = None,
    debug: options.Debug = False,
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version."
    ),
) -> None:
    """Catalog every photo and video you have, on every disk, then clean up safely.

    Without a command, shows where the catalog is and what it holds.
    """
    store = options.StoreOptions(es, host, port, index, es_ca_certs, db)
    ctx.obj = store
    if ctx.invoked_subcommand is None:
        from imgcat.cli import status

        status.show(store)


def main(argv: list[str] | None = None) -> int:
    """Run imgcat and return its exit status. Every error is one `error: ...` line on stderr (a usage
    error adds one line of hint); a closed pipe or Ctrl-C ends quietly."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args or os.environ.get(settings.DEBUG.env) == "1"
    try:
        with signals.as_interrupts(), journal_warnings():
            status = _run(args)
        sys.stdout.flush()  # a reader that went away is seen here, not at exit
        return status
    except BrokenPipeError:
        _discard_output()
        return EXIT_PIPE
    except KeyboardInterrupt:
        return signals.interrupted_exit_code()
    except OSError as error:  # the output cannot be written: a full disk, a quota, a dead device
        if error.filename is not None or error.errno not in OUTPUT_FAILURES:
            raise
        _discard_output()
        render.error(f"cannot write the output: {error.strerror}")
        return 1
    except ImgcatError as error:
        if debug:
            traceback.print_exc()
        render.error(str(error))
        return error.exit_code


EXIT_PIPE: Final = 128 + signal.SIGPIPE
OUTPUT_FAILURES: Final = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO})


@contextlib.contextmanager
def journal_warnings() -> Iterator[None]:
    """A damaged journal line, however often it is read in one command, is one `warning:` line.
    (The journal's module is imported only when a warning comes: `--version` does not load it.)"""
    shown: set[object] = set()
    with warnings.catch_warnings():
        warnings.simplefilter("always", UserWarning)  # JournalDamaged's kind; each shown once below
        before = warnings.showwarning

        def show(message: Warning | str, category: type[Warning], *args: Any, **kwargs: Any) -> None:
            from imgcat.actions.journal import JournalDamaged

            if not isinstance(message, JournalDamaged):
                key = (str(message), category, *args[:2])  # once per text and place, as by default
                if key not in shown:
                    shown.add(key)
                    before(message, category, *args, **kwargs)
            elif str(message) not in shown:
                shown.add(str(message))
                render.warning(str(message.path), message.reason)

        warnings.showwarning = show
        yield


def _run(args: list[str]) -> int:
    """Parse and run one command (Click's loop, without its own printing of errors and pipes)."""
    command = for_people(typer.main.get_command(app))
    try:
        with command.make_context("imgcat", list(args)) as context:
            command.invoke(context)
    except typer.Exit as done:
        return done.exit_code
    except typer.Abort:  # a question on the terminal was answered with Ctrl-D
        sys.stderr.write("\n")
        return 1
    except click.exceptions.NoArgsIsHelpError as failure:  # `imgcat trash` alone: its help is the answer
        sys.stdout.write(failure.format_message() + "\n")
        return failure.exit_code
    except typer.TyperException as failure:  # Click's usage errors and bad parameters
        code = int(getattr(failure, "exit_code", 1))
        if code == 2:
            render.error(*usage_error(failure))
        else:
            render.error(failure.format_message())
        return code
    return 0


def for_people(command: Any) -> Any:
    """`command` (Click's, built by Typer) with help that reads as prose, on any Typer version:
    each paragraph of a docstring flows as one (sources are hard-wrapped, and Typer keeps their line
    ends), brackets are shown as written (`[junk.strict]` is not markup), and a flag has no type
    (Typer 0.29 prints `<bool>`); options that take a value name it (`--min-size SIZE`). The root's
    commands get theirs as they load (`load_command`).

    And no option or argument takes an empty value: `imgcat add ''`, `reorganize ''` or
    `dupes --keep-in ''` would otherwise mean the current folder (Typer makes `Path('')` of it).

    Its help is plain text, options under their groups' headings (`_Command`, `_Group`), as wide as
    the terminal."""
    if type(command) in _PLAIN:  # made by Typer (a group's commands, a sub-app): plain help too
        command.__class__ = _PLAIN[type(command)]
    command.context_settings.setdefault("max_content_width", _WIDE)
    command.rich_markup_mode = None
    if command.help:
        command.help = prose(command.help)
    for parameter in command.params:
        if getattr(parameter, "help", None):
            parameter.help = prose(parameter.help)
        if getattr(parameter, "is_flag", False):
            parameter.metavar = ""
        else:
            parameter.process_value = _refusing_empty(parameter)
    help_option = command.get_help_option(command.context_class(command))
    if help_option is not None:  # made apart from the other options, kept by Typer 0.29
        help_option.metavar = ""
    for sub in getattr(command, "commands", {}).values():
        for_people(sub)
    return command


def _refusing_empty(parameter: Any) -> Callable[[Any, Any], Any]:
    """`parameter.process_value`, raising a usage error first when the value given is empty."""
    process = parameter.process_value
    if parameter.param_type_name == "option":
        message = f"{parameter.opts[0]} needs a value, not an empty one"
    elif parameter.metavar in ("DIR", "SRC", "PATH", "TARGET"):
        message = "the folder name is empty"
    else:
        message = "the run id is empty" if parameter.metavar == "RUN" else f"{parameter.metavar} is empty"

    def checked(context: Any, value: Any) -> Any:
        if value == "" or (isinstance(value, tuple | list) and "" in value):
            raise UsageError(message)
        return process(context, value)

    return checked


def prose(text: str) -> str:
    """Each paragraph of `text` (blank-line separated) on one line."""
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(" ".join(paragraph.split()) for paragraph in paragraphs)


def usage_error(failure: typer.TyperException) -> tuple[str, str]:
    """A usage error in two lines: what is wrong, and where to look (a near option's name, if any).
    Click's own suggestion is left out: it offers options that merely share a few letters."""
    import difflib

    context = getattr(failure, "ctx", None)
    path = context.command_path if context is not None else "imgcat"
    hint = f"see '{path} --help'"
    option = getattr(failure, "option_name", None)
    if isinstance(failure, click.exceptions.BadOptionUsage):  # a known option used wrongly
        takes_none = "does not take a value" in failure.format_message()
        message = f"{failure.option_name} {'takes no value' if takes_none else 'needs a value'}"
    elif isinstance(option, str):  # NoSuchOption
        known = [name for p in context.command.params for name in p.opts] if context is not None else []
        near = difflib.get_close_matches(option, known, n=1, cutoff=NEAR_OPTION)
        message = f"no such option {option}"
        if near:
            hint = f"did you mean {near[0]}? ({hint})"
    else:
        message = " ".join(failure.format_message().split())
        message = message[:1].lower() + message[1:].removesuffix(".")
        extra = re.fullmatch(r"got unexpected extra arguments?(?:\(s\))? \((.*)\)", message)
        if extra is not None:  # Click's "argument(s)": in words, as every count is
            many = len(extra.group(1).split()) > 1
            message = f"unexpected {'arguments' if many else 'argument'}: {extra.group(1)}"
    return message, hint


NEAR_OPTION: Final = 0.75  # --recursiv is near --recursive; --bogus is not near --host


def _discard_output() -> None:
    """The reader of our output went away: drop what is still buffered, quietly."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
