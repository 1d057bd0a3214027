"""What both original designs share: where the model is and what a request asks for."""

import os

from flask import Flask, jsonify, request


def model_location() -> tuple[str, str]:
    """(models dir, model name) in gpt-2-simple's `models/NAME` layout, from the environment."""
    return os.environ["GHOST_BENCH_MODELS_DIR"], os.environ["GHOST_BENCH_MODEL"]


def create_app(generate) -> Flask:
    """A Flask app with /healthz and GET /generate?prefix=&length=&top_k=&temperature=, where
    `generate(prefix, length, top_k, temperature)` returns the text."""
    app = Flask(__name__)

    @app.get("/healthz")
    def healthz():
        return jsonify(status="ok")

    @app.get("/generate")
    def generate_view():
        prefix = request.args.get("prefix", "")
        length = int(request.args.get("length", 64))
        top_k = int(request.args.get("top_k", 40))
        temperature = float(request.args.get("temperature", 1.0))
        text = generate(prefix, length, top_k, temperature)
        # gpt-2-simple always samples exactly `length` tokens: it has no early stop.
        return jsonify(text=text, usage={"completion_tokens": length})

    return app
