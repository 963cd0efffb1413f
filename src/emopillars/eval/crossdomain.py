"""Out of domain: a model fine-tuned on one benchmark scored on another through the Ekman groups they share.

The model's scores over its own benchmark's labels become Ekman-group scores
(max over each group's labels, :func:`emopillars.data.label_maps.group_scores`);
its answer is the arg-max over the groups that the two label sets share. The
target's gold labels are read as groups the same way: one group on a
single-label target, a set of groups on a multi-label one (GoEmotions). An
example whose gold falls in no shared group (ISEAR shame or guilt, MELD
neutral for a model that has no neutral label, ...) cannot be scored and is
excluded, counted by its gold label. Metrics are over the shared groups, with
the project's bootstrap intervals; macro-F1 is the primary one.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from emopillars import benchmarks
from emopillars.contracts.evaluation import CrossDomainRecord
from emopillars.data.label_maps import gold_groups, group_scores, project_scores, shared_groups
from emopillars.eval.evaluate import evaluate_scores, evaluation_fields
from emopillars.taxonomy import EMOTIONS

PRIMARY_METRIC = "macro_f1"


def uses_context(source: str, target: str) -> bool:
    """The target's dialogue context goes to the model only when the model was trained with context too."""
    return benchmarks.get(source).context and benchmarks.get(target).context


def crossdomain_gold(source: str, target: str, records) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """Which target records can be scored (a mask), their gold over the shared groups, and the excluded ones' labels.

    Gold is an indicator matrix on a multi-label target and group ids on a single-label one. The
    excluded examples are counted by gold label (several labels joined with ``+``).
    """
    groups = shared_groups(source, target)
    multi = benchmarks.get(target).multi_label
    keep, rows, excluded = [], [], Counter()
    for r in records:
        mine = gold_groups(target, r.labels, groups)
        keep.append(bool(mine))
        if not mine:
            excluded["+".join(r.labels)] += 1
            continue
        rows.append([g in mine for g in groups] if multi else groups.index(mine[0]))
    gold = np.array(rows, dtype=bool if multi else int).reshape((len(rows), len(groups)) if multi else (len(rows),))
    return np.array(keep, dtype=bool), gold, dict(sorted(excluded.items(), key=lambda kv: (-kv[1], kv[0])))


def protocol(source: str, target: str, groups: Sequence[str], test_set: str) -> str:
    s, t = benchmarks.get(source), benchmarks.get(target)
    gold = "a set of groups per example" if t.multi_label else "one group per example"
    context = "; the target's dialogue context given as in training" if uses_context(source, target) else ""
    return (f"cross-domain: the {s.display_name} model's label scores read as Ekman groups (max over each group's "
            f"labels; the GoEmotions authors' Ekman grouping), arg-max over the {len(groups)} groups shared with "
            f"{t.display_name} ({', '.join(groups)}); gold labels read as groups ({gold}); test examples whose gold "
            f"has no shared group excluded; macro-F1 over the shared groups; {test_set}{context}; "
            "95% percentile bootstrap; paired bootstrap test against the base encoder's model of the same source")


def score_crossdomain(source: str, target: str, init: str, system: str, model_dir: Path, scores: np.ndarray,
                      records, ep, test_set: str,
                      baseline_pred: Optional[np.ndarray] = None) -> tuple[CrossDomainRecord, np.ndarray]:
    """The record of a source model's ``scores`` (over its labels, one row per record of ``records``) on ``target``.

    ``records`` is the target's whole test set; the examples that cannot be scored are left out here.
    Returns the record and the predicted group ids (for the paired test of the next initialisation).
    """
    groups = shared_groups(source, target)
    if not groups:
        raise ValueError(f"{source} and {target} share no Ekman group")
    keep, gold, excluded = crossdomain_gold(source, target, records)
    group = group_scores(np.asarray(scores)[keep], source, groups)
    rec = evaluate_scores(group, gold, list(groups), benchmarks.get(target).multi_label, {"kind": "argmax"},
                          PRIMARY_METRIC, ep.bootstrap_samples, ep.confidence, ep.seed, baseline_pred=baseline_pred)
    pred = rec["predictions"]
    record = CrossDomainRecord(source=source, target=target, init=init, system=system, model=str(model_dir),
                               shared_groups=list(groups), n_excluded=int((~keep).sum()),
                               excluded_labels=excluded, protocol=protocol(source, target, groups, test_set),
                               **evaluation_fields(rec))
    return record, pred


def model_scores(model_dir: Path, source: str, records, max_length: int, use_context: bool,
                 mixed_precision: str = "no") -> np.ndarray:
    """An exported model's scores over its labels (sigmoid or softmax) for ``records``.

    The folder must be a model of ``source``: its labels (``id2label``) are the benchmark's, in order, or the
    28 classes (a ``taxonomy28`` transfer head), whose scores are then read as the benchmark's labels through
    the label mapping (max over each label's classes).
    ``mixed_precision`` is the transfer stage's (its in-domain test scores are computed the same way).
    """
    from transformers import AutoTokenizer

    from emopillars.train.data import Encoded, record_examples
    from emopillars.train.modeling import load_classifier
    from emopillars.train.trainer import predict_probs

    labels = list(benchmarks.get(source).labels)
    model = load_classifier(model_dir)
    taxonomy_head = model.labels == list(EMOTIONS)
    if model.labels != labels and not taxonomy_head:
        raise ValueError(f"{model_dir}: its labels ({', '.join(model.labels)}) are not {source}'s "
                         f"({', '.join(labels)}) nor the 28 classes; expected a model that the transfer stage "
                         f"exported for {source}")
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    # Targets are not the model's labels: the examples carry no target vector worth having.
    examples = record_examples(records, model.labels, label_of=lambda _: [], use_context=use_context)
    probs = predict_probs(model, Encoded(tokenizer, examples, max_length), mixed_precision=mixed_precision)
    # A 28-way head (transfer.head: taxonomy28) is read on its benchmark as the transfer stage reads it.
    return project_scores(probs, source) if taxonomy_head and source != "goemotions" else probs
