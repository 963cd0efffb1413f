"""Bad input, case by case: each is refused with a message that names the file, line or key and what was expected.

The cases, in the order below:

1. Dataset readers: a stray quote, a tab or a line break inside a text, an empty or header-only split, a split
   of the wrong size, bytes that are not UTF-8 (a UTF-8 byte-order mark is fine), in the benchmark readers,
   the JSON-lines reader and the inputs of ``predict``.
2. Generation requests: roles, content, ``messages`` a list, sampling types and ranges, the seed and sample
   index, the schema (a pydantic model of the project's schema modules only); checked before any model loads,
   with the cache keys of valid requests unchanged.
3. Params: numbers that are not finite, fractions and shares out of range, cross-field pairs, booleans and
   whole numbers given as something else, duplicate YAML keys, bad UTF-8; command-line overrides
   (``generate --batch-size``, ``predict --threshold/--batch-size/--max-length``) checked the same way.
4. Models: safetensors only (a pickle-only folder is refused with what to do), no remote code.
"""

from __future__ import annotations

import ast
import json
import math
import shutil
from pathlib import Path

import pytest
import yaml

from emopillars.config import ParamsError, defaults, load_params, parse_params
from emopillars.data.readers import DataError, MalformedRow, read_benchmark, read_fairytaleqa, read_wikiplots
from emopillars.io import TextDecodeError, read_jsonl

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
BAD_BYTE = b"\xff"


def _goemotions_copy(mirror_dir: Path, tmp_path: Path) -> Path:
    root = tmp_path / "goemotions"
    shutil.copytree(mirror_dir / "goemotions", root)
    return root


def _edit_line(path: Path, index: int, edit) -> None:
    lines = path.read_text(encoding="utf-8").split("\n")
    lines[index] = edit(lines[index])
    path.write_text("\n".join(lines), encoding="utf-8")


# =========================================================================== 1. readers
def test_goemotions_stray_quote_stops_at_its_line_instead_of_swallowing_rows(mirror_dir, tmp_path):
    # With CSV quoting a '"' at the start of line 100 joined the next 76 rows into one record (dev 5,426 -> 5,350).
    root = _goemotions_copy(mirror_dir, tmp_path)
    _edit_line(root / "dev.tsv", 99, lambda line: '"' + line)
    with pytest.raises(MalformedRow, match=r"dev\.tsv:100: expected a text either unquoted or wrapped in \""):
        read_benchmark("goemotions", root)


def test_goemotions_text_with_a_tab_is_refused(mirror_dir, tmp_path):
    root = _goemotions_copy(mirror_dir, tmp_path)
    _edit_line(root / "test.tsv", 9, lambda line: line.replace(" ", "\t", 1))
    with pytest.raises(MalformedRow, match=r"test\.tsv:10: expected 3 tab-separated fields .* found 4 "
                                           r"\(a text cannot hold a tab\)"):
        read_benchmark("goemotions", root)


def test_goemotions_quoted_text_over_two_lines_is_refused(mirror_dir, tmp_path):
    root = _goemotions_copy(mirror_dir, tmp_path)
    with open(root / "train.tsv", "a", encoding="utf-8") as f:
        f.write('"first half\nsecond half"\t3\tabc123\n')
    with pytest.raises(MalformedRow, match=r"train\.tsv:43411: expected 3 tab-separated fields"):
        read_benchmark("goemotions", root)


def test_goemotions_empty_split_is_refused(mirror_dir, tmp_path):
    root = _goemotions_copy(mirror_dir, tmp_path)
    (root / "dev.tsv").write_text("")
    with pytest.raises(DataError, match=r"dev\.tsv: no rows; expected the GoEmotions dev split \(5,426 rows\)"):
        read_benchmark("goemotions", root)


def test_goemotions_split_of_the_wrong_size_is_refused(mirror_dir, tmp_path):
    root = _goemotions_copy(mirror_dir, tmp_path)
    lines = (root / "test.tsv").read_text(encoding="utf-8").split("\n")
    (root / "test.tsv").write_text("\n".join(lines[:5000]) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"test\.tsv: 5,000 rows; expected the GoEmotions test split to hold 5,427"):
        read_benchmark("goemotions", root)


