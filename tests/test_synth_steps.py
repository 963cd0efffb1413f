"""Each generation step's two halves, without a model: requests from rows, records or rejects from answers."""

import json

import pytest
from pydantic import ValidationError

from emopillars.config import defaults
from emopillars.llm.types import GenerationResult
from emopillars.llm.validation import TRUNCATED
from emopillars.synth import schemas
from emopillars.synth.lexicon import TaxonomyMapper
from emopillars.synth.steps import (CharactersStep, ContextsStep, LabelsStep, UtterancesStep, normalise_scores,
                                    plan_seed_emotions, plan_utterance_requests, quotes_utterance)
from emopillars.synth.text import candidate_characters, complete_sentences, name_problem
from emopillars.taxonomy import EMOTIONS

PASSAGE = ("Once upon a time the King had a daughter. The Princess loved her golden ball, but one day it fell into "
           "the well. A frog said to her: 'I will fetch it, if you take me home.' The woodcutter Hans watched.")


def answer(obj, tag="t", ok=True, reason=None):
    raw = obj if isinstance(obj, str) else json.dumps(obj)
    return GenerationResult(key="k", tag=tag, status="ok" if ok else "reject", raw=raw,
                            parsed=obj if ok and not isinstance(obj, str) else None, reason=reason)


def character_row():
    return {"plot_id": "frog-king__p000", "story_id": "frog-king", "passage": PASSAGE}


def test_characters_request_renders_passage_and_schema():
    step = CharactersStep(defaults().characters.replace(max_characters=3))
    req = step.format_input(character_row())
    text = req.messages[0]["content"]
    assert PASSAGE in text and "up to 3 characters" in text
    assert "Hans" in text.split("Characters named in it:")[1]
    assert req.tag == "frog-king__p000"
    # the answer's grammar only admits names found in the passage
    names = req.schema.model_json_schema()["$defs"]["CharacterEntry"]["properties"]["name"]["enum"]
    assert "Hans" in names and "Rumpelstiltskin" not in names
    with pytest.raises(ValidationError, match=r"characters\.0\.name\n  Input should be .*'Hans' \[type=literal_error, input_value='Rumpelstiltskin'"):
        req.schema.model_validate({"characters": [{"name": "Rumpelstiltskin", "description": "A man who spins gold."}]})
    no_names = step.format_input({**character_row(), "passage": "it rained and rained all day long on them."})
    assert no_names.schema is schemas.CharacterList
    assert req.sampling.max_tokens == defaults().characters.sampling.max_tokens


def test_made_up_character_is_rejected_and_real_ones_kept():
    step = CharactersStep(defaults().characters.replace(max_characters=4))
    out = step.format_output(answer({"characters": [
        {"name": "the king", "description": "The father of the princess."},
        {"name": "Frog", "description": "A talking frog in the well."},
        {"name": "Rumpelstiltskin", "description": "A little man who spins gold."},
        {"name": "King", "description": "The same king again, named differently."},
        {"name": "Hans", "description": "I am a dog, I am a dog, I am a dog, I am a dog, I am a"},
    ]}), character_row())
    assert [r["character"] for r in out.records] == ["the king", "Frog", "Hans"]
    assert [(r["character"], r["reason"]) for r in out.rejects] == [
        ("Rumpelstiltskin", "name not in passage"), ("King", "duplicate character")]
    # a real name with an unusable description is described by the passage's own sentence, and says so
    hans = out.records[2]
    assert hans["character_description"] == "The woodcutter Hans watched."
    assert hans["description_source"] == "passage (repetitive description)"
    assert out.records[0]["description_source"] == "model"
    rec = out.records[0]
    assert rec["character_id"] == "frog-king__p000__c0" and rec["prompt_hashes"]["characters"] == step.prompt_hash
    assert json.loads(rec["raw_answers"]["characters"])["characters"][0]["name"] == "the king"


@pytest.mark.parametrize("name,problem", [
    ("The Princess", None), ("princess", None), ("the woodcutter Hans", None), ("King Hans", None),
    ("he", "not a name"), ("", "empty name"), ("Snow White", "name not in passage"), ("Kin", "name not in passage"),
])
def test_name_matching(name, problem):
    assert name_problem(name, PASSAGE) == problem


def test_candidate_names_skip_words_that_only_start_sentences():
    passage = ('"Halt!" cried the old man. Listen to me, said Gopani-Kufa to Ivan. Sometimes Ivan slept. '
               'Listen, Marie! Halt there.')
    found = candidate_characters(passage)
    assert "Gopani-Kufa" in found and "Ivan" in found and "Marie" in found and "the old man" in found
    assert not {"Halt", "Listen", "Sometimes"} & set(found)


