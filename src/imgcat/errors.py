"""The errors imgcat reports to its user: one root, one line each, with an exit code."""

from typing import ClassVar


class ImgcatError(Exception):
    """Something went wrong that the user must hear about in one line."""

    exit_code: ClassVar[int] = 1


class UsageError(ImgcatError):
    """The command line asks for something that cannot be done."""

    exit_code: ClassVar[int] = 2


class StoreUnavailableError(ImgcatError):
    """The catalog store cannot be reached or opened."""


class CatalogMissingError(StoreUnavailableError):
    """The catalog file the user named does not exist (and the command does not create one)."""


class IncompatibleIndexError(ImgcatError):
    """An Elasticsearch index exists with a mapping that imgcat cannot use."""


class SchemaTooNewError(ImgcatError):
    """The SQLite catalog was written by a newer imgcat."""


class StoreWriteError(ImgcatError):
    """The catalog store refused some writes."""


class CatalogReadOnlyError(StoreWriteError):
    """The catalog can be read but not written (no write permission, a read-only disk)."""
