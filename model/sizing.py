"""The shape `model init` gives a base model when the user names none: sized for the corpus and
the fine-tuning budget (pure functions; `bench/quality.py` and `bench/training.py` measure them).

Why a rule instead of one fixed shape: on this project's 2-core CPU target, 4 layers x 256 with an
8000-id vocabulary made only ~300 updates in 3 minutes and wrote mostly newlines, while 4 x 128
made ~550 and was ~0.11 nats/char better on a 1.1 MB corpus; on the 60 KB demo corpus the wide
model memorised the text within minutes. Two limits decide:

- The budget: the widest rung of LADDER that still makes MIN_UPDATES optimizer updates in the
  fine-tuning minutes, at the rung's measured seconds per update (batch 8 x n_ctx).
- The corpus: a rung's non-embedding weights at most PARAMS_PER_TOKEN per training token, so a
  small corpus gets a small model (the best checkpoint and early stop catch the rest).
- The vocabulary: one id per VOCAB_BYTES bytes of corpus, within VOCAB_RANGE; a rare merge whose
  embedding is seen a handful of times costs softmax width and teaches nothing.
- The context stays N_CTX: the demo's documents are ~400 tokens, and at these widths a shorter
  context saves little time per token.

How the rule does is measured by `make bench`'s quality section and `python -m bench.training`
(the README names the runs).
"""

# (n_layer, n_embd, n_head, seconds per update on 2 quiet CPU cores at batch 8 x 256 with a
# ~2000-id vocabulary), smallest first. Source: bench/training.py's shape sweep, scaled to a quiet
# machine by the 4 x 256 / 8000-id figure; the bigger rungs by their multiply-adds. Rough: rerun
# `python -m bench.training --sweep` on a quiet machine.
LADDER = (
    (2, 64, 2, 0.06),
    (2, 128, 4, 0.11),
    (4, 128, 4, 0.15),
    (6, 128, 4, 0.26),
    (4, 192, 4, 0.30),
    (4, 256, 4, 0.45),
    (6, 384, 6, 1.40),
)
# Updates a budget must allow: 4 x 256 made ~300 in 3 minutes and wrote mostly newlines; 4 x 128
# made ~550 and wrote verse-like lines; more updates of a smaller model kept paying off.
MIN_UPDATES = 800
PARAMS_PER_TOKEN = 40
BYTES_PER_TOKEN = 3.5  # English prose in a few-thousand-id byte-level BPE
VOCAB_BYTES = 64
# A softmax over 8000 ids cost 4 x 128 about half its speed (1.26 vs 0.69 s an update, loaded);
# 2048 ids keep the common words whole.
VOCAB_RANGE = (512, 2048)
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
