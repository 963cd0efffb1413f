"""Turn a model's text into a validated answer or a reject with its reason, and settle cut-off answers."""

from __future__ import annotations

import json
from typing import Any, Literal, Optional, Type

from pydantic import BaseModel, ValidationError

TRUNCATED = "truncated: the answer hit max_tokens before it ended"
TruncationPolicy = Literal["salvage", "reject"]


def validate_answer(
    text: str, finish_reason: Optional[str], schema: Optional[Type[BaseModel]]
) -> tuple[bool, Optional[dict[str, Any]], Optional[str]]:
    """Return ``(ok, parsed, reason)``.

    An answer cut at ``max_tokens`` (finish reason ``length``) is rejected
    before parsing: a truncated JSON list can still parse (``[1, 2`` + ``]``
    closed by a lenient parser, or a complete prefix), and accepting it would
    silently drop the rest of the answer. It is retried like any other reject;
    what the last attempt's cut-off answer becomes is :func:`settle_truncated`'s
    decision. Without a schema, any complete text is accepted and ``parsed`` is
    ``None``.
    """
    if finish_reason == "length":
        return False, None, TRUNCATED
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


def settle_truncated(record: dict[str, Any], schema: Optional[Type[BaseModel]],
                     policy: TruncationPolicy) -> tuple[dict[str, Any], bool]:
    """A final engine record under the truncation policy: ``(record, salvaged)``.

    Only a reject whose last attempt was cut at ``max_tokens`` is affected. Under
    ``salvage`` it becomes an ``ok`` record holding the complete items before
    the cut (when some prefix validates against ``schema``); under ``reject``,
    or when nothing before the cut validates, it stays a reject. The record
    given is not changed (it is what the cache holds, whatever the policy).
    """
    if policy == "reject" or record["status"] == "ok" or record.get("finish_reason") != "length":
        return record, False
    parsed = salvage_truncated_json(record["raw"] or "", schema)
    if parsed is None:
        return record, False
    return {**record, "status": "ok", "parsed": parsed, "reason": None}, True


def salvage_truncated_json(raw: str, schema: Optional[Type[BaseModel]]) -> Optional[dict[str, Any]]:
    """The longest prefix of a cut-off JSON answer that, closed, validates against ``schema`` (else None).

    Candidate cuts are the ends of complete values (after a closing quote,
    bracket or number before a comma); open brackets are closed in order.
    """
    start = raw.find("{")
    if start < 0 or schema is None:
        return None
    text = raw[start:]
    stack: list[str] = []
    cuts: list[tuple[int, str]] = []
    in_str = esc = False
    for i, ch in enumerate(text):
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
                cuts.append((i + 1, "".join(reversed(stack))))
            continue
        if ch == '"':
            in_str = True
        elif ch in "{[":
            stack.append("}" if ch == "{" else "]")
        elif ch in "}]":
            if not stack:
                break
            stack.pop()
            cuts.append((i + 1, "".join(reversed(stack))))
            if not stack:
                break
        elif ch == ",":
            cuts.append((i, "".join(reversed(stack))))
    for pos, closers in reversed(cuts):
        try:
            obj = json.loads(text[:pos] + closers)
            return schema.model_validate(obj).model_dump()
        except (json.JSONDecodeError, ValidationError, ValueError):
            continue
    return None


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
