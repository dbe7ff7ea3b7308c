"""Run the real `imgcat` entry point in-process and capture what a user would see."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from imgcat.cli.app import main


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str


def imgcat(capsys: pytest.CaptureFixture[str], *args: str) -> Run:
    capsys.readouterr()
    code = main(list(args))
    captured = capsys.readouterr()
    return Run(code, captured.out, captured.err)
