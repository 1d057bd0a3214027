"""llama.cpp engine: one llama context holds every sequence, each in its own KV slot.

A step is one `llama_decode` over the tokens of all feeds (prompt chunks and last samples), with
logits only where a feed samples; then each sampling feed draws from that slot's own sampler
chain (banned ids, temperature, top-k, top-p, seeded draw), so a seed's text does not depend
on its batch mates. Through llama-cpp-python's low-level ctypes API: its `Llama` class serves
one sequence at a time.

Threads: ggml runs each decode as one OpenMP parallel region on the calling thread, with hundreds
of barriers per step. libgomp keeps a calling thread's helper threads parked for as long as that
thread lives and, once it counts more of its threads than cores, stops spin-waiting at barriers
(a sleep and wake-up at each instead). So every decode of the process, whichever thread steps
whichever engine, runs on one thread (`_DECODER`): one OpenMP team, however many models.
"""

import ctypes
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import llama_cpp as ll

from contracts import GGUF_MODEL, read_hparams
from serving.engines.base import Engine, Feed
from serving.tokenizer import Tokenizer

log = logging.getLogger(__name__)
GGML_LOG_LEVEL_ERROR = 4  # ggml.h's; llama_cpp exports no constant for it
KV_TYPES = {"f16": ll.GGML_TYPE_F16, "q8_0": ll.GGML_TYPE_Q8_0, "f32": ll.GGML_TYPE_F32}


_DECODER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llama-decode")


class KVCacheFull(RuntimeError):
    """llama.cpp found no free KV cells for a step: the scheduler admitted more than the budget."""


@ll.llama_log_callback
def _forward_errors(level: int, text: bytes, _user_data) -> None:
    # llama.cpp logs every tensor and setting at load; only its errors are worth a line.
    if level == GGML_LOG_LEVEL_ERROR:
        log.error("llama.cpp: %s", text.decode("utf-8", "replace").rstrip())


def _start_backend() -> None:
    ll.llama_log_set(_forward_errors, ctypes.c_void_p())
    ll.llama_backend_init()


