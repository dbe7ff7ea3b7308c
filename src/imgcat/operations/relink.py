"""Companions follow the disk: link a folder's cataloged files again, reading no file."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from imgcat.catalog.base import Catalog
from imgcat.scan.companions import relink_companions


def relink_folder(
    catalog: Catalog, device: str, folder: str, sidecars: Sequence[str], *, skip: Collection[str] = ()
) -> None:
    """Link the entries of `folder` with each other and with `sidecars` (the folder's on disk) and
    write those whose companions changed, except the paths in `skip` (about to be read again)."""
    records = list(catalog.iter_under(device, folder, recursive=False))
    changed = [
        record
        for record, before in zip(relink_companions(records, sidecars), records, strict=True)
        if record != before and record.path not in skip
    ]
    catalog.upsert_many(changed)
