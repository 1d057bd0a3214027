"""gpt-2-simple checkpoint → CTranslate2 model files (model.bin, config.json, vocabulary.json),
and the checkpoint reading that every export format shares (`read_weights`, `linear_weight`).

Serving runs llama.cpp (model/gguf_writer.py); CTranslate2 stays as the benchmark's capacity
reference (bench/engine_ceiling.py), built from the same checkpoint by `convert`.

GPT-2 as CTranslate2 sees it: a pre-norm Transformer decoder with GELU (tanh approximation),
learned position embeddings, unscaled token embeddings, a final layer norm, and the output
projection tied to the token embedding. Each attention layer's q, k, v live in one fused
`c_attn` matrix, which CTranslate2's self-attention takes as-is (its first linear is fused qkv).
"""

import json
import sys
from pathlib import Path

from contracts import ENCODER, HPARAMS, VOCAB_BPE, read_hparams
from model import checkpoint_file
from model.tokenizer import EOS_TOKEN

# GPT-2's layer norm epsilon (gpt-2-simple's `norm`); CTranslate2 is told rather than left to guess.
LAYER_NORM_EPSILON = 1e-5


def read_weights(model_dir: Path) -> dict:
    """The latest checkpoint's variables as numpy arrays, by name ("model/h0/attn/c_attn/w")."""
    import tensorflow as tf

    reader = tf.train.load_checkpoint(str(checkpoint_file.latest_prefix(model_dir)))
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}


def linear_weight(conv1d_w):
    """gpt-2's conv1d stores [1, in, out] and computes x @ w; CTranslate2 wants [out, in]."""
    assert conv1d_w.ndim == 3 and conv1d_w.shape[0] == 1, conv1d_w.shape
    return conv1d_w[0].T.copy()


def build_spec(weights: dict, hparams: dict, tokens: list[str]):
    from ctranslate2.specs import common_spec, transformer_spec

    spec = transformer_spec.TransformerDecoderModelSpec.from_config(
        hparams["n_layer"],
        hparams["n_head"],
        pre_norm=True,
        activation=common_spec.Activation.GELUTanh,
    )
    decoder = spec.decoder
    decoder.scale_embeddings = False
    decoder.embeddings.weight = weights["model/wte"]
    decoder.position_encodings.encodings = weights["model/wpe"]
    decoder.projection.weight = weights["model/wte"]  # tied: logits = h @ wte^T
    _set_norm(decoder.layer_norm, weights, "model/ln_f")
    for index, layer in enumerate(decoder.layer):
        scope = f"model/h{index}"
        _set_norm(layer.self_attention.layer_norm, weights, f"{scope}/ln_1")
        _set_linear(layer.self_attention.linear[0], weights, f"{scope}/attn/c_attn")
        _set_linear(layer.self_attention.linear[1], weights, f"{scope}/attn/c_proj")
        _set_norm(layer.ffn.layer_norm, weights, f"{scope}/ln_2")
        _set_linear(layer.ffn.linear_0, weights, f"{scope}/mlp/c_fc")
        _set_linear(layer.ffn.linear_1, weights, f"{scope}/mlp/c_proj")
    # GPT-2 has one special token for start, end and (never used) unknown.
    spec.config.bos_token = spec.config.eos_token = spec.config.unk_token = EOS_TOKEN
    spec.config.layer_norm_epsilon = LAYER_NORM_EPSILON
    spec.register_vocabulary(tokens)
    return spec


def _set_norm(spec, weights: dict, scope: str) -> None:
    spec.gamma = weights[f"{scope}/g"]
    spec.beta = weights[f"{scope}/b"]


def _set_linear(spec, weights: dict, scope: str) -> None:
    spec.weight = linear_weight(weights[f"{scope}/w"])
    spec.bias = weights[f"{scope}/b"]


def vocabulary_tokens(model_dir: Path, n_vocab: int) -> list[str]:
    """encoder.json's tokens in id order; an engine's ids must equal the tokenizer's."""
    encoder = json.loads((model_dir / ENCODER).read_text(encoding="utf-8"))
    tokens = sorted(encoder, key=encoder.__getitem__)
    if [encoder[t] for t in tokens] != list(range(n_vocab)) or tokens[-1] != EOS_TOKEN:
        raise ValueError(
            f"{model_dir}/encoder.json must map ids 0..{n_vocab - 1} (hparams n_vocab) with "
            f"{EOS_TOKEN} last"
        )
    return tokens


def convert(model_dir: Path, out_dir: Path, *, quantization: str) -> None:
    """Writes the CTranslate2 model of `model_dir`'s latest checkpoint into the empty `out_dir`."""
    hparams = read_hparams(model_dir)
    spec = build_spec(
        read_weights(model_dir), hparams, vocabulary_tokens(model_dir, hparams["n_vocab"])
    )
    spec.validate()
    spec.optimize(quantization=quantization)
    spec.save(str(out_dir))


def main(argv: list[str]) -> int:
    """`python -m model.conversion MODEL_DIR OUT_DIR`: the benchmark's CTranslate2 int8 folder."""
    if len(argv) != 2:
        print("usage: python -m model.conversion MODEL_DIR OUT_DIR (a new folder)", file=sys.stderr)
        return 2
    model_dir, out_dir = Path(argv[0]), Path(argv[1])
    out_dir.mkdir(parents=True, exist_ok=True)
    convert(model_dir, out_dir, quantization="int8")
    for name in (ENCODER, VOCAB_BPE, HPARAMS):
        (out_dir / name).write_bytes((model_dir / name).read_bytes())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
