"""Prompt templates render with every variable given, and fail loudly when one is missing."""

import hashlib

import pytest

from emopillars.synth.prompts import PromptTemplate, default_prompts_dir


@pytest.mark.parametrize("name", ["characters", "utterances", "labels", "contexts"])
def test_each_step_has_a_template_with_a_stable_hash(name):
    t = PromptTemplate(name)
    assert t.hash == hashlib.sha256((default_prompts_dir() / f"{name}.j2").read_bytes()).hexdigest()


def test_missing_variable_is_an_error_naming_the_template():
    t = PromptTemplate("characters")
    with pytest.raises(ValueError, match="characters.j2.*max_characters"):
        t.render(passage="Once upon a time there was a king.", candidates=["the king"])


def test_rendered_prompt_contains_the_inputs():
    t = PromptTemplate("utterances")
    text = t.render(title="The Fox", excerpt="The fox met the crow.", character="Fox", character_description="a sly fox",
                    n_utterances=3, feeling="anger and fear", expressiveness_instruction="Name the feeling openly.")
    assert "The fox met the crow." in text and "anger and fear" in text and "3 different things" in text


def test_labels_prompt_hides_the_context_when_there_is_none(tmp_path):
    t = PromptTemplate("labels")
    words = ["anger", "joy"]
    without = t.render(context=None, character="Fox", character_description="a fox", utterance="Go away!",
                       feeling_words=words)
    within = t.render(context="The crow stole the cheese.", character="Fox", character_description="a fox",
                      utterance="Go away!", feeling_words=words)
    assert "Situation" not in without and "Fox" not in without
    assert "The crow stole the cheese." in within and "Fox" in within


def test_a_custom_prompts_folder_is_used(tmp_path):
    (tmp_path / "characters.j2").write_text("List {{ max_characters }} of: {{ passage }}")
    t = PromptTemplate("characters", tmp_path)
    assert t.render(max_characters=2, passage="x") == "List 2 of: x"
    with pytest.raises(FileNotFoundError, match="contexts.j2"):
        PromptTemplate("contexts", tmp_path)
