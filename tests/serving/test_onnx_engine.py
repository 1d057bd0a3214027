"""The ONNX Runtime engine on real exported tiny models: parity with TensorFlow, slots, seeds.

Greedy decoding is compared with TensorFlow on an f32 graph (the logit gaps of a random tiny
model are ~1e-2; int8 moves logits by more). Everything else runs on what export writes for
serving, int8 matmuls, with each KV cell type.
"""

import shutil

import numpy as np
import pytest

from model import onnx_writer
from serving.engines.base import Feed
from serving.engines.onnx_engine import OnnxEngine
from serving.tokenizer import Tokenizer
from tests.serving import test_llama_engine as llama_tests
from tests.serving.test_llama_engine import PROMPT, generate, tensorflow_greedy

NEW_TOKENS = 24
# A seeded sequence's settings: sampled (full vocabulary, top-k, top-p, both) and greedy.
SEEDED = [
    {"temperature": 1.0, "top_k": 0, "top_p": 1.0, "seed": 1234},
    {"temperature": 0.8, "top_k": 20, "top_p": 1.0, "seed": 7},
    {"temperature": 1.2, "top_k": 0, "top_p": 0.8, "seed": 8},
    {"temperature": 0.9, "top_k": 100, "top_p": 0.95, "seed": 9},
    {"temperature": 0.0, "top_k": 0, "top_p": 1.0, "seed": 0},
]


def engine_for(folder, **settings) -> OnnxEngine:
    return OnnxEngine(folder, **{"max_slots": 8, "kv_tokens": 1024, "threads": 1, **settings})


@pytest.fixture(scope="module")
def prompt_ids(tiny_serving_model_int8) -> list[int]:
    return Tokenizer(tiny_serving_model_int8.path).encode(PROMPT)


@pytest.fixture(scope="module")
def half_cells_folder(tiny_base, tiny_serving_model_int8, tmp_path_factory):
    """The int8 export with its model.onnx rewritten for f16 KV cells."""
    folder = tmp_path_factory.mktemp("onnx-f16") / "tiny"
    shutil.copytree(tiny_serving_model_int8.path, folder)
    onnx_writer.write(tiny_base.path, folder / "model.onnx", kv_type="f16")
    return folder


@pytest.fixture(scope="module", params=["f32", "f16"])
def engine(request, tiny_serving_model_int8):
    cells = request.param
    folder = (
        tiny_serving_model_int8.path
        if cells == "f32"
        else request.getfixturevalue("half_cells_folder")
    )
    made = engine_for(folder, kv_type=cells)
    yield made
    made.close()


@pytest.mark.timeout(180)
def test_greedy_steps_follow_tensorflow(tiny_base, tiny_serving_model, prompt_ids):
    expected = tensorflow_greedy(tiny_base.path, prompt_ids, NEW_TOKENS)
    engine = engine_for(tiny_serving_model.path, kv_type="f32")
    try:
        assert generate(engine, 2, prompt_ids, NEW_TOKENS) == expected
        engine.open(1, temperature=0.0, top_k=0, top_p=1.0, seed=0)
        chunks = [prompt_ids[i : i + 3] for i in range(0, len(prompt_ids), 3)]
        for chunk in chunks[:-1]:
            assert engine.step([Feed(1, chunk, wants_token=False)]) == [None]
        token = engine.step([Feed(1, chunks[-1], wants_token=True)])[0]
        chunked = [token]
        while len(chunked) < NEW_TOKENS:
            chunked.append(engine.step([Feed(1, [chunked[-1]], wants_token=True)])[0])
        assert chunked == expected
    finally:
        engine.close()


def test_prefill_in_chunks_agrees_with_prefill_at_once(engine, prompt_ids):
    """Each chunk reads the cells the earlier ones wrote. Not to the last bit: attention's
    products over a chunk round with its length (the scheduler cuts a prompt the same way
    whatever runs beside it), and int8 rounding can pass such a difference on."""
    engine.open(0, **SEEDED[0])
    at_once = engine.next_logits(0, prompt_ids)
    engine.free(0)
    engine.open(0, **SEEDED[0])  # the freed slot starts empty again
    head = prompt_ids[:-1]
    for start in range(0, len(head), 2):
        engine.next_logits(0, head[start : start + 2])
    np.testing.assert_allclose(engine.next_logits(0, prompt_ids[-1:]), at_once, atol=1e-3)
    engine.free(0)


def test_a_freed_slot_gives_its_pages_back(engine, prompt_ids):
    engine.open(2, **SEEDED[0])
    engine.next_logits(2, prompt_ids)
    assert np.count_nonzero(engine._cache[:, :, 2]) > 0
    engine.free(2)
    # The tiny model's slot rows fill whole pages: every one went back, and reads as zero.
    assert np.count_nonzero(engine._cache[:, :, 2]) == 0


