"""Export's self-check: CTranslate2 must score a probe text as TensorFlow does.

TensorFlow on the gpt-2-simple checkpoint is the reference. float32 must agree within
FLOAT32_TOLERANCE nats per token, which only an exact weight mapping achieves (a transposed or
misplaced matrix is off by whole nats). int8 rounds weights, so its difference is measured and
reported, and only a difference no rounding explains fails the export.
"""

import numpy as np

from model import scoring
from model.tokenizer import load_fast_tokenizer

FLOAT32_TOLERANCE = 1e-3
# int8 rounding moves GPT-2's log-probabilities by hundredths of a nat; half a nat on average
# means the int8 model is broken, not rounded.
INT8_MEAN_LIMIT = 0.5
# Words, digits, punctuation, accents, an emoji and newlines: every pre-tokenizer branch.
PROBE_TEXT = (
    "The ferry left the harbour at 6:45, an hour late. Nobody on board seemed to mind.\n\n"
    '"We\'ll be there by noon," said Zoë, handing out café au lait and 12 warm rolls. 🙂\n'
    "Later that week the storm turned north, and the lighthouse keeper wrote it all down:\n"
    "the wind, the rain, the gulls, the long grey swell that would not settle."
)


def probe(source) -> tuple[list[int], list[str], bool]:
    """The probe's ids (gpt-2-simple's encoder, as training saw them), the serving tokenizer's
    token strings for them, and whether the serving tokenizer produced the same ids."""
    from gpt_2_simple.src.encoder import get_encoder

    ids = get_encoder(str(source)).encode(PROBE_TEXT)
    served = load_fast_tokenizer(source).encode(PROBE_TEXT)
    return ids, served.tokens, served.ids == ids


def ctranslate2_logprobs(model_dir, tokens: list[str], *, compute_type: str) -> np.ndarray:
    import ctranslate2

    generator = ctranslate2.Generator(str(model_dir), device="cpu", compute_type=compute_type)
    result = generator.score_batch([tokens], max_input_length=0)[0]
    return np.asarray(result.log_probs, dtype=np.float32)


def check(source, float32_dir, int8_dir=None, *, n_ctx: int) -> dict:
    """Scores the probe with TensorFlow (from `source`) and the CTranslate2 model(s)."""
    ids, tokens, tokenizer_match = probe(source)
    ids, tokens = ids[:n_ctx], tokens[:n_ctx]
    reference = scoring.token_logprobs(source, [ids])[0]
    float32 = ctranslate2_logprobs(float32_dir, tokens, compute_type="float32")
    float_diff = np.abs(float32 - reference)
    result = {
        "probe_tokens": len(ids),
        "tokenizer_match": tokenizer_match,
        "tolerance": FLOAT32_TOLERANCE,
        "float32_max_abs_diff": float(float_diff.max()),
        "float32_mean_abs_diff": float(float_diff.mean()),
    }
    passed = tokenizer_match and result["float32_max_abs_diff"] <= FLOAT32_TOLERANCE
    if int8_dir is not None:
        int8_diff = np.abs(ctranslate2_logprobs(int8_dir, tokens, compute_type="int8") - reference)
        result["int8_mean_abs_diff"] = float(int8_diff.mean())
        result["int8_max_abs_diff"] = float(int8_diff.max())
        result["int8_mean_limit"] = INT8_MEAN_LIMIT
        passed = passed and result["int8_mean_abs_diff"] <= INT8_MEAN_LIMIT
    result["passed"] = bool(passed)
    return result


def describe(result: dict) -> str:
    if not result["tokenizer_match"]:
        return "parity check failed: the tokenizers library encodes the probe differently"
    text = (
        f"float32 max |Δ log p| {result['float32_max_abs_diff']:.2e} "
        f"(tolerance {result['tolerance']:g}) over {result['probe_tokens']} tokens"
    )
    if "int8_mean_abs_diff" in result:
        text += f", int8 mean |Δ log p| {result['int8_mean_abs_diff']:.2e}"
    return ("parity ok: " if result["passed"] else "parity check failed: ") + text