class LlamaEngine(Engine):
    """Settings chosen by measurement (the README's benchmark runs):
    - flash_attn on: faster with several sequences per step.
    - kv_type: q8_0 cells halve KV memory for a few per cent per token (the API's default, see
      serving/config.py: twice the context per slot in the same memory); f16 is the class default.
    - kv_unified off (split): each slot owns kv_tokens / max_slots cells and each sequence attends
      over its own cells only. That keeps a seed's text independent of its batch mates: with one
      shared cache, flash attention walks every used cell, masked ones included, in blocks whose
      boundaries move with the other sequences, and the last bits of the logits follow. Split is
      also faster at long contexts. Its price: kv_tokens must be max_slots × the longest sequence
      served (n_ctx reports what a slot holds).
    - n_batch / n_ubatch 128: a scheduler step holds at most max_slots sampled tokens plus one
      prompt chunk, so one graph; the compute buffer grows with n_ubatch (every row's logits are
      reserved), and a larger step is split into several decodes.
    """

    name = "llama"

    def __init__(
        self,
        folder: Path,
        *,
        max_slots: int,
        kv_tokens: int,
        threads: int,
        n_batch: int = 128,
        n_ubatch: int = 128,
        flash_attn: bool = True,
        kv_unified: bool = False,
        kv_type: str = "f16",
    ):
        hparams = read_hparams(folder)
        tokenizer = Tokenizer(folder)
        self.n_vocab, self.eos_id = tokenizer.n_vocab, tokenizer.eos_id
        self.max_slots, self.max_step_tokens = max_slots, n_batch
        self._bias = (ll.llama_logit_bias * len(tokenizer.banned_ids))(
            *((token_id, float("-inf")) for token_id in tokenizer.banned_ids)
        )
        _start_backend()
        self._model = ll.llama_model_load_from_file(
            str(folder / GGUF_MODEL).encode(), ll.llama_model_default_params()
        )
        if not self._model:
            raise ValueError(f"{folder / GGUF_MODEL}: llama.cpp cannot load it; re-run export")
        params = ll.llama_context_default_params()
        params.n_ctx, params.n_seq_max = kv_tokens, max_slots
        params.n_batch, params.n_ubatch = n_batch, n_ubatch
        params.n_threads = params.n_threads_batch = threads
        params.flash_attn_type = (
            ll.LLAMA_FLASH_ATTN_TYPE_ENABLED if flash_attn else ll.LLAMA_FLASH_ATTN_TYPE_DISABLED
        )
        params.kv_unified = kv_unified  # see the class docstring
        params.type_k = params.type_v = KV_TYPES[kv_type]
        params.no_perf = True
        self._ctx = ll.llama_init_from_model(self._model, params)
        if not self._ctx:
            ll.llama_model_free(self._model)
            raise ValueError(f"llama.cpp could not make a context of {kv_tokens} KV tokens")
        # llama.cpp rounds each sequence's cells up to a multiple of 256: report what it made.
        self.kv_tokens = ll.llama_n_ctx(self._ctx)
        self.n_ctx = min(hparams["n_ctx"], ll.llama_n_ctx_seq(self._ctx))
        self._memory = ll.llama_get_memory(self._ctx)
        self._batch = ll.llama_batch_init(n_batch, 0, 1)
        self._samplers: list = [None] * max_slots
        self._positions = [0] * max_slots

    def open(self, slot: int, *, temperature: float, top_k: int, top_p: float, seed: int) -> None:
        self.free(slot)
        chain = ll.llama_sampler_chain_init(ll.llama_sampler_chain_default_params())
        add = ll.llama_sampler_chain_add
        add(chain, ll.llama_sampler_init_logit_bias(self.n_vocab, len(self._bias), self._bias))
        if temperature == 0:
            add(chain, ll.llama_sampler_init_greedy())
        else:
            # serving.sampler's order: temperature first, then top-k, then top-p on the tempered
            # probabilities (top-k's set does not depend on temperature; top-p's does).
            add(chain, ll.llama_sampler_init_temp(temperature))
            if top_k:
                add(chain, ll.llama_sampler_init_top_k(top_k))
            if top_p < 1:
                add(chain, ll.llama_sampler_init_top_p(top_p, 1))
            add(chain, ll.llama_sampler_init_dist(seed))
        self._samplers[slot] = chain

    def free(self, slot: int) -> None:
        ll.llama_memory_seq_rm(self._memory, slot, -1, -1)
        self._positions[slot] = 0
        if self._samplers[slot] is not None:
            ll.llama_sampler_free(self._samplers[slot])
            self._samplers[slot] = None

    def move(self, source: int, target: int) -> None:
        assert self._samplers[target] is None, f"slot {target} is open"
        # Across streams of a split cache llama.cpp copies the whole stream's K and V buffers
        # (~10 MB for a 512-cell q8_0 slot of the 124M shape) at the start of the next decode.
        ll.llama_memory_seq_cp(self._memory, source, target, -1, -1)
        ll.llama_memory_seq_rm(self._memory, source, -1, -1)
        self._samplers[target], self._samplers[source] = self._samplers[source], None
        self._positions[target], self._positions[source] = self._positions[source], 0

    def step(self, feeds: list[Feed]) -> list[int | None]:
        """One pass over all feeds' tokens (several decodes only past n_batch tokens).

        If llama.cpp finds no room, every slot's cache is left as it was (only the samplers of
        feeds that drew in an earlier decode of a step split past n_batch keep their draws).
        """
        return _DECODER.submit(self._step, feeds).result()

    def _step(self, feeds: list[Feed]) -> list[int | None]:
        self._check(feeds)
        results: list[int | None] = [None] * len(feeds)
        try:
            self._decode_feeds(feeds, results)
        except KVCacheFull:
            for feed in feeds:
                ll.llama_memory_seq_rm(self._memory, feed.slot, self._positions[feed.slot], -1)
            raise
        for feed in feeds:
            self._positions[feed.slot] += len(feed.token_ids)
        return results

    def _decode_feeds(self, feeds: list[Feed], results: list) -> None:
        batch, filled, outputs = self._batch, 0, []
        # With a split KV cache llama.cpp computes a step as sub-batches ("ubatches") of
        # sequences whose ids follow one another in the batch (llama_batch_allocr::split_equal),
        # each reading every weight: shuffled slots cost several times the step. So the tokens
        # go in slot order, and the scheduler keeps slots packed from 0.
        for index in sorted(range(len(feeds)), key=lambda i: feeds[i].slot):
            feed = feeds[index]
            last = len(feed.token_ids) - 1
            for offset, token_id in enumerate(feed.token_ids):
                if filled == self.max_step_tokens:
                    self._decode(filled, outputs, feeds, results)
                    filled, outputs = 0, []
                wants_logits = feed.wants_token and offset == last
                batch.token[filled] = token_id
                batch.pos[filled] = self._positions[feed.slot] + offset
                batch.n_seq_id[filled] = 1
                batch.seq_id[filled][0] = feed.slot
                batch.logits[filled] = wants_logits
                if wants_logits:
                    outputs.append((index, filled))
                filled += 1
        if filled:
            self._decode(filled, outputs, feeds, results)

    def _check(self, feeds: list[Feed]) -> None:
        for feed in feeds:
            if self._samplers[feed.slot] is None:
                raise ValueError(f"slot {feed.slot} is not open")
            if self._positions[feed.slot] + len(feed.token_ids) > self.n_ctx:
                raise ValueError(f"slot {feed.slot} would pass the context of {self.n_ctx}")

    def _decode(self, filled: int, outputs: list, feeds: list[Feed], results: list) -> None:
        self._batch.n_tokens = filled
        status = ll.llama_decode(self._ctx, self._batch)
        if status == 1:
            raise KVCacheFull(
                f"no free KV cells for {filled} tokens (budget {self.kv_tokens}); "
                "admit fewer tokens per step or raise the KV budget"
            )
        if status != 0:
            raise RuntimeError(f"llama_decode failed with status {status}")
        for index, position in outputs:
            chain = self._samplers[feeds[index].slot]
            results[index] = ll.llama_sampler_sample(chain, self._ctx, position)

    def close(self) -> None:
        if self._ctx is None:
            return
        for chain in self._samplers:
            if chain is not None:
                ll.llama_sampler_free(chain)
        self._samplers = [None] * self.max_slots
        ll.llama_batch_free(self._batch)
        ll.llama_free(self._ctx)
        ll.llama_model_free(self._model)
        self._ctx = self._model = None
