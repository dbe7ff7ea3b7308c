"""`imgcat --help` and every `imgcat CMD --help` read as prose: paragraphs flow (never broken where
the source was wrapped), flags show no type, options that take a value name it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from clirun import imgcat
from imgcat.cli.app import loaded_app

TYPE_LABEL = re.compile(r"<(bool|str|int|float|path|file|dir|list\[[^>]*\]|[a-z]+ range)>")
VALUE_NAME = re.compile(r"^([A-Z][A-Z_]*|[a-z-]+(\|[a-z-]+)+)$")  # DIR, SIZE; or the choices: image|video


def _commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, command
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from _commands(sub, (*path, name))


COMMANDS = [path for path, _ in _commands(loaded_app())]


@pytest.mark.parametrize("path", COMMANDS, ids=lambda path: " ".join(("imgcat", *path)))
def test_help_reads_as_prose(
    path: tuple[str, ...], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "1000")  # wide enough that only the source could break a line
    run = imgcat(capsys, *path, "--help")
    assert run.code == 0, run.err
    assert "<bool>" not in run.out
    text = [line.strip() for line in run.out.splitlines() if line.strip()]
    for line in text:
        if line.startswith("│ -"):  # an option's row: its value is named, never typed
            assert not TYPE_LABEL.search(line), line
    description = [line for line in text if not line.startswith(("│", "╭", "╰", "Usage:"))]
    assert description, run.out
    for line in description:  # each paragraph on one line: every line ends a sentence
        assert line.endswith((".", ")", ":")) or line.startswith("Example: "), line
    rows = [line.strip("│ ") for line in text if line.startswith("│")]
    for row in rows:  # an option's or a command's help on one line, but for Typer's [default: …]
        assert not row.startswith("[") or row.startswith(("[default", "[required", "[env")), row
    for row in rows[1:]:
        if not re.match(r"^(-|\*|[A-Z]|[a-z]+\s{2})", row):
            raise AssertionError(f"a help line broken in the middle: {row!r}")


def test_every_value_has_a_name_and_no_flag_a_type() -> None:
    for path, command in _commands(loaded_app()):
        for parameter in command.params:
            where = " ".join(("imgcat", *path, *parameter.opts))
            if getattr(parameter, "is_flag", False):
                assert parameter.metavar == "", where
            else:
                assert VALUE_NAME.match(parameter.metavar or ""), (where, parameter.metavar)
        assert "\n" not in (command.help or "").replace("\n\n", ""), path  # paragraphs flow