def own_settings(mate: int) -> dict:
    """Each mate with settings of its own."""
    return {**SEEDED[mate % len(SEEDED)], "seed": 100 + mate}


def beside_mates(engine, slot, prompt_ids, sampling, mates: list[int]) -> list[int]:
    return llama_tests.beside_mates(engine, slot, prompt_ids, sampling, mates, own_settings)


@pytest.mark.timeout(180)
@pytest.mark.parametrize("sampling", SEEDED, ids=lambda s: f"T{s['temperature']}-k{s['top_k']}")
def test_a_seed_gives_the_same_tokens_alone_and_beside_seven_others(engine, prompt_ids, sampling):
    alone = beside_mates(engine, 0, prompt_ids, sampling, [])
    assert beside_mates(engine, 0, prompt_ids, sampling, []) == alone  # a reopened slot
    assert beside_mates(engine, 3, prompt_ids, sampling, [0, 1, 2, 4, 5, 6, 7]) == alone
    # Mates on scattered slots: decode rows then run as several batches.
    assert beside_mates(engine, 4, prompt_ids, sampling, [0, 2, 7]) == alone
    if sampling["temperature"]:
        other_seed = {**sampling, "seed": sampling["seed"] + 1}
        assert beside_mates(engine, 0, prompt_ids, other_seed, []) != alone


@pytest.mark.timeout(180)
def test_a_moved_sequence_goes_on_as_if_it_had_stayed(engine, prompt_ids):
    llama_tests.check_a_move(engine, prompt_ids, SEEDED[0], SEEDED[1])
    engine.free(1)


def test_banned_ids_are_never_sampled(tiny_serving_model_int8, prompt_ids, monkeypatch):
    """The tiny vocabulary has no fillers: ban the ids this model likes best instead."""
    engine = engine_for(tiny_serving_model_int8.path)
    engine.open(0, **SEEDED[0])
    favourites = np.argsort(-engine.next_logits(0, prompt_ids))[:20].tolist()
    engine.close()

    class Banning(Tokenizer):
        def __init__(self, folder):
            super().__init__(folder)
            self.banned_ids = favourites

    monkeypatch.setattr("serving.engines.onnx_engine.Tokenizer", Banning)
    engine = engine_for(tiny_serving_model_int8.path)
    try:
        for slot, sampling in enumerate(SEEDED):  # greedy, top-k, top-p, whole vocabulary
            tokens = generate(engine, slot, prompt_ids, NEW_TOKENS, **sampling)
            assert not set(favourites) & set(tokens), sampling
            engine.free(slot)
    finally:
        engine.close()


def test_a_slot_cannot_pass_its_context(tiny_serving_model_int8):
    engine = engine_for(tiny_serving_model_int8.path, max_slots=4, kv_tokens=64)
    try:
        assert (engine.n_ctx, engine.kv_tokens) == (16, 64)
        engine.open(0, **SEEDED[0])
        engine.step([Feed(0, list(range(16)), False)])
        with pytest.raises(ValueError, match="context of 16"):
            engine.step([Feed(0, [1], True)])
    finally:
        engine.close()


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda path: path.unlink(), r"model\.onnx not found: re-run `python -m model export`"),
        (
            lambda path: path.write_bytes(b"GGUF" + bytes(60)),
            r"model\.onnx: ONNX Runtime cannot load",
        ),
    ],
    ids=["missing", "not-onnx"],
)
def test_a_model_that_cannot_load_is_one_clear_line(
    tiny_serving_model_int8, tmp_path, damage, message
):
    folder = tmp_path / "tiny"
    shutil.copytree(tiny_serving_model_int8.path, folder)
    damage(folder / "model.onnx")
    with pytest.raises(ValueError, match=message) as caught:
        engine_for(folder)
    assert "\n" not in str(caught.value) and "re-run" in str(caught.value)


def test_a_kv_type_other_than_the_models_says_what_to_do(tiny_serving_model_int8):
    with pytest.raises(ValueError, match="holds f32 KV cells, not f16.*--onnx-kv-type f16"):
        engine_for(tiny_serving_model_int8.path, kv_type="f16")


def test_settings_choose_the_onnx_engine_and_its_folders(tiny_serving_model_int8, tmp_path):
    from serving import config, engines

    folder = tiny_serving_model_int8.path
    overrides = {"models_dir": folder.parent, "engine": "onnx", "max_slots": 4, "threads": 1}
    engine = engines.load(config.load(overrides), folder)
    try:
        assert (engine.name, engine.kv_type, engine.max_slots) == ("onnx", "f32", 4)
    finally:
        engine.close()
    assert engines.is_model_folder("onnx", folder)
    gguf_only = tmp_path / "gguf-only"
    shutil.copytree(folder, gguf_only, ignore=shutil.ignore_patterns("model.onnx"))
    assert engines.is_model_folder("llama", gguf_only)
    assert not engines.is_model_folder("onnx", gguf_only)
