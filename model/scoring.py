"""Per-token log-probabilities from a gpt-2-simple checkpoint: TensorFlow's reference numbers.

Used by `model export` (parity against CTranslate2) and `model evaluate` (perplexity).
"""

from pathlib import Path

import numpy as np

from contracts import read_hparams
from model import checkpoint_file


def token_logprobs(
    model_dir: Path, token_id_sequences: list[list[int]], *, batch_size: int = 8
) -> list[np.ndarray]:
    """log p(token[i] | token[:i]) for i = 1..len-1 of every sequence, in the input order.

    model_dir: a folder in gpt-2-simple's layout (a base model `models/NAME` or a run
        `checkpoint/RUN`); the checkpoint its `checkpoint` file names is used.
    token_id_sequences: lists of token ids, each 2..n_ctx long (the first token is context only;
        split longer texts into windows before calling).
    Returns one float32 array of length len(sequence)-1 per sequence, natural log.

    The graph is built once per call; sequences run in batches of similar length (right-padded:
    the causal mask keeps padding from reaching earlier positions).
    """
    import tensorflow as tf
    from gpt_2_simple.src import model as gpt2_model

    model_dir = Path(model_dir)
    hparams = gpt2_model.default_hparams()
    hparams.override_from_dict(read_hparams(model_dir))
    for index, ids in enumerate(token_id_sequences):
        if not 2 <= len(ids) <= hparams.n_ctx:
            raise ValueError(
                f"sequence {index} has {len(ids)} tokens; score 2..{hparams.n_ctx} at a time"
            )
    checkpoint = str(checkpoint_file.latest_prefix(model_dir))

    graph = tf.Graph()
    with graph.as_default():
        tokens = tf.compat.v1.placeholder(tf.int32, [None, None])
        logits = gpt2_model.model(hparams=hparams, X=tokens)["logits"]
        # [batch, seq-1]: log-softmax over the vocabulary, picked at each next token.
        scores = -tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=tokens[:, 1:], logits=logits[:, :-1]
        )
        saver = tf.compat.v1.train.Saver(var_list=tf.compat.v1.global_variables())
    with tf.compat.v1.Session(graph=graph) as session:
        saver.restore(session, checkpoint)
        return _score_batches(session, tokens, scores, token_id_sequences, batch_size)


def _score_batches(session, tokens, scores, sequences, batch_size) -> list[np.ndarray]:
    order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))
    results: list[np.ndarray] = [np.empty(0, np.float32)] * len(sequences)
    for start in range(0, len(order), batch_size):
        chosen = order[start : start + batch_size]
        width = max(len(sequences[i]) for i in chosen)
        batch = np.zeros((len(chosen), width), dtype=np.int32)
        for row, i in enumerate(chosen):
            batch[row, : len(sequences[i])] = sequences[i]
        values = session.run(scores, feed_dict={tokens: batch})
        for row, i in enumerate(chosen):
            results[i] = values[row, : len(sequences[i]) - 1].astype(np.float32)
    return results
