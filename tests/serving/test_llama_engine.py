"""The llama.cpp engine on real exported tiny models: parity with TensorFlow, per-slot sampling.

Greedy decoding is compared with TensorFlow on the gpt-2-simple checkpoint (f32 weights: the
logit gaps of a random tiny model are ~1e-2, the engines differ by ~1e-5). Sampling is checked
on q8_0, what serving runs.
"""

import json

import numpy as np
import pytest

from serving.engines.base import Feed
from serving.engines.llama_engine import KVCacheFull, LlamaEngine
from serving.tokenizer import Tokenizer
from tests.fixtures.models import check_cli

PROMPT = "The keeper of the lighthouse wrote"
NEW_TOKENS = 24


def engine_for(model, **settings) -> LlamaEngine:
    options = {"max_slots": 4, "kv_tokens": 512, "threads": 1, **settings}
    return LlamaEngine(model.path, **options)


def tensorflow_greedy(model_dir, prompt_ids: list[int], count: int) -> list[int]:
    """TensorFlow's greedy continuation on the checkpoint: argmax of the last position's logits,
    the whole context recomputed each token (the reference, not a fast path)."""
    import tensorflow as tf
    from gpt_2_simple.src import model as gpt2_model

    from model.checkpoint_file import latest_prefix

    hparams = gpt2_model.default_hparams()
    hparams.override_from_dict(json.loads((model_dir / "hparams.json").read_text()))
    graph = tf.Graph()
    with graph.as_default():
        tokens = tf.compat.v1.placeholder(tf.int32, [1, None])
        logits = gpt2_model.model(hparams=hparams, X=tokens)["logits"][0, -1]
        saver = tf.compat.v1.train.Saver(var_list=tf.compat.v1.global_variables())
    ids = list(prompt_ids)
    with tf.compat.v1.Session(graph=graph) as session:
        saver.restore(session, str(latest_prefix(model_dir)))
        for _ in range(count):
            ids.append(int(np.argmax(session.run(logits, feed_dict={tokens: [ids]}))))
    return ids[len(prompt_ids) :]


def generate(engine, slot: int, prompt_ids: list[int], count: int, **sampling) -> list[int]:
    """One sequence alone: prompt in one feed, then one token per step."""
    engine.open(slot, **{"temperature": 0.0, "top_k": 0, "top_p": 1.0, "seed": 0, **sampling})
    token = engine.step([Feed(slot, prompt_ids, wants_token=True)])[0]
    out = [token]
    while len(out) < count:
        token = engine.step([Feed(slot, [token], wants_token=True)])[0]
        out.append(token)
    return out


@pytest.fixture(scope="module")
def prompt_ids(tiny_serving_model) -> list[int]:
    return Tokenizer(tiny_serving_model.path).encode(PROMPT)


@pytest.mark.timeout(180)
def test_greedy_steps_follow_tensorflow(tiny_base, tiny_serving_model, prompt_ids):
    expected = tensorflow_greedy(tiny_base.path, prompt_ids, NEW_TOKENS)
    engine = engine_for(tiny_serving_model)
    try:
        assert generate(engine, 2, prompt_ids, NEW_TOKENS) == expected
        # The prompt prefilled in chunks of 3 tokens (no sampling until the last) changes nothing.
        engine.open(1, temperature=0.0, top_k=0, top_p=1.0, seed=0)
        chunks = [prompt_ids[i : i + 3] for i in range(0, len(prompt_ids), 3)]
        for chunk in chunks[:-1]:
            assert engine.step([Feed(1, chunk, wants_token=False)]) == [None]
        token = engine.step([Feed(1, chunks[-1], wants_token=True)])[0]
        chunked = [token]
        while len(chunked) < NEW_TOKENS:
            token = engine.step([Feed(1, [token], wants_token=True)])[0]
            chunked.append(token)
        assert chunked == expected
    finally:
        engine.close()


