"""ONNX Runtime engine: export's model.onnx (model/onnx_writer.py) over one slot KV buffer.

The cache is reserved once at load, per layer [max_slots, heads, slot length, head size] for
keys and again for values, and never grows: slot s owns row s. It is mapped in 4 KiB pages, so
memory follows the cells written (transparent huge pages would make one cell cost 2 MiB) and a
freed slot's pages go back to the system. A run binds the graph's past and
present KV to the same rows (IOBinding by pointer), so GroupQueryAttention appends in place.
A step runs the single-token feeds (decode steps; the scheduler keeps their slots packed from 0)
as one batch over a range of consecutive slots, and each longer prompt chunk alone on its slot's
row (the op takes several new tokens only at batch 1). Sampling is onnx_sampling's, per row,
with the slot's own settings and seeded generator: every row's arithmetic, the int8 matmuls
included, depends on that row alone, so a seed's text does not depend on its batch mates.

Threads: every session of the process shares ONE intra-op pool (ONNX Runtime's global pool,
sized once by the first engine): several models then do not each park spinning threads on the
same cores.
"""

import mmap
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from contracts import ONNX_MODEL, read_hparams
from serving.engines import onnx_sampling
from serving.engines.base import Engine, Feed
from serving.engines.onnx_runs import RunBindings
from serving.tokenizer import Tokenizer

KV_TYPES = {"tensor(float16)": "f16", "tensor(float)": "f32"}
_pool_threads: int | None = None  # the global pool's size, once made


@dataclass
class Slot:
    temperature: float
    top_k: int
    top_p: float
    rng: np.random.Generator
    length: int = 0  # cells holding the sequence so far


def session_options(threads: int) -> ort.SessionOptions:
    """Options for a session on the process's one intra-op pool (made by the first call)."""
    global _pool_threads
    if _pool_threads is None:
        ort.set_global_thread_pool_sizes(threads, 1)
        _pool_threads = threads
    options = ort.SessionOptions()
    options.use_per_session_threads = False
    options.log_severity_level = 3  # errors only
    return options


def _session(path: Path, threads: int) -> ort.InferenceSession:
    if not path.is_file():
        raise ValueError(f"{path} not found: re-run `python -m model export` to write it")
    options = session_options(threads)
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime raises its own Fail/InvalidProtobuf/… classes
        reason = (str(error).splitlines() or [type(error).__name__])[0]
        raise ValueError(
            f"{path}: ONNX Runtime cannot load it ({reason}); re-run `python -m model export`"
        ) from None


def kv_pages(shape: tuple, dtype) -> tuple[mmap.mmap, np.ndarray]:
    """A zeroed cache in an anonymous mapping of small pages, and the array over it."""
    size = int(np.prod(shape)) * np.dtype(dtype).itemsize
    # Private: a page given back reads as zero and its memory is freed (a shared one keeps it).
    pages = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    pages.madvise(mmap.MADV_NOHUGEPAGE)
    return pages, np.frombuffer(pages, dtype).reshape(shape)