def test_goemotions_bad_utf8_names_file_and_line(mirror_dir, tmp_path):
    root = _goemotions_copy(mirror_dir, tmp_path)
    data = (root / "dev.tsv").read_bytes().split(b"\n")
    data[41] = data[41].replace(b" ", b" " + BAD_BYTE, 1)
    (root / "dev.tsv").write_bytes(b"\n".join(data))
    with pytest.raises(TextDecodeError, match=r"dev\.tsv:42: expected UTF-8 text; byte 0xff at column \d+"):
        read_benchmark("goemotions", root)


def test_meld_stray_quote_cannot_join_rows(mirror_dir, tmp_path):
    root = tmp_path / "meld"
    shutil.copytree(mirror_dir / "meld", root)
    path = root / "dev_sent_emo.csv"
    lines = path.read_text(encoding="utf-8").split("\n")
    # Line 8's Utterance opens a quote that its line never closes: CSV would read on into line 9.
    lines[7] = '7,"Hey. I never close this quote,Phoebe,neutral,neutral,1,4,4,4,0:12:43,0:12:44'
    path.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(MalformedRow, match=r"dev_sent_emo\.csv:8: expected one row per line .* here lines 8-9"):
        read_benchmark("meld", root)


def test_meld_header_only_split_is_refused(mirror_dir, tmp_path):
    root = tmp_path / "meld"
    shutil.copytree(mirror_dir / "meld", root)
    header = (root / "test_sent_emo.csv").read_text(encoding="utf-8").split("\n")[0]
    (root / "test_sent_emo.csv").write_text(header + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"test_sent_emo\.csv: no rows; expected the MELD test split \(2,610 rows\)"):
        read_benchmark("meld", root)


def test_isear_header_only_file_is_refused(mirror_dir, tmp_path):
    root = tmp_path / "isear"
    root.mkdir()
    header = (mirror_dir / "isear" / "isear.csv").read_text(encoding="utf-8").split("\n")[0]
    (root / "isear.csv").write_text(header + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"isear\.csv: no rows; expected the ISEAR answers after the header"):
        read_benchmark("isear", root)


def _emocontext_copy(tmp_path: Path) -> Path:
    root = tmp_path / "emocontext"
    shutil.copytree(FIXTURES / "emocontext", root)
    return root


def test_emocontext_header_only_split_is_refused(tmp_path):
    root = _emocontext_copy(tmp_path)
    header = (root / "dev.txt").read_text(encoding="utf-8").split("\n")[0]
    (root / "dev.txt").write_text(header + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"dev\.txt: no rows; expected the EmoContext dev conversations"):
        read_benchmark("emocontext", root)


def test_emocontext_with_a_byte_order_mark_reads_as_without(tmp_path):
    root = _emocontext_copy(tmp_path)
    for name in ("train.txt", "dev.txt", "test.txt"):
        (root / name).write_bytes(b"\xef\xbb\xbf" + (root / name).read_bytes())
    assert read_benchmark("emocontext", root) == read_benchmark("emocontext", FIXTURES / "emocontext")


def test_iemocap_bad_utf8_names_file_and_line(tmp_path):
    root = tmp_path / "iemocap"
    shutil.copytree(FIXTURES / "iemocap", root)
    transcript = sorted(root.glob("Session1/dialog/transcriptions/*.txt"))[0]
    data = transcript.read_bytes().split(b"\n")
    data[1] += BAD_BYTE
    transcript.write_bytes(b"\n".join(data))
    with pytest.raises(TextDecodeError, match=rf"{transcript.name}:2: expected UTF-8 text"):
        read_benchmark("iemocap", root)


def test_fairytaleqa_empty_file_is_refused(tmp_path):
    (tmp_path / "stories.jsonl").write_text("\n")
    with pytest.raises(DataError, match=r"stories\.jsonl: no rows; expected the FairytaleQA stories"):
        read_fairytaleqa(tmp_path)