@pytest.mark.timeout(180)
def test_a_seed_gives_the_same_tokens_alone_and_among_others(tiny_serving_model_int8, prompt_ids):
    seeded = {"temperature": 1.0, "top_k": 0, "top_p": 1.0, "seed": 1234}
    engine = engine_for(tiny_serving_model_int8)
    try:
        alone = generate(engine, 0, prompt_ids, NEW_TOKENS, **seeded)
        assert generate(engine, 0, prompt_ids, NEW_TOKENS, **seeded) == alone  # reopened slot
        assert generate(engine, 0, prompt_ids, NEW_TOKENS, **{**seeded, "seed": 99}) != alone
        # Now in slot 3, joined one step after two others with other settings and prompts.
        engine.open(0, temperature=0.7, top_k=40, top_p=1.0, seed=5)
        engine.open(1, temperature=1.3, top_k=0, top_p=0.9, seed=6)
        engine.open(3, **seeded)
        others = engine.step([Feed(0, prompt_ids[:2], True), Feed(1, prompt_ids[::-1], True)])
        mates = [Feed(0, [others[0]], True), Feed(1, [others[1]], True)]
        first = engine.step([*mates, Feed(3, prompt_ids, True)])
        among, mates_tokens = [first[2]], first[:2]
        while len(among) < NEW_TOKENS:
            feeds = [Feed(0, [mates_tokens[0]], True), Feed(3, [among[-1]], True)]
            feeds.append(Feed(1, [mates_tokens[1]], True))
            result = engine.step(feeds)
            mates_tokens, among = [result[0], result[2]], [*among, result[1]]
        assert among == alone
    finally:
        engine.close()


def check_a_move(engine, prompt_ids, seeded: dict, mate: dict) -> None:
    """A sequence moved from slot 3 to 1 after a few steps beside a mate that left goes on as
    if it had stayed; slot 3 is closed after. Leaves slot 1 open."""
    stayed = generate(engine, 3, prompt_ids, NEW_TOKENS, **seeded)
    engine.free(3)
    engine.open(1, **mate)  # a mate that leaves
    engine.open(3, **seeded)
    mate_token, token = engine.step([Feed(1, prompt_ids[:3], True), Feed(3, prompt_ids, True)])
    moved = [token]
    for _ in range(5):
        mate_token, token = engine.step([Feed(1, [mate_token], True), Feed(3, [moved[-1]], True)])
        moved.append(token)
    engine.free(1)
    engine.move(3, 1)
    while len(moved) < NEW_TOKENS:
        moved.append(engine.step([Feed(1, [moved[-1]], True)])[0])
    assert moved == stayed
    with pytest.raises(ValueError, match="slot 3 is not open"):
        engine.step([Feed(3, [moved[-1]], True)])


def mate_sampling(mate: int) -> dict:
    return {"temperature": 0.9, "top_k": 40, "top_p": 1.0, "seed": mate}


def beside_mates(
    engine, slot, prompt_ids, sampling, mates: list[int], settings=mate_sampling
) -> list[int]:
    """A seeded sequence in `slot`, its mates (each opened with `settings(mate)`, seeded) in the
    same steps throughout."""
    engine.open(slot, **sampling)
    for mate in mates:
        engine.open(mate, **settings(mate))
    feeds = [Feed(slot, prompt_ids, True)] + [Feed(m, [m, m + 1, m + 2], True) for m in mates]
    result = engine.step(feeds)
    out, mate_tokens = [result[0]], result[1:]
    while len(out) < NEW_TOKENS:
        feeds = [Feed(m, [t], True) for m, t in zip(mates, mate_tokens, strict=True)]
        result = engine.step([Feed(slot, [out[-1]], True), *feeds])
        out, mate_tokens = [*out, result[0]], result[1:]
    for used in (slot, *mates):
        engine.free(used)
    return out


@pytest.mark.timeout(300)
@pytest.mark.parametrize("kv_type", ["f16", "q8_0"])
def test_seeds_hold_with_any_number_of_mates(tiny_serving_model_int8, prompt_ids, kv_type):
    """Top-p cuts and draws between near-equal tokens: where a shared cache changed 5 of 10."""
    engine = engine_for(tiny_serving_model_int8, max_slots=32, kv_tokens=8192, kv_type=kv_type)
    try:
        for number in range(10):
            sampling = {
                "temperature": 0.8 + number / 20,
                "top_k": (0, 40)[number % 2],
                "top_p": 0.9 if number % 3 == 0 else 1.0,
                "seed": number,
            }
            alone = beside_mates(engine, 0, prompt_ids, sampling, [])
            mates = list(range(8, 11 + number * 2))
            assert beside_mates(engine, 7, prompt_ids, sampling, mates) == alone, sampling
    finally:
        engine.close()


@pytest.mark.timeout(180)
@pytest.mark.parametrize("kv_type", ["f16", "q8_0"])
def test_a_moved_sequence_goes_on_as_if_it_had_stayed(tiny_serving_model_int8, prompt_ids, kv_type):
    seeded = {"temperature": 1.0, "top_k": 0, "top_p": 1.0, "seed": 77}
    engine = engine_for(tiny_serving_model_int8, kv_type=kv_type)
    try:
        check_a_move(engine, prompt_ids, seeded, mate_sampling(1))
    finally:
        engine.close()


