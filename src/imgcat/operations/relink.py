"""Companions follow the disk: link a folder's cataloged files again, reading no media file."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from imgcat.catalog.base import Catalog
from imgcat.scan.companions import link_companions, read_sidecar_time


def relink_folder(
    catalog: Catalog, device: str, folder: str, sidecars: Sequence[str], *, skip: Collection[str] = ()
) -> None:
    """Link the entries of `folder` with each other and with `sidecars` (the folder's on disk) and
    write those whose companions changed, except the paths in `skip` (about to be read again).
    A sidecar newly linked to a photo without a capture time of its own is read for one."""
    records = list(catalog.iter_under(device, folder, recursive=False))
    linked = link_companions(records, sidecars, sidecar_time=read_sidecar_time)
    changed = [record for record, before in zip(linked, records, strict=True) if record != before]
    changed = [record for record in changed if record.path not in skip]
    catalog.upsert_many(changed)
