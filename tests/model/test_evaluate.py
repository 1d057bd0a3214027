"""`python -m model evaluate`: perplexity, held-out endings, eval.json, run vs base."""

import json
import math
import shutil

import numpy as np
import pytest

from model import continuation, evaluate, token_data
from model.__main__ import main as model_main
from model.tokenizer import EOS_TOKEN, encode_documents
from tests.fixtures.models import check_cli

RUN = "ft-eval"


@pytest.fixture(scope="module")
def evaluated(tiny_base):
    """A run fine-tuned for 30 steps on the tiny corpus, then evaluated on its prepared folder."""
    data_dir = tiny_base.data_dir
    check_cli(
        data_dir,
        "finetune",
        "--base",
        "tiny",
        "--dataset",
        str(tiny_base.train_txt),
        "--run",
        RUN,
        "--steps",
        "30",
    )
    result = check_cli(data_dir, "evaluate", "--run", RUN, "--data", str(tiny_base.prepared_dir))
    record = json.loads((data_dir / "checkpoint" / RUN / "eval.json").read_text())
    return result, record


# An independent GPT-2 forward pass in numpy (float64) from the checkpoint's raw tensors: no
# gpt-2-simple model code, no TensorFlow graph, so a mistake in either shows up as a mismatch.
def layer_norm(x, gain, bias):
    mean = x.mean(-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + 1e-5) * gain + bias


def gelu(x):
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))


def numpy_logits(weights: dict, ids: list[int], n_head: int) -> np.ndarray:
    """[len(ids), n_vocab] logits; conv1d weights are stored [1, in, out]."""

    def dense(x, name):
        return x @ weights[f"{name}/w"][0] + weights[f"{name}/b"]

    length = len(ids)
    h = weights["model/wte"][ids] + weights["model/wpe"][:length]
    layers = sorted({int(k.split("/")[1][1:]) for k in weights if k.startswith("model/h")})
    causal = np.triu(np.full((length, length), -np.inf), k=1)
    for layer in layers:
        p = f"model/h{layer}"
        x = layer_norm(h, weights[f"{p}/ln_1/g"], weights[f"{p}/ln_1/b"])
        q, k, v = np.split(dense(x, f"{p}/attn/c_attn"), 3, axis=-1)
        heads = [part.reshape(length, n_head, -1).transpose(1, 0, 2) for part in (q, k, v)]
        q, k, v = heads
        scores = q @ k.transpose(0, 2, 1) / np.sqrt(q.shape[-1]) + causal
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        attention = (scores / scores.sum(-1, keepdims=True)) @ v
        h = h + dense(attention.transpose(1, 0, 2).reshape(length, -1), f"{p}/attn/c_proj")
        x = layer_norm(h, weights[f"{p}/ln_2/g"], weights[f"{p}/ln_2/b"])
        h = h + dense(gelu(dense(x, f"{p}/mlp/c_fc")), f"{p}/mlp/c_proj")
    h = layer_norm(h, weights["model/ln_f/g"], weights["model/ln_f/b"])
    return h @ weights["model/wte"].T


def numpy_perplexity(model_dir, text: str) -> tuple[float, int]:
    import tensorflow as tf
    from gpt_2_simple.src.encoder import get_encoder

    hparams = json.loads((model_dir / "hparams.json").read_text())
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(str(model_dir)))
    weights = {
        name: reader.get_tensor(name).astype(np.float64)
        for name in reader.get_variable_to_shape_map()
    }
    encoder = get_encoder(str(model_dir))
    # Each separator is the one end id, as training and evaluate read the text.
    ids = encode_documents(text, encoder.encode, eos_id=encoder.encoder[EOS_TOKEN])
    n_ctx, nll = hparams["n_ctx"], []
    # Windows of n_ctx that share one token: each window predicts its tokens after the first.
    for start in range(0, len(ids) - 1, n_ctx - 1):
        window = ids[start : start + n_ctx]
        logits = numpy_logits(weights, window, hparams["n_head"])[:-1]
        top = logits.max(-1, keepdims=True)
        log_z = (top + np.log(np.exp(logits - top).sum(-1, keepdims=True)))[:, 0]
        nll.extend(log_z - logits[np.arange(len(window) - 1), window[1:]])
    return math.exp(np.mean(nll)), len(nll)


