"""GPT-2's byte-level BPE from a model folder's encoder.json + vocab.bpe, via `tokenizers`.

Encodes exactly like gpt-2-simple's Python encoder: GPT-2's pre-tokenization regex, no prefix
space, no special tokens: text containing "<|endoftext|>" encodes as ordinary pieces, so a
prompt can never smuggle in the end token.
"""

import json
import re
from pathlib import Path

from contracts import ENCODER, EOS_TOKEN, VOCAB_BPE

# Vocabulary entries that are not text: the end token and fillers such as "<|unused12|>".
SPECIAL_TOKEN = re.compile(r"<\|[^|]*\|>")


def load_fast_tokenizer(folder: Path):
    """The `tokenizers.Tokenizer` of a model folder: the one construction of the fast tokenizer.

    Serving encodes with it, and so do training (model/token_data.py) and export's parity check,
    which compares it with gpt-2-simple's encoder: the API may not import the model stage, so the
    model stage imports this module (which needs only `tokenizers` and contracts.py)."""
    from tokenizers import Tokenizer as Fast
    from tokenizers import decoders, models, pre_tokenizers

    vocab = json.loads((folder / ENCODER).read_text(encoding="utf-8"))
    fast = Fast(models.BPE(vocab=vocab, merges=_read_merges(folder / VOCAB_BPE)))
    fast.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    fast.decoder = decoders.ByteLevel()
    return fast


class Tokenizer:
    def __init__(self, folder: Path):
        self._fast = load_fast_tokenizer(folder)
        vocab = self._fast.get_vocab()
        self.tokens = sorted(vocab, key=vocab.__getitem__)
        self.n_vocab = len(self.tokens)
        assert self.tokens[-1] == EOS_TOKEN, "encoder.json must end with <|endoftext|>"
        self.eos_id = self.n_vocab - 1
        # Ids no engine may sample: a lightly trained model would otherwise write fillers as text.
        self.banned_ids = [
            token_id
            for token_id, token in enumerate(self.tokens)
            if token_id != self.eos_id and SPECIAL_TOKEN.fullmatch(token)
        ]

    def encode(self, text: str) -> list[int]:
        return self._fast.encode(text, add_special_tokens=False).ids

    def decode(self, ids: list[int]) -> str:
        """Text of the ids; bytes that do not yet form a whole character come out as U+FFFD."""
        return self._fast.decode(ids, skip_special_tokens=False)


def _read_merges(path: Path) -> list[tuple[str, str]]:
    # gpt-2-simple drops the "#version" header and the empty last line.
    lines = path.read_text(encoding="utf-8").split("\n")[1:-1]
    return [tuple(line.split(" ")) for line in lines if line]
