"""Outputs that travel: make push / make pull through the remote EMOPILLARS_REMOTE names (real DVC, a folder
remote), and the generation stages' own caches, which are what a pulled clone replays from."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from emopillars.config import defaults
from emopillars.llm.engine import Engine
from emopillars.llm.types import GenerationRequest, SamplingParams

ROOT = Path(__file__).resolve().parents[1]
# A two-stage pipeline shaped like the project's: a generation stage whose cache is its own persistent output
# (each run adds to it), and a stage that reads what it wrote.
GENERATE = """import pathlib
cache = pathlib.Path("outputs/cache/generate.sqlite")
cache.parent.mkdir(parents=True, exist_ok=True)
cache.write_bytes((cache.read_bytes() if cache.exists() else b"") + b"answer\\n")
pathlib.Path("data").mkdir(exist_ok=True)
pathlib.Path("data/records.jsonl").write_text('{"n": 1}\\n')
"""
REPORT = """import pathlib
pathlib.Path("outputs/metrics").mkdir(parents=True, exist_ok=True)
pathlib.Path("outputs/metrics/n.json").write_text(pathlib.Path("data/records.jsonl").read_text())
"""
PIPELINE = {"stages": {
    "generate": {"cmd": "python generate.py", "deps": ["generate.py"],
                 "outs": ["data/records.jsonl", {"outputs/cache/generate.sqlite": {"persist": True}}]},
    "report": {"cmd": "python report.py", "deps": ["report.py", "data/records.jsonl"],
               "metrics": ["outputs/metrics/n.json"]},
}}


def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "EMOPILLARS_REMOTE"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(ROOT / "src")
    env.update(extra)
    return env


def _run(cmd: list[str], cwd: Path, **env) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, env=_env(**env), capture_output=True, text=True)


def _ok(cmd: list[str], cwd: Path, **env) -> str:
    done = _run(cmd, cwd, **env)
    assert done.returncode == 0, f"{cmd}: {done.stdout}\n{done.stderr}"
    return done.stdout


def _dvc(*args: str) -> list[str]:
    return [sys.executable, "-m", "dvc", *args]


def _git(*args: str) -> list[str]:
    return ["git", "-c", "user.name=t", "-c", "user.email=t@localhost", *args]


def _remote(action: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "emopillars.remote", action, *args]


@pytest.fixture(scope="module")
def pipeline_run(tmp_path_factory) -> Path:
    """A git + DVC project whose pipeline ran and is committed (its outputs only in the workspace and cache)."""
    repo = tmp_path_factory.mktemp("run") / "project"
    repo.mkdir()
    _ok(_git("init", "-q"), repo)
    _ok(_dvc("init", "-q"), repo)
    (repo / "dvc.yaml").write_text(yaml.safe_dump(PIPELINE, sort_keys=False))
    (repo / "generate.py").write_text(GENERATE)
    (repo / "report.py").write_text(REPORT)
    (repo / ".gitignore").write_text("/data/\n/outputs/\n")
    _ok(_dvc("repro", "-q"), repo)
    _ok(_git("add", "-A"), repo)
    _ok(_git("commit", "-qm", "run"), repo)
    return repo


@pytest.fixture
def project(pipeline_run, tmp_path) -> Path:
    """A copy of the run of ``pipeline_run`` of this test's own."""
    return Path(shutil.copytree(pipeline_run, tmp_path / "project", symlinks=True))


def _outputs(repo: Path) -> dict[str, bytes]:
    return {p: (repo / p).read_bytes()
            for p in ("data/records.jsonl", "outputs/cache/generate.sqlite", "outputs/metrics/n.json")}


def test_push_to_a_folder_then_pull_into_a_fresh_clone_restores_every_output(project, tmp_path):
    store = tmp_path / "lab-share"
    out = _ok(_remote("push"), project, EMOPILLARS_REMOTE=str(store))
    assert "remote emopillars" in out and any(store.rglob("*"))
    # the folder became this workspace's own remote: the committed config is untouched
    assert _ok(["git", "status", "--porcelain"], project) == ""
    assert str(store) in (project / ".dvc" / "config.local").read_text()

    clone = tmp_path / "clone"
    _ok(["git", "clone", "-q", str(project), str(clone)], tmp_path)
    assert not (clone / "data").exists()
    # a relative folder is taken from where the command runs
    _ok(_remote("pull"), clone, EMOPILLARS_REMOTE=os.path.relpath(store, clone))
    assert _outputs(clone) == _outputs(project)
    # and the workspace's default remote from then on (plain `dvc pull`, `make figures`)
    assert _ok(_dvc("remote", "default"), clone).strip() == "emopillars"
    repro = _ok(_dvc("repro"), clone)
    assert "Running stage" not in repro
    assert _ok(["git", "status", "--porcelain"], clone) == ""


