"""Session-wide test setup. Fixture modules shared across stages are listed in pytest_plugins."""

import os

# TensorFlow is imported only by the tests that need it; keep its start-up logging quiet there.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

pytest_plugins: list[str] = ["tests.fixtures.models", "tests.fixtures.stack"]