def test_wikiplots_empty_files_are_refused(tmp_path):
    (tmp_path / "plots").write_text("")
    (tmp_path / "titles").write_text("")
    with pytest.raises(DataError, match=r"plots: no rows; expected the WikiPlots plots, each ended by a line '<EOS>'"):
        read_wikiplots(tmp_path)


def test_jsonl_bad_utf8_names_file_and_line_and_a_bom_is_accepted(tmp_path):
    bad = tmp_path / "rows.jsonl"
    bad.write_bytes(b'{"a": 1}\n{"a": "x' + BAD_BYTE + b'"}\n')
    with pytest.raises(TextDecodeError, match=r"rows\.jsonl:2: expected UTF-8 text; byte 0xff at column 9"):
        read_jsonl(bad)
    bom = tmp_path / "bom.jsonl"
    bom.write_bytes(b'\xef\xbb\xbf{"a": 1}\n')
    assert read_jsonl(bom) == [{"a": 1}]


@pytest.mark.parametrize("name,content,expected", [
    ("empty.csv", b"", r"empty\.csv: no inputs; expected a header row and at least one row under it"),
    ("header.csv", b"text,id\n", r"header\.csv: no inputs; expected a header row"),
    ("bad.csv", b"text,id\nhello,1\nbad \xff byte,2\n", r"bad\.csv:3: expected UTF-8 text"),
    ("short.csv", b"text,id\nhello,1\nno id here\n", r"short\.csv:3: expected 2 comma-separated fields as in the header"),
    ("tab.tsv", b"text\tid\nhello\tthere\t1\n", r"tab\.tsv:2: expected 2 tab-separated fields .* \(a text cannot hold a tab\)"),
    ("quote.tsv", b'text\tid\n"no closing quote\t1\nnext\t2\n', None),
    ("empty.jsonl", b"\n", r"empty\.jsonl: no inputs; expected one JSON object per line"),
    ("list.jsonl", b'{"text": ["a"]}\n', r"list\.jsonl:1: empty text; expected a non-empty string in 'text'"),
])
def test_predict_inputs(tmp_path, name, content, expected):
    from emopillars.train.predict import read_inputs

    path = tmp_path / name
    path.write_bytes(content)
    if expected is None:  # a TSV quote is text: it cannot join the next line to this one
        assert [(x.text, x.id) for x in read_inputs(path)] == [('"no closing quote', "1"), ("next", "2")]
        return
    with pytest.raises(ValueError, match=expected):
        read_inputs(path)


def test_predict_input_with_a_byte_order_mark_finds_its_text_column(tmp_path):
    from emopillars.train.predict import read_inputs

    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbftext,id\nhello,7\n")
    assert [(x.text, x.id) for x in read_inputs(path)] == [("hello", "7")]


# =========================================================================== 2. generation requests
GOOD = {"messages": [{"role": "user", "content": "Name one feeling."}]}


def _request_file(tmp_path: Path, *rows) -> Path:
    path = tmp_path / "requests.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.parametrize("row,field,expected", [
    ({"messages": [{"role": "user"}]}, "messages.0.content", "Field required"),
    ({"messages": [{"role": "user", "content": ""}]}, "messages.0.content", "at least 1 character"),
    ({"messages": [{"role": "user", "content": "  "}]}, "messages.0.content", "content is blank"),
    ({"messages": [{"role": "user", "content": 5}]}, "messages.0.content", "valid string"),
    ({"messages": [{"role": "robot", "content": "hi"}]}, "messages.0.role", "'system', 'user' or 'assistant'"),
    ({"messages": "hello"}, "messages", "valid list"),
    ({"messages": []}, "messages", "at least 1 item"),
    ({}, "messages", "Field required"),
    ({**GOOD, "sampling": {"temperature": "hot"}}, "sampling.temperature", "valid number"),
    ({**GOOD, "sampling": {"temperature": -0.1}}, "sampling.temperature", "greater than or equal to 0"),
    ({**GOOD, "sampling": {"top_p": 0}}, "sampling.top_p", "greater than 0"),
    ({**GOOD, "sampling": {"top_p": 1.5}}, "sampling.top_p", "less than or equal to 1"),
    ({**GOOD, "sampling": {"max_tokens": -5}}, "sampling.max_tokens", "greater than or equal to 1"),
    ({**GOOD, "sampling": {"max_tokens": 12.5}}, "sampling.max_tokens", "valid integer"),
    ({**GOOD, "sampling": {"n": 2}}, "sampling.n", "unknown field"),
    ({**GOOD, "seed": "7"}, "seed", "valid integer"),
    ({**GOOD, "seed": True}, "seed", "valid integer"),
    ({**GOOD, "sample_index": -1}, "sample_index", "greater than or equal to 0"),
])
def test_bad_request_line_names_file_line_and_field(tmp_path, row, field, expected):
    from emopillars.commands.generate import load_requests
    from emopillars.llm.types import InvalidRequest

    path = _request_file(tmp_path, GOOD, row)
    with pytest.raises(InvalidRequest) as err:
        load_requests(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}:2: {field}: ") and expected in msg, msg


