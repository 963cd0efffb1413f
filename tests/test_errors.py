"""Every expected failure of a command or a stage reaches the user as one line and exit code 2.

``<command>: error: <what, where, what to do>``; a traceback only with ``--debug`` or ``EMOPILLARS_DEBUG=1``,
or for a real bug. Outputs that cannot be written stop a command before its long work starts.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from emopillars.errors import UnwritablePath, describe, guarded, require_writable, run_main

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "EMOPILLARS_DEBUG": ""}


def _run(cmd: list[str], env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=ROOT, env=env or ENV, capture_output=True, text=True, timeout=timeout)


def cli(*args: str, **kw) -> subprocess.CompletedProcess:
    return _run([sys.executable, "-m", "emopillars.cli", *args], **kw)


def stage(name: str, *args: str, **kw) -> subprocess.CompletedProcess:
    return _run([sys.executable, str(ROOT / "stages" / f"{name}.py"), *args], **kw)


def one_line(proc: subprocess.CompletedProcess, prog: str) -> str:
    """The error line, after checking the run ended as an expected failure: exit 2, one line, no traceback."""
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-3000:])
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    lines = [line for line in proc.stderr.splitlines() if line.startswith(f"{prog}: error: ")]
    assert len(lines) == 1, proc.stderr[-3000:]
    return lines[0]


# --------------------------------------------------------------------------- a folder nothing can be written to
@pytest.fixture
def readonly(tmp_path):
    """``(folder, wrap)``: a folder that rejects writes in the commands ``wrap(cmd)`` returns.

    Root ignores permission bits, so there the folder is bind-mounted read-only in a private mount namespace
    of the command alone; elsewhere its mode is 0555.
    """
    folder = tmp_path / "readonly"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder, (lambda cmd: cmd)
        folder.chmod(0o755)
        return
    if not shutil.which("unshare"):
        pytest.skip("running as root without unshare: no way to make a read-only folder")
    prefix = ["unshare", "-m", "--propagation", "private", "sh", "-c",
              f'mount --bind "{folder}" "{folder}" && mount -o remount,bind,ro "{folder}" && exec "$@"', "sh"]
    probe = subprocess.run(prefix + ["touch", str(folder / "x")], capture_output=True, text=True)
    if "Read-only file system" not in probe.stderr:
        pytest.skip(f"cannot make a read-only mount here: {probe.stderr.strip()}")
    yield folder, (lambda cmd: prefix + cmd)


def cli_in(wrap, *args: str, **kw) -> subprocess.CompletedProcess:
    return _run(wrap([sys.executable, "-m", "emopillars.cli", *args]), **kw)


# --------------------------------------------------------------------------- the boundary itself
@pytest.mark.parametrize("exc, expected", [
    (ValueError("requests.jsonl:3: bad request"), "requests.jsonl:3: bad request"),
    (FileNotFoundError(errno.ENOENT, "No such file or directory", "data/x.tsv"),
     "data/x.tsv: No such file or directory (check the path)"),
    (PermissionError(errno.EACCES, "Permission denied", "out/m.json"), "out/m.json: Permission denied (fix its"),
    (IsADirectoryError(errno.EISDIR, "Is a directory", "params.yaml"), "params.yaml: Is a directory (this is a folder"),
    (OSError(errno.EROFS, "Read-only file system", "/ro/.x.tmp"), "/ro/.x.tmp: Read-only file system (choose a path"),
    (sqlite3.OperationalError("database is locked"), "generation cache: database is locked (another process"),
    (sqlite3.OperationalError("attempt to write a readonly database"), "read-only; make it writable"),
    (UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"), "not UTF-8 text"),
])
def test_an_expected_failure_is_one_line_and_exit_code_2(capsys, exc, expected):
    def fail():
        raise exc

    assert guarded(fail, "emopillars x") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("emopillars x: error: ") and expected in err, err
    assert "Traceback" not in err


def test_project_error_types_count_as_expected(capsys):
    from emopillars.contracts import RecordError
    from emopillars.llm.types import BackendNotAvailableError

    for exc in (RecordError("metrics.json: field 'macro_f1' missing"), BackendNotAvailableError("vllm is not installed")):
        assert guarded(lambda: (_ for _ in ()).throw(exc), "stage") == 2
        assert capsys.readouterr().err == f"stage: error: {exc}\n"


def test_a_bug_keeps_its_traceback():
    with pytest.raises(KeyError):
        guarded(lambda: {}["missing"], "emopillars x")


def test_debug_adds_the_traceback_to_the_line(capsys):
    def fail():
        raise ValueError("bad value")

    assert guarded(fail, "emopillars x", debug=True) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and err.rstrip().endswith("emopillars x: error: bad value")


def test_a_message_given_to_systemexit_becomes_the_error_line(capsys):
    def stop():
        raise SystemExit("no synthetic examples under data/emopillars (run the curate stage first)")

    assert run_main(lambda argv: stop(), "humaneval_export", argv=[]) == 2
    assert capsys.readouterr().err == ("humaneval_export: error: no synthetic examples under data/emopillars "
                                       "(run the curate stage first)\n")
    with pytest.raises(SystemExit) as e:  # argparse's own exits keep their code
        run_main(lambda argv: sys.exit(0), "x", argv=[])
    assert e.value.code == 0


def test_run_main_takes_debug_out_of_the_arguments(monkeypatch):
    monkeypatch.delenv("EMOPILLARS_DEBUG", raising=False)
    seen = []
    assert run_main(lambda argv: seen.append(argv), "x", argv=["--out", "a", "--debug"]) == 0
    assert seen == [["--out", "a"]] and os.environ["EMOPILLARS_DEBUG"] == "1"


# --------------------------------------------------------------------------- writability checks
def test_require_writable_accepts_new_paths_and_leaves_nothing(tmp_path):
    require_writable(tmp_path / "a" / "b" / "out.json", tmp_path, None, what="output")
    assert list(tmp_path.iterdir()) == []


def test_require_writable_names_a_file_in_the_way(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(UnwritablePath, match=r"out\.json: cannot write this output: .*file is a file, not a folder"):
        require_writable(tmp_path / "file" / "sub" / "out.json")


def test_require_writable_refuses_a_read_only_folder(readonly):
    folder, wrap = readonly
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from emopillars.errors import require_writable, run_main; "
            "raise SystemExit(run_main(lambda argv: require_writable(argv[-1]), 'probe'))")
    proc = _run(wrap([sys.executable, "-c", code, str(ROOT / "src"), str(folder / "out.json")]))
    line = one_line(proc, "probe")
    assert f"{folder / 'out.json'}: cannot write this output: {folder} does not take new files" in line


# --------------------------------------------------------------------------- commands
def test_debug_flag_and_environment_show_the_traceback(tmp_path):
    for proc in (cli("params", "--params", str(tmp_path), "--debug"),
                 cli("params", "--params", str(tmp_path), env={**ENV, "EMOPILLARS_DEBUG": "1"})):
        assert proc.returncode == 2 and "Traceback (most recent call last)" in proc.stderr
        assert proc.stderr.rstrip().splitlines()[-1].startswith("emopillars params: error: ")


def test_params_given_a_folder(tmp_path):
    line = one_line(cli("params", "--params", str(tmp_path)), "emopillars params")
    assert f"{tmp_path}: not a file; expected a params YAML file" in line


@pytest.fixture
def requests_file(tmp_path):
    path = tmp_path / "requests.jsonl"
    path.write_text(json.dumps({"messages": [{"role": "user", "content": "hello"}]}) + "\n")
    return path


def _generate(tmp_path, requests_file, *extra):
    return ["generate", "--params", str(ROOT / "params.yaml"), "--requests", str(requests_file),
            "--backend", "transformers", "--cache-only", "--model-id", "probe", "--model-dir", str(tmp_path / "none"),
            *extra]


@pytest.mark.parametrize("flag, value", [("--batch-size", "0"), ("--batch-size", "-3"), ("--max-retries", "-1")])
def test_generate_rejects_out_of_range_flags(tmp_path, requests_file, flag, value):
    proc = cli(*_generate(tmp_path, requests_file, "--out", str(tmp_path / "o.jsonl"), flag, value))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"argument {flag}: expected a whole number >= " in proc.stderr


def test_generate_refuses_a_read_only_cache_and_output_before_generating(tmp_path, requests_file, readonly):
    folder, wrap = readonly
    proc = cli_in(wrap, *_generate(tmp_path, requests_file, "--out", str(tmp_path / "o.jsonl"),
                                   "--cache", str(folder / "cache.sqlite")))
    assert f"{folder / 'cache.sqlite'}: cannot write this output" in one_line(proc, "emopillars generate")
    proc = cli_in(wrap, *_generate(tmp_path, requests_file, "--out", str(folder / "o.jsonl"),
                                   "--cache", str(tmp_path / "cache.sqlite")))
    assert f"{folder / 'o.jsonl'}: cannot write this output" in one_line(proc, "emopillars generate")
    assert not (tmp_path / "cache.sqlite").exists(), "the check comes before the engine opens its cache"


def test_a_locked_generation_cache_is_one_line(tmp_path):
    from emopillars.llm.cache import GenerationCache

    cache = tmp_path / "cache.sqlite"
    GenerationCache(cache).close()
    holder = sqlite3.connect(cache, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    code = ("import sqlite3, sys; sys.path.insert(0, sys.argv[1]); from emopillars.errors import run_main; "
            "c = sqlite3.connect(sys.argv[2], timeout=0.1); "
            "raise SystemExit(run_main(lambda argv: c.execute('BEGIN IMMEDIATE'), 'labels'))")
    try:
        proc = _run([sys.executable, "-c", code, str(ROOT / "src"), str(cache)])
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert "labels: error: generation cache: database is locked (another process" in one_line(proc, "labels")


@pytest.fixture
def fake_model(tmp_path):
    """A model folder with a config and no weights: a command that tried to load it would fail otherwise."""
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "bert", "max_position_embeddings": 512}))
    (folder / "tokenizer_config.json").write_text(json.dumps({"model_max_length": 512}))
    return folder


@pytest.mark.parametrize("flag, value", [("--batch-size", "0"), ("--batch-size", "-3"), ("--max-length", "0")])
def test_predict_rejects_out_of_range_flags(fake_model, flag, value):
    proc = cli("predict", "--model", str(fake_model), "--text", "I am happy", flag, value)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"argument {flag}: expected a whole number >= 1, got {value}" in proc.stderr


def test_predict_max_length_beyond_the_models_positions(fake_model):
    line = one_line(cli("predict", "--model", str(fake_model), "--text", "hi", "--max-length", "1000"),
                    "emopillars predict")
    assert "--max-length 1000: the model in" in line and "reads at most 512 tokens" in line


@pytest.mark.parametrize("content", ["", "text,id\n"], ids=["empty", "header-only"])
def test_predict_on_a_csv_without_rows_fails_before_the_model_loads(tmp_path, fake_model, content):
    src = tmp_path / "in.csv"
    src.write_text(content)
    line = one_line(cli("predict", "--model", str(fake_model), "--input", str(src)), "emopillars predict")
    assert f"{src}: no inputs; expected a header row" in line


def test_predict_output_in_a_read_only_folder(tmp_path, fake_model, readonly):
    folder, wrap = readonly
    proc = cli_in(wrap, "predict", "--model", str(fake_model), "--text", "hi", "--output", str(folder / "p.jsonl"))
    assert f"{folder / 'p.jsonl'}: cannot write this output" in one_line(proc, "emopillars predict")


def test_train_out_in_a_read_only_folder_fails_before_training(tmp_path, readonly):
    folder, wrap = readonly
    started = time.time()
    proc = cli_in(wrap, "train", "--data", str(ROOT / "tests" / "fixtures" / "released"), "--out",
                  str(folder / "model"), "--encoder", str(tmp_path / "no-encoder"))
    assert f"{folder / 'model'}: cannot write this output" in one_line(proc, "emopillars train")
    assert time.time() - started < 120


def test_annotate_import_out_in_a_read_only_folder(tmp_path, readonly):
    folder, wrap = readonly
    proc = cli_in(wrap, "annotate", "import", str(tmp_path / "a.json"), "--sheet-dir", str(tmp_path),
                  "--key", str(tmp_path / "key.json"), "--out", str(folder / "agreement.json"))
    assert f"{folder / 'agreement.json'}: cannot write this output" in one_line(proc, "emopillars annotate")


# --------------------------------------------------------------------------- stage scripts
def test_stage_output_in_a_read_only_folder(tmp_path, readonly):
    folder, wrap = readonly
    (tmp_path / "metrics").mkdir()
    proc = _run(wrap([sys.executable, str(ROOT / "stages" / "aggregate.py"), "--metrics-dir", str(tmp_path / "metrics"),
                      "--out", str(folder / "results.json"), "--full", str(tmp_path / "full.json")]))
    assert f"{folder / 'results.json'}: cannot write this output" in one_line(proc, "aggregate")
    assert not (tmp_path / "full.json").exists()


def test_stage_params_given_a_folder(tmp_path):
    proc = stage("curate", "--params", str(tmp_path), "--labels", "x", "--contexts", "y",
                 "--out-dir", str(tmp_path / "out"), "--metrics", str(tmp_path / "m.json"))
    assert f"{tmp_path}: not a file; expected a params YAML file" in one_line(proc, "curate")


def test_stage_missing_input_is_one_line(tmp_path):
    proc = stage("tables", "--params", str(ROOT / "params.yaml"), "--results", str(tmp_path / "missing.json"),
                 "--templates", str(ROOT / "reports" / "templates"), "--data-dir", str(tmp_path),
                 "--published", str(ROOT / "reports" / "published.yaml"),
                 "--out-dir", str(tmp_path / "t"), "--numbers", str(tmp_path / "n.tex"))
    assert f"{tmp_path / 'missing.json'}: results file not found" in one_line(proc, "tables")


def test_stage_debug_environment_shows_the_traceback(tmp_path):
    proc = stage("curate", "--params", str(tmp_path), "--labels", "x", "--contexts", "y", "--out-dir",
                 str(tmp_path / "out"), "--metrics", str(tmp_path / "m.json"), env={**ENV, "EMOPILLARS_DEBUG": "1"})
    assert proc.returncode == 2 and "Traceback (most recent call last)" in proc.stderr
    assert proc.stderr.rstrip().splitlines()[-1].startswith("curate: error: ")


def test_every_stage_script_runs_under_the_boundary():
    for script in sorted((ROOT / "stages").glob("*.py")):
        text = script.read_text()
        assert 'if __name__ == "__main__":\n    raise SystemExit(run_main(main))\n' in text, script.name


def test_describe_of_a_pydantic_error_is_one_line():
    from pydantic import BaseModel, ValidationError

    class Sampling(BaseModel):
        temperature: float
        max_tokens: int

    with pytest.raises(ValidationError) as e:
        Sampling(temperature="hot", max_tokens=-5.5)
    text = describe(e.value)
    assert "\n" not in text and text.startswith("Sampling: temperature: ") and "max_tokens: " in text
