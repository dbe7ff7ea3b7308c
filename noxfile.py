"""Test, lint and type-check imgcat: `nox` runs all three; `nox -s tests` only the tests."""

import nox

nox.options.default_venv_backend = "uv|venv"
nox.options.sessions = ["lint", "types", "tests"]
nox.options.reuse_existing_virtualenvs = True


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite. With IMGCAT_TEST_ES_URL set, the store contract runs on that cluster too."""
    session.install("-e", ".[test]")
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def types(session: nox.Session) -> None:
    session.install("-e", ".[types]")
    session.run("mypy")
