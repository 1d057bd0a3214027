"""The official `openai` package against a live server: completions, streaming, models, errors."""

import openai
import pytest

from tests.api.conftest import live_server


@pytest.fixture
def openai_client(app):
    with live_server(app) as url:
        yield openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=60)


def test_models(openai_client):
    assert [model.id for model in openai_client.models.list()] == ["tiny"]


def test_completion_matches_generate(openai_client, client):
    completion = openai_client.completions.create(
        model="tiny", prompt="Ash and Pikachu", max_tokens=9, temperature=0
    )
    native = client.post(
        "/generate", json={"prefix": "Ash and Pikachu", "length": 9, "temperature": 0}
    ).get_json()
    [choice] = completion.choices
    assert choice.text == native["samples"][0]["text"]
    assert (
        choice.finish_reason
        == {"length": "length", "eos": "stop"}[native["samples"][0]["finish_reason"]]
    )
    assert completion.object == "text_completion" and completion.model == "tiny"
    usage = completion.usage
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert usage.completion_tokens == native["usage"]["completion_tokens"]


def test_n_seed_and_stop(openai_client):
    def create():
        return openai_client.completions.create(
            model="tiny",
            prompt="Once",
            max_tokens=12,
            temperature=1,
            top_p=0.95,
            n=3,
            seed=5,
            stop=["\n\n"],
            user="test",
        )

    first, again = create(), create()
    texts = [c.text for c in first.choices]
    assert texts == [c.text for c in again.choices]
    assert [c.index for c in first.choices] == [0, 1, 2]
    assert any(texts) and not any("\n\n" in text for text in texts), texts
    assert first.usage.completion_tokens >= 1
    assert all(c.finish_reason in {"stop", "length"} for c in first.choices)


def test_streaming_matches_and_ends(openai_client):
    kwargs = {"model": "tiny", "prompt": "The storm", "max_tokens": 10, "temperature": 0}
    whole = openai_client.completions.create(**kwargs).choices[0]
    chunks = list(
        openai_client.completions.create(
            **kwargs, stream=True, stream_options={"include_usage": True}
        )
    )
    text = "".join(choice.text for chunk in chunks for choice in chunk.choices)
    assert text == whole.text
    finishes = [c.finish_reason for chunk in chunks for c in chunk.choices if c.finish_reason]
    assert finishes == [whole.finish_reason]
    assert chunks[-1].usage.completion_tokens > 0 and chunks[-1].choices == []


def test_raw_stream_ends_with_done(app):
    import requests

    with live_server(app) as url:
        response = requests.post(
            f"{url}/v1/completions",
            json={"prompt": "Hi", "max_tokens": 3, "stream": True},
            stream=True,
            timeout=60,
        )
        lines = [line for line in response.iter_lines(decode_unicode=True) if line]
    assert response.headers["Content-Type"].startswith("text/event-stream")
    assert lines[-1] == "data: [DONE]" and lines.count("data: [DONE]") == 1


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"max_tokens": 0}, "max_tokens"),
        ({"temperature": 5}, "temperature"),
        ({"n": 20}, "n"),
        ({"logprobs": 2}, "logprobs"),
        ({"echo": True}, "echo"),
        ({"presence_penalty": 0.5}, "presence_penalty"),
        ({"model": "gpt-4"}, "model"),
        ({"max_tokens": 1000}, "max_tokens"),
        ({"prompt": "the " * 200, "max_tokens": 1}, "prompt"),
        ({"prompt": ["a", "b"]}, "prompt"),
    ],
)
def test_errors_reach_the_client_in_openai_shape(openai_client, kwargs, param):
    request = {"model": "tiny", "prompt": "Hi", **kwargs}
    with pytest.raises(openai.BadRequestError) as caught:
        openai_client.completions.create(**request)
    assert caught.value.status_code == 400
    assert caught.value.body["param"] == param and caught.value.body["type"] == "invalid_request"


def test_prompt_list_of_one(openai_client):
    kwargs = {"model": "tiny", "max_tokens": 4, "temperature": 0}
    completion = openai_client.completions.create(prompt=["Hi"], **kwargs)
    [choice] = completion.choices
    assert (
        choice.text
        and choice.text == openai_client.completions.create(prompt="Hi", **kwargs).choices[0].text
    )
    assert completion.usage.prompt_tokens >= 1
