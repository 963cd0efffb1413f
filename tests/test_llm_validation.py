"""Answer validation: what is accepted, what is rejected and the reason given."""

from __future__ import annotations

from pydantic import BaseModel, Field

from emopillars.llm.validation import TRUNCATED, salvage_truncated_json, settle_truncated, validate_answer


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


class Cast(BaseModel):
    characters: list[Feeling] = Field(min_length=1)


CUT = '{"characters": [{"emotion": "joy", "intensity": 4}, {"emotion": "fear", "intensity": 2}, {"emotion": "ang'


def test_salvage_keeps_the_complete_items_before_the_cut():
    assert salvage_truncated_json(CUT, Cast) == {"characters": [{"emotion": "joy", "intensity": 4},
                                                                {"emotion": "fear", "intensity": 2}]}
    assert salvage_truncated_json('{"charac', Cast) is None
    assert salvage_truncated_json('{"characters": [{"emotion": "joy", "inten', Cast) is None  # no complete item


def _record(raw, finish_reason="length", status="reject", reason=TRUNCATED):
    return {"status": status, "raw": raw, "parsed": None, "reason": reason, "attempts": 3,
            "finish_reason": finish_reason}


def test_salvage_policy_turns_a_cut_answer_with_complete_items_into_an_answer():
    record = _record(CUT)
    settled, salvaged = settle_truncated(record, Cast, "salvage")
    assert salvaged and settled["status"] == "ok" and settled["reason"] is None
    assert [c["emotion"] for c in settled["parsed"]["characters"]] == ["joy", "fear"]
    assert settled["raw"] == CUT and settled["attempts"] == 3
    assert record["status"] == "reject" and record["parsed"] is None  # what the cache holds is left as it was


def test_reject_policy_keeps_a_cut_answer_a_reject():
    record = _record(CUT)
    assert settle_truncated(record, Cast, "reject") == (record, False)


def test_only_cut_answers_are_salvaged():
    # a complete answer that fails the schema stays a reject under either policy, even if a prefix would validate
    invalid = _record(CUT.rsplit(",", 1)[0] + ', {"emotion": "anger", "intensity": 9}]}', finish_reason="stop",
                      reason="schema Cast: ...")
    assert settle_truncated(invalid, Cast, "salvage") == (invalid, False)
    hopeless = _record('{"charac')
    assert settle_truncated(hopeless, Cast, "salvage") == (hopeless, False)
