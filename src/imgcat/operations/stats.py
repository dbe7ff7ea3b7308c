"""`stats`: what the catalog holds, and how much space exact duplicates take."""

from __future__ import annotations

from dataclasses import dataclass

from imgcat.catalog.base import Catalog, CatalogSummary


@dataclass(frozen=True, slots=True)
class CatalogStats:
    summary: CatalogSummary
    duplicate_groups: int
    duplicate_files: int
    duplicate_bytes: int


def catalog_stats(catalog: Catalog) -> CatalogStats:
    """Sum up the catalog; the duplicate figures count every copy beyond the first of each content."""
    groups = files = wasted = 0
    for group in catalog.checksum_groups():
        groups += 1
        files += len(group.records) - 1
        wasted += group.records[0].size * (len(group.records) - 1)
    return CatalogStats(catalog.summary(), groups, files, wasted)
