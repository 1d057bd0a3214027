"""One run of the ONNX step graph over consecutive slots, its cache and outputs bound in place.

Binding: the KV inputs and outputs of every layer point at the slots' rows of the engine's cache
(the same address for past and present: GroupQueryAttention then writes the new cells in
place), and the outputs at preallocated arrays, row 0 first. Reading an output is reading that
array: `IOBinding.copy_outputs_to_cpu()` would copy every bound output, the KV buffers too.
A binding is made once per (first slot, rows) and kept; each run rebinds only the small inputs.
"""

from dataclasses import dataclass

import numpy as np
import onnxruntime as ort

SMALL_OUTPUTS = ("top_values", "top_ids", "drawn_ids", "tempered_sum")
# The graph draws the id whose cumulative weight first passes u × sum: a float32 u within 2^-24
# of 1 could round that product up to the sum itself, which no id passes.
LARGEST_UNIFORM = np.float32(1 - 2**-23)


@dataclass(frozen=True)
class Outputs:
    """A run's outputs, row-aligned with its feeds; views of the engine's arrays, valid until
    the next run."""

    logits: np.ndarray  # [rows, n_vocab] raw
    top_values: np.ndarray  # [rows, K], banned ids excluded
    top_ids: np.ndarray  # [rows, K]
    drawn_ids: np.ndarray  # [draws]: of the rows given as `draws`, in that order
    tempered_sum: np.ndarray  # [draws]
    bias: np.ndarray  # [n_vocab]: 0, or -inf for banned ids

    def masked_logits(self, row: int) -> np.ndarray:
        return self.logits[row] + self.bias


class RunBindings:
    def __init__(self, session: ort.InferenceSession, cache: np.ndarray, bias: np.ndarray, n_vocab):
        self._session, self._cache, self._bias = session, cache, bias
        self._layers, _, slots, self._heads, self._cells, self._head_size = cache.shape
        candidates = session.get_outputs()[1].shape[1]  # top_values [batch, K]
        self._out = {
            "logits": np.empty((slots, n_vocab), np.float32),
            "top_values": np.empty((slots, candidates), np.float32),
            "top_ids": np.empty((slots, candidates), np.int64),
            "drawn_ids": np.empty(slots, np.int64),
            "tempered_sum": np.empty(slots, np.float32),
        }
        self._bindings: dict[tuple[int, int], ort.IOBinding] = {}

    def run(self, first_slot: int, *, token_ids, lengths, draws=(), temperature=(), uniform=()):
        """Appends token_ids[r] to slot first_slot + r, whose cache holds lengths[r] cells, and
        draws from the whole vocabulary for the rows `draws` (each with its temperature > 0 and
        uniform number). Several rows take one token each; a prompt chunk takes one row."""
        rows, new = len(token_ids), len(token_ids[0])
        assert rows == 1 or new == 1, "several new tokens per row need a run of one row"
        binding = self._binding(first_slot, rows)
        lengths = np.asarray(lengths, np.int64)
        feeds = {
            "input_ids": np.asarray(token_ids, np.int64),
            "position_ids": lengths[:, None] + np.arange(new),
            "seqlens_k": (lengths + new - 1).astype(np.int32),
            "total_sequence_length": np.array(lengths.max() + new, np.int32),
            "draw_rows": np.asarray(draws, np.int64),
            "temperature": np.asarray(temperature, np.float32),
            "uniform": np.minimum(np.asarray(uniform, np.float32), LARGEST_UNIFORM),
        }
        for name, value in feeds.items():
            binding.bind_cpu_input(name, value)
        for name in ("drawn_ids", "tempered_sum"):
            array = self._out[name]
            binding.bind_output(name, "cpu", 0, array.dtype, [len(draws)], array.ctypes.data)
        self._session.run_with_iobinding(binding)
        out = self._out
        return Outputs(
            logits=out["logits"][:rows],
            top_values=out["top_values"][:rows],
            top_ids=out["top_ids"][:rows],
            drawn_ids=out["drawn_ids"][: len(draws)],
            tempered_sum=out["tempered_sum"][: len(draws)],
            bias=self._bias,
        )

    def _binding(self, first_slot: int, rows: int) -> ort.IOBinding:
        key = (first_slot, rows)
        if key not in self._bindings:
            binding = self._session.io_binding()
            shape = [rows, self._heads, self._cells, self._head_size]
            for layer in range(self._layers):
                for index, kind in enumerate(("key", "value")):
                    address = self._cache[layer, index, first_slot].ctypes.data
                    cell = self._cache.dtype
                    binding.bind_input(f"past_{kind}_{layer}", "cpu", 0, cell, shape, address)
                    binding.bind_output(f"present_{kind}_{layer}", "cpu", 0, cell, shape, address)
            for name in ("logits", "top_values", "top_ids"):
                array = self._out[name]
                shape = [rows, *array.shape[1:]]
                binding.bind_output(name, "cpu", 0, array.dtype, shape, array.ctypes.data)
            binding.bind_cpu_input("logit_bias", self._bias)
            self._bindings[key] = binding
        return self._bindings[key]
