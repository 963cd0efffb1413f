"""The data stage: copies from the mirror or the public sources, every byte checked against checksums/."""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import runpy
import shutil
import subprocess
import threading
from pathlib import Path

import pytest
import yaml

from emopillars.data import materialize as mat
from emopillars.data.materialize import (
    SOURCES,
    MaterializeError,
    Source,
    materialize,
    plan,
    read_checksums,
    requested,
    resolve_mirror,
    verify,
)
from emopillars.io import sha256_file

ROOT = Path(__file__).resolve().parents[1]
CHECKSUMS = ROOT / "checksums"
DATASETS = ["goemotions", "isear", "meld", "fairytaleqa_stories"]
WIKIPLOTS = ROOT / "tests" / "fixtures" / "wikiplots"


def _mirror_copy(mirror_dir: Path, tmp_path: Path, datasets=DATASETS) -> Path:
    copy = tmp_path / "mirror"
    for ds in datasets:
        shutil.copytree(mirror_dir / ds, copy / ds)
    return copy


def test_checksums_cover_every_source_and_match_the_mirror(mirror_dir):
    for ds in DATASETS:
        sums = read_checksums(CHECKSUMS / f"{ds}.sha256")
        assert set(sums) == set(SOURCES[ds]), ds
        for name, expected in sums.items():
            assert sha256_file(mirror_dir / ds / name) == expected, f"{ds}/{name}"


def test_materialize_from_mirror(mirror_dir, tmp_path):
    out = tmp_path / "raw"
    manifest = materialize(DATASETS, out, mirror_dir, CHECKSUMS, progress=False)
    assert sorted(p.name for p in out.iterdir()) == sorted(DATASETS)
    assert manifest["meld"]["files"]["train_sent_emo.csv"]["bytes"] == 1_119_290
    assert manifest["isear"]["bytes"] == 1_670_985 + 1_045_355
    verify(out, DATASETS, CHECKSUMS)
    # nothing but the verified files: no temporary folders left next to the output
    assert [p.name for p in tmp_path.iterdir()] == ["raw"]


def test_altered_byte_stops_with_file_sums_and_remedy(mirror_dir, tmp_path):
    mirror = _mirror_copy(mirror_dir, tmp_path, ["meld"])
    target = mirror / "meld" / "dev_sent_emo.csv"
    data = bytearray(target.read_bytes())
    data[1000] ^= 0x01
    target.write_bytes(bytes(data))
    expected = read_checksums(CHECKSUMS / "meld.sha256")["dev_sent_emo.csv"]
    with pytest.raises(MaterializeError) as err:
        materialize(["meld"], tmp_path / "raw", mirror, CHECKSUMS, progress=False)
    msg = str(err.value)
    assert str(target) in msg and "sha256 mismatch for meld/dev_sent_emo.csv" in msg
    assert f"expected {expected}, got {sha256_file(target)}" in msg
    assert "EMOPILLARS_DATA_MIRROR" in msg and "data.mirror" in msg
    assert not (tmp_path / "raw").exists()  # all or nothing


def test_missing_file_keeps_the_previous_output(mirror_dir, tmp_path):
    out = tmp_path / "raw"
    materialize(["meld"], out, mirror_dir, CHECKSUMS, progress=False)
    mirror = _mirror_copy(mirror_dir, tmp_path, ["meld"])
    (mirror / "meld" / "test_sent_emo.csv").unlink()
    with pytest.raises(MaterializeError, match=r"meld: missing file meld/test_sent_emo\.csv"):
        materialize(["meld"], out, mirror, CHECKSUMS, progress=False)
    verify(out, ["meld"], CHECKSUMS)  # the earlier, complete output is untouched


def test_unknown_dataset_and_bad_checksum_line(tmp_path, mirror_dir):
    with pytest.raises(MaterializeError, match=r"sst2\.sha256: checksum file not found: 'sst2' is not a known"):
        materialize(["sst2"], tmp_path / "raw", mirror_dir, CHECKSUMS, progress=False)
    bad = tmp_path / "sums"
    bad.mkdir()
    (bad / "meld.sha256").write_text("d2fa2d65  train_sent_emo.csv\n")
    with pytest.raises(MaterializeError, match=r"meld\.sha256:1: expected '<64 hex digits>  <file name>'"):
        read_checksums(bad / "meld.sha256")


