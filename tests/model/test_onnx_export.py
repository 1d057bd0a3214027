"""`python -m model export` writes model.onnx beside model.gguf and checks it against TensorFlow."""

import json
import shutil

import numpy as np
import onnx
import pytest
from onnx import helper

from contracts import read_hparams
from model import onnx_writer, parity, scoring
from model.conversion import read_weights


def test_export_writes_model_onnx_that_scores_like_tensorflow(tiny_serving_model_int8):
    folder = tiny_serving_model_int8.path
    assert (folder / "model.onnx").is_file() and (folder / "model.gguf").is_file()
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".partial")]
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["format"] == 3 and meta["onnx"] == {"weights": "int8", "kv_type": "f32"}
    check = meta["parity"]
    assert check["passed"] and check["onnx_mean_limit"] == parity.ONNX_MEAN_LIMIT
    assert 0 < check["onnx_mean_abs_diff"] <= parity.ONNX_MEAN_LIMIT


def test_an_f32_export_writes_an_f32_graph(tiny_serving_model):
    model = onnx.load(str(tiny_serving_model.path / "model.onnx"))
    props = {prop.key: prop.value for prop in model.metadata_props}
    assert props == {"kv_type": "f32", "weights": "f32"}
    assert not [node for node in model.graph.node if node.op_type == "MatMulIntegerToFloat"]
    # f32 matrices and cells: what is left is the order of float sums.
    assert (
        json.loads((tiny_serving_model.path / "meta.json").read_text())["parity"][
            "onnx_mean_abs_diff"
        ]
        < 1e-3
    )


def test_the_int8_graph_quantizes_every_matrix_per_column(tiny_base):
    weights, hparams = read_weights(tiny_base.path), read_hparams(tiny_base.path)
    model = onnx_writer.build(weights, hparams)
    matmuls = [node for node in model.graph.node if node.op_type == "MatMulIntegerToFloat"]
    assert len(matmuls) == 4 * hparams["n_layer"] + 1  # qkv, proj, fc, down per block; the head
    # Each one's activations quantized per row: QuantizeLinear with one block as long as a row.
    quantized = [node for node in model.graph.node if node.op_type == "QuantizeLinear"]
    assert len(quantized) == len(matmuls)
    for node in quantized:
        attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        assert attributes == {"axis": -1, "block_size": attributes["block_size"]}
        assert attributes["block_size"] in (hparams["n_embd"], 4 * hparams["n_embd"])
    assert model.ir_version <= 10  # onnxruntime 1.20, pyproject's floor, reads IR 10 at most
    graph_ops = {node.op_type for node in model.graph.node}
    assert "MatMul" not in graph_ops and {"GroupQueryAttention", "FastGelu", "TopK"} <= graph_ops


@pytest.mark.timeout(180)
def test_a_wrong_graph_fails_the_onnx_check(tiny_base, tiny_serving_model_int8, tmp_path):
    """A graph whose token table is shuffled scores off by far more than int8 rounding."""
    folder = tmp_path / "tiny"
    shutil.copytree(tiny_serving_model_int8.path, folder)
    weights, hparams = read_weights(tiny_base.path), read_hparams(tiny_base.path)
    shuffled = np.random.default_rng(0).permutation(weights["model/wte"])
    onnx.save(
        onnx_writer.build({**weights, "model/wte": shuffled}, hparams), str(folder / "model.onnx")
    )
    ids = parity.reference_ids(tiny_base.path)[: hparams["n_ctx"]]
    reference = scoring.token_logprobs(tiny_base.path, [ids])[0]
    wrong = np.abs(parity.onnx_scores(folder, ids) - reference).mean()
    right = np.abs(parity.onnx_scores(tiny_serving_model_int8.path, ids) - reference).mean()
    assert right <= parity.ONNX_MEAN_LIMIT < wrong