@pytest.mark.timeout(240)
def test_perplexity_equals_exp_mean_token_nll_computed_independently(evaluated, tiny_base):
    _, record = evaluated
    text = tiny_base.val_txt.read_text(encoding="utf-8")
    run_dir = tiny_base.data_dir / "checkpoint" / RUN
    for key, model_dir in [("finetuned", run_dir), ("baseline", tiny_base.path)]:
        expected, count = numpy_perplexity(model_dir, text)
        assert record[key]["tokens_scored"] == count
        assert record[key]["perplexity"] == pytest.approx(expected, rel=1e-4)
        assert record[key]["nll"] == pytest.approx(math.log(expected), abs=1e-4)
        per_char = math.log(expected) * count / len(text)
        assert record[key]["nats_per_char"] == pytest.approx(per_char, rel=1e-4)


@pytest.mark.timeout(240)
def test_eval_json_holds_both_models_and_every_ending(evaluated, tiny_base):
    import sacrebleu

    _, record = evaluated
    tests = [json.loads(line) for line in (tiny_base.prepared_dir / "test.jsonl").open()]
    assert (record["format"], record["run"], record["step"]) == (1, RUN, 30)
    assert record["data"]["test_examples"] == len(tests) == len(record["examples"]) == 30
    assert record["settings"] == {"words": 20, "seed": 0, "temperature": 0.7, "top_k": 40}
    assert (record["finetuned"]["model"], record["finetuned"]["step"]) == (RUN, 30)
    assert (record["baseline"]["model"], record["baseline"]["step"]) == ("tiny", 0)
    # 30 steps take the random model well below its uniform-guess perplexity of ~512.
    assert record["finetuned"]["perplexity"] < record["baseline"]["perplexity"] / 5
    references = [" ".join(t["reference"].split()) for t in tests]
    for key in ("finetuned", "baseline"):
        endings = [example[key] for example in record["examples"]]
        assert all(0 < len(ending.split()) <= 20 for ending in endings)
        bleu = sacrebleu.corpus_bleu(endings, [references]).score
        chrf = sacrebleu.corpus_chrf(endings, [references]).score
        assert record[key]["bleu"] == pytest.approx(bleu)
        assert record[key]["chrf"] == pytest.approx(chrf)
    assert [e["id"] for e in record["examples"]] == [t["id"] for t in tests]
    summary = record["summary"]
    assert summary["perplexity"] == record["finetuned"]["perplexity"]
    assert summary["baseline"] == "tiny"
    assert summary["baseline_chrf"] == record["baseline"]["chrf"]


def test_prints_a_side_by_side_table(evaluated):
    result, record = evaluated
    lines = result.stdout.splitlines()
    header = next(line for line in lines if "fine-tuned" in line)
    assert f"fine-tuned ({RUN}, step 30)" in header and "base (tiny)" in header
    perplexity = next(line for line in lines if line.startswith("perplexity"))
    assert perplexity.split()[1:] == [
        f"{record['finetuned']['perplexity']:.2f}",
        f"{record['baseline']['perplexity']:.2f}",
    ]
    nats = next(line for line in lines if line.startswith("nats/char"))
    assert nats.split()[1] == f"{record['finetuned']['nats_per_char']:.4f}"
    assert any(line.startswith("BLEU") for line in lines)
    assert any(line.startswith("chrF") for line in lines)


