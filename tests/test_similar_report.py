"""The `similar --html` report: one self-contained page, opened in a real headless Chromium."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from PIL import Image
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from clirun import imgcat
from media import copy_media

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")


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


@pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None, reason="chromium and chromium-driver not installed"
)
def test_the_report_opens_in_headless_chromium_with_every_group_and_thumbnail_loaded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree = _tree(tmp_path)
    db, page = tmp_path / "catalog.sqlite", tmp_path / "report.html"
    assert imgcat(capsys, "add", "-r", str(tree), "--db", str(db)).code == 0
    assert imgcat(capsys, "similar", "--db", str(db), "--level", "similar", "--html", str(page)).code == 0

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1400,1000",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):  # fmt: skip
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        driver.get(page.as_uri())
        body = driver.find_element(By.TAG_NAME, "body")
        groups = driver.find_elements(By.CSS_SELECTOR, "section.group")
        assert len(groups) == int(str(body.get_attribute("data-groups"))) == 2
        loaded = driver.execute_script(
            "return Array.from(document.images).map(i => i.complete && i.naturalWidth > 0);"
        )
        assert loaded == [True] * int(str(body.get_attribute("data-pictures"))) == [True] * 4
        kept = [g.find_elements(By.CSS_SELECTOR, "figure.keep") for g in groups]
        assert [len(k) for k in kept] == [1, 1]  # one best picture marked per group
        log = driver.get_log("browser")  # type: ignore[no-untyped-call]
        errors = [entry for entry in log if entry["level"] == "SEVERE"]
        assert errors == []
        shot = tmp_path / "similar-report.png"
        assert driver.save_screenshot(str(shot))
        with Image.open(shot) as image:
            assert image.size[0] >= 1000
    finally:
        driver.quit()
