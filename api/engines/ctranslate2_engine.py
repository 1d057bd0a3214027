"""CTranslate2 engine: an exported model folder (model.bin, vocabulary.json, hparams.json).

Unseeded requests sample inside CTranslate2: one `generate_batch` per group of identical
parameters, tokens streamed through its per-step callback. CTranslate2's random generator is
per thread and seeded once, so it cannot reproduce a seed per request; seeded requests are
sampled here instead (`api.sampler`), one CTranslate2 forward of the whole context per step.
That costs more per token but makes a seed's text independent of what it was batched with.
"""

import json
import threading
from pathlib import Path

import ctranslate2
import numpy as np

from api.engines.base import Engine
from api.sampler import choose_token, rng_for
from api.sampling import SamplingParams
from api.sequence import Sequence

SEEDED = ("seeded",)


class CTranslate2Engine(Engine):
    name = "ctranslate2"

    def __init__(self, folder: Path, *, compute_type: str, inter_threads: int, intra_threads: int):
        hparams = json.loads((folder / "hparams.json").read_text(encoding="utf-8"))
        self.n_ctx = hparams["n_ctx"]
        self.vocabulary = json.loads((folder / "vocabulary.json").read_text(encoding="utf-8"))
        self.n_vocab = len(self.vocabulary)
        self.eos_id = self.n_vocab - 1
        self.compute_type = compute_type
        self.parallelism = inter_threads
        self.generator = _on_short_lived_thread(
            ctranslate2.Generator,
            str(folder),
            device="cpu",
            compute_type=compute_type,
            inter_threads=inter_threads,
            intra_threads=intra_threads,
        )

    def close(self) -> None:
        # A Generator that has run Python callbacks can abort the process (std::terminate) when
        # it is destroyed during interpreter shutdown; destroy it here instead.
        self.generator = None

    def batch_key(self, params: SamplingParams):
        if params.greedy:
            return ("native", 0.0, 1, 1.0)
        if params.seed is not None:
            return SEEDED
        return ("native", params.temperature, params.top_k, params.top_p)

    def generate(self, batch: list[Sequence]) -> None:
        if self.batch_key(batch[0].params) == SEEDED:
            self._generate_seeded(batch)
        else:
            self._generate_native(batch)

    def _tokens(self, ids: list[int]) -> list[str]:
        return [self.vocabulary[i] for i in ids]

    def _generate_native(self, batch: list[Sequence]) -> None:
        params = batch[0].params
        live = any(seq.request.live for seq in batch)

        def on_step(step) -> bool:
            return batch[step.batch_id].push(step.token_id)

        results = self.generator.generate_batch(
            [self._tokens(seq.prompt_ids) for seq in batch],
            max_length=max(seq.params.length for seq in batch),
            sampling_topk=1 if params.greedy else params.top_k,
            sampling_topp=params.top_p,
            sampling_temperature=params.temperature or 1.0,
            include_prompt_in_result=False,
            # Per-token Python callbacks cost ~10 % of a 32-row batch's speed on 2 cores: only
            # streams and stop strings need tokens one by one (and their early stop).
            callback=on_step if live else None,
        )
        if not live:
            for seq, result in zip(batch, results, strict=True):
                _push_all(seq, result.sequences_ids[0], eos_id=self.eos_id)

    def _generate_seeded(self, batch: list[Sequence]) -> None:
        contexts = {id(seq): list(seq.prompt_ids) for seq in batch}
        rngs = {id(seq): rng_for(seq.params.seed, seq.sample) for seq in batch}
        active = list(batch)
        while active:
            rows = self.generator.generate_batch(
                [self._tokens(contexts[id(seq)]) for seq in active],
                max_length=1,
                sampling_topk=0,  # unfiltered logits come back; CTranslate2's own pick is unused
                include_prompt_in_result=False,
                return_logits_vocab=True,
            )
            still = []
            for seq, row in zip(active, rows, strict=True):
                logits = np.asarray(row.logits[0])[-1]  # the step after the whole context
                p = seq.params
                token = choose_token(
                    logits,
                    temperature=p.temperature,
                    top_k=p.top_k,
                    top_p=p.top_p,
                    rng=rngs[id(seq)],
                )
                if not seq.push(token):
                    contexts[id(seq)].append(token)
                    still.append(seq)
            active = still


def _push_all(seq: Sequence, token_ids: list[int], *, eos_id: int) -> None:
    """Hands over a finished row; one that stopped short of its length met the end token
    (which CTranslate2 leaves out of the result)."""
    for token_id in token_ids:
        if seq.push(token_id):
            return
    seq.push(eos_id)


def _on_short_lived_thread(function, *args, **kwargs):
    """Calls function on a thread that ends when it returns.

    Loading a model runs OpenMP work on the loading thread, and libgomp keeps that thread's
    helper threads for as long as it lives. While they are counted, libgomp sees more of its
    threads than cores and stops spin-waiting between parallel regions: every layer of every
    step then pays a sleep and wake-up, and generation on 2 cores ran ~40 % slower
    (78 instead of 130 tokens/s at batch 1 for GPT-2 124M, int8). A loading thread that ends
    takes its helpers with it, whichever thread builds the engine.
    """
    outcome = {}

    def call() -> None:
        try:
            outcome["value"] = function(*args, **kwargs)
        except BaseException as error:  # re-raised on the caller's thread
            outcome["error"] = error

    thread = threading.Thread(target=call, name="engine-load")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
