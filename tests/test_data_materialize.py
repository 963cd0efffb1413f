"""The data stage: copies from the mirror or the public sources, every byte checked against checksums/."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from emopillars.data.materialize import SOURCES, MaterializeError, Source, materialize, read_checksums, verify
from emopillars.io import sha256_file

ROOT = Path(__file__).resolve().parents[1]
CHECKSUMS = ROOT / "checksums"
DATASETS = ["goemotions", "isear", "meld", "fairytaleqa_stories"]


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
    with pytest.raises(MaterializeError, match=r"test_sent_emo\.csv: missing file meld/test_sent_emo\.csv"):
        materialize(["meld"], out, mirror, CHECKSUMS, progress=False)
    verify(out, ["meld"], CHECKSUMS)  # the earlier, complete output is untouched


def test_unknown_dataset_and_bad_checksum_line(tmp_path, mirror_dir):
    with pytest.raises(MaterializeError, match=r"wikiplots\.sha256: checksum file not found"):
        materialize(["wikiplots"], tmp_path / "raw", mirror_dir, CHECKSUMS, progress=False)
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
    with pytest.raises(MaterializeError, match=r"stories\.jsonl: cannot be downloaded as one file.*FairytaleQAData"):
        materialize(["fairytaleqa_stories"], tmp_path / "raw", None, CHECKSUMS, progress=False)


def test_data_stage_writes_outputs_and_manifest(mirror_dir, tmp_path, monkeypatch):
    import runpy

    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["data"]["mirror"] = None
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.setenv("EMOPILLARS_DATA_MIRROR", str(mirror_dir))
    stage = runpy.run_path(str(ROOT / "stages" / "data.py"))
    rc = stage["main"](["--params", str(tmp_path / "params.yaml"), "--out", str(tmp_path / "raw"),
                        "--metrics", str(tmp_path / "data.json"), "--checksums", str(CHECKSUMS)])
    assert rc == 0
    manifest = json.loads((tmp_path / "data.json").read_text())["datasets"]
    assert manifest["goemotions"]["splits"] == {"train": 43_410, "dev": 5_426, "test": 5_427}
    assert manifest["isear"]["skipped"] == {"no_response": 92, "no_situation": 57, "cross_reference": 9}
    assert manifest["fairytaleqa_stories"]["splits"] == {"train": 232, "dev": 23, "test": 23}
    assert manifest["meld"]["files"]["LICENSE.txt"]["sha256"] == read_checksums(CHECKSUMS / "meld.sha256")["LICENSE.txt"]


def test_data_stage_reports_a_corrupted_file(mirror_dir, tmp_path, monkeypatch, capsys):
    import runpy

    mirror = _mirror_copy(mirror_dir, tmp_path, ["goemotions"])
    (mirror / "goemotions" / "emotions.txt").write_text("admiration\n")
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["data"]["datasets"] = ["goemotions"]
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.setenv("EMOPILLARS_DATA_MIRROR", str(mirror))
    stage = runpy.run_path(str(ROOT / "stages" / "data.py"))
    rc = stage["main"](["--params", str(tmp_path / "params.yaml"), "--out", str(tmp_path / "raw"),
                        "--metrics", str(tmp_path / "data.json"), "--checksums", str(CHECKSUMS)])
    assert rc == 1
    err = capsys.readouterr().err
    assert "sha256 mismatch for goemotions/emotions.txt" in err and "EMOPILLARS_DATA_MIRROR" in err
    assert not (tmp_path / "data.json").exists()