@pytest.mark.timeout(180)
def test_endings_are_reproducible_with_the_fixed_seed(evaluated, tiny_base):
    _, record = evaluated
    tests = [json.loads(line) for line in (tiny_base.prepared_dir / "test.jsonl").open()]
    prompts = [t["prompt"] for t in tests]
    settings = {"words": 20, "seed": 0, "temperature": 0.7, "top_k": 40}
    run_dir = tiny_base.data_dir / "checkpoint" / RUN
    again = continuation.continue_prompts(run_dir, prompts, **settings)
    assert again == [example["finetuned"] for example in record["examples"]]
    other = continuation.continue_prompts(run_dir, prompts, **{**settings, "seed": 1})
    assert other != again


@pytest.mark.parametrize(
    ("text", "count", "expected"),
    [
        ("  one two\nthree  four ", 3, "one two three"),
        ("one two<|endoftext|>three four", 20, "one two"),
        ("<|endoftext|>later", 5, ""),
        ("a b", 20, "a b"),
    ],
)
def test_first_words(text, count, expected):
    assert continuation.first_words(text, count) == expected


def test_generation_budget_leaves_room_for_the_prompt():
    assert continuation.generation_budget(words=20, n_ctx=1024) == 80
    assert continuation.generation_budget(words=20, n_ctx=128) == 64
    assert continuation.generation_budget(words=20, n_ctx=2) == 1


def test_windows_score_every_token_but_the_first_once():
    ids = list(range(300))
    pieces = token_data.windows(ids, n_ctx=128)
    assert all(2 <= len(piece) <= 128 for piece in pieces)
    predicted = [token for piece in pieces for token in piece[1:]]
    assert predicted == ids[1:]


def prepared_copy(tiny_base, tmp_path, name):
    folder = tmp_path / name
    shutil.copytree(tiny_base.prepared_dir, folder)
    return folder


def bad_test_line(tiny_base, tmp_path):
    folder = prepared_copy(tiny_base, tmp_path, "bad-line")
    with (folder / "test.jsonl").open("a") as out:
        out.write('{"id": "x", "prompt": 3}\n')
    return ["--data", str(folder)]


def no_val(tiny_base, tmp_path):
    folder = prepared_copy(tiny_base, tmp_path, "no-val")
    (folder / "val.txt").unlink()
    return ["--data", str(folder)]


def no_test(tiny_base, tmp_path):
    folder = prepared_copy(tiny_base, tmp_path, "no-test")
    (folder / "test.jsonl").unlink()
    return ["--data", str(folder)]


BAD_INPUT = [
    (lambda b, t: ["--run", "nope"], "no fine-tuned run 'nope'"),
    (lambda b, t: ["--data", str(t / "missing")], "prepared folder"),
    (lambda b, t: ["--baseline", "absent"], "no base model 'absent'"),
    (bad_test_line, "line 31 needs string fields id, prompt and reference"),
    (no_val, "val.txt not found"),
    (no_test, "test.jsonl not found"),
]


@pytest.mark.parametrize(("flags", "message"), BAD_INPUT)
def test_bad_input_is_one_line_naming_the_fix(
    flags, message, evaluated, tiny_base, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("GHOST_DATA_DIR", str(tiny_base.data_dir))
    base = ["evaluate", "--run", RUN, "--data", str(tiny_base.prepared_dir)]
    assert model_main([*base, *flags(tiny_base, tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err


def test_wrong_run_name_lists_the_runs(evaluated, tiny_base, monkeypatch, capsys):
    monkeypatch.setenv("GHOST_DATA_DIR", str(tiny_base.data_dir))
    assert model_main(["evaluate", "--run", "nope", "--data", str(tiny_base.prepared_dir)]) == 2
    assert RUN in capsys.readouterr().err.split("runs: ")[1]


def test_a_run_without_run_json_needs_a_baseline(tmp_path, monkeypatch):
    run_dir = tmp_path / "checkpoint" / "foreign"
    run_dir.mkdir(parents=True)
    monkeypatch.setenv("GHOST_DATA_DIR", str(tmp_path))
    with pytest.raises(evaluate.UsageError, match="pass --baseline NAME"):
        evaluate.baseline_path(type("Args", (), {"baseline": None})(), run_dir)