def test_download_path_verifies_and_rebuilds_derived_files(mirror_dir, tmp_path):
    # The download code path, fed from file:// URLs: fetched files are verified,
    # and isear_text_emotion.tsv is rebuilt from isear.csv byte for byte.
    sources = {
        "isear": {"isear.csv": Source((f"file://{mirror_dir}/isear/isear.csv",)),
                  "isear_text_emotion.tsv": SOURCES["isear"]["isear_text_emotion.tsv"]},
        "meld": {name: Source((f"file://{tmp_path}/nowhere/{name}", f"file://{mirror_dir}/meld/{name}"))
                 for name in SOURCES["meld"]},
    }
    materialize(["isear", "meld"], tmp_path / "raw", None, CHECKSUMS, sources=sources, progress=False)
    verify(tmp_path / "raw", ["isear", "meld"], CHECKSUMS)


def test_download_failure_says_how_to_supply(tmp_path):
    # .invalid never resolves (RFC 2606), so this is the real error path on any machine.
    sources = {"meld": {n: Source((f"https://example.invalid/MELD/{n}",)) for n in SOURCES["meld"]}}
    with pytest.raises(MaterializeError) as err:
        materialize(["meld"], tmp_path / "raw", None, CHECKSUMS, sources=sources, timeout=5, progress=False)
    msg = str(err.value)
    assert "could not download a verified copy" in msg and "example.invalid" in msg
    assert "EMOPILLARS_DATA_MIRROR" in msg


def test_stories_jsonl_cannot_be_downloaded(tmp_path):
    with pytest.raises(MaterializeError, match=r"fairytaleqa_stories: needs a mirror.*stories\.jsonl is not "
                                               r"published as one file.*FairytaleQAData"):
        materialize(["fairytaleqa_stories"], tmp_path / "raw", None, CHECKSUMS, progress=False)


def _params(tmp_path: Path, **data) -> Path:
    """The default profile's params with ``data`` (and ``corpus``) overridden, written to tmp_path/params.yaml."""
    from emopillars.profiles import compose

    path = compose("default", tmp_path / "params.yaml", ROOT / "conf")
    params = yaml.safe_load(path.read_text())
    corpus = data.pop("corpus", None)
    if corpus:
        params["narratives"]["corpus"] = corpus
    params["data"].update(data)
    path.write_text(yaml.safe_dump(params))
    return path


def _stage(params: Path, tmp_path: Path, checksums: Path = CHECKSUMS) -> int:
    stage = runpy.run_path(str(ROOT / "stages" / "data.py"))
    return stage["main"](["--params", str(params), "--out", str(tmp_path / "raw"),
                          "--metrics", str(tmp_path / "data.json"), "--checksums", str(checksums)])


@pytest.fixture
def no_network(monkeypatch):
    def refuse(url, dest, timeout):
        raise AssertionError(f"tried to download {url}")

    monkeypatch.setattr(mat, "_fetch", refuse)


def test_data_stage_writes_outputs_and_manifest(mirror_dir, tmp_path, monkeypatch):
    params = _params(tmp_path, mirror=None)
    monkeypatch.setenv("EMOPILLARS_DATA_MIRROR", str(mirror_dir))
    assert _stage(params, tmp_path) == 0
    manifest = json.loads((tmp_path / "data.json").read_text())["datasets"]
    assert manifest["goemotions"]["splits"] == {"train": 43_410, "dev": 5_426, "test": 5_427}
    assert manifest["isear"]["skipped"] == {"no_response": 92, "no_situation": 57, "cross_reference": 9}
    # the corpus of narratives.corpus, in data/raw/<corpus>
    assert manifest["fairytaleqa"]["splits"] == {"train": 232, "dev": 23, "test": 23}
    assert manifest["fairytaleqa"]["dataset"] == "fairytaleqa_stories"
    assert (tmp_path / "raw" / "fairytaleqa" / "stories.jsonl").is_file()
    assert manifest["meld"]["files"]["LICENSE.txt"]["sha256"] == read_checksums(CHECKSUMS / "meld.sha256")["LICENSE.txt"]


def test_data_stage_reports_a_corrupted_file(mirror_dir, tmp_path, monkeypatch, capsys):
    mirror = _mirror_copy(mirror_dir, tmp_path, ["goemotions"])
    (mirror / "goemotions" / "emotions.txt").write_text("admiration\n")
    params = _params(tmp_path, datasets=["goemotions"], corpus="wikiplots", wikiplots_dir=str(WIKIPLOTS))
    monkeypatch.setenv("EMOPILLARS_DATA_MIRROR", str(mirror))
    assert _stage(params, tmp_path) == 2
    err = capsys.readouterr().err
    assert "sha256 mismatch for goemotions/emotions.txt" in err and "EMOPILLARS_DATA_MIRROR" in err
    assert not (tmp_path / "data.json").exists() and not (tmp_path / "raw").exists()


# --------------------------------------------------------------------------- without a mirror
def _make_env(tmp_path: Path, shared: bool) -> dict:
    """A copy of the Makefile in tmp/repo, with or without a tmp/shared/data folder beside it."""
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copy(ROOT / "Makefile", repo / "Makefile")
    if shared:
        (tmp_path / "shared" / "data").mkdir(parents=True)
    return {"cwd": repo}


