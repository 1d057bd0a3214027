"""Export's self-check: llama.cpp and ONNX Runtime must score a probe text as TensorFlow does.

TensorFlow on the gpt-2-simple checkpoint is the reference. An f32 GGUF must agree within
FLOAT32_TOLERANCE nats per token, which only an exact weight mapping achieves (a transposed or
misplaced matrix is off by whole nats). Smaller weight types round, so their difference is
measured and reported, and only a difference no rounding explains fails the export. model.onnx
is scored by the ONNX engine itself (serving/engines/onnx_engine.py), one token per step, and
must stay within ONNX_MEAN_LIMIT on average.

The probe's ids are gpt-2-simple's encoder's: GPT-2's reference encoder, the one the checkpoint's
own sampling and scoring use. Two tokenizers must split the probe into the same ids: serving's
(serving/tokenizer.py: the API encodes prompts and decodes answers with it, and training encodes its
dataset with the same construction, model.tokenizer.load_fast_tokenizer) and the GGUF's embedded
one (llama.cpp's own tools, llama-server, tokenize with it).
"""

import ctypes
import os
import sys

import numpy as np

from model import scoring
from serving.tokenizer import Tokenizer as ServingTokenizer

# llama.cpp (ggml's CPU backend) computes GELU through a table indexed by the input rounded to
# f16, and its result is f16 too: measured 1e-4 nats at most on the tiny test model and 3e-3 on
# weights far from initialisation (flash attention, which the check leaves off, adds as much
# again). A wrong layout is off by whole nats.
FLOAT32_TOLERANCE = 0.02
# q8_0 moves GPT-2's log-probabilities by hundredths of a nat, q4_0 by about a tenth; half a
# nat on average means the model is broken, not rounded.
GGML_LOG_LEVEL_ERROR = 4  # ggml.h's; llama_cpp exports no constant for it
QUANTIZED_MEAN_LIMIT = 0.5
# model.onnx (int8 matmuls) within a fiftieth of a nat per token of TensorFlow on
# average: twice q8_0's rounding, well below what changes which words the model prefers.
ONNX_MEAN_LIMIT = 0.02
# Words, digits, punctuation, accents, an emoji and newlines: every pre-tokenizer branch.
PROBE_TEXT = (
    "The ferry left the harbour at 6:45, an hour late. Nobody on board seemed to mind.\n\n"
    '"We\'ll be there by noon," said Zoë, handing out café au lait and 12 warm rolls. 🙂\n'
    "Later that week the storm turned north, and the lighthouse keeper wrote it all down:\n"
    "the wind, the rain, the gulls, the long grey swell that would not settle."
)


def reference_ids(source) -> list[int]:
    """The probe's ids by gpt-2-simple's encoder, which every other tokenizer must match."""
    from gpt_2_simple.src.encoder import get_encoder

    return get_encoder(str(source)).encode(PROBE_TEXT)


def serving_tokenizer_error(source, ids: list[int]) -> str | None:
    """Why serving's tokenizer disagrees with gpt-2-simple's `ids` on the probe, or None.

    Files it cannot read count too (the API would fail to load the model): gpt-2-simple's reader
    is the more lenient one, it splits a merge line on any whitespace."""
    try:
        tokenizer = ServingTokenizer(source)
    except Exception as error:  # `tokenizers` raises plain Exception (or TypeError) on bad files
        reason = (str(error).splitlines() or [type(error).__name__])[0]
        return f"cannot read encoder.json + vocab.bpe ({reason}): the API could not load this model"
    if tokenizer.encode(PROBE_TEXT) != ids:
        return (
            "encodes the probe into other ids than gpt-2-simple's encoder: served prompts "
            "would not read as the model learned them"
        )
    if tokenizer.decode(ids) != PROBE_TEXT:
        return "decodes the probe's ids into other text than the probe: answers would be garbled"
    return None


def _log_errors(level: int, text: bytes, _user_data) -> None:
    if level == GGML_LOG_LEVEL_ERROR:
        print(f"llama.cpp: {text.decode('utf-8', 'replace').rstrip()}", file=sys.stderr)


_llama_log_callback = None  # the ctypes callback must outlive every llama.cpp call


def _load_llama(model_file):
    global _llama_log_callback
    import llama_cpp as ll

    if _llama_log_callback is None:
        _llama_log_callback = ll.llama_log_callback(_log_errors)
        ll.llama_log_set(_llama_log_callback, ctypes.c_void_p())
        ll.llama_backend_init()
    model = ll.llama_model_load_from_file(str(model_file).encode(), ll.llama_model_default_params())
    if not model:
        raise ValueError(f"llama.cpp cannot load {model_file}")
    return model


def gguf_tokenizer_ids(model_file, text: str) -> list[int]:
    """The text as the GGUF's embedded tokenizer splits it (no start token, no special tokens)."""
    import llama_cpp as ll

    model = _load_llama(model_file)
    try:
        data = text.encode("utf-8")
        room = len(data) + 1
        ids = (ll.llama_token * room)()
        vocab = ll.llama_model_get_vocab(model)
        count = ll.llama_tokenize(vocab, data, len(data), ids, room, False, False)
        return list(ids[:count])
    finally:
        ll.llama_model_free(model)


