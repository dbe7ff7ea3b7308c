"""Catalog stores: SQLite (default, embedded) and Elasticsearch (shared), one interface."""

from imgcat.catalog.base import Catalog, CatalogSummary, ChecksumGroup, FileState
from imgcat.catalog.open import ElasticTarget, SqliteTarget, StoreTarget, open_catalog, store_target

__all__ = [
    "Catalog",
    "CatalogSummary",
    "ChecksumGroup",
    "ElasticTarget",
    "FileState",
    "SqliteTarget",
    "StoreTarget",
    "open_catalog",
    "store_target",
]
