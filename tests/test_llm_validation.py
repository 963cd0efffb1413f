"""Answer validation: what is accepted, what is rejected and the reason given."""

from __future__ import annotations

from pydantic import BaseModel, Field

from emopillars.llm.validation import validate_answer


class Feeling(BaseModel):
    emotion: str
    intensity: int = Field(ge=1, le=5)


def test_valid_json_is_parsed_into_the_schema():
    assert validate_answer('{"emotion": "joy", "intensity": 4}', "stop", Feeling) == (True, {"emotion": "joy", "intensity": 4}, None)


def test_truncated_answer_is_rejected_even_if_it_parses():
    ok, parsed, reason = validate_answer('{"emotion": "joy", "intensity": 4}', "length", Feeling)
    assert not ok and parsed is None and reason.startswith("truncated")


def test_json_wrapped_in_prose_or_fences_is_recovered():
    text = 'Here you go:\n```json\n{"emotion": "fear", "intensity": 2}\n```'
    assert validate_answer(text, "stop", Feeling)[1] == {"emotion": "fear", "intensity": 2}


def test_schema_violation_names_the_field():
    ok, parsed, reason = validate_answer('{"emotion": "joy", "intensity": 9}', "stop", Feeling)
    assert not ok and parsed is None
    assert reason.startswith("schema Feeling: intensity:")


def test_not_json_is_rejected_with_the_parser_message():
    ok, _, reason = validate_answer("I feel happy", "stop", Feeling)
    assert not ok and reason.startswith("invalid JSON: Expecting value")


def test_without_schema_any_complete_text_is_accepted():
    assert validate_answer("I feel happy", "stop", None) == (True, None, None)
    assert validate_answer("I feel", "length", None)[0] is False