def test_an_engine_reject_is_a_step_reject_with_its_reason():
    # a cut-off answer reaches the step settled by the engine (llm.truncated); the step never parses a reject itself
    step = CharactersStep(defaults().characters)
    cut = '{"characters": [{"name": "Frog", "description": "A frog in the well, green and wet."}, {"name": "Prin'
    out = step.format_output(answer(cut, ok=False, reason=TRUNCATED), character_row())
    assert out.records == [] and [r["reason"] for r in out.rejects] == [TRUNCATED]
    assert out.rejects[0]["raw"] == cut


def test_seed_emotions_give_every_class_its_share():
    plans = plan_seed_emotions(28 * 10, max_per_request=1, seed=3)
    counts = {e: sum(p == [e] for p in plans) for e in EMOTIONS}
    assert set(counts.values()) == {10}
    multi = plan_seed_emotions(200, max_per_request=3, seed=3)
    assert all(len(set(p)) == len(p) for p in multi)
    assert all(p == ["neutral"] or "neutral" not in p for p in multi)
    assert any(len(p) == 3 for p in multi) and any(p == ["neutral"] for p in multi)


def utterance_row():
    chars = [{"character_id": "x__c0", "plot_id": "x", "story_id": "s", "character": "Frog",
              "character_description": "A frog.", "passage": PASSAGE, "prompt_hashes": {"characters": "h"},
              "raw_answers": {"characters": "{}"}}]
    return plan_utterance_requests(chars, defaults().utterances.replace(requests_per_character=3), seed=1)


def test_utterance_requests_vary_expressiveness_and_show_the_character_s_part_of_the_story():
    rows = utterance_row()
    assert len({r["expressiveness"] for r in rows}) == 3
    step = UtterancesStep(defaults().utterances.replace(excerpt_words=20))
    text = step.format_input(rows[0]).messages[0]["content"]
    assert "Frog" in text and all(e in text for e in rows[0]["emotions_used_to_generate_context"])
    assert "A frog said to her" in text and "Once upon a time" not in text


def test_empty_and_duplicate_utterances_are_rejected_and_lines_cleaned():
    row = utterance_row()[0]
    step = UtterancesStep(defaults().utterances.replace(utterances_per_request=3))
    out = step.format_output(answer({"utterances": ['Frog: "I will fetch your ball!"', "  ", "1. I will fetch your ball!",
                                                    "Please take me home with you.", "The first line:"]}), row)
    assert [r["utterance"] for r in out.records] == ["I will fetch your ball!", "Please take me home with you."]
    assert sorted(r["reason"] for r in out.rejects) == ["duplicate in answer", "empty utterance", "not a complete line"]
    rec = out.records[0]
    assert rec["emotions_used_to_generate_context"] == row["emotions_used_to_generate_context"]
    assert set(rec["prompt_hashes"]) == {"characters", "utterances"}


def test_lines_that_are_not_speech_are_rejected_with_their_reason():
    row = utterance_row()[0]
    step = UtterancesStep(defaults().utterances.replace(utterances_per_request=5))
    out = step.format_output(answer({"utterances": [
        "I",
        "Frog is a kind creature who lives in the well and waits.",
        "I speak in the first person. The sentence is",
        "The Princess loved her golden ball, but one day it fell.",
        "I waited so long for you. And now you would leave me here,",
        "Be of good courage, I will fetch your ball",
    ]}), row)
    reasons = {r["utterance"]: r["reason"] for r in out.rejects}
    assert reasons == {
        "I": "not a complete line",
        "Frog is a kind creature who lives in the well and waits.": "describes the character instead of speaking",
        "I speak in the first person. The sentence is": "describes the character instead of speaking",
        "The Princess loved her golden ball, but one day it fell.": "copied from the passage",
    }
    # a line cut mid-sentence by the length limit keeps its complete sentences
    # (a line the model closed well before the length limit is complete without a full stop)
    assert [r["utterance"] for r in out.records] == ["I waited so long for you.",
                                                      "Be of good courage, I will fetch your ball"]
    long_cut = "I will fetch it for you. " + "And then we shall walk to the castle together " * 4
    assert complete_sentences(long_cut[:160]) == "I will fetch it for you."


def test_format_leftovers_are_cleaned_or_rejected():
    row = utterance_row()[0]
    step = UtterancesStep(defaults().utterances.replace(utterances_per_request=5))
    out = step.format_output(answer({"utterances": [
        "utterance30: Take me home, princess, and I shall fetch it.",
        "]} Please do not leave me alone in the well.",
        "Here I am!'] after the first time.",
        "You are Frog, a creature of the deep well.",
        "I promise I will bring back the",
    ]}), row)
    assert [r["utterance"] for r in out.records] == ["Take me home, princess, and I shall fetch it.",
                                                      "Please do not leave me alone in the well."]
    assert {r["utterance"]: r["reason"] for r in out.rejects} == {
        "Here I am!'] after the first time.": "markup in the line",
        "You are Frog, a creature of the deep well.": "repeats the instructions",
        # well short of the length limit, but a sentence does not end on 'the'
        "I promise I will bring back the": "not a complete line"}
    assert complete_sentences("I do not know what to do with her") == "I do not know what to do with her"