def test_a_step_hands_llama_cpp_its_sequences_in_slot_order(
    tiny_serving_model_int8, prompt_ids, monkeypatch
):
    """With a split cache, llama.cpp makes one sub-batch per run of consecutive sequence ids in
    batch order: feeds given in any order must reach it sorted."""
    import llama_cpp

    engine = engine_for(tiny_serving_model_int8)
    seen = []
    decode = llama_cpp.llama_decode

    def recording_decode(ctx, batch):
        seen.append([batch.seq_id[i][0] for i in range(batch.n_tokens)])
        return decode(ctx, batch)

    try:
        for slot in range(4):
            engine.open(slot, temperature=0.0, top_k=0, top_p=1.0, seed=slot)
        monkeypatch.setattr(llama_cpp, "llama_decode", recording_decode)
        first = engine.step([Feed(slot, prompt_ids[:2], True) for slot in (2, 0, 3, 1)])
        by_slot = dict(zip((2, 0, 3, 1), first, strict=True))
        engine.step([Feed(slot, [by_slot[slot]], True) for slot in (3, 1, 0, 2)])
        assert seen == [[0, 0, 1, 1, 2, 2, 3, 3], [0, 1, 2, 3]]
    finally:
        engine.close()


@pytest.fixture(scope="module")
def padded_model(tiny_base, tmp_path_factory):
    """A model whose vocabulary is mostly `<|unused…|>` fillers (a corpus of a few words)."""
    data = tiny_base.data_dir
    corpus = tmp_path_factory.mktemp("few-words") / "train.txt"
    corpus.write_text("ab ba ab ba aab bba\n" * 80, encoding="utf-8")
    shape = ["--vocab-size", "512", "--exact-vocab", "--n-layer", "1", "--n-embd", "32"]
    check_cli(data, "init", "padded", "--corpus", str(corpus), *shape, "--n-head", "1")
    out = tmp_path_factory.mktemp("serving-padded") / "padded"
    check_cli(data, "export", "--base", "padded", "--out", str(out), "--quantization", "f32")
    return out


@pytest.mark.timeout(180)
def test_banned_ids_are_never_sampled(padded_model):
    tokenizer = Tokenizer(padded_model)
    banned = set(tokenizer.banned_ids)
    assert len(banned) > tokenizer.n_vocab // 3  # ~half the draws would be fillers if allowed
    engine = LlamaEngine(padded_model, max_slots=1, kv_tokens=64, threads=1)
    drawn = []
    try:
        # A near-uniform distribution (temperature 50) over all ids, many times over.
        for seed in range(12):
            drawn += generate(engine, 0, [tokenizer.eos_id], 40, temperature=50.0, seed=seed)
    finally:
        engine.close()
    assert not banned & set(drawn)
    assert len(set(drawn)) > 100  # the draw really was spread out


@pytest.mark.timeout(180)
def test_a_full_kv_budget_is_a_clear_error_and_leaves_slots_intact(
    tiny_serving_model_int8, prompt_ids
):
    # One shared cache (unified) is where a step can run out of cells; split, every slot has
    # its own and the context check stops a sequence first.
    engine = engine_for(tiny_serving_model_int8, max_slots=3, kv_tokens=256, kv_unified=True)
    try:
        assert engine.kv_tokens == 256 and engine.n_ctx == 128
        reference = generate(engine, 0, prompt_ids, 8)
        for slot in range(3):
            engine.open(slot, temperature=0.0, top_k=0, top_p=1.0, seed=0)
        filler = list(range(120))
        assert engine.step([Feed(1, filler, False), Feed(2, filler, False)]) == [None, None]
        with pytest.raises(KVCacheFull, match="KV budget"):  # 240 + 31 cells > 256
            engine.step([Feed(0, filler[:30], True), Feed(1, [5], True)])
        engine.free(2)  # room again; the failed step left slot 0 empty and slot 1 as it was
        tokens = [engine.step([Feed(0, prompt_ids, True), Feed(1, [5], True)])[0]]
        while len(tokens) < 8:
            tokens.append(engine.step([Feed(0, [tokens[-1]], True)])[0])
        assert tokens == reference
        with pytest.raises(ValueError, match="not open"):
            engine.step([Feed(2, [1], wants_token=True)])
        with pytest.raises(ValueError, match="context of 128"):
            engine.step([Feed(1, filler, wants_token=True)])
    finally:
        engine.close()
