"""gpt-2-simple checkpoint → model.onnx: one decoding step of GPT-2 for ONNX Runtime's CPU engine.

One run of the graph takes, per row (a sequence's KV slot), new tokens and their positions, and
appends their keys and values to the row's cache in place: `past_key_L` and `present_key_L`
(and the value pair) are bound to the same slot buffer [rows, heads, slot length, head size],
and `com.microsoft.GroupQueryAttention` writes each row's new cells at that row's own length
(`seqlens_k` = cells after the step - 1). A run with more than one new token per row must have
one row (the op's rule): prompt chunks run alone, decode steps as one batch.

Outputs, for each row's LAST position only: `logits` [rows, n_vocab] (raw); `top_values` /
`top_ids`, the CANDIDATES best ids after `logit_bias` (which bans ids with -inf); and for the rows
listed in `draw_rows`, a draw from the whole tempered distribution, `drawn_ids`, for their
`temperature` and `uniform` (a number in [0, 1) from that sequence's own seeded generator:
inverse CDF over the vocabulary in id order), with `tempered_sum` = sum(exp((logit - max) /
temperature)), so that a sampler can tell how much of the distribution the candidates hold.
Sampling itself is serving/engines/onnx_sampling.py's.

Matrices are per-column int8 with per-row int8 activations (model/onnx_graph.py); the token
table is f16 for the lookup and int8 (transposed) for the tied LM head. GELU is FastGelu
(GPT-2's tanh form). KV cells are f32 or f16 (attention runs in f16, cast around it), fixed here:
the engine reads the type from the graph.
"""

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

from contracts import ONNX_MODEL, read_hparams
from model import conversion
from model.onnx_graph import IR_VERSION, MS_DOMAIN, OPSET, Graph

MODEL_FILE = ONNX_MODEL
KV_TYPES = {"f16": TensorProto.FLOAT16, "f32": TensorProto.FLOAT}
# GroupQueryAttention's CPU kernel widens f16 cells to f32 on every step: f32 cells cost twice
# the memory and make a batch-32 step faster (see the README's figures).
DEFAULT_KV_TYPE = "f32"
# Candidates per row: enough for any top_k up to it and for top_p whenever they hold the mass.
CANDIDATES = 64


def embeddings(g: Graph, weights: dict) -> tuple[str, str]:
    """Token and position embeddings [batch, sequence, n_embd], still apart (the first
    LayerNorm adds them)."""
    table = weights["model/wte"]
    if g.int8:  # the lookup table in f16 (half the memory; the head has its own int8 copy)
        table = table.astype(np.float16)
    tokens = g.op("Gather", [g.const("wte", table), "input_ids"])
    if g.int8:
        tokens = g.op("Cast", [tokens], to=TensorProto.FLOAT)
    positions = g.op("Gather", [g.const("wpe", weights["model/wpe"]), "position_ids"])
    return tokens, positions


def attention(g: Graph, w: dict, x: str, layer: int, hparams: dict, kv_type: int) -> str:
    """Causal self-attention over the row's cached cells plus its new ones, before the output
    projection's bias (the next LayerNorm adds it)."""
    scope = f"model/h{layer}/attn"
    qkv = g.dense(x, matrix(w, f"{scope}/c_attn"), w[f"{scope}/c_attn/b"], f"h{layer}.qkv")
    if kv_type == TensorProto.FLOAT16:
        qkv = g.op("Cast", [qkv], to=kv_type)
    cache = [f"past_key_{layer}", f"past_value_{layer}", "seqlens_k", "total_sequence_length"]
    out, _, _ = g.op_n(
        "GroupQueryAttention",
        [qkv, "", "", *cache],  # q, k, v packed in one tensor
        [f"h{layer}.attention", f"present_key_{layer}", f"present_value_{layer}"],
        num_heads=hparams["n_head"],
        kv_num_heads=hparams["n_head"],
    )
    if kv_type == TensorProto.FLOAT16:
        out = g.op("Cast", [out], to=TensorProto.FLOAT)
    return g.matmul(out, matrix(w, f"{scope}/c_proj"), f"h{layer}.proj")


