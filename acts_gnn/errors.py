"""Exceptions for bad input data: each names the file, event and field that are wrong."""

from __future__ import annotations

from pathlib import Path


class InputDataError(ValueError):
    """Input that cannot be used: missing file, tree or branch, wrong type, NaN, empty event.

    The message always says what is wrong and, where known, in which file, event and field.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        event: int | None = None,
        field: str | None = None,
    ) -> None:
        self.file = str(file) if file is not None else None
        self.event = event
        self.field = field
        where = []
        if file is not None:
            where.append(f"file {file}")
        if event is not None:
            where.append(f"event {event}")
        if field is not None:
            where.append(f"field {field!r}")
        super().__init__(f"{message} ({', '.join(where)})" if where else message)