@pytest.mark.parametrize("shared", [True, False])
def test_makefile_exports_the_mirror_only_when_the_folder_exists(tmp_path, monkeypatch, shared):
    if not shutil.which("make"):
        pytest.skip("make not installed")
    monkeypatch.delenv("EMOPILLARS_DATA_MIRROR", raising=False)
    env = _make_env(tmp_path, shared)
    out = subprocess.run(["make", "-s", "--eval", 'show-mirror: ; @echo "[$$EMOPILLARS_DATA_MIRROR]"', "show-mirror"],
                         capture_output=True, text=True, check=True, **env).stdout.strip()
    assert out == (f"[{tmp_path / 'shared' / 'data'}]" if shared else "[]")


def test_resolve_mirror(tmp_path):
    assert resolve_mirror(str(tmp_path), {}) == (tmp_path, f"data.mirror={tmp_path}")
    mirror, how = resolve_mirror(str(tmp_path / "absent"), {})
    assert mirror is None and "is not a folder" in how
    # the variable is explicit: returned as given even when the folder is missing (materialize then stops)
    assert resolve_mirror(str(tmp_path), {"EMOPILLARS_DATA_MIRROR": "/nowhere"})[0] == Path("/nowhere")
    assert resolve_mirror(None, {"EMOPILLARS_DATA_MIRROR": ""}) == (None, "EMOPILLARS_DATA_MIRROR and data.mirror are unset")


def test_without_a_mirror_the_public_sources_are_planned(tmp_path, no_network):
    items = plan(requested(["goemotions", "isear", "meld"]), None, CHECKSUMS)
    assert [(it.name, it.origin) for it in items] == [("goemotions", "download"), ("isear", "download"),
                                                      ("meld", "download")]
    assert all(set(it.sums) == set(SOURCES[it.dataset]) for it in items)
    # a mirror without a dataset's folder: that dataset is downloaded, the others copied
    (tmp_path / "meld").mkdir()
    for name in SOURCES["meld"]:
        (tmp_path / "meld" / name).write_text("")
    items = plan(requested(["goemotions", "meld"]), tmp_path, CHECKSUMS)
    assert [(it.name, it.origin) for it in items] == [("goemotions", "download"), ("meld", "mirror")]


def test_stage_without_mirror_lists_every_missing_dataset(tmp_path, monkeypatch, capsys, no_network):
    monkeypatch.delenv("EMOPILLARS_DATA_MIRROR", raising=False)
    params = _params(tmp_path, mirror=str(tmp_path / "no-mirror"), datasets=["goemotions", "iemocap", "emocontext"],
                     corpus="fairytaleqa", iemocap_dir=None, emocontext_dir=str(tmp_path / "ec"))
    (tmp_path / "ec").mkdir()
    (tmp_path / "ec" / "train.txt").write_text("")
    assert _stage(params, tmp_path) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("data: error: ")]
    assert len(errors) == 3  # goemotions has a public source: not an error
    iemocap, emocontext, ftqa = errors  # data.datasets in order, then the corpus
    assert ftqa.startswith("data: error: fairytaleqa: needs a mirror")
    assert "EMOPILLARS_DATA_MIRROR" in ftqa and "data.mirror" in ftqa
    assert "fairytaleqa_stories/ with LICENSE.txt, stories.jsonl, story_meta.csv" in ftqa
    assert "iemocap: not supplied" in iemocap and "data.iemocap_dir" in iemocap and "Session1 ... Session5" in iemocap
    assert f"{tmp_path / 'ec'}: missing dev.txt, test.txt" in emocontext and "data.emocontext_dir" in emocontext
    assert not (tmp_path / "raw").exists() and not (tmp_path / "data.json").exists()


