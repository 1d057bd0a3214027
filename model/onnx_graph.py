"""Building blocks of the ONNX serving graph, in NumPy and `onnx` only: a node list with its
constants, per-row int8 matmuls and layer norms.

Per-row int8 (`Graph.int8_matmul`): each activation row gets its own scale (max |x| / 127) and is
rounded to 8 bits (`QuantizeLinear` with one block per row); `MatMulIntegerToFloat` multiplies it
with 8-bit weights that have one scale per output column and scales the sums by the column scale;
a last product scales them by the row scale. Every node of a step costs a dispatch and a pass
over its tensor: hence the fused ops.
A row's result therefore depends on that row alone: a sequence's logits are the same whichever
sequences share its step, which is what keeps a seed's text independent of its batch mates
(one activation scale per tensor, as `quantize_dynamic` makes, would follow the whole batch).
"""

import numpy as np
from onnx import helper, numpy_helper

OPSET = 21  # QuantizeLinear's blocked form (a scale per row) from 21 on
# The oldest IR version that holds opset 21. onnx writes its newest by default, which
# onnxruntime 1.20 (pyproject's floor) refuses to load.
IR_VERSION = 10
MS_DOMAIN = "com.microsoft"
MS_OPS = {"FastGelu", "GroupQueryAttention", "MatMulIntegerToFloat", "SkipLayerNormalization"}
INT8_MAX = 127.0
# Activations and weights are both uint8 centred on 128 (symmetric int8 values, shifted). With
# int8 weights, MLAS's AVX2 kernel (no VNNI) sums pairs of u8 × s8 products in int16 and
# saturates (measured: wrong by whole units of 10^5); its u8 × u8 kernel widens first and is
# exact on every x86 CPU.
ZERO_POINT = 128
MIN_ROW_SCALE = 1e-8  # an all-zero row still divides by something
LAYER_NORM_EPSILON = 1e-5  # GPT-2's (gpt-2-simple's `norm`)


class Graph:
    """Nodes and initializers of one graph; every helper returns its output's name.

    int8: matmuls in per-row int8 (`int8_matmul`), else in float32 (an exact reference)."""

    def __init__(self, *, int8: bool = True):
        self.int8 = int8
        self.nodes, self.initializers = [], []
        self._names: set[str] = set()
        self._shared: dict[tuple, str] = {}

    def unique(self, base: str) -> str:
        name, number = base, 1
        while name in self._names:
            name, number = f"{base}_{number}", number + 1
        self._names.add(name)
        return name

    def const(self, base: str, array: np.ndarray) -> str:
        name = self.unique(base)
        self.initializers.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def scalar(self, value, dtype=np.float32) -> str:
        """A shared constant: one initializer per value and type, however often it is used."""
        key = (np.dtype(dtype).str, repr(value))
        if key not in self._shared:
            self._shared[key] = self.const("c", np.array(value, dtype=dtype))
        return self._shared[key]

    def op(self, op_type: str, inputs: list[str], base: str | None = None, **attributes) -> str:
        """A one-output node."""
        return self.op_n(op_type, inputs, [base or op_type.lower()], **attributes)[0]

    def op_n(self, op_type: str, inputs: list[str], bases: list[str], **attributes) -> list[str]:
        """A node with several outputs (an output named "" is left out)."""
        outputs = [self.unique(base) if base else "" for base in bases]
        domain = MS_DOMAIN if op_type in MS_OPS else ""
        self.nodes.append(helper.make_node(op_type, inputs, outputs, domain=domain, **attributes))
        return outputs

    def skip_layer_norm(
        self, x: str, skip: str, bias: np.ndarray | None, gamma, beta, base: str
    ) -> tuple[str, str]:
        """LayerNorm(x + skip + bias) and the sum itself, in one node: (normed, sum)."""
        inputs = [x, skip, self.const(f"{base}.g", gamma), self.const(f"{base}.b", beta)]
        if bias is not None:
            inputs.append(self.const(f"{base}.bias", bias))
        normed, _, _, summed = self.op_n(
            "SkipLayerNormalization",
            inputs,
            [base, "", "", f"{base}.sum"],
            epsilon=LAYER_NORM_EPSILON,
        )
        return normed, summed

    def int8_matmul(self, x: str, weight: np.ndarray, base: str) -> str:
        """x [..., K] float32 @ weight [K, N] float32, in per-row int8 (see the module's doc)."""
        column_scale = np.abs(weight).max(axis=0) / INT8_MAX
        column_scale = np.maximum(column_scale, np.finfo(np.float32).tiny).astype(np.float32)
        quantized = np.round(weight / column_scale) + ZERO_POINT
        w = self.const(f"{base}.w_u8", quantized.astype(np.uint8))
        w_scale = self.const(f"{base}.w_scale", column_scale)
        last_axis = self.scalar([-1], np.int64)
        row_max = self.op("ReduceMax", [self.op("Abs", [x]), last_axis], keepdims=1)
        row_scale = self.op(
            "Div", [self.op("Max", [row_max, self.scalar(MIN_ROW_SCALE)]), self.scalar(INT8_MAX)]
        )
        zero_point = self.scalar(ZERO_POINT, np.uint8)
        # The blocked form takes a zero point per block too: one per row, all 128.
        row_zero_points = self.op("Expand", [zero_point, self.op("Shape", [row_scale])])
        x_u8 = self.op(
            "QuantizeLinear", [x, row_scale, row_zero_points], axis=-1, block_size=len(weight)
        )
        product = self.op(
            "MatMulIntegerToFloat", [x_u8, w, self.scalar(1.0), w_scale, zero_point, zero_point]
        )
        return self.op("Mul", [product, row_scale], base)

    def matmul(self, x: str, weight: np.ndarray, base: str) -> str:
        if self.int8:
            return self.int8_matmul(x, weight, base)
        return self.op("MatMul", [x, self.const(f"{base}.w", weight)], base)

    def dense(self, x: str, weight: np.ndarray, bias: np.ndarray, base: str) -> str:
        return self.op("Add", [self.matmul(x, weight, base), self.const(f"{base}.b", bias)])