def matrix(w: dict, scope: str) -> np.ndarray:
    """A conv1d weight [1, in, out] as the [in, out] matrix that x @ w multiplies with."""
    return w[f"{scope}/w"][0]


@dataclass(frozen=True)
class Residual:
    """The residual stream between sublayers, kept as the sum so far plus the last sublayer's
    output and bias: the next LayerNorm adds them in the same node (SkipLayerNormalization)."""

    total: str
    added: str
    bias: np.ndarray | None


def normed(g: Graph, stream: Residual, gamma, beta, base: str) -> tuple[str, str]:
    """(LayerNorm of the stream, the stream's new total)."""
    return g.skip_layer_norm(stream.added, stream.total, stream.bias, gamma, beta, base)


def block(g: Graph, w: dict, stream: Residual, layer: int, hparams: dict, kv_type: int):
    """One pre-LayerNorm transformer block."""
    scope = f"model/h{layer}"
    x, total = normed(g, stream, w[f"{scope}/ln_1/g"], w[f"{scope}/ln_1/b"], f"h{layer}.ln_1")
    attended = attention(g, w, x, layer, hparams, kv_type)
    stream = Residual(total, attended, w[f"{scope}/attn/c_proj/b"])
    x, total = normed(g, stream, w[f"{scope}/ln_2/g"], w[f"{scope}/ln_2/b"], f"h{layer}.ln_2")
    up = g.matmul(x, matrix(w, f"{scope}/mlp/c_fc"), f"h{layer}.fc")
    bias = g.const(f"h{layer}.fc.b", w[f"{scope}/mlp/c_fc/b"])
    hidden = g.op("FastGelu", [up, bias], f"h{layer}.gelu")
    down = g.matmul(hidden, matrix(w, f"{scope}/mlp/c_proj"), f"h{layer}.down")
    return Residual(total, down, w[f"{scope}/mlp/c_proj/b"])


def last_position_logits(g: Graph, w: dict, stream: Residual) -> str:
    """The final LayerNorm and the tied LM head, for each row's last position: [batch, n_vocab]."""
    last = g.scalar(-1, np.int64)
    stream = Residual(
        g.op("Gather", [stream.total, last], "last", axis=1),
        g.op("Gather", [stream.added, last], "last_added", axis=1),
        stream.bias,
    )
    x, _ = normed(g, stream, w["model/ln_f/g"], w["model/ln_f/b"], "ln_f")
    head = np.ascontiguousarray(w["model/wte"].T)  # logits = h @ wte^T
    return g.matmul(x, head, "logits")


def sampling_outputs(g: Graph, logits: str, candidates: int) -> None:
    """top_values/top_ids, and drawn_ids and tempered_sum of the `draw_rows` (module doc)."""
    masked = g.op("Add", [logits, "logit_bias"], "masked")
    count = g.scalar([candidates], np.int64)
    top_values, _ = g.op_n("TopK", [masked, count], ["top_values", "top_ids"], axis=-1)
    one = g.scalar([1], np.int64)
    row_max = g.op("Slice", [top_values, g.scalar([0], np.int64), one, one])
    # Only the rows that draw from the whole vocabulary pay for its passes.
    masked = g.op("Gather", [masked, "draw_rows"], axis=0)
    row_max = g.op("Gather", [row_max, "draw_rows"], axis=0)
    temperature = g.op("Unsqueeze", ["temperature", one])
    weights = g.op("Exp", [g.op("Div", [g.op("Sub", [masked, row_max]), temperature])])
    cumulative = g.op("CumSum", [weights, g.scalar(1, np.int64)])
    end = g.scalar([np.iinfo(np.int64).max], np.int64)
    total = g.op("Slice", [cumulative, g.scalar([-1], np.int64), end, one])
    threshold = g.op("Mul", [total, g.op("Unsqueeze", ["uniform", one])])
    passed = g.op("Cast", [g.op("Greater", [cumulative, threshold])], to=TensorProto.UINT8)
    g.op("ArgMax", [passed], "drawn_ids", axis=1, keepdims=0)
    g.op("Squeeze", [total, one], "tempered_sum")