def llama_scores(model_file, ids: list[int]) -> np.ndarray:
    """log p(ids[i] | ids[:i]) for i = 1..len-1 from llama.cpp (f32 KV cache, one decode)."""
    import llama_cpp as ll

    model = _load_llama(model_file)
    params = ll.llama_context_default_params()
    params.n_ctx = params.n_batch = params.n_ubatch = len(ids)
    params.n_threads = params.n_threads_batch = os.cpu_count() or 1
    params.type_k = params.type_v = ll.GGML_TYPE_F32
    params.flash_attn_type = ll.LLAMA_FLASH_ATTN_TYPE_DISABLED
    context = ll.llama_init_from_model(model, params)
    batch = ll.llama_batch_init(len(ids), 0, 1)
    try:
        for position, token_id in enumerate(ids):
            batch.token[position], batch.pos[position] = token_id, position
            batch.n_seq_id[position], batch.seq_id[position][0] = 1, 0
            batch.logits[position] = True
        batch.n_tokens = len(ids)
        if ll.llama_decode(context, batch) != 0:
            raise RuntimeError(f"llama.cpp could not score the probe with {model_file}")
        n_vocab = ll.llama_vocab_n_tokens(ll.llama_model_get_vocab(model))
        scores = np.empty(len(ids) - 1, dtype=np.float32)
        for position in range(len(ids) - 1):
            row = np.ctypeslib.as_array(ll.llama_get_logits_ith(context, position), (n_vocab,))
            row = row.astype(np.float64)
            top = row.max()
            log_norm = top + np.log(np.exp(row - top).sum())
            scores[position] = row[ids[position + 1]] - log_norm
        return scores
    finally:
        ll.llama_batch_free(batch)
        ll.llama_free(context)
        ll.llama_model_free(model)


def onnx_scores(folder, ids: list[int]) -> np.ndarray:
    """log p(ids[i] | ids[:i]) for i = 1..len-1 from the ONNX engine's own forward pass on the
    serving folder, one token per step (the decode path every served token takes)."""
    from serving.engines.onnx_engine import OnnxEngine

    engine = OnnxEngine(folder, max_slots=1, kv_tokens=len(ids), threads=os.cpu_count() or 1)
    try:
        engine.open(0, temperature=0.0, top_k=0, top_p=1.0, seed=0)
        scores = np.empty(len(ids) - 1, dtype=np.float32)
        for position in range(len(ids) - 1):
            row = engine.next_logits(0, [ids[position]]).astype(np.float64)
            top = row.max()
            scores[position] = row[ids[position + 1]] - top - np.log(np.exp(row - top).sum())
        return scores
    finally:
        engine.close()


def check(source, float32_file, served_file, *, weights: str, n_ctx: int, onnx_folder=None) -> dict:
    """Checks the tokenizers on the probe, then scores it with TensorFlow (from `source`), the
    f32 GGUF, the served GGUF and, given its serving folder, model.onnx."""
    ids = reference_ids(source)
    serving_error = serving_tokenizer_error(source, ids)
    gguf_tokenizer_match = gguf_tokenizer_ids(float32_file, PROBE_TEXT) == ids
    ids = ids[:n_ctx]
    reference = scoring.token_logprobs(source, [ids])[0]
    float32 = llama_scores(float32_file, ids)
    float_diff = np.abs(float32 - reference)
    result = {
        "probe_tokens": len(ids),
        # Both against gpt-2-simple's ids, so they also say whether serving and the GGUF agree.
        "serving_tokenizer_match": serving_error is None,
        "gguf_tokenizer_match": gguf_tokenizer_match,
        "tolerance": FLOAT32_TOLERANCE,
        "float32_max_abs_diff": float(float_diff.max()),
        "float32_mean_abs_diff": float(float_diff.mean()),
        "weights": weights,
    }
    if serving_error:
        result["serving_tokenizer_error"] = serving_error
    passed = serving_error is None and gguf_tokenizer_match
    passed = passed and result["float32_max_abs_diff"] <= FLOAT32_TOLERANCE
    if served_file != float32_file:
        served_diff = np.abs(llama_scores(served_file, ids) - reference)
        result["weights_mean_abs_diff"] = float(served_diff.mean())
        result["weights_max_abs_diff"] = float(served_diff.max())
        result["weights_mean_limit"] = QUANTIZED_MEAN_LIMIT
        passed = passed and result["weights_mean_abs_diff"] <= QUANTIZED_MEAN_LIMIT
    if onnx_folder is not None and serving_error is None:  # the engine loads that tokenizer
        onnx_diff = np.abs(onnx_scores(onnx_folder, ids) - reference)
        result["onnx_mean_abs_diff"] = float(onnx_diff.mean())
        result["onnx_max_abs_diff"] = float(onnx_diff.max())
        result["onnx_mean_limit"] = ONNX_MEAN_LIMIT
        passed = passed and result["onnx_mean_abs_diff"] <= ONNX_MEAN_LIMIT
    result["passed"] = bool(passed)
    return result


def describe(result: dict) -> str:
    if not result["serving_tokenizer_match"]:
        return (
            "parity check failed: the serving tokenizer (serving/tokenizer.py) "
            f"{result['serving_tokenizer_error']}"
        )
    if not result["gguf_tokenizer_match"]:
        return "parity check failed: the GGUF's embedded tokenizer encodes the probe differently"
    text = (
        f"f32 max |Δ log p| {result['float32_max_abs_diff']:.2e} "
        f"(tolerance {result['tolerance']:g}) over {result['probe_tokens']} tokens"
    )
    if "weights_mean_abs_diff" in result:
        text += f", {result['weights']} mean |Δ log p| {result['weights_mean_abs_diff']:.2e}"
    if "onnx_mean_abs_diff" in result:
        text += (
            f", model.onnx mean |Δ log p| {result['onnx_mean_abs_diff']:.2e} "
            f"(limit {result['onnx_mean_limit']:g})"
        )
    return ("parity ok: " if result["passed"] else "parity check failed: ") + text