def test_lines_in_another_language_or_repeating_the_prompt_are_rejected(encoder_dir):
    from emopillars.synth.text import load_vocabulary

    row = {**utterance_row()[0], "passage": PASSAGE + " Gopani-Kufa laughed."}
    step = UtterancesStep(defaults().utterances.replace(utterances_per_request=5), vocabulary=load_vocabulary(
        encoder_dir / "vocab.txt"))
    feeling = " and ".join(row["emotions_used_to_generate_context"])
    out = step.format_output(answer({"utterances": [
        "Konkreniglich kann es für die Frau zu erfüllen.",
        "El día la vida se clara en la mesa.",
        f"At a moment of this story you feel {feeling}.",
        "Gopani-Kufa, I can't believe you're laughing at me!",
        "Princess, I'd fetch your golden ball a hundred times.",
    ]}), row)
    assert {r["utterance"]: r["reason"] for r in out.rejects} == {
        "Konkreniglich kann es für die Frau zu erfüllen.": "not English",
        "El día la vida se clara en la mesa.": "not English",
        f"At a moment of this story you feel {feeling}.": "repeats the instructions"}
    # names from the story and contractions are not foreign words
    assert [r["utterance"] for r in out.records] == ["Gopani-Kufa, I can't believe you're laughing at me!",
                                                      "Princess, I'd fetch your golden ball a hundred times."]


def test_a_line_repeated_across_requests_is_kept_once():
    from collections import Counter

    from emopillars.synth.steps import StepRun, drop_repeated_lines

    recs = [{"id": "a", "utterance": "I will fetch it!"}, {"id": "b", "utterance": "i will FETCH it"},
            {"id": "c", "utterance": "Take me home."}]
    run = StepRun(records=list(recs), rejects=[], inputs=2, requests=2, reject_reasons=Counter())
    assert drop_repeated_lines(run, UtterancesStep(defaults().utterances)) == 1
    assert [r["id"] for r in run.records] == ["a", "c"]
    assert run.rejects[0]["tag"] == "b" and run.reject_reasons == {"same line as an earlier one": 1}
    assert run.rejects[0]["stage"] == "utterances" and run.rejects[0]["utterance"] == "i will FETCH it"
    # with a MinHash threshold, a line that differs by a word or two is dropped as well
    near = [{"id": "a", "utterance": "I will never forgive the wolf for what he did to my poor old grandmother."},
            {"id": "b", "utterance": "I will never forgive the wolf for what he did to my poor old grandmother today."},
            {"id": "c", "utterance": "Take me home, the night is cold and the road is long."}]
    run = StepRun(records=list(near), rejects=[], inputs=2, requests=2, reject_reasons=Counter())
    assert drop_repeated_lines(run, UtterancesStep(defaults().utterances), near_threshold=0.7) == 1
    assert [r["id"] for r in run.records] == ["a", "c"]
    assert run.reject_reasons == {"near duplicate of an earlier line": 1}


def labelled_row():
    return {"id": "u1", "plot_id": "x", "story_id": "s", "character": "Frog", "character_description": "A frog.",
            "utterance": "Please, please take me home, I am so lonely here!", "passage_characters": ["Princess"],
            "emotions_used_to_generate_context": ["sadness"], "expressiveness": "explicit"}


def test_labels_prompt_does_not_show_seed_emotions():
    step = LabelsStep(defaults().labels, TaxonomyMapper(None))
    row = {**labelled_row(), "emotions_used_to_generate_context": ["admiration"]}
    text = step.format_input(row).messages[0]["content"]
    other_seeds = step.format_input({**row, "emotions_used_to_generate_context": ["grief", "fear"]})
    assert row["utterance"] in text and text == other_seeds.messages[0]["content"]
    # every class name is offered, in an order of the utterance's own, so no class is favoured by position
    words = step.feeling_words(row["id"])
    assert sorted(words) == sorted(e for e in EMOTIONS if e != "neutral") and ", ".join(words) in text
    assert words == step.feeling_words(row["id"]) and words != step.feeling_words("another id")


