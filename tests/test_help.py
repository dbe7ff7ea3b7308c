"""`imgcat --help` and every `imgcat CMD --help` read as prose: paragraphs flow (never broken where
the source was wrapped), flags show no type, options that take a value name it, and options are
shown in their groups (plain text: drawing rich panels cost a quarter of a second)."""

from __future__ import annotations

import itertools
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


HEADING = re.compile(r"^[A-Z][A-Za-z ]*:$")  # Options:, Catalog store:, Commands:


@pytest.mark.parametrize("path", COMMANDS, ids=lambda path: " ".join(("imgcat", *path)))
def test_help_reads_as_prose(
    path: tuple[str, ...], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "1000")  # wide enough that only the source could break a line
    run = imgcat(capsys, *path, "--help")
    assert run.code == 0, run.err
    assert "<bool>" not in run.out
    lines = [line for line in run.out.splitlines() if line.strip()]
    assert lines[0].startswith(f"Usage: {' '.join(('imgcat', *path))} "), lines[0]
    description: list[str] = []
    sections: dict[str, list[str]] = {}
    for line in lines[1:]:
        if HEADING.match(line):
            sections[line[:-1]] = []
        elif not sections or line.strip().startswith("Example: "):  # the root's example ends its help
            description.append(line.strip())
        else:
            sections[list(sections)[-1]].append(line)
    assert description, run.out
    for line in description:  # each paragraph on one line: every line ends a sentence
        assert line.endswith((".", ")", ":")) or line.startswith("Example: "), line
    assert "Options" in sections and "Catalog store" in sections, run.out
    for heading, rows in sections.items():
        assert rows, heading
        for row in rows:
            if row.lstrip().startswith("-"):  # an option's row: its value is named, never typed
                assert not TYPE_LABEL.search(row), row
        assert rows[0].startswith("  ") and not rows[0].startswith("   "), rows[0]
        for above, row in itertools.pairwise(rows):
            # a help on one line, which starts a line of its own only under a name too long to share it
            if row.startswith("   "):
                assert "  " not in above.strip() and not above.startswith("   "), (above, row)


def test_options_are_shown_in_their_groups(capsys: pytest.CaptureFixture[str]) -> None:
    run = imgcat(capsys, "dupes", "--help")
    headings = [line[:-1] for line in run.out.splitlines() if HEADING.match(line)]
    assert headings == ["Options", "Finding", "Rules", "Acting", "Catalog store"]
    rules = run.out.split("\nRules:\n", 1)[1].split("\n\n", 1)[0]
    assert "--keep-copies N " in rules and "--under PATH" not in rules


def test_every_value_has_a_name_and_no_flag_a_type() -> None:
    for path, command in _commands(loaded_app()):
        for parameter in command.params:
            where = " ".join(("imgcat", *path, *parameter.opts))
            if getattr(parameter, "is_flag", False):
                assert parameter.metavar == "", where
            else:
                assert VALUE_NAME.match(parameter.metavar or ""), (where, parameter.metavar)
        assert "\n" not in (command.help or "").replace("\n\n", ""), path  # paragraphs flow
