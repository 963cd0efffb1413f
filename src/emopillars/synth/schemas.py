"""JSON answer formats of each generation step.

Length limits are part of the schema, so constrained decoding stops a small
model's repetition loops (a description repeating itself until max_tokens)
instead of producing an answer that is cut off and rejected.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class CharacterEntry(BaseModel):
    name: str = Field(max_length=40)
    description: str = Field(max_length=140)


class CharacterList(BaseModel):
    characters: list[CharacterEntry] = Field(max_length=4)


class UtteranceList(BaseModel):
    utterances: list[str] = Field(max_length=5)


class EmotionIntensity(BaseModel):
    emotion: str = Field(max_length=24)
    intensity: float


class EmotionExplication(BaseModel):
    explanation: str = Field(max_length=80)
    emotions: list[EmotionIntensity] = Field(max_length=3)


class SituationContext(BaseModel):
    context: str = Field(max_length=300)