def test_a_configured_remote_is_named_by_its_name(project, tmp_path):
    store = tmp_path / "published"
    _ok(_dvc("remote", "add", "paper", str(store)), project)
    out = _ok(_remote("push"), project, EMOPILLARS_REMOTE="paper")
    assert "remote paper" in out and any(store.rglob("*"))
    assert not (project / ".dvc" / "config.local").exists()


def test_the_default_remote_is_used_without_the_setting(project, tmp_path):
    store = tmp_path / "default"
    _ok(_dvc("remote", "add", "-d", "lab", str(store)), project)
    assert "remote lab" in _ok(_remote("push"), project)
    assert any(store.rglob("*"))


@pytest.mark.parametrize("setting, message", [
    (None, "no DVC remote: set EMOPILLARS_REMOTE to a remote's name, a URL or a folder"),
    ("lab", "EMOPILLARS_REMOTE=lab: no DVC remote of that name (configured: none)"),
])
def test_no_remote_is_one_line_and_exit_code_2(project, setting, message):
    done = _run(_remote("pull"), project, **({"EMOPILLARS_REMOTE": setting} if setting else {}))
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1
    assert lines[0].startswith(f"remote: error: {message}")


# --------------------------------------------------------------------------- the generation stages' caches
def _stages() -> dict:
    return yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def _entries(items) -> dict[str, dict]:
    out = {}
    for item in items or []:
        if isinstance(item, str):
            out[item] = {}
        else:
            out.update({k: v or {} for k, v in item.items()})
    return out


def test_each_generation_stage_replays_from_its_own_persistent_cache():
    generating = {name: s for name, s in _stages().items() if "--model-dir models/generator" in s.get("cmd", "")}
    assert set(generating) == {"characters", "utterances", "labels", "contexts", "llm_baseline"}
    for name, stage in generating.items():
        cache = f"outputs/cache/{name}.sqlite"
        assert f"--cache {cache}" in " ".join(stage["cmd"].split()), name
        # persist: dvc repro keeps the file when it runs the stage again, so the stage answers from it
        assert _entries(stage["outs"]).get(cache) == {"persist": True}, name


def test_every_output_under_outputs_is_dvc_cached():
    """outputs/ is not in git: an output kept out of DVC's cache would be missing from a pulled clone, and its
    stage would run again there."""
    uncached = []
    for name, stage in _stages().items():
        body = stage.get("do", stage)
        for kind in ("outs", "metrics", "plots"):
            for path, opts in _entries(body.get(kind)).items():
                if path.startswith("outputs/") and opts.get("cache") is False:
                    uncached.append(f"{name}: {path}")
    assert uncached == []


def test_the_engine_answers_from_the_stage_cache_given_in_place_of_llm_cache_path(tmp_path):
    shared, own = tmp_path / "generations.sqlite", tmp_path / "characters.sqlite"
    params = defaults().llm.replace(cache_path=str(shared), cache_only=True)
    request = GenerationRequest(messages=[{"role": "user", "content": "Say hello."}],
                                sampling=SamplingParams(temperature=0.7, max_tokens=8), seed=1, tag="hello")
    answer = {"status": "ok", "raw": "hello", "parsed": None, "reason": None, "attempts": 1, "finish_reason": "stop",
              "prompt_tokens": 3, "completion_tokens": 1}
    # no model folder: with cache_only and a model id, the engine never needs one
    with Engine.from_params(params, tmp_path / "no-model", model_id="m", revision="r", cache_path=own,
                            stats_path=tmp_path / "stats.json", progress=False) as engine:
        engine.cache.put_many([(engine.key(request), answer)])
        (result,) = engine.generate([request])
        assert result.cached and result.raw == "hello"
        assert engine.stats["cache_path"] == str(own) and engine.stats["generated_requests"] == 0
        assert engine.stats["backend_info"]["loaded"] is False
    assert own.exists() and not shared.exists()
