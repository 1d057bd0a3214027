"""TensorFlow engine (reference): serves a gpt-2-simple checkpoint folder directly.

One graph, built once at load: a single decoding step (tokens + the cached keys/values of the
context so far → next-token logits + this step's keys/values). Decoding loops in Python, feeding
the cache back, so tokens stream and each row keeps its own parameters and seed; sampling is
`api.sampler`'s. One Session, safe to run from any thread. Importing this module imports
TensorFlow: only `api.engines.load` does, and only when GHOST_ENGINE=tensorflow.
"""

import json
from itertools import groupby
from pathlib import Path

import numpy as np
import tensorflow as tf
from gpt_2_simple.src import model as gpt2_model

from api.engines.base import Engine
from api.sampler import choose_token, rng_for
from api.sampling import SamplingParams
from api.sequence import Sequence


def checkpoint_prefix(folder: Path) -> str:
    """The newest checkpoint in `folder`, by file name only (gpt-2-simple may record absolute
    paths of the machine that trained it)."""
    for line in (folder / "checkpoint").read_text(encoding="utf-8").splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model_checkpoint_path":
            return str(folder / Path(value.strip().strip('"')).name)
    raise ValueError(f"{folder / 'checkpoint'} names no model_checkpoint_path")


class TensorFlowEngine(Engine):
    name = "tensorflow"

    def __init__(self, folder: Path):
        hparams = gpt2_model.default_hparams()
        hparams.override_from_dict(json.loads((folder / "hparams.json").read_text("utf-8")))
        self.n_ctx, self.n_vocab = hparams.n_ctx, hparams.n_vocab
        self.eos_id = self.n_vocab - 1
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
            saver.restore(self.session, checkpoint_prefix(folder))
        self.graph.finalize()  # nothing may grow the graph after load
        self._empty_past_shape = gpt2_model.past_shape(hparams=hparams, sequence=0)

    def close(self) -> None:
        self.session.close()

    def batch_key(self, params: SamplingParams):
        return ("python-sampling",)  # every row samples with its own parameters

    def generate(self, batch: list[Sequence]) -> None:
        # One decoding loop per prompt length: the step graph takes unpadded rows.
        by_length = sorted(batch, key=lambda seq: len(seq.prompt_ids))
        for _, group in groupby(by_length, key=lambda seq: len(seq.prompt_ids)):
            self._decode(list(group))

    def _decode(self, rows: list[Sequence]) -> None:
        rngs = [rng_for(seq.params.seed, seq.sample) for seq in rows]
        tokens = np.array([seq.prompt_ids for seq in rows], dtype=np.int32)
        shape = list(self._empty_past_shape)
        shape[0] = len(rows)
        past = np.zeros(shape, dtype=np.float32)
        while rows:
            logits, present = self.session.run(
                [self.next_logits, self.present], {self.tokens: tokens, self.past: past}
            )
            past = np.concatenate([past, present], axis=-2)
            keep, chosen = [], []
            for row, seq in enumerate(rows):
                p = seq.params
                token = choose_token(
                    logits[row],
                    temperature=p.temperature,
                    top_k=p.top_k,
                    top_p=p.top_p,
                    rng=rngs[row],
                )
                if not seq.push(token):
                    keep.append(row)
                    chosen.append(token)
            rows = [rows[i] for i in keep]
            rngs = [rngs[i] for i in keep]
            past = past[keep]
            tokens = np.array(chosen, dtype=np.int32).reshape(len(keep), 1)
