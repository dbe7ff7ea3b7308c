"""Folders and the library's roots: where `dupes --action move-to` may set copies aside."""

from __future__ import annotations

from pathlib import Path

import pytest

from clirun import imgcat
from imgcat.actions import list_runs
from test_dupes_apply import library, snapshot


def test_move_to_inside_an_added_folder_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Copies set aside inside the library would be cataloged again as duplicates (and set aside
    within themselves): refused before anything is planned or moved; outside, they go."""
    root = library(tmp_path / "lib")
    db = ["--db", str(tmp_path / "c.sqlite"), "--device", "d"]
    assert imgcat(capsys, "add", "-r", str(root), "-q", *db).code == 0
    before = snapshot(root)
    inside = root / "aside"
    for how in (["--apply", "--yes"], ["--script", str(tmp_path / "plan.sh")]):
        run = imgcat(capsys, "dupes", *how, "--action", "move-to", "--to", str(inside), *db)
        assert (run.code, run.out) == (2, "")
        assert run.err == (
            f"error: --to {inside} lies inside {root}, a folder added on device d: the copies set aside "
            "there would be cataloged again as duplicates; choose a folder outside it\n"
        )
    assert snapshot(root) == before and not inside.exists() and list_runs() == []
    assert not (tmp_path / "plan.sh").exists()
    outside = imgcat(
        capsys, "dupes", "--apply", "--yes", "--action", "move-to", "--to", str(tmp_path / "aside"), *db
    )
    assert outside.code == 0, outside.err
    assert (tmp_path / "aside").is_dir()
