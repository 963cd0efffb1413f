"""JSON answer formats of each generation step.

Length limits are part of the schema, so constrained decoding stops a small
model's repetition loops (a description repeating itself until max_tokens)
instead of producing an answer that is cut off and rejected.
"""

from __future__ import annotations

from typing import Annotated, Literal, Sequence

from pydantic import BaseModel, Field, create_model


class CharacterEntry(BaseModel):
    name: str = Field(max_length=40)
    description: str = Field(max_length=140)


class CharacterList(BaseModel):
    characters: list[CharacterEntry] = Field(max_length=4)


def character_list_for(candidates: Sequence[str], max_characters: int = 4) -> type[BaseModel]:
    """The characters answer with names restricted to ``candidates`` (names found in the passage).

    A small model asked for the characters of a passage invents names ('Sylvie',
    'Mommy') or writes them as identifiers ('The_Girl'); with the names as an
    enum, the grammar only lets it choose among the passage's own names.
    Descriptions must be at least a few words long. The list is no longer than
    the number of distinct names: a longer one can only repeat a name.
    """
    names = tuple(dict.fromkeys(candidates))
    name_type = Literal[names]  # type: ignore[valid-type]
    entry = create_model("CharacterEntry", name=(name_type, ...),
                         description=(str, Field(min_length=20, max_length=140)))
    return create_model("CharacterList",
                        characters=(list[entry], Field(min_length=1, max_length=min(max_characters, len(names)))))


# A spoken line of at least a few words: a lone "I" or a name followed by a colon is
# not an utterance, and the grammar makes the model keep writing instead.
UTTERANCE_MAX_CHARS = 160
Utterance = Annotated[str, Field(min_length=16, max_length=UTTERANCE_MAX_CHARS)]


class UtteranceList(BaseModel):
    utterances: list[Utterance] = Field(min_length=1, max_length=5)


class EmotionIntensity(BaseModel):
    emotion: str = Field(max_length=24)
    intensity: float


class EmotionExplication(BaseModel):
    explanation: str = Field(max_length=60)
    emotions: list[EmotionIntensity] = Field(min_length=1, max_length=3)


class SituationContext(BaseModel):
    # at least a sentence: a bare title ('The Story of the Mouse') is not a situation
    context: str = Field(min_length=60, max_length=300)
