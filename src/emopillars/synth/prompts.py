"""Prompt templates: Jinja files in ``prompts/``, rendered with StrictUndefined.

A variable the caller forgot is an error, not an empty string, and every
rendered prompt is traced by the sha256 of its template source
(``prompt_hash``), so a record can be matched to the exact wording that made it.
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path

import jinja2

PROMPTS_ENV = "EMOPILLARS_PROMPTS_DIR"


def default_prompts_dir() -> Path:
    """``$EMOPILLARS_PROMPTS_DIR`` if set, else ``prompts/`` at the project root."""
    env = os.environ.get(PROMPTS_ENV)
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / "prompts"


class PromptTemplate:
    """One ``<name>.j2`` file; ``render(**vars)`` fails on any missing variable."""

    def __init__(self, name: str, prompts_dir: str | os.PathLike | None = None):
        self.name = name
        self.dir = Path(prompts_dir) if prompts_dir is not None else default_prompts_dir()
        path = self.dir / f"{name}.j2"
        if not path.exists():
            raise FileNotFoundError(f"{path}: prompt template not found (expected prompts/{name}.j2)")
        self.path = path
        self.source = path.read_text(encoding="utf-8")
        self.hash = hashlib.sha256(self.source.encode("utf-8")).hexdigest()
        env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=False, autoescape=False)
        self._template = env.from_string(self.source)

    def render(self, **variables) -> str:
        try:
            return self._template.render(**variables).strip()
        except jinja2.UndefinedError as e:
            raise ValueError(f"{self.path}: {e.message}; pass it when rendering the '{self.name}' prompt") from None


@lru_cache(maxsize=None)
def load_template(name: str, prompts_dir: str | None = None) -> PromptTemplate:
    return PromptTemplate(name, prompts_dir)
