"""Ghostwriter's serving API: `from api import create_app` gives the Flask application factory.

The factory (api/app.py) is imported on first use (PEP 562), not with the package: the model
stage imports `api.tokenizer` (the one construction of the tokenizer, shared by training,
export's parity check and serving) in the trainer image, which has no Flask.
"""


def __getattr__(name: str):
    if name == "create_app":
        from api.app import create_app

        return create_app
    raise AttributeError(f"module 'api' has no attribute {name!r}")