def test_labels_map_words_keep_unknown_words_out_of_labels():
    step = LabelsStep(defaults().labels.replace(threshold=0.3), TaxonomyMapper(None))
    out = step.format_output(answer({"explanation": "The frog begs and feels alone.", "emotions": [
        {"emotion": "Lonely", "intensity": 8}, {"emotion": "desperate-ish", "intensity": 6},
        {"emotion": "Princess", "intensity": 5}, {"emotion": "hopeful", "intensity": 2},
        {"emotion": "Lonely", "intensity": 3}]}), labelled_row())
    rec = out.records[0]
    assert rec["all_emotions"] == {"Lonely": 0.8, "desperate-ish": 0.6, "Princess": 0.5, "hopeful": 0.2}
    assert rec["all_emotions_mapped"] == {"sadness": 0.8, "optimism": 0.2}
    assert rec["labels"] == ["sadness"] and rec["primary_emotion"] == "sadness"
    assert rec["unmapped_emotions"] == {"desperate-ish": 0.6}
    assert rec["emotion_mapping"]["Princess"] == [[None, "non-emotion:character name"]]
    assert set(rec["labels"]) <= set(EMOTIONS)


def test_labels_without_any_taxonomy_word_are_rejected():
    step = LabelsStep(defaults().labels, TaxonomyMapper(None))
    out = step.format_output(answer({"explanation": "x", "emotions": [{"emotion": "zorblax", "intensity": 0.9}]}),
                             labelled_row())
    assert out.records == [] and out.rejects[0]["reason"] == "no emotion in the taxonomy"
    empty = step.format_output(answer({"explanation": "x", "emotions": []}), labelled_row())
    assert empty.rejects[0]["reason"] == "no emotions"


def test_neutral_gives_way_to_a_real_emotion():
    step = LabelsStep(defaults().labels.replace(threshold=0.3), TaxonomyMapper(None))
    out = step.format_output(answer({"explanation": "x", "emotions": [{"emotion": "calm", "intensity": 0.9},
                                                                      {"emotion": "fear", "intensity": 0.5}]}),
                             labelled_row())
    assert out.records[0]["labels"] == ["fear"] and out.records[0]["primary_emotion"] == "fear"


def test_scores_on_other_scales_are_rescaled():
    assert normalise_scores({"a": 80, "b": 40}) == {"a": 0.8, "b": 0.4}
    assert normalise_scores({"a": "high", "b": -1, "c": 0.5}) == {"a": 0.0, "b": 0.0, "c": 0.5}


def test_character_list_is_no_longer_than_the_passage_s_distinct_names():
    # a passage with two names cannot be answered with a third entry: it could only repeat a name
    schema = schemas.character_list_for(["Hans", "the King", "Hans"], max_characters=4)
    entry = {"name": "Hans", "description": "A woodcutter who watches the princess."}
    two = {"characters": [entry, {**entry, "name": "the King"}]}
    assert schema.model_validate(two)
    with pytest.raises(ValidationError, match=r"characters\n  List should have at most 2 items after validation, not 3"):
        schema.model_validate({"characters": two["characters"] + [entry]})
    assert schema.model_json_schema()["properties"]["characters"]["maxItems"] == 2
    assert schemas.character_list_for(list("ABCDEF"), max_characters=3).model_json_schema()[
        "properties"]["characters"]["maxItems"] == 3


def context_row():
    return {**labelled_row(), "passage": PASSAGE, "labels": ["sadness"], "all_emotions": {"lonely": 0.8}}


@pytest.mark.parametrize("context,reason", [
    ("The princess ran away from the well and left the frog behind in the cold water.", None),
    ("The frog said: please, please take me home, I am so lonely here! The princess laughed.", "quotes the utterance"),
    ("The princess left the frog alone, and a deep sadness filled the dark well that night.", "names an emotion"),
    ("The frog felt lonely when the princess left him alone by the well at night.", "names an emotion"),
    ("He waits.", "context too short"),
    ("", "empty context"),
])
def test_contexts_are_validated(context, reason):
    step = ContextsStep(defaults().contexts.replace(min_words=8))
    out = step.format_output(answer({"context": context}), context_row())
    if reason is None:
        assert out.records[0]["context"] == context and "passage" not in out.records[0]
    else:
        assert out.records == [] and out.rejects[0]["reason"] == reason


def test_partial_quotation_counts_as_quoting():
    assert quotes_utterance("Then he cried take me home I am so lonely to the princess",
                            "Please, please take me home, I am so lonely here!")
    assert not quotes_utterance("He wanted to go home.", "Please, please take me home, I am so lonely here!")


def test_a_copy_of_the_template_s_format_example_is_not_a_new_line(tmp_path):
    (tmp_path / "utterances.j2").write_text('Lines of {{ character }} ({{ title }}, {{ excerpt }}, {{ n_utterances }}, '
                                            '{{ feeling }}, {{ expressiveness_instruction }}, '
                                            '{{ character_description }}). Example: {"utterances": ["I see a bridge."]}')
    step = UtterancesStep(defaults().utterances, prompts_dir=tmp_path)
    out = step.format_output(answer({"utterances": ["I see a bridge!", "The bridge is mine."]}), utterance_row()[0])
    assert [r["utterance"] for r in out.records] == ["The bridge is mine."]
    assert out.rejects[0]["reason"] == "copied the prompt's example"
