"""The `similar --html` report: one self-contained page, opened in a real headless Chromium."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from PIL import Image

from chromium import needs_chromium, open_page
from clirun import imgcat
from media import copy_media


def _tree(tmp_path: Path) -> Path:
    """Two groups: a photo with a half-size copy and an exact copy; a burst of two shots."""
    tree = copy_media(
        tmp_path / "tree",
        "nikon_coolpix_p6000/DSCN0010.jpg",
        "nikon_d70s/Issue 247-2.nef",
        "nikon_d70s/Issue 247-3.nef",
        "iphone_5/Apple iPhone 5.jpg",
    )
    original = tree / "nikon_coolpix_p6000" / "DSCN0010.jpg"
    with Image.open(original) as image:
        image.resize((image.width // 2, image.height // 2)).save(tree / "DSCN0010 small.jpg")
    shutil.copyfile(original, tree / "DSCN0010 copy.jpg")
    return tree


def test_the_report_holds_every_group_with_inline_thumbnails_and_no_requests(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree = _tree(tmp_path)
    db, page = tmp_path / "catalog.sqlite", tmp_path / "report.html"
    assert imgcat(capsys, "add", "-r", str(tree), "--db", str(db)).code == 0
    run = imgcat(capsys, "similar", "--db", str(db), "--level", "similar", "--html", str(page))
    assert run.code == 0, run.err
    text = page.read_text()
    assert 'data-groups="2" data-pictures="4"' in text
    assert text.count('src="data:image/jpeg;base64,') == 4
    assert not re.search(r"(src|href)=\"(?!data:)", text)  # nothing loaded from anywhere
    assert "Content-Security-Policy" in text and "DSCN0010 small.jpg" in text and "keep" in text


@needs_chromium
def test_the_report_opens_in_headless_chromium_with_every_group_and_thumbnail_loaded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree = _tree(tmp_path)
    db, page = tmp_path / "catalog.sqlite", tmp_path / "report.html"
    assert imgcat(capsys, "add", "-r", str(tree), "--db", str(db)).code == 0
    assert imgcat(capsys, "similar", "--db", str(db), "--level", "similar", "--html", str(page)).code == 0

    opened = open_page(page, tmp_path)
    assert len(opened.sections) == opened.groups == 2
    assert list(opened.images_loaded) == [True] * opened.pictures == [True] * 4
    assert list(opened.kept) == [1, 1]  # one best picture marked per group
    assert list(opened.errors) == []
    assert opened.screenshot_width >= 1000
