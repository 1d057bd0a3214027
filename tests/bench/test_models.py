"""The benchmark model is made once and reused; a serving folder from before export wrote
model.onnx is exported again, so both engines find their file."""

import pytest

from bench import models
from contracts import GGUF_MODEL, HPARAMS, ONNX_MODEL


@pytest.fixture
def cached(tmp_path):
    """A data dir holding a made model, its CTranslate2 folder and a serving folder (no files)."""
    for folder in ("models/bench-tiny", "ctranslate2/bench-tiny", "serving/bench-tiny"):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "models/bench-tiny" / HPARAMS).write_text("{}")
    (tmp_path / "ctranslate2/bench-tiny" / HPARAMS).write_text("{}")
    return tmp_path


def cli_calls(monkeypatch) -> list[tuple]:
    calls = []
    monkeypatch.setattr(models, "model_cli", lambda data_dir, *args: calls.append(args))
    return calls


@pytest.mark.parametrize(
    ("present", "exported"),
    [((GGUF_MODEL, ONNX_MODEL), False), ((GGUF_MODEL,), True), ((), True)],
)
def test_a_serving_folder_without_both_model_files_is_exported_again(
    cached, monkeypatch, present, exported
):
    for name in present:
        (cached / "serving/bench-tiny" / name).write_bytes(b"")
    calls = cli_calls(monkeypatch)
    model = models.ensure_model(cached, smoke=True)
    assert [call[0] for call in calls] == (["export"] if exported else [])
    if exported:
        assert calls[0][-1] == str(model.serving_dir)