def test_explicit_mirror_variable_must_exist(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("EMOPILLARS_DATA_MIRROR", str(tmp_path / "typo"))
    params = _params(tmp_path, datasets=["meld"], corpus="wikiplots", wikiplots_dir=str(WIKIPLOTS))
    assert _stage(params, tmp_path) == 2
    assert f"data: error: {tmp_path / 'typo'}: data mirror folder not found" in capsys.readouterr().err


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def http_folder(tmp_path):
    """An HTTP server on 127.0.0.1 serving tmp_path/www; yields (folder, base URL)."""
    www = tmp_path / "www"
    www.mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(www)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield www, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _tiny_dataset(tmp_path: Path, www: Path) -> Path:
    """A dataset 'tiny' of two files served from www, with its sums in tmp/checksums."""
    sums = tmp_path / "checksums"
    sums.mkdir()
    lines = []
    for name, text in (("a.txt", "first file\n"), ("b.tsv", "x\ty\n")):
        (www / name).write_text(text)
        lines.append(f"{hashlib.sha256(text.encode()).hexdigest()}  {name}")
    (sums / "tiny.sha256").write_text("\n".join(lines) + "\n")
    return sums


def test_stage_downloads_from_http_and_copies_wikiplots(tmp_path, monkeypatch, capsys, http_folder):
    # No mirror and no variable: the checked dataset is fetched over HTTP (a local server), the corpus
    # is the user's WikiPlots copy; FairytaleQA is not needed by a profile that reads WikiPlots.
    www, base = http_folder
    sums = _tiny_dataset(tmp_path, www)
    monkeypatch.delenv("EMOPILLARS_DATA_MIRROR", raising=False)
    monkeypatch.setattr(mat, "SOURCES", {"tiny": {"a.txt": Source((f"{base}/missing.txt", f"{base}/a.txt")),
                                                  "b.tsv": Source((f"{base}/b.tsv",))}})
    params = _params(tmp_path, mirror=None, datasets=["tiny"], corpus="wikiplots", wikiplots_dir=str(WIKIPLOTS))
    assert _stage(params, tmp_path, sums) == 0
    raw = tmp_path / "raw"
    assert sorted(p.name for p in raw.iterdir()) == ["tiny", "wikiplots"]
    assert (raw / "tiny" / "a.txt").read_text() == "first file\n"
    assert (raw / "wikiplots" / "plots").read_bytes() == (WIKIPLOTS / "plots").read_bytes()
    assert (raw / "wikiplots" / "titles").read_bytes() == (WIKIPLOTS / "titles").read_bytes()
    manifest = json.loads((tmp_path / "data.json").read_text())["datasets"]
    assert manifest["tiny"]["source"] == "public sources"
    assert manifest["wikiplots"]["source"] == str(WIKIPLOTS)
    assert manifest["wikiplots"]["files"]["titles"]["sha256"] == sha256_file(WIKIPLOTS / "titles")
    assert manifest["wikiplots"]["plots"] == 30 and manifest["wikiplots"]["skipped"] == {"empty_plot": 1}
    assert "2 datasets verified" in capsys.readouterr().out


def test_download_that_fails_says_how_to_supply(tmp_path, monkeypatch, capsys, http_folder):
    www, base = http_folder
    sums = _tiny_dataset(tmp_path, www)
    (www / "b.tsv").write_text("changed upstream\n")
    monkeypatch.delenv("EMOPILLARS_DATA_MIRROR", raising=False)
    monkeypatch.setattr(mat, "SOURCES", {"tiny": {"a.txt": Source((f"{base}/a.txt",)),
                                                  "b.tsv": Source((f"{base}/b.tsv",))}})
    params = _params(tmp_path, mirror=None, datasets=["tiny"], corpus="wikiplots", wikiplots_dir=str(WIKIPLOTS))
    assert _stage(params, tmp_path, sums) == 2
    err = capsys.readouterr().err
    assert "tiny/b.tsv: could not download a verified copy" in err
    assert f"{base}/b.tsv: sha256 {hashlib.sha256(b'changed upstream' + bytes([10])).hexdigest()}" in err
    assert "EMOPILLARS_DATA_MIRROR" in err
    assert not (tmp_path / "raw").exists()


# --------------------------------------------------------------------------- the user's WikiPlots copy
def test_wikiplots_copy_must_hold_plots_and_titles(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("EMOPILLARS_DATA_MIRROR", raising=False)
    copy = tmp_path / "wp"
    copy.mkdir()
    shutil.copy(WIKIPLOTS / "plots", copy / "plots")
    (copy / "plots.zip").write_bytes(b"PK")
    params = _params(tmp_path, mirror=None, datasets=[], corpus="wikiplots", wikiplots_dir=str(copy))
    assert _stage(params, tmp_path) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"data: error: {copy}: missing titles (plots.zip is there: unpack it); data.wikiplots_dir must be "
                   "the wikiplots folder holding the files 'plots' and 'titles'"]


def test_wikiplots_copy_with_a_title_too_many_stops_before_writing(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("EMOPILLARS_DATA_MIRROR", raising=False)
    copy = tmp_path / "wp"
    shutil.copytree(WIKIPLOTS, copy)
    with open(copy / "titles", "a", encoding="utf-8") as f:
        f.write("A Title Without a Plot\n")
    params = _params(tmp_path, mirror=None, datasets=[], corpus="wikiplots", wikiplots_dir=str(copy))
    assert _stage(params, tmp_path) == 2
    err = capsys.readouterr().err
    assert f"{copy / 'plots'}: 31 plots (ended by <EOS>) but {copy / 'titles'} has 32 titles" in err
    assert not (tmp_path / "raw").exists()
