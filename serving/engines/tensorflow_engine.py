"""TensorFlow engine (reference): serves a gpt-2-simple checkpoint folder directly.

One graph, built once at load: a decoding step (new tokens + the cached keys/values of the
context so far → next-token logits + the new tokens' keys/values). Each slot keeps its own cache
as a numpy array and its own random source; a step runs the graph once per fed slot (the
reference engine favours plainness over speed). Sampling is `serving.sampler`'s, with the
tokenizer's banned ids masked. Importing this module imports TensorFlow: only `serving.engines.load`
does, and only when GHOST_ENGINE=tensorflow.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf
from gpt_2_simple.src import model as gpt2_model

from contracts import checkpoint_prefix, read_hparams
from serving.engines.base import Engine, Feed
from serving.sampler import choose_token
from serving.tokenizer import Tokenizer


@dataclass
class Slot:
    past: np.ndarray  # [1, layers, 2, heads, tokens so far, head size]
    temperature: float
    top_k: int
    top_p: float
    rng: np.random.Generator


class TensorFlowEngine(Engine):
    name = "tensorflow"

    def __init__(self, folder: Path, *, max_slots: int, kv_tokens: int):
        hparams = gpt2_model.default_hparams()
        hparams.override_from_dict(read_hparams(folder))
        self.n_ctx, self.n_vocab = hparams.n_ctx, hparams.n_vocab
        self.eos_id = self.n_vocab - 1
        self.max_slots, self.kv_tokens = max_slots, kv_tokens
        self.banned = np.array(Tokenizer(folder).banned_ids, dtype=np.int64)
        self.graph = tf.Graph()
        with self.graph.as_default():
            v1 = tf.compat.v1
            self.tokens = v1.placeholder(tf.int32, [None, None], name="tokens")
            self.past = v1.placeholder(tf.float32, gpt2_model.past_shape(hparams=hparams), "past")
            output = gpt2_model.model(hparams=hparams, X=self.tokens, past=self.past)
            self.next_logits = output["logits"][:, -1, :]
            self.present = output["present"]
            saver = v1.train.Saver(var_list=v1.trainable_variables())
            self.session = v1.Session(graph=self.graph)
            saver.restore(self.session, str(checkpoint_prefix(folder)))
        self.graph.finalize()  # nothing may grow the graph after load
        empty = gpt2_model.past_shape(hparams=hparams, batch_size=1, sequence=0)
        self._empty_past = np.zeros(empty, dtype=np.float32)
        self._slots: dict[int, Slot] = {}

    def open(self, slot: int, *, temperature: float, top_k: int, top_p: float, seed: int) -> None:
        assert 0 <= slot < self.max_slots, slot
        rng = np.random.default_rng(seed)
        self._slots[slot] = Slot(self._empty_past, temperature, top_k, top_p, rng)

    def step(self, feeds: list[Feed]) -> list[int | None]:
        return [self._advance(feed) for feed in feeds]

    def _advance(self, feed: Feed) -> int | None:
        slot = self._slots[feed.slot]
        logits, present = self.session.run(
            [self.next_logits, self.present],
            {self.tokens: np.array([feed.token_ids], dtype=np.int32), self.past: slot.past},
        )
        slot.past = np.concatenate([slot.past, present], axis=-2)
        if not feed.wants_token:
            return None
        return choose_token(
            logits[0],
            temperature=slot.temperature,
            top_k=slot.top_k,
            top_p=slot.top_p,
            rng=slot.rng,
            banned=self.banned,
        )

    def free(self, slot: int) -> None:
        self._slots.pop(slot, None)

    def move(self, source: int, target: int) -> None:
        assert target not in self._slots, target
        self._slots[target] = self._slots.pop(source)

    def close(self) -> None:
        self.session.close()
