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
    duplicates = catalog.duplicate_summary()
    return CatalogStats(catalog.summary(), duplicates.groups, duplicates.files, duplicates.bytes)
