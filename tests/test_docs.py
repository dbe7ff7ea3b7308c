"""Every command and every setting is documented, in --help (with an example) and in the README."""

from __future__ import annotations

from pathlib import Path

import pytest

from clirun import imgcat
from imgcat.cli import app
from imgcat.settings import SETTINGS

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
COMMANDS = sorted(app.COMMANDS)


def test_there_are_commands() -> None:
    assert "stats" in COMMANDS


@pytest.mark.parametrize("command", COMMANDS)
def test_the_root_help_lists_each_command_as_the_command_itself_says(command: str) -> None:
    """The root --help reads the summaries from the source (no command module is imported for it):
    they are what the loaded command says of itself."""
    loaded = app.load_command(command)
    listed = app._summary(command)
    assert listed.help == loaded.help and listed.get_short_help_str() == loaded.get_short_help_str()


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_is_in_the_readme(command: str) -> None:
    assert f"`imgcat {command}" in README


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_help_has_an_example(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    run = imgcat(capsys, command, "--help")
    assert run.code == 0
    assert f"imgcat {command}" in run.out.split("Example:", 1)[1]


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.env)
def test_every_setting_is_in_the_readme(setting: object) -> None:
    assert f"`{setting.env}`" in README  # type: ignore[attr-defined]
