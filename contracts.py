"""The artifact folders the pipeline's stages exchange: their file names, formats and readers.

A stage reads only the previous stage's folder, and the folder formats are the interfaces. Every
stage imports those formats from here and nothing from another stage, so the stages stay
independent but agree by construction. Standard library only: every image and every stage's
extra can import it, TensorFlow-free serving included.

Readers raise `ArtifactError` (a ValueError) whose message names the folder and what to do.
"""

import json
import os
from pathlib import Path

# GPT-2's end-of-text token: the last entry of the vocabulary (id n_vocab - 1). It ends every
# document in training text; the encoders have no special tokens, so inside a document it would
# encode as ordinary pieces.
EOS_TOKEN = "<|endoftext|>"


class ArtifactError(ValueError):
    """A folder that does not hold what its format promises; the message says what to do."""


# --- corpus folder (crawl → prepare): `<id>.txt` per document + one index.jsonl line each ----

CORPUS_INDEX = "index.jsonl"
DOCUMENT_SUFFIX = ".txt"
# An index line's keys: which document (id → <id>.txt), where from, and a hash of its bytes.
INDEX_KEYS = ("id", "title", "url", "source", "sha256", "fetched_at")


def document_name(doc_id: str) -> str:
    """The file name of a corpus document."""
    return doc_id + DOCUMENT_SUFFIX


def index_line(record: dict) -> str:
    """One index.jsonl line (newline included): a whole line or none is the crash-safety unit."""
    assert set(record) == set(INDEX_KEYS), sorted(record)
    return json.dumps(record, ensure_ascii=False) + "\n"


def parse_index_line(line: str) -> dict:
    """An index.jsonl line's record; ValueError when it is not a JSON object with a string id."""
    record = json.loads(line)
    if not isinstance(record, dict) or not isinstance(record.get("id"), str):
        raise ValueError('not a JSON object with a string "id"')
    return record


# --- prepared folder (prepare → fine-tune, evaluate) -----------------------------------------

TRAIN_TEXT = "train.txt"  # documents, each followed by DOCUMENT_DELIMITER
VAL_TEXT = "val.txt"  # the same format, for validation loss and perplexity
TEST_EXAMPLES = "test.jsonl"  # one held-out prompt + reference ending per line
PREPARE_STATS = "stats.json"  # what the prepare pass did; its presence marks a prepared folder
PREPARED_FILES = (TRAIN_TEXT, VAL_TEXT, TEST_EXAMPLES, PREPARE_STATS)
# After each document, as gpt-2-simple's load_dataset splits training text.
DOCUMENT_DELIMITER = f"\n{EOS_TOKEN}\n"


def training_text(documents) -> str:
    """Documents in train.txt/val.txt's format."""
    return "".join(document + DOCUMENT_DELIMITER for document in documents)


# --- model folder (download/init → fine-tune → export): gpt-2-simple's layout ----------------

HPARAMS = "hparams.json"  # n_vocab, n_ctx, n_embd, n_head, n_layer
ENCODER = "encoder.json"  # token → id; EOS_TOKEN last
VOCAB_BPE = "vocab.bpe"  # the BPE merges, "#version" header first
CHECKPOINT_INDEX = "checkpoint"  # TensorFlow's text file naming the latest weights
TOKENIZER_FILES = (ENCODER, VOCAB_BPE)
HPARAMS_KEYS = ("n_vocab", "n_ctx", "n_embd", "n_head", "n_layer")


def read_hparams(folder: str | os.PathLike) -> dict:
    """A model folder's hyperparameters, checked for the keys every stage relies on."""
    path = Path(folder) / HPARAMS
    hparams = _read_json_object(path, what="a model folder")
    missing = [key for key in HPARAMS_KEYS if not isinstance(hparams.get(key), int)]
    if missing:
        raise ArtifactError(f"{path} lacks integer {', '.join(missing)}; re-create the model")
    return hparams


def checkpoint_prefix(folder: str | os.PathLike) -> Path:
    """The latest weights' file prefix: `folder/model-STEP` (a run) or `folder/model.ckpt` (a
    base). gpt-2-simple's saver records absolute paths; only the file name is used, so a folder
    that was copied or moved still finds its weights."""
    index = Path(folder) / CHECKPOINT_INDEX
    if not index.is_file():
        raise ArtifactError(f"{index} not found: {folder} is not a saved model folder")
    for line in index.read_text(encoding="utf-8").splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model_checkpoint_path":
            prefix = Path(folder) / Path(value.strip().strip('"')).name
            if not prefix.with_name(prefix.name + ".index").is_file():
                raise ArtifactError(f"{index} names {prefix.name}, whose files are missing")
            return prefix
    raise ArtifactError(f"{index} names no model_checkpoint_path; re-save the model")


def checkpoint_step(prefix: Path) -> int:
    """The training step of a checkpoint prefix: STEP of model-STEP, 0 for a base model."""
    _, _, step = prefix.name.rpartition("-")
    return int(step) if prefix.name.startswith("model-") and step.isdigit() else 0


# --- exported folder (export → serve) --------------------------------------------------------

META = "meta.json"  # what was exported from where; its presence marks a serving folder
GGUF_MODEL = "model.gguf"  # llama.cpp's model, tokenizer embedded (also for Ollama)
ONNX_MODEL = "model.onnx"  # ONNX Runtime's step graph (serving/engines/onnx_engine.py)
# meta.json's keys that serving reads; export writes these and may add more.
META_KEYS = ("format", "name", "base", "run", "step", "quantization", "n_ctx", "n_vocab")


def read_meta(folder: str | os.PathLike) -> dict:
    """A serving folder's meta.json."""
    return _read_json_object(Path(folder) / META, what="an exported model folder")


def _read_json_object(path: Path, *, what: str) -> dict:
    if not path.is_file():
        raise ArtifactError(f"{path} not found: {path.parent} is not {what}")
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"{path} is not JSON ({exc}); re-create it") from exc
    if not isinstance(content, dict):
        raise ArtifactError(f"{path} holds no JSON object; re-create it")
    return content
