"""Store calls come in batches: `add` and `sync` of hundreds of files ask the store a bounded
number of times per window of files, never once per file. Counted through a wrapper of the real
store (each call of a store method is one or a few round trips on Elasticsearch)."""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import cast

from PIL import Image

from imgcat.catalog.base import Catalog
from imgcat.catalog.sqlite import SqliteCatalog
from imgcat.operations.add import WINDOW_FILES, add_folder
from imgcat.operations.sync import apply_sync, plan_sync

FILES = 500


class CountingCatalog:
    """The real store, with every method call counted by name."""

    def __init__(self, inner: Catalog) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> object:
        attribute = getattr(self.inner, name)
        if not callable(attribute):
            return attribute
        method = cast(Callable[..., object], attribute)

        def counted(*args: object, **kwargs: object) -> object:
            self.calls[name] += 1
            return method(*args, **kwargs)

        return counted


def _photos(folder: Path) -> list[Path]:
    """FILES small JPEGs, each with a PNG of the same stem beside it (a neighbour to link)."""
    folder.mkdir()
    made = []
    for i in range(FILES):
        colour = (i % 256, i // 256, 7)
        Image.new("RGB", (8, 8), colour).save(folder / f"IMG_{i:04d}.JPG", quality=95)
        Image.new("RGB", (8, 8), colour).save(folder / f"IMG_{i:04d}.PNG")
        made.append(folder / f"IMG_{i:04d}.JPG")
    return made


def test_add_of_500_changed_files_asks_the_store_per_window_not_per_file(tmp_path: Path) -> None:
    jpegs = _photos(tmp_path / "photos")
    store = SqliteCatalog(tmp_path / "catalog.sqlite")
    add_folder(store, str(tmp_path / "photos"), device="d", recursive=False, workers=0)
    for path in jpegs:
        os.utime(path, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    counting = CountingCatalog(store)
    report = add_folder(
        cast(Catalog, counting), str(tmp_path / "photos"), device="d", recursive=False, workers=0
    )
    assert report.updated == FILES and report.unchanged == FILES
    windows = math.ceil(FILES / WINDOW_FILES)
    assert counting.calls["get"] == 0
    assert sum(counting.calls.values()) <= 6 * windows + 4, counting.calls
    store.close()


def test_sync_of_500_moved_files_asks_the_store_per_batch_not_per_file(tmp_path: Path) -> None:
    _photos(tmp_path / "photos")
    store = SqliteCatalog(tmp_path / "catalog.sqlite")
    add_folder(store, str(tmp_path), device="d", recursive=True, workers=0)
    (tmp_path / "photos").rename(tmp_path / "moved")
    counting = CountingCatalog(store)
    plan = plan_sync(cast(Catalog, counting), str(tmp_path), device="d", workers=0)
    apply_sync(cast(Catalog, counting), plan)
    assert len(plan.moves) == 2 * FILES
    assert store.count("d", str(tmp_path / "moved")) == 2 * FILES
    assert counting.calls["get"] == 0
    # sync reads the catalog folder by folder (3 folders here, one gone) and asks once for the
    # folders the walk did not see: a few calls per folder, never one per file
    assert sum(counting.calls.values()) <= 14, counting.calls
    store.close()
