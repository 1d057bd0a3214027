"""Original design 2: the model is loaded once per worker at start, then `gpt2.generate` runs per
request — which adds a new sampling graph to the session on every call. uWSGI entry: `app`."""

import gpt_2_simple as gpt2

from bench.original_designs.request import create_app, model_location

MODELS_DIR, NAME = model_location()
SESSION = gpt2.start_tf_sess()
gpt2.load_gpt2(SESSION, model_name=NAME, model_dir=MODELS_DIR)


def generate(prefix: str, length: int, top_k: int, temperature: float) -> str:
    texts = gpt2.generate(
        SESSION,
        model_name=NAME,
        model_dir=MODELS_DIR,
        prefix=prefix,
        length=length,
        top_k=top_k,
        temperature=temperature,
        return_as_list=True,
        include_prefix=False,
    )
    return texts[0]


app = create_app(generate)