class OnnxEngine(Engine):
    name = "onnx"

    def __init__(
        self, folder: Path, *, max_slots: int, kv_tokens: int, threads: int, kv_type: str = ""
    ):
        """kv_type: "" takes the model's cell type; "f16" or "f32" must match it."""
        hparams = read_hparams(folder)
        tokenizer = Tokenizer(folder)
        self.n_vocab, self.eos_id = tokenizer.n_vocab, tokenizer.eos_id
        self.max_slots = max_slots
        self.n_ctx = min(kv_tokens // max_slots, hparams["n_ctx"])
        if self.n_ctx < 1:
            raise ValueError(f"{kv_tokens} KV tokens cannot give {max_slots} slots a cell each")
        self.kv_tokens = self.n_ctx * max_slots
        path = Path(folder) / ONNX_MODEL
        self._session = _session(path, threads)
        self.kv_type = self._cell_type(path, kv_type)
        heads, layers = hparams["n_head"], hparams["n_layer"]
        shape = (layers, 2, max_slots, heads, self.n_ctx, hparams["n_embd"] // heads)
        cell = np.float16 if self.kv_type == "f16" else np.float32
        self._pages, self._cache = kv_pages(shape, cell)
        bias = np.zeros(self.n_vocab, np.float32)
        bias[tokenizer.banned_ids] = -np.inf
        self._runs = RunBindings(self._session, self._cache, bias, self.n_vocab)
        self._slots: list[Slot | None] = [None] * max_slots

    def _cell_type(self, path: Path, wanted: str) -> str:
        inputs = {arg.name: arg.type for arg in self._session.get_inputs()}
        cell = KV_TYPES.get(inputs.get("past_key_0", ""))
        if cell is None or "uniform" not in inputs:
            raise ValueError(
                f"{path} is not a Ghostwriter step graph; re-run `python -m model export`"
            )
        if wanted and wanted != cell:
            raise ValueError(
                f"{path} holds {cell} KV cells, not {wanted}: unset GHOST_KV_TYPE or re-export "
                f"with `python -m model export --onnx-kv-type {wanted}`"
            )
        return cell

    def open(self, slot: int, *, temperature: float, top_k: int, top_p: float, seed: int) -> None:
        assert 0 <= slot < self.max_slots, slot
        self._slots[slot] = Slot(temperature, top_k, top_p, np.random.default_rng(seed))

    def free(self, slot: int) -> None:
        self._slots[slot] = None
        self._release(slot)

    def _release(self, slot: int) -> None:
        """Returns the whole pages of a slot's rows (the next sequence there writes before it
        reads: every run reads only the cells its own steps wrote)."""
        layers, kinds, _, heads, cells, head_size = self._cache.shape
        row_bytes = heads * cells * head_size * self._cache.itemsize
        for layer in range(layers):
            for kind in range(kinds):
                start = self._cache[layer, kind, slot].ctypes.data - self._cache.ctypes.data
                first = -(-start // mmap.PAGESIZE) * mmap.PAGESIZE
                end = (start + row_bytes) // mmap.PAGESIZE * mmap.PAGESIZE
                if end > first:
                    self._pages.madvise(mmap.MADV_DONTNEED, first, end - first)

    def move(self, source: int, target: int) -> None:
        assert self._slots[target] is None, f"slot {target} is open"
        moved = self._slots[source]
        cells = moved.length
        self._cache[:, :, target, :, :cells] = self._cache[:, :, source, :, :cells]
        self._slots[target] = moved
        self.free(source)

    def step(self, feeds: list[Feed]) -> list[int | None]:
        """Decode feeds as batches of consecutive slots, then each prompt chunk alone."""
        slots = [self._slot(feed) for feed in feeds]
        results: list[int | None] = [None] * len(feeds)
        single = [i for i, feed in enumerate(feeds) if len(feed.token_ids) == 1]
        for run in self._batches(sorted(single, key=lambda i: feeds[i].slot), feeds):
            self._run(run, feeds, results)
        for index, feed in enumerate(feeds):
            if len(feed.token_ids) > 1:
                self._run([index], feeds, results)
        for feed, slot in zip(feeds, slots, strict=True):
            slot.length += len(feed.token_ids)
        return results

    def _slot(self, feed: Feed) -> Slot:
        slot = self._slots[feed.slot]
        if slot is None:
            raise ValueError(f"slot {feed.slot} is not open")
        if slot.length + len(feed.token_ids) > self.n_ctx:
            raise ValueError(f"slot {feed.slot} would pass the context of {self.n_ctx}")
        return slot

    def _batches(self, ordered: list[int], feeds: list[Feed]) -> list[list[int]]:
        """Single-token feeds (in slot order) as runs over consecutive slots: a gap between
        two feeds' slots splits the run (a row in the range would have its cache written)."""
        batches: list[list[int]] = []
        for index in ordered:
            if batches and feeds[batches[-1][-1]].slot + 1 == feeds[index].slot:
                batches[-1].append(index)
            else:
                batches.append([index])
        return batches

    def _run(self, indices: list[int], feeds: list[Feed], results: list) -> None:
        """One graph run over feeds on consecutive slots (one feed when it is a prompt chunk)."""
        chosen = [feeds[i] for i in indices]
        slots = [self._slots[feed.slot] for feed in chosen]
        wanted = [row for row, feed in enumerate(chosen) if feed.wants_token]
        temperature = np.array([slots[row].temperature for row in wanted], np.float64)
        top_k = np.array([slots[row].top_k for row in wanted], np.int64)
        # One draw per sampled token from the row's own generator, none when greedy.
        uniform = np.array([slots[r].rng.random() if slots[r].temperature else 0.0 for r in wanted])
        whole = onnx_sampling.draws_whole_vocabulary(temperature, top_k, self.n_vocab)
        outputs = self._runs.run(
            chosen[0].slot,
            token_ids=[feed.token_ids for feed in chosen],
            lengths=[slot.length for slot in slots],
            draws=np.array(wanted, np.int64)[whole],
            temperature=temperature[whole],
            uniform=uniform[whole],
        )
        if not wanted:
            return
        drawn_ids, tempered_sum = np.zeros(len(wanted), np.int64), np.ones(len(wanted), np.float32)
        drawn_ids[whole], tempered_sum[whole] = outputs.drawn_ids, outputs.tempered_sum
        rows = onnx_sampling.Rows(
            temperature=temperature,
            top_k=top_k,
            top_p=np.array([slots[row].top_p for row in wanted], np.float64),
            uniform=uniform,
            top_values=outputs.top_values[wanted],
            top_ids=outputs.top_ids[wanted],
            drawn_ids=drawn_ids,
            tempered_sum=tempered_sum,
        )
        ids = onnx_sampling.choose(rows, self.n_vocab, lambda r: outputs.masked_logits(wanted[r]))
        for row, token_id in zip(wanted, ids, strict=True):
            results[indices[row]] = int(token_id)

    def next_logits(self, slot: int, token_ids: list[int]) -> np.ndarray:
        """Appends the tokens to an open slot and returns the raw logits [n_vocab] after the last:
        the forward pass export's parity check scores with."""
        feed = Feed(slot, token_ids, wants_token=False)
        state = self._slot(feed)
        outputs = self._runs.run(slot, token_ids=[token_ids], lengths=[state.length])
        state.length += len(token_ids)
        return outputs.logits[0].copy()

    def warmup(self) -> None:
        """A first step at one row and at every row, so that no request pays for allocations."""
        super().warmup()
        for slot in range(self.max_slots):
            self.open(slot, temperature=0.7, top_k=0, top_p=1.0, seed=slot)
        try:
            self.step(
                [Feed(slot, [self.eos_id], wants_token=True) for slot in range(self.max_slots)]
            )
        finally:
            for slot in range(self.max_slots):
                self.free(slot)

    def close(self) -> None:
        self._runs = self._session = self._cache = self._pages = None
