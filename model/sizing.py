"""The shape `model init` gives a base model when the user names none: sized for the corpus and
the fine-tuning budget (pure functions; `bench/quality.py` and `bench/training.py` measure them).

Why a rule instead of one fixed shape: on a 2-core CPU a few minutes buy a few hundred optimizer
updates, and at that count more updates of a smaller model beat fewer of a bigger one (the
quality section's sweep, on both of its corpora); on the 60 KB demo corpus a wide model memorised
the text within minutes. Three limits decide:

- The budget: the widest rung of LADDER that still makes MIN_UPDATES optimizer updates in the
  fine-tuning minutes, at the rung's seconds per update (finetune's default batch, 4 x n_ctx).
- The corpus: a rung's non-embedding weights at most PARAMS_PER_TOKEN per training token, so a
  small corpus gets a small model (the best checkpoint and early stop catch the rest).
- The vocabulary: one id per VOCAB_BYTES bytes of corpus, within VOCAB_RANGE; a rare merge whose
  embedding is seen a handful of times costs softmax width and teaches nothing.
- The context stays N_CTX: it is the longest text the served model can write, and the demo's
  documents are ~400 tokens. Half the context at twice the batch trained better in the same
  minutes on both quality corpora, but such a model writes half as much.

How the rule does is measured by `make bench`'s quality section and `python -m bench.training`
(the README names the runs).
"""

# (n_layer, n_embd, n_head, seconds per update at batch 4 x 256 with a 4096-id vocabulary on the
# 2-core AVX2 machine the README's benchmarks ran on), smallest first: 2 x 128 and 4 x 128 from the
# quality section's tokens/s, 2 x 64 and 4 x 256 from its trial runs, the others scaled between
# them by their multiply-adds. A faster machine makes more updates per minute: rerun
# `python -m bench.training` there (its sweep) and scale these.
LADDER = (
    (2, 64, 2, 0.17),
    (2, 128, 4, 0.22),
    (4, 128, 4, 0.35),
    (6, 128, 4, 0.47),
    (4, 192, 4, 0.50),
    (4, 256, 4, 0.65),
    (6, 384, 6, 1.85),
)
# Updates a budget must allow: in 3 minutes, 2 x 128 making 690-800 beat 4 x 128 making 510-600
# on both quality corpora (same recipe otherwise).
MIN_UPDATES = 800
PARAMS_PER_TOKEN = 40
BYTES_PER_TOKEN = 3.5  # English prose in a few-thousand-id byte-level BPE
VOCAB_BYTES = 64
# 1024 and 8192 ids lost to 4096 on both quality corpora; 2048 tied or lost.
VOCAB_RANGE = (512, 4096)
N_CTX = 256


def non_embedding_params(n_layer: int, n_embd: int) -> int:
    """Weights in the transformer blocks: attention 4 d^2 and MLP 8 d^2 per layer."""
    return 12 * n_layer * n_embd * n_embd


def vocab_size(corpus_bytes: int) -> int:
    """The largest vocabulary `model init` may learn; it stops earlier if merges run out."""
    low, high = VOCAB_RANGE
    return int(min(high, max(low, round(corpus_bytes / VOCAB_BYTES, -2))))


def choose_shape(*, corpus_bytes: int, minutes: float) -> dict:
    """hparams (n_vocab is a ceiling) for fine-tuning on `corpus_bytes` of text for `minutes`."""
    corpus_tokens = corpus_bytes / BYTES_PER_TOKEN
    fitting = [
        rung
        for rung in LADDER
        if minutes * 60 / rung[3] >= MIN_UPDATES
        and non_embedding_params(rung[0], rung[1]) <= PARAMS_PER_TOKEN * corpus_tokens
    ]
    n_layer, n_embd, n_head, _ = fitting[-1] if fitting else LADDER[0]
    return {
        "n_vocab": vocab_size(corpus_bytes),
        "n_ctx": N_CTX,
        "n_embd": n_embd,
        "n_head": n_head,
        "n_layer": n_layer,
    }
