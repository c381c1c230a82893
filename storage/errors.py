"""Storage errors.

    StorageError
    ├── DatabaseConfigError   the URL is malformed or names an unsupported driver
    └── NotFound              a row the caller named does not exist
"""


class StorageError(Exception):
    """Base of every storage error."""


class DatabaseConfigError(StorageError):
    """NIGHTOWL_DATABASE_URL cannot be used."""


class NotFound(StorageError):
    """The row does not exist."""