@pytest.mark.parametrize("schema,expected", [
    ("os:system", "expected 'module:Class' naming a pydantic model in emopillars.synth.schemas"),
    ("emopillars.synth.schemas", "expected 'module:Class'"),
    ("emopillars.synth.schemas:character_list_for", "is not a pydantic model class"),
    ("emopillars.synth.schemas:NoSuchClass", "is not a pydantic model class"),
    (["a"], "Input should be a valid string"),
])
def test_request_schema_must_be_a_model_of_the_project(tmp_path, schema, expected):
    from emopillars.commands.generate import load_requests
    from emopillars.llm.types import InvalidRequest

    path = _request_file(tmp_path, {**GOOD, "schema": schema})
    with pytest.raises(InvalidRequest, match=rf"{path.name}:1: schema: .*{expected}"):
        load_requests(path)


def test_request_schema_of_the_project_resolves(tmp_path):
    from emopillars.commands.generate import load_requests
    from emopillars.synth.schemas import UtteranceList

    path = _request_file(tmp_path, {**GOOD, "schema": "emopillars.synth.schemas:UtteranceList"})
    assert load_requests(path)[0].schema is UtteranceList


def test_valid_requests_keep_their_cache_keys(tmp_path):
    # The key of a request read from JSONL is the key of the same request built field by field, with the
    # numbers as written (1 stays 1, not 1.0), so answers cached by earlier runs still hit.
    from emopillars.commands.generate import load_requests
    from emopillars.llm.engine import request_key
    from emopillars.llm.types import GenerationRequest, SamplingParams

    row = {**GOOD, "sampling": {"temperature": 1, "top_p": 0.9, "max_tokens": 40}, "seed": 3, "sample_index": 2,
           "tag": "t", "meta": {"k": 1}}
    loaded = load_requests(_request_file(tmp_path, row))[0]
    built = GenerationRequest(messages=row["messages"], sampling=SamplingParams(temperature=1, top_p=0.9, max_tokens=40),
                              seed=3, sample_index=2, tag="t", meta={"k": 1})
    assert request_key(loaded, "vllm", "m", "r") == request_key(built, "vllm", "m", "r")
    assert json.dumps(loaded.sampling.as_dict()) == '{"temperature": 1, "top_p": 0.9, "max_tokens": 40}'


def test_engine_checks_every_request_before_the_model_loads(tmp_path):
    from emopillars.llm.engine import Engine
    from emopillars.llm.types import GenerationRequest, InvalidRequest, SamplingParams

    def never():
        raise AssertionError("the backend was built for a bad request")

    engine = Engine(never, tmp_path / "cache.sqlite", backend_name="vllm")
    good = GenerationRequest(messages=GOOD["messages"], tag="a")
    bad = [
        (GenerationRequest(messages=[{"role": "user", "content": ""}], tag="b"), "messages.0.content"),
        (GenerationRequest(messages=GOOD["messages"], sampling=SamplingParams(max_tokens=0), tag="b"), "sampling.max_tokens"),
        (GenerationRequest(messages=GOOD["messages"], sampling=SamplingParams(temperature=math.nan), tag="b"),
         "sampling.temperature: Input should be a finite number"),
        (GenerationRequest(messages=GOOD["messages"], schema=dict, tag="b"), "schema: expected a pydantic model class"),
    ]
    with engine:
        for request, field in bad:
            with pytest.raises(InvalidRequest, match=rf"request 2 \('b'\): {field}"):
                engine.generate([good, request])


