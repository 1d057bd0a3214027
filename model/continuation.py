"""Continuing prompts by a number of words with a gpt-2-simple checkpoint, for evaluation.

The sampling graph is built once per model and run once per prompt: gpt2.generate would build a
new graph on every call (and grow without bound). Prompts go one at a time because gpt-2-simple's
model has no padding mask, so prompts of different lengths cannot share a batch.
"""

from pathlib import Path

from contracts import EOS_TOKEN, read_hparams

# Tokens sampled per word asked for: a small BPE spends several tokens on a rare word.
TOKENS_PER_WORD = 4


def first_words(text: str, count: int) -> str:
    """The text's first `count` whitespace-separated words, joined by single spaces; generation
    ends at the end-of-text marker."""
    return " ".join(text.split(EOS_TOKEN, 1)[0].split()[:count])


def generation_budget(*, words: int, n_ctx: int) -> int:
    """Tokens to sample for `words` words: enough for most, never more than half the context
    (the other half keeps the end of the prompt)."""
    return max(1, min(words * TOKENS_PER_WORD, n_ctx // 2))


def continue_prompts(
    model_dir: Path,
    prompts: list[str],
    *,
    words: int,
    seed: int,
    temperature: float,
    top_k: int,
) -> list[str]:
    """Each prompt's continuation: its first `words` words (fewer if the model ended the text).
    The same seed, prompts and checkpoint give the same continuations."""
    import tensorflow as tf
    from gpt_2_simple.src import model as gpt2_model
    from gpt_2_simple.src import sample
    from gpt_2_simple.src.encoder import get_encoder

    from model.checkpoint_file import latest_prefix

    encoder = get_encoder(str(model_dir))
    hparams = gpt2_model.default_hparams()
    hparams.override_from_dict(read_hparams(model_dir))
    new_tokens = generation_budget(words=words, n_ctx=hparams.n_ctx)
    eos_id = hparams.n_vocab - 1
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.set_random_seed(seed)
        context = tf.compat.v1.placeholder(tf.int32, [1, None])
        output = sample.sample_sequence(
            hparams=hparams,
            length=new_tokens,
            context=context,
            batch_size=1,
            temperature=temperature,
            top_k=top_k,
        )
        saver = tf.compat.v1.train.Saver(var_list=tf.compat.v1.global_variables())
    continuations = []
    with tf.compat.v1.Session(graph=graph) as session:
        saver.restore(session, str(latest_prefix(Path(model_dir))))
        for prompt in prompts:
            # The prompt's end matters most for what comes next; its start gives way to fit.
            ids = encoder.encode(prompt)[-(hparams.n_ctx - new_tokens) :] or [eos_id]
            tokens = session.run(output, feed_dict={context: [ids]})[0, len(ids) :].tolist()
            if eos_id in tokens:
                tokens = tokens[: tokens.index(eos_id)]
            continuations.append(first_words(encoder.decode(tokens), words))
    return continuations
