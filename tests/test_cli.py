"""The command line's conventions: one-line errors, exit codes, no tracebacks, no secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from clirun import imgcat
from imgcat import __version__


def test_unreachable_elasticsearch_is_one_line_naming_the_url(capsys: pytest.CaptureFixture[str]) -> None:
    run = imgcat(capsys, "--es", "http://127.0.0.1:1")
    assert run.code == 1
    assert run.err.startswith("error: cannot reach Elasticsearch at http://127.0.0.1:1")
    assert run.err.count("\n") == 1
    assert "Traceback" not in run.err


def test_unreachable_elasticsearch_after_the_command_name_too(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run = imgcat(capsys, "stats", "--host", "127.0.0.1", "--port", "1", "--index", "fotos")
    assert run.code == 1
    assert run.err.startswith("error: cannot reach Elasticsearch at http://127.0.0.1:1")


def test_a_password_in_the_url_is_never_printed(capsys: pytest.CaptureFixture[str]) -> None:
    run = imgcat(capsys, "--es", "http://elastic:hunter2@127.0.0.1:1")
    assert run.code == 1
    assert "hunter2" not in run.err + run.out
    assert "http://127.0.0.1:1" in run.err


def test_debug_shows_the_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    run = imgcat(capsys, "--debug", "--es", "http://127.0.0.1:1")
    assert run.code == 1
    assert "Traceback" in run.err
    assert run.err.rstrip().splitlines()[-1].startswith("error: cannot reach Elasticsearch")


def test_without_a_command_it_says_where_the_catalog_is(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    db = tmp_path / "mine.sqlite"
    run = imgcat(capsys, "--db", str(db))
    assert run.code == 0
    assert f"catalog: {db}" in run.out
    assert "0 files" in run.out
    assert db.exists()


def test_default_catalog_lives_in_the_user_data_folder(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run = imgcat(capsys)
    assert run.code == 0
    assert f"catalog: {tmp_path / 'xdg-data' / 'imgcat' / 'catalog.sqlite'}" in run.out


def test_unknown_option_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    run = imgcat(capsys, "--no-such-option")
    assert run.code == 2
    assert run.err == "error: no such option --no-such-option\nsee 'imgcat --help'\n"


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    run = imgcat(capsys, "--version")
    assert (run.code, run.out) == (0, f"imgcat {__version__}\n")
