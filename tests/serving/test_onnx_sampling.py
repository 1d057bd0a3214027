"""The ONNX engine's vectorised sampler against serving.sampler.choose_token, without a model.

The graph's sampling outputs are made here by the graph's own nodes (model.onnx_writer's
`sampling_outputs`, run by ONNX Runtime) over random logits, so both halves are the real ones.
"""

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from model.onnx_graph import OPSET, Graph
from model.onnx_writer import sampling_outputs
from serving.engines.onnx_engine import session_options
from serving.engines.onnx_sampling import Rows, choose, draws_whole_vocabulary
from serving.sampler import choose_token

N_VOCAB, CANDIDATES = 400, 16
BANNED = np.array([5, 77, 300])


@pytest.fixture(scope="module")
def sampling_graph():
    g = Graph()
    sampling_outputs(g, "logits", CANDIDATES)
    tensor = helper.make_tensor_value_info
    inputs = [
        tensor("logits", TensorProto.FLOAT, ["batch", N_VOCAB]),
        tensor("logit_bias", TensorProto.FLOAT, [N_VOCAB]),
        tensor("draw_rows", TensorProto.INT64, ["draws"]),
        tensor("temperature", TensorProto.FLOAT, ["draws"]),
        tensor("uniform", TensorProto.FLOAT, ["draws"]),
    ]
    outputs = [
        tensor("top_values", TensorProto.FLOAT, None),
        tensor("top_ids", TensorProto.INT64, None),
        tensor("drawn_ids", TensorProto.INT64, None),
        tensor("tempered_sum", TensorProto.FLOAT, None),
    ]
    graph = helper.make_graph(g.nodes, "sampling", inputs, outputs, g.initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    # On the process's one pool, as the engine's sessions (which may have made it already).
    options = session_options(threads=1)
    return ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )


def sample(session, logits, settings: list[dict], seeds: list[int]) -> list[int]:
    """One draw per row as the engine makes it: u from the row's generator, then choose."""
    bias = np.zeros(N_VOCAB, np.float32)
    bias[BANNED] = -np.inf
    temperature = np.array([s["temperature"] for s in settings])
    top_k = np.array([s["top_k"] for s in settings])
    uniform = np.array(
        [
            np.random.default_rng(seed).random() if s["temperature"] else 0.0
            for s, seed in zip(settings, seeds, strict=True)
        ]
    )
    draws = np.flatnonzero(draws_whole_vocabulary(temperature, top_k, N_VOCAB))
    feed = {
        "logits": logits,
        "logit_bias": bias,
        "draw_rows": draws,
        "temperature": temperature[draws].astype(np.float32),
        "uniform": uniform[draws].astype(np.float32),
    }
    top_values, top_ids, drawn, total = session.run(None, feed)
    drawn_ids, tempered_sum = np.zeros(len(settings), np.int64), np.ones(len(settings), np.float32)
    drawn_ids[draws], tempered_sum[draws] = drawn, total
    rows = Rows(
        temperature=temperature,
        top_k=top_k,
        top_p=np.array([s["top_p"] for s in settings]),
        uniform=uniform,
        top_values=top_values,
        top_ids=top_ids,
        drawn_ids=drawn_ids,
        tempered_sum=tempered_sum,
    )
    return list(choose(rows, N_VOCAB, lambda r: logits[r] + bias))


def reference(logits, setting: dict, seed: int) -> int:
    rng = np.random.default_rng(seed)
    return choose_token(logits, **setting, rng=rng, banned=BANNED)


def random_logits(rows: int, *, scale: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((rows, N_VOCAB)) * scale
    logits[:, BANNED] += 50  # banned ids are the likeliest: they must still never come out
    return logits.astype(np.float32)


SETTINGS = [
    {"temperature": 0.0, "top_k": 0, "top_p": 1.0},  # greedy: the best candidate
    {"temperature": 0.8, "top_k": 10, "top_p": 1.0},  # top-k inside the candidates
    {"temperature": 1.3, "top_k": 16, "top_p": 0.5},  # top-k, then top-p
    {"temperature": 0.7, "top_k": 40, "top_p": 1.0},  # top-k past the candidates: full row
    {"temperature": 1.0, "top_k": 0, "top_p": 0.3},  # top-p alone (peaked logits: inside)
]


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: "-".join(map(str, s.values())))
def test_draws_equal_choose_token(sampling_graph, setting):
    logits = random_logits(200, scale=4.0)
    seeds = list(range(200))
    drawn = sample(sampling_graph, logits, [setting] * 200, seeds)
    expected = [reference(logits[r], setting, seeds[r]) for r in range(200)]
    # Candidates and full rows compute as choose_token does, up to the last bits of a sum: a
    # draw may differ only where u falls within ~1e-15 of a boundary.
    assert sum(a == b for a, b in zip(drawn, expected, strict=True)) >= 199
    assert not set(drawn) & set(BANNED.tolist())


def test_top_p_beyond_the_candidates_takes_the_full_row(sampling_graph):
    setting = {"temperature": 1.5, "top_k": 0, "top_p": 0.95}  # flat logits: mass outside
    logits = random_logits(100, scale=0.5)
    drawn = sample(sampling_graph, logits, [setting] * 100, list(range(100)))
    assert drawn == [reference(logits[r], setting, r) for r in range(100)]


def test_unlimited_rows_draw_from_the_whole_tempered_distribution(sampling_graph):
    setting = {"temperature": 0.9, "top_k": 0, "top_p": 1.0}
    logits = np.repeat(random_logits(1, scale=2.0), 4000, axis=0)
    drawn = sample(sampling_graph, logits, [setting] * 4000, list(range(4000)))
    scaled = logits[0].astype(np.float64) / 0.9
    scaled[BANNED] = -np.inf
    probs = np.exp(scaled - scaled.max())
    probs /= probs.sum()
    counts = np.bincount(drawn, minlength=N_VOCAB)
    assert counts[BANNED].sum() == 0
    likely = probs > 0.01
    expected = probs[likely] * 4000
    # Each likely id's count within 5 standard deviations of its binomial mean.
    assert np.all(np.abs(counts[likely] - expected) <= 5 * np.sqrt(expected))


def test_a_row_draws_the_same_whatever_its_batch_mates(sampling_graph):
    logits = random_logits(5, scale=3.0, seed=1)
    alone = [sample(sampling_graph, logits[r : r + 1], [s], [9])[0] for r, s in enumerate(SETTINGS)]
    assert sample(sampling_graph, logits, SETTINGS, [9] * 5) == alone
