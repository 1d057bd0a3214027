"""gpt-2-simple checkpoint → one GGUF file for llama.cpp (arch "gpt2"), tokenizer embedded.

Written directly with the `gguf` package: llama.cpp's own converter wants a Hugging Face folder
and refuses a BPE whose pre-tokenizer hash it does not know, and ours is trained per corpus.
The project's BPE is GPT-2's scheme exactly (byte-level symbols, GPT-2's split regex, no prefix
space), so "gpt2"/"gpt-2" is the right tokenizer description for any merges it learned.

Layouts: gpt-2's conv1d weights are [1, in, out] and compute x @ w. llama.cpp multiplies with
ggml_mul_mat(w, x), whose w has ne0 = in, i.e. a numpy array [out, in]: the transpose, as for
CTranslate2. The output projection is left out: llama.cpp's gpt2 graph then reuses token_embd
(tied weights, as GPT-2 has).
"""

from pathlib import Path

import numpy as np

from contracts import VOCAB_BPE, read_hparams
from model import conversion
from model.tokenizer import EOS_TOKEN

# Weight types export can write, for the matrices (see `stored_type`).
WEIGHT_TYPES = ("q8_0", "q4_0", "bf16", "f16", "f32")
LAYER_NORM_EPSILON = 1e-5  # GPT-2's (gpt-2-simple's `norm`)


def _types(weight_type: str):
    import gguf

    tensor = gguf.GGMLQuantizationType[weight_type.upper()]
    file = gguf.LlamaFileType[
        "ALL_F32" if weight_type == "f32" else f"MOSTLY_{weight_type.upper()}"
    ]
    return tensor, file


def gguf_tensors(weights: dict, n_layer: int) -> list[tuple[str, np.ndarray]]:
    """(GGUF name, float32 array in llama.cpp's layout) for every tensor of the model."""
    tensors = [
        ("token_embd.weight", weights["model/wte"]),
        ("position_embd.weight", weights["model/wpe"]),
        ("output_norm.weight", weights["model/ln_f/g"]),
        ("output_norm.bias", weights["model/ln_f/b"]),
    ]
    parts = {
        "attn_norm": "ln_1",
        "attn_qkv": "attn/c_attn",
        "attn_output": "attn/c_proj",
        "ffn_norm": "ln_2",
        "ffn_up": "mlp/c_fc",
        "ffn_down": "mlp/c_proj",
    }
    for index in range(n_layer):
        for gguf_part, scope in parts.items():
            source = f"model/h{index}/{scope}"
            if gguf_part.endswith("norm"):
                weight = weights[f"{source}/g"]
            else:
                weight = conversion.linear_weight(weights[f"{source}/w"])
            tensors.append((f"blk.{index}.{gguf_part}.weight", weight))
            tensors.append((f"blk.{index}.{gguf_part}.bias", weights[f"{source}/b"]))
    return [(name, np.ascontiguousarray(array, dtype=np.float32)) for name, array in tensors]


def stored_type(name: str, array: np.ndarray, weight_type):
    """Matrices take the chosen type; vectors (norms, biases) and the position table stay f32:
    they are small, and llama.cpp adds them rather than multiplying by them."""
    import gguf

    if array.ndim == 2 and name != "position_embd.weight":
        return weight_type
    return gguf.GGMLQuantizationType.F32


def vocabulary(model_dir: Path, n_vocab: int) -> tuple[list[str], list[int], list[str]]:
    """Tokens in id order, their GGUF token types, and the merges in rank order.

    The end token is CONTROL (llama.cpp then treats it as end of generation and never prints
    it); the `<|unused…|>` fillers are UNUSED: no merge reaches them.
    """
    import gguf

    tokens = conversion.vocabulary_tokens(model_dir, n_vocab)
    kinds = []
    for token in tokens:
        if token == EOS_TOKEN:
            kinds.append(gguf.TokenType.CONTROL)
        elif token.startswith("<|unused") and token.endswith("|>"):
            kinds.append(gguf.TokenType.UNUSED)
        else:
            kinds.append(gguf.TokenType.NORMAL)
    lines = (model_dir / VOCAB_BPE).read_text(encoding="utf-8").split("\n")
    merges = [line for line in lines[1:] if line]  # drop the "#version" header
    return tokens, kinds, merges


def add_metadata(writer, hparams: dict, name: str, file_type) -> None:
    writer.add_name(name)
    writer.add_context_length(hparams["n_ctx"])
    writer.add_embedding_length(hparams["n_embd"])
    writer.add_feed_forward_length(4 * hparams["n_embd"])
    writer.add_block_count(hparams["n_layer"])
    writer.add_head_count(hparams["n_head"])
    writer.add_layer_norm_eps(LAYER_NORM_EPSILON)
    writer.add_file_type(file_type)


def add_tokenizer(writer, model_dir: Path, n_vocab: int) -> None:
    tokens, kinds, merges = vocabulary(model_dir, n_vocab)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("gpt-2")
    writer.add_token_list(tokens)
    writer.add_token_types(kinds)
    writer.add_token_merges(merges)
    # GPT-2 has one special token for start and end; prompts are not given a start token.
    writer.add_bos_token_id(n_vocab - 1)
    writer.add_eos_token_id(n_vocab - 1)
    writer.add_add_bos_token(False)


def write(model_dir: Path, out_file: Path, *, weight_type: str) -> None:
    """Writes `model_dir`'s latest checkpoint as a GGUF file of the given weight type."""
    import gguf

    if weight_type not in WEIGHT_TYPES:
        raise ValueError(f"weight type {weight_type!r}: choose one of {', '.join(WEIGHT_TYPES)}")
    hparams = read_hparams(model_dir)
    tensor_type, file_type = _types(weight_type)
    writer = gguf.GGUFWriter(str(out_file), "gpt2")
    add_metadata(writer, hparams, model_dir.name, file_type)
    add_tokenizer(writer, model_dir, hparams["n_vocab"])
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
    for name, array in gguf_tensors(conversion.read_weights(model_dir), hparams["n_layer"]):
        qtype = stored_type(name, array, tensor_type)
        data = gguf.quants.quantize(array, qtype) if qtype.name != "F32" else array
        writer.add_tensor(name, data, raw_dtype=qtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
