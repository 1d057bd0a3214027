"""Original design 1: every request starts a TensorFlow session, loads the checkpoint, builds the
sampling graph with `gpt2.generate`, and throws it all away. uWSGI entry: `app`."""

import gpt_2_simple as gpt2
import tensorflow as tf

from bench.original_designs.request import create_app, model_location


def generate(prefix: str, length: int, top_k: int, temperature: float) -> str:
    models_dir, name = model_location()
    tf.compat.v1.reset_default_graph()
    sess = gpt2.start_tf_sess()
    try:
        gpt2.load_gpt2(sess, model_name=name, model_dir=models_dir)
        texts = gpt2.generate(
            sess,
            model_name=name,
            model_dir=models_dir,
            prefix=prefix,
            length=length,
            top_k=top_k,
            temperature=temperature,
            return_as_list=True,
            include_prefix=False,
        )
    finally:
        sess.close()
    return texts[0]


app = create_app(generate)