def test_cli_generate_stops_on_a_bad_request_before_looking_for_the_model(tmp_path, capsys):
    from emopillars.cli import main

    path = _request_file(tmp_path, GOOD, {**GOOD, "sampling": {"temperature": "hot"}})
    rc = main(["generate", "--requests", str(path), "--out", str(tmp_path / "out.jsonl"), "--backend", "transformers",
               "--model-dir", str(tmp_path / "no-model"), "--cache", str(tmp_path / "c.sqlite"), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and f"{path}:2: sampling.temperature: Input should be a valid number (got 'hot')" in err
    assert "no-model" not in err and not (tmp_path / "out.jsonl").exists()


@pytest.mark.parametrize("value", ["0", "-3"])
def test_cli_generate_batch_size_override_is_validated(tmp_path, capsys, value):
    from emopillars.cli import main

    with pytest.raises(SystemExit) as exit_info:  # argparse refuses the flag before anything loads
        main(["generate", "--requests", str(_request_file(tmp_path, GOOD)), "--out", str(tmp_path / "o.jsonl"),
              "--batch-size", value, "--model-dir", str(tmp_path / "no-model"), "--quiet"])
    assert exit_info.value.code == 2
    assert f"argument --batch-size: expected a whole number >= 1, got {value}" in capsys.readouterr().err


# =========================================================================== 3. params
def _raw() -> dict:
    return defaults().model_dump(mode="json")


def _set(raw: dict, key: str, value) -> dict:
    *path, last = key.split(".")
    node = raw
    for part in path:
        node = node[part]
    node[last] = value
    return raw


@pytest.mark.parametrize("changes,key,expected", [
    ({"train.epochs": math.inf}, "train.epochs", "finite number"),
    ({"transfer.learning_rate": math.nan}, "transfer.learning_rate", "finite number"),
    ({"llm.request_timeout_s": -math.inf}, "llm.request_timeout_s", "finite number"),
    ({"llm.cache_only": "yes"}, "llm.cache_only", "valid boolean (got 'yes')"),
    ({"contexts.relabel": 1}, "contexts.relabel", "valid boolean (got 1)"),
    ({"seed": True}, "seed", "valid integer (got True)"),
    ({"seed": 1.9}, "seed", "valid integer (got 1.9)"),
    ({"train.batch_size": 16.0}, "train.batch_size", "valid integer (got 16.0)"),
    ({"train.batch_size": "16"}, "train.batch_size", "valid integer (got '16')"),
    ({"transfer.fractions": [-0.5]}, "transfer.fractions.0", "greater than 0"),
    ({"transfer.fractions": [0.0]}, "transfer.fractions.0", "greater than 0"),
    ({"transfer.fractions": [0.5, 1.5]}, "transfer.fractions.1", "less than or equal to 1"),
    ({"transfer.fractions": []}, "transfer.fractions", "at least 1 item"),
    ({"contexts.share": 1.2}, "contexts.share", "less than or equal to 1"),
    ({"curate.dev_share": 0.5, "curate.test_share": 0.7}, "curate",
     "dev_share + test_share (0.5 + 0.7) must be below 1"),
    ({"curate.dev_share": 0.5, "curate.test_share": 0.5}, "curate", "must be below 1"),
    ({"curate.min_words": 80, "curate.max_words": 60}, "curate", "min_words (80) must not exceed max_words (60)"),
    ({"narratives.min_words": 300, "narratives.max_words": 200}, "narratives",
     "min_words (300) must not exceed max_words (200)"),
    ({"transfer.min_train_examples": 50, "transfer.max_train_examples": 40}, "transfer",
     "min_train_examples (50) must not exceed max_train_examples (40)"),
    ({"labels.sampling.max_tokens": 4096, "llm.max_model_len": 2048}, "(top level)",
     "labels.sampling.max_tokens (4096) must be below llm.max_model_len (2048)"),
])
def test_bad_params_value_names_its_key(tmp_path, changes, key, expected):
    raw = _raw()
    for k, v in changes.items():
        _set(raw, k, v)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ParamsError) as err:
        load_params(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}: invalid params: key '{key}': ") and expected in msg, msg


def test_a_second_section_of_the_same_name_is_refused_with_its_line(tmp_path):
    text = (ROOT / "params.yaml").read_text(encoding="utf-8")
    first = text.split("\n").index("train:") + 1
    path = tmp_path / "params.yaml"
    path.write_text(text + "train:\n  epochs: 1\n")
    last = len(text.split("\n"))
    with pytest.raises(ParamsError, match=rf"params\.yaml:{last}: duplicate key 'train' \(first given on line {first}\)"):
        load_params(path)


def test_a_duplicate_key_inside_a_section_is_refused(tmp_path):
    text = (ROOT / "params.yaml").read_text(encoding="utf-8")
    path = tmp_path / "params.yaml"
    path.write_text(text.replace("\n  epochs: 3\n", "\n  epochs: 3\n  epochs: 4\n", 1))
    with pytest.raises(ParamsError, match=r"params\.yaml:\d+: duplicate key 'epochs'"):
        load_params(path)


def test_params_bad_utf8_and_bad_yaml_name_the_line_and_a_bom_is_accepted(tmp_path):
    text = (ROOT / "params.yaml").read_bytes()
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(text.replace(b"\ndata:", b"\ndata: #" + BAD_BYTE, 1))
    line = text.split(b"\ndata:")[0].count(b"\n") + 2
    with pytest.raises(ParamsError, match=rf"bad\.yaml:{line}: expected UTF-8 text"):
        load_params(bad)
    broken = tmp_path / "broken.yaml"
    broken.write_bytes(text + b"report: [unclosed\n")
    with pytest.raises(ParamsError, match=r"broken\.yaml:\d+: not valid YAML"):
        load_params(broken)
    bom = tmp_path / "bom.yaml"
    bom.write_bytes(b"\xef\xbb\xbf" + text)
    assert load_params(bom) == load_params(ROOT / "params.yaml")


def test_a_folder_given_as_params_is_refused(tmp_path):
    with pytest.raises(ParamsError, match=rf"{tmp_path}: not a file; expected a params YAML file"):
        load_params(tmp_path)


def test_committed_params_still_validate():
    assert parse_params(yaml.safe_load((ROOT / "params.yaml").read_text()), "params.yaml").profile == "default"


# --------------------------------------------------------------------------- predict's flags
@pytest.fixture(scope="module")
def tiny_classifier(tmp_path_factory) -> Path:
    """A random 3-label BERT classifier (64 positions) with a tuned-threshold file, as exported models carry."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from emopillars.train.encoder import tiny_encoder

    tmp = tmp_path_factory.mktemp("bad_input")
    encoder = tiny_encoder(tmp / "encoder", "bert")
    torch.manual_seed(0)
    labels = {0: "joy", 1: "anger", 2: "fear"}
    model = AutoModelForSequenceClassification.from_pretrained(
        str(encoder), num_labels=3, problem_type="multi_label_classification", id2label=labels,
        label2id={v: k for k, v in labels.items()}, use_safetensors=True)
    out = tmp / "classifier"
    model.save_pretrained(str(out))
    AutoTokenizer.from_pretrained(str(encoder)).save_pretrained(str(out))
    (out / "thresholds.json").write_text(json.dumps({"kind": "global", "global": 0.5}))
    return out


@pytest.mark.parametrize("flags,expected", [
    (["--threshold", "nan"], "--threshold nan: expected a number from 0 to 1"),
    (["--threshold", "1.5"], "--threshold 1.5: expected a number from 0 to 1"),
    (["--batch-size", "0"], "argument --batch-size: expected a whole number >= 1, got 0"),
    (["--batch-size", "-3"], "argument --batch-size: expected a whole number >= 1, got -3"),
    (["--max-length", "0"], "argument --max-length: expected a whole number >= 1, got 0"),
    (["--max-length", "1000"], "--max-length 1000: the model in"),
])
def test_cli_predict_flags_are_validated(tiny_classifier, capsys, flags, expected):
    from emopillars.cli import main

    try:
        rc = main(["predict", "--model", str(tiny_classifier), "--quiet", "--text", "so happy " * 200, *flags])
    except SystemExit as e:  # argparse's own range checks
        rc = e.code
    captured = capsys.readouterr()
    assert rc == 2 and expected in captured.err and not captured.out
    assert "Traceback" not in captured.err


def test_cli_predict_default_length_fits_a_model_with_few_positions(tiny_classifier, capsys):
    from emopillars.cli import main

    assert main(["predict", "--model", str(tiny_classifier), "--quiet", "--text", "so happy " * 200]) == 0
    assert set(json.loads(capsys.readouterr().out)["scores"]) == {"joy", "anger", "fear"}


# =========================================================================== 4. models
def test_pickle_only_model_folder_is_refused_with_what_to_do(tiny_classifier, tmp_path, capsys):
    import torch
    from safetensors.torch import load_file

    from emopillars.cli import main

    folder = tmp_path / "pickled"
    shutil.copytree(tiny_classifier, folder)
    torch.save(load_file(str(folder / "model.safetensors")), str(folder / "pytorch_model.bin"))
    (folder / "model.safetensors").unlink()
    rc = main(["predict", "--model", str(folder), "--quiet", "--text", "hello"])
    err = capsys.readouterr().err
    assert rc == 2
    assert (f"{folder}: only pickle weights (pytorch_model.bin); this project loads safetensors only: convert with"
            in err)


def _python_files():
    for top in ("src", "stages", "scripts", "bench", "tests"):
        yield from sorted((ROOT / top).rglob("*.py"))


def _model_loads(tree: ast.AST):
    """``X.from_pretrained(...)`` calls whose X is a model class (not a tokenizer or a config)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "from_pretrained":
            owner = ast.unparse(node.func.value)
            if not any(word in owner for word in ("Tokenizer", "Config")):
                yield node


def test_every_model_load_asks_for_safetensors():
    missing = []
    for path in _python_files():
        for call in _model_loads(ast.parse(path.read_text(encoding="utf-8"))):
            keywords = {k.arg: k.value for k in call.keywords}
            if "gguf_file" in keywords:  # a GGUF file is no pickle; it is converted to safetensors once
                continue
            value = keywords.get("use_safetensors")
            if not (isinstance(value, ast.Constant) and value.value is True):
                missing.append(f"{path.relative_to(ROOT)}:{call.lineno}")
    assert not missing, f"from_pretrained without use_safetensors=True: {missing}"


def test_no_remote_code_is_ever_allowed():
    uses = [f"{path.relative_to(ROOT)}:{node.lineno}" for path in _python_files()
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.keyword) and node.arg == "trust_remote_code"]
    assert not uses, f"trust_remote_code passed at {uses}"


def test_the_project_encoders_carry_safetensors(tmp_path):
    from emopillars.train.encoder import packaged_encoder, tiny_encoder

    for folder in (packaged_encoder(), tiny_encoder(tmp_path / "tiny", "roberta")):
        assert list(folder.glob("*.safetensors")) and not list(folder.glob("*.bin")), folder


def test_an_exported_model_carries_safetensors_and_loads(released_model):
    from emopillars.train.predict import Input, Predictor

    folder = released_model[0]
    assert (folder / "model.safetensors").is_file() and not list(folder.glob("*.bin"))
    rows = Predictor(folder).predict([Input("What a lovely day")], progress=False)
    assert len(rows) == 1 and rows[0]["scores"]
