"""Turn a model's text into a validated answer or a reject with its reason."""

from __future__ import annotations

import json
from typing import Any, Optional, Type

from pydantic import BaseModel, ValidationError


def validate_answer(
    text: str, finish_reason: Optional[str], schema: Optional[Type[BaseModel]]
) -> tuple[bool, Optional[dict[str, Any]], Optional[str]]:
    """Return ``(ok, parsed, reason)``.

    An answer cut at ``max_tokens`` (finish reason ``length``) is rejected
    before parsing: a truncated JSON list can still parse (``[1, 2`` + ``]``
    closed by a lenient parser, or a complete prefix), and accepting it would
    silently drop the rest of the answer. Without a schema, any complete text is
    accepted and ``parsed`` is ``None``.
    """
    if finish_reason == "length":
        return False, None, "truncated: the answer hit max_tokens before it ended"
    if schema is None:
        return True, None, None
    obj, error = parse_json(text)
    if error is not None:
        return False, None, f"invalid JSON: {error}"
    try:
        answer = schema.model_validate(obj)
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in e.errors()[:3]
        )
        return False, None, f"schema {schema.__name__}: {problems}"
    return True, answer.model_dump(mode="json"), None


def parse_json(text: str) -> tuple[Any, Optional[str]]:
    """Parse ``text`` as JSON; if that fails, parse its outermost ``{...}`` (models wrap JSON in prose or fences)."""
    stripped = text.strip()
    try:
        return json.loads(stripped), None
    except json.JSONDecodeError as e:
        first_error = f"{e.msg} at char {e.pos}"
    start, end = stripped.find("{"), stripped.rfind("}")
    if 0 <= start < end:
        try:
            return json.loads(stripped[start : end + 1]), None
        except json.JSONDecodeError:
            pass
    return None, first_error
