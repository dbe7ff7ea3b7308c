"""The operations: plain functions over plain data. None prints; each returns a result object."""
