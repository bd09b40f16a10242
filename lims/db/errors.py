"""The database failures callers translate for people, named without SQLAlchemy."""

from __future__ import annotations

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, InterfaceError, OperationalError

# A value the database cannot store (e.g. a NUL character in PostgreSQL text).
UnstorableValue = DataError
# Two writers raced for one record, or a reference points at nothing.
ConflictingWrite = IntegrityError
# The database did not answer.
DatabaseUnavailable = OperationalError
# The connection broke under us (server restart, network).
BrokenConnection = InterfaceError
# Any other failure the database driver reports.
DatabaseError = DBAPIError

__all__ = ["BrokenConnection", "ConflictingWrite", "DatabaseError", "DatabaseUnavailable",
           "UnstorableValue"]
