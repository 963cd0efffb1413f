"""A stage script (``stages/<name>.py``) as a module, so that a test calls its ``main(argv)`` in-process."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

STAGES = Path(__file__).resolve().parents[2] / "stages"


def load_stage(name: str) -> ModuleType:
    """``stages/<name>.py`` loaded from its file, without putting ``stages/`` on ``sys.path``."""
    spec = importlib.util.spec_from_file_location(f"_stage_{name}", STAGES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
