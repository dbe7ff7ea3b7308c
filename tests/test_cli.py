"""The command line's conventions: one-line errors, exit codes, no tracebacks, no secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from clirun import imgcat
from imgcat import __version__
from imgcat.catalog.sqlite import SqliteCatalog


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
    SqliteCatalog(db).close()
    run = imgcat(capsys, "--db", str(db))
    assert run.code == 0
    assert f"catalog: {db}" in run.out
    assert "0 files" in run.out


@pytest.mark.parametrize(
    "command", [[], ["dupes"], ["ls", "--catalog", "."], ["sync"], ["stats"], ["similar"]], ids=str
)
def test_a_named_catalog_that_does_not_exist_is_an_error_not_a_new_empty_one(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    typo = tmp_path / "no-such-folder" / "catolog.sqlite"
    run = imgcat(capsys, *command, "--db", str(typo))
    assert run.code == 1
    assert run.err.strip() == f"error: no catalog at {typo}: `imgcat add DIR --db {typo}` creates one"
    assert not typo.parent.exists()


def test_add_creates_the_catalog_it_is_given(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    db = tmp_path / "new" / "catalog.sqlite"
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "a.png").write_bytes(b"")
    imgcat(capsys, "add", str(tmp_path / "photos"), "--db", str(db))
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
