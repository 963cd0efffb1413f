"""The benchmark registry: every definition is complete and consistent, and it is the one the pipeline reads."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from emopillars import benchmarks
from emopillars.config import DataParams, defaults
from emopillars.data.readers import DatasetNotSupplied, read_isear
from emopillars.eval.bootstrap import bootstrap_metrics
from emopillars.taxonomy import EMOTIONS
from helpers.toybench import FOLDER, TOY


def Params(data=None, transfer=None):
    """The two params sections the registry reads (the default profile's, unless given)."""
    d = defaults()
    return SimpleNamespace(data=data or d.data, transfer=transfer or d.transfer)


@pytest.mark.parametrize("b", benchmarks.all_benchmarks(), ids=lambda b: b.name)
def test_every_definition_is_complete(b):
    assert callable(b.read_function) and b.display_name and b.protocol
    assert len(b.labels) >= 2 and len(set(b.labels)) == len(b.labels)
    assert all(set(classes) <= set(EMOTIONS) for classes in b.to_taxonomy.values())
    assert b.primary_metric in benchmarks.METRIC_NAMES
    # the metrics code writes the primary metric for this label set
    rng = np.random.default_rng(0)
    gold, pred = rng.integers(0, len(b.labels), 40), rng.integers(0, len(b.labels), 40)
    assert b.primary_metric in bootstrap_metrics(gold, pred, b.labels, samples=20)
    if b.user_supplied:
        assert b.user_supplied_param.removeprefix("data.") in DataParams.model_fields and b.how_to_get
    if b.split_seed_param:
        assert b.split_seed_param == "data.split_seed"
    if b.context_turns_param:
        assert b.context and benchmarks.param(Params(), b.context_turns_param) is not None


def test_the_paper_benchmarks_and_their_metrics():
    assert benchmarks.names()[:3] == ("goemotions", "isear", "meld")
    assert {b.name: b.primary_metric for b in benchmarks.all_benchmarks()} == {
        "goemotions": "macro_f1", "isear": "macro_f1", "meld": "weighted_f1", "iemocap": "weighted_f1",
        "iemocap6": "weighted_f1", "emocontext": "emocontext_micro_f1"}
    assert [b.name for b in benchmarks.all_benchmarks() if b.multi_label] == ["goemotions"]
    assert [b.name for b in benchmarks.all_benchmarks() if b.user_supplied] == ["iemocap", "iemocap6", "emocontext"]
    assert benchmarks.get("goemotions").labels == EMOTIONS


def test_an_unconfigured_user_benchmark_says_which_param_to_set():
    splits, reason = benchmarks.read_splits("emocontext", Params())
    assert splits is None and "data.emocontext_dir" in reason
    with pytest.raises(DatasetNotSupplied, match="data.iemocap_dir"):
        benchmarks.get("iemocap").read(None)
    with pytest.raises(KeyError, match="unknown benchmark 'nope'; known: goemotions"):
        benchmarks.get("nope")


def test_isear_splits_with_data_split_seed_not_the_transfer_seed(mirror_dir):
    params = Params(data=defaults().data.replace(split_seed=7, out_dir=str(mirror_dir)))
    assert params.transfer.seed != 7
    splits, _ = benchmarks.read_splits("isear", params)
    by_seed = {seed: read_isear(mirror_dir / "isear", seed=seed) for seed in (7, params.transfer.seed)}
    ids = [r.id for r in splits["test"]]
    assert ids == [r.id for r in by_seed[7]["test"]]
    assert ids != [r.id for r in by_seed[params.transfer.seed]["test"]]


def test_a_registered_benchmark_is_read_mapped_and_accepted_by_the_params():
    with pytest.raises(ValueError, match="unknown benchmark 'toybench'"):
        defaults().transfer.replace(benchmarks=["toybench"])
    with benchmarks.registered(TOY):
        params = Params(defaults().data.replace(out_dir=str(FOLDER.parent)), defaults().transfer.replace(benchmarks=["toybench"]))
        splits, reason = benchmarks.read_splits("toybench", params)
        assert reason is None and splits.counts() == {"train": 12, "dev": 3, "test": 3}
        from emopillars.data.label_maps import project_label, to_taxonomy

        assert to_taxonomy("toybench", ["up"], primary_only=False) == ["excitement", "joy"]
        assert project_label(np.eye(len(EMOTIONS))[EMOTIONS.index("sadness")], "toybench") == "down"
    assert "toybench" not in benchmarks.names()


def test_a_definition_that_does_not_fit_fails_when_built():
    with pytest.raises(ValueError, match="unknown primary metric 'f2'"):
        benchmarks.Benchmark(name="x", display_name="X", reader=TOY.reader, to_taxonomy={"a": ("joy",)},
                             multi_label=False, primary_metric="f2", protocol="-", mirror_folder="x")
    with pytest.raises(ValueError, match="unknown: glee"):
        benchmarks.Benchmark(name="x", display_name="X", reader=TOY.reader, to_taxonomy={"a": ("glee",)},
                             multi_label=False, primary_metric="macro_f1", protocol="-", mirror_folder="x")
    with pytest.raises(ValueError, match="already registered"):
        benchmarks.register(benchmarks.get("isear"))


def test_checking_benchmark_names_in_the_params_does_not_load_the_readers():
    import subprocess
    import sys

    code = ("import sys; from emopillars.config import defaults; defaults().transfer.replace(benchmarks=['meld']); "
            "print('emopillars.data.readers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"  # a reader edit does not touch the stages that only load params
