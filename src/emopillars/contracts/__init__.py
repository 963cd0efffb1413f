"""Typed records: what one stage writes and another reads.

Every JSON file that crosses a stage boundary (step metrics, generation
statistics, evaluation records, dataset statistics) is one :class:`Record`
subclass. The writer builds the model and calls :meth:`Record.write`; the
reader calls :meth:`Record.read`, which validates the file against the same
model. A missing, renamed or unexpected field therefore fails when the file
is read, with the file and the field named, and never reaches a table as an
empty cell.

Sub-modules hold the models of one side of the pipeline (``synthesis``,
``evaluation``); this module holds what they share.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from emopillars.io import read_json, write_json

R = TypeVar("R", bound="Record")


class RecordError(ValueError):
    """A record file does not match its model (names the file and each bad field)."""


class Record(BaseModel):
    """Base of every cross-stage record: unknown keys are an error, so renames are caught."""

    model_config = ConfigDict(extra="forbid", frozen=True, protected_namespaces=())

    @classmethod
    def parse(cls: type[R], data: Any, source: str | os.PathLike = "<record>") -> R:
        """Validate ``data``; raise :class:`RecordError` naming ``source`` and every bad field."""
        try:
            return cls.model_validate(data)
        except ValidationError as e:
            raise RecordError(format_record_error(source, cls, e)) from None

    @classmethod
    def read(cls: type[R], path: str | os.PathLike) -> R:
        path = Path(path)
        if not path.is_file():
            raise RecordError(f"{path}: {cls.__name__} file not found (has the stage that writes it run?)")
        return cls.parse(read_json(path), path)

    def write(self, path: str | os.PathLike) -> None:
        """Write atomically as JSON (field order as declared)."""
        write_json(path, self.model_dump(mode="json"))


def format_record_error(source: str | os.PathLike, model: type[BaseModel], err: ValidationError) -> str:
    problems = []
    for e in err.errors():
        field = ".".join(str(p) for p in e["loc"]) or "<top level>"
        if e["type"] == "missing":
            problems.append(f"field '{field}' is missing")
        elif e["type"] == "extra_forbidden":
            problems.append(f"field '{field}' is not part of {model.__name__}")
        else:
            problems.append(f"field '{field}': {e['msg']} (got {e.get('input')!r:.60})")
    return f"{source}: not a valid {model.__name__}: " + "; ".join(problems)
