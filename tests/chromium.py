"""Open a report page in a real headless Chromium (Debian's chromium and chromium-driver) and read
what a person would see: the groups, whether every picture loaded, the console's errors."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None, reason="chromium and chromium-driver not installed"
)


@dataclass(frozen=True, slots=True)
class OpenedPage:
    """A report as the browser shows it."""

    groups: int  # <body data-groups>
    pictures: int  # <body data-pictures>
    sections: tuple[str, ...]  # each section.group's heading, in order
    figures: tuple[int, ...]  # the figures of each section
    images_loaded: tuple[bool, ...]  # each <img>: complete and decoded
    kept: tuple[int, ...]  # figure.keep per section
    errors: tuple[str, ...]  # the console's SEVERE messages (a blocked request shows here)
    screenshot_width: int


@contextmanager
def _driver(profile: Path) -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1400,1000",
        f"--user-data-dir={profile}",
    ):  # fmt: skip
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def open_page(page: Path, scratch: Path) -> OpenedPage:
    """Load `page` in headless Chromium (its profile and screenshot under `scratch`)."""
    from PIL import Image

    with _driver(scratch / "chromium-profile") as driver:
        driver.get(page.as_uri())
        body = driver.find_element(By.TAG_NAME, "body")
        sections = driver.find_elements(By.CSS_SELECTOR, "section.group")
        loaded = driver.execute_script(
            "return Array.from(document.images).map(i => i.complete && i.naturalWidth > 0);"
        )
        log = driver.get_log("browser")  # type: ignore[no-untyped-call]
        shot = scratch / "report.png"
        assert driver.save_screenshot(str(shot))
        with Image.open(shot) as image:
            width = image.size[0]
        return OpenedPage(
            groups=int(str(body.get_attribute("data-groups"))),
            pictures=int(str(body.get_attribute("data-pictures"))),
            sections=tuple(s.find_element(By.TAG_NAME, "h2").text for s in sections),
            figures=tuple(len(s.find_elements(By.TAG_NAME, "figure")) for s in sections),
            images_loaded=tuple(bool(x) for x in loaded),
            kept=tuple(len(s.find_elements(By.CSS_SELECTOR, "figure.keep")) for s in sections),
            errors=tuple(str(entry["message"]) for entry in log if entry["level"] == "SEVERE"),
            screenshot_width=width,
        )