def graph_inputs(hparams: dict, kv_type: int) -> list:
    tensor = helper.make_tensor_value_info
    inputs = [
        tensor("input_ids", TensorProto.INT64, ["batch", "sequence"]),
        tensor("position_ids", TensorProto.INT64, ["batch", "sequence"]),
        tensor("seqlens_k", TensorProto.INT32, ["batch"]),
        tensor("total_sequence_length", TensorProto.INT32, []),
        tensor("logit_bias", TensorProto.FLOAT, [hparams["n_vocab"]]),
        tensor("draw_rows", TensorProto.INT64, ["draws"]),
        tensor("temperature", TensorProto.FLOAT, ["draws"]),
        tensor("uniform", TensorProto.FLOAT, ["draws"]),
    ]
    return inputs + kv_tensors("past", hparams, kv_type)


def kv_tensors(prefix: str, hparams: dict, kv_type: int) -> list:
    """The slot KV buffers of every layer, keys then values: `{prefix}_key_0`, …"""
    heads, head_size = hparams["n_head"], hparams["n_embd"] // hparams["n_head"]
    cache = ["batch", heads, "slot_length", head_size]
    return [
        helper.make_tensor_value_info(f"{prefix}_{kind}_{layer}", kv_type, cache)
        for layer in range(hparams["n_layer"])
        for kind in ("key", "value")
    ]


def graph_outputs(hparams: dict, kv_type: int, candidates: int) -> list:
    tensor = helper.make_tensor_value_info
    outputs = [
        tensor("logits", TensorProto.FLOAT, ["batch", hparams["n_vocab"]]),
        tensor("top_values", TensorProto.FLOAT, ["batch", candidates]),
        tensor("top_ids", TensorProto.INT64, ["batch", candidates]),
        tensor("drawn_ids", TensorProto.INT64, ["draws"]),
        tensor("tempered_sum", TensorProto.FLOAT, ["draws"]),
    ]
    return outputs + kv_tensors("present", hparams, kv_type)


def build(
    weights: dict, hparams: dict, *, kv_type: str = DEFAULT_KV_TYPE, int8: bool = True
) -> onnx.ModelProto:
    """The step graph of a checkpoint's weights (gpt-2-simple's names, as read_weights gives)."""
    cell = KV_TYPES[kv_type]
    candidates = min(CANDIDATES, hparams["n_vocab"])
    g = Graph(int8=int8)
    stream = Residual(*embeddings(g, weights), bias=None)
    for layer in range(hparams["n_layer"]):
        stream = block(g, weights, stream, layer, hparams, cell)
    sampling_outputs(g, last_position_logits(g, weights, stream), candidates)
    graph = helper.make_graph(
        g.nodes,
        "gpt2_step",
        graph_inputs(hparams, cell),
        graph_outputs(hparams, cell, candidates),
        g.initializers,
    )
    opsets = [helper.make_opsetid("", OPSET), helper.make_opsetid(MS_DOMAIN, 1)]
    model = helper.make_model(
        graph, opset_imports=opsets, producer_name="ghostwriter", ir_version=IR_VERSION
    )
    helper.set_model_props(model, {"kv_type": kv_type, "weights": "int8" if int8 else "f32"})
    return model


def write(
    model_dir: Path, out_file: Path, *, kv_type: str = DEFAULT_KV_TYPE, int8: bool = True
) -> None:
    """Writes `model_dir`'s latest checkpoint as model.onnx (a temporary file, then renamed)."""
    if kv_type not in KV_TYPES:
        raise ValueError(f"KV type {kv_type!r}: choose one of {', '.join(KV_TYPES)}")
    weights, hparams = conversion.read_weights(model_dir), read_hparams(model_dir)
    model = build(weights, hparams, kv_type=kv_type, int8=int8)
    partial = out_file.with_name(out_file.name + ".partial")
    try:
        onnx.save(model, str(partial))
        os.replace(partial, out_file)
    finally:
        partial.unlink(missing_ok=True)
