"""vLLM's own log lines: warnings and errors only, unless the user asks for more with VLLM_LOGGING_LEVEL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROBE = """
import os
import emopillars.llm.backends.vllm_backend
print("level", os.environ["VLLM_LOGGING_LEVEL"])
if {with_vllm}:
    from vllm.config.logging import LoggingConfig
    from vllm.logger import configure_logging, init_logger
    configure_logging(LoggingConfig())  # what LLM() does first, from its engine arguments' defaults
    log = init_logger("vllm.probe")
    log.info("probe says info")
    log.warning("probe says warning")
"""


def _run(with_vllm: bool, **env) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k != "VLLM_LOGGING_LEVEL"}
    return subprocess.run([sys.executable, "-c", PROBE.format(with_vllm=with_vllm)], capture_output=True, text=True,
                          cwd=ROOT, env={**base, **env}, timeout=300)


def test_the_backend_sets_vllms_level_to_warning_unless_the_user_chose_one():
    proc = _run(False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["level WARNING"]
    proc = _run(False, VLLM_LOGGING_LEVEL="INFO")
    assert proc.returncode == 0 and proc.stdout.splitlines() == ["level INFO"]


@pytest.mark.slow  # importing vLLM: 10-30 s
def test_vllm_prints_its_warnings_but_not_its_info_lines_by_default():
    pytest.importorskip("vllm")
    proc = _run(True)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout + proc.stderr
    assert "probe says warning" in out and "probe says info" not in out
