"""The shared real test media, read-only: where it is, what its manifest says, copies to work on."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

TESTDATA = Path(__file__).resolve().parents[2] / "shared" / "testdata"
MEDIA = TESTDATA / "media"


def manifest() -> list[dict[str, str]]:
    with open(TESTDATA / "MANIFEST.tsv", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def copy_media(target: Path, *relative: str) -> Path:
    """Copy (some of) the shared media into `target`, writable; the originals are never touched."""
    if not MEDIA.is_dir():
        pytest.fail(f"the shared test media is missing: {MEDIA}")
    sources = [MEDIA / r for r in relative] if relative else [MEDIA]
    for source in sources:
        destination = target / source.relative_to(MEDIA) if relative else target
        if source.is_dir():
            shutil.copytree(source, destination, dirs_exist_ok=True)
        else:
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination)
    for path in target.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return target
