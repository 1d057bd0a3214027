"""Service endpoints, errors, metrics, the OpenAPI document, and loading once per worker."""

import subprocess
import sys
import threading

import pytest
from prometheus_client.parser import text_string_to_metric_families

from api import create_app
from api.request_parsing import NATIVE_NAMES
from serving import registry
from tests.api.conftest import LOAD_TIMEOUT_S, service, settings_for

ROUTES = {
    "/generate",
    "/v1/completions",
    "/v1/models",
    "/models",
    "/info",
    "/healthz",
    "/readyz",
    "/metrics",
    "/openapi.json",
}


def test_models_lists_the_model_and_default(client):
    body = client.get("/models").get_json()
    assert body["default"] == "tiny"
    [model] = body["models"]
    assert model["name"] == "tiny" and model["n_ctx"] == 128 and model["ready"] is True
    assert model["quantization"] == "f32"
    # The longest length is the model's: its context less one prompt token, under GHOST_MAX_LENGTH.
    assert (model["max_length"], model["n_vocab"]) == (127, 512)


def test_info_reports_each_models_limits_and_no_internals(client):
    body = client.get("/info").get_json()
    assert body["model"] == "tiny" and body["ready"] is True
    assert body["models"] == {"tiny": {"n_ctx": 128, "n_vocab": 512, "max_length": 127}}
    assert body["limits"]["max_length"] == 127 and body["limits"]["max_nsamples"] == 8
    assert not {"pid", "in_flight"} & set(body), body
    assert not {"max_inflight", "max_slots", "kv_tokens"} & set(body["limits"]), body["limits"]
    [listed] = client.get("/v1/models").get_json()["data"]
    assert (listed["n_ctx"], listed["max_length"], listed["n_vocab"]) == (128, 127, 512)


def test_health_and_ready(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200


def test_not_ready_without_models(tmp_path):
    app = create_app({"models_dir": tmp_path})
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    for response in (client.get("/readyz"), client.get("/generate?prefix=x")):
        assert response.status_code == 503 and response.headers["Retry-After"] == "1"
        error = response.get_json()["error"]
        assert error["type"] == "not_ready" and "python -m model export" in error["message"]


def test_unknown_model_is_a_400(client):
    response = client.get("/generate?model=nope")
    assert response.status_code == 400
    assert response.get_json()["error"] | {"message": ""} == {
        "message": "",
        "type": "invalid_request",
        "param": "model",
    }


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("length=0", "length"),
        ("length=abc", "length"),
        ("length=100000", "length"),
        ("length=128", "length"),  # the tiny model's context is 128: at most 127
        ("length=4_0", "length"),
        ("length=%2B4", "length"),
        ("length=%204", "length"),
        ("length=4.0", "length"),
        ("temperature=1_0", "temperature"),
        ("top_p=Infinity", "top_p"),
        ("temperature=-1", "temperature"),
        ("temperature=3", "temperature"),
        ("top_k=-5", "top_k"),
        ("top_k=100000", "top_k"),
        ("top_p=0", "top_p"),
        ("top_p=2", "top_p"),
        ("seed=-3", "seed"),
        ("nsamples=9", "nsamples"),
        ("nsamples=0", "nsamples"),
        ("stream=perhaps", "stream"),
        ("colour=red", "colour"),
        ("length=3&length=4", "length"),
        ("prefix=" + "x" * 8001, "prefix"),
        ("prefix=" + "the+" * 200 + "&length=1", "prefix"),
    ],
)
def test_invalid_query_parameters(client, query, param):
    response = client.get(f"/generate?{query}")
    assert response.status_code == 400, response.get_json()
    error = response.get_json()["error"]
    assert error["type"] == "invalid_request" and error["param"] == param and error["message"]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"length": "7"}, "length"),
        ({"temperature": None}, "temperature"),
        ({"stop": [""]}, "stop"),
        ({"unknown": 1}, "unknown"),
        ({"top_k": 513}, "top_k"),
        ({"length": 21.0}, "length"),
        ({"model": ""}, "model"),
    ],
)
def test_invalid_json_parameters(client, body, param):
    response = client.post("/generate", json=body)
    assert response.status_code == 400 and response.get_json()["error"]["param"] == param


@pytest.mark.parametrize(
    ("path", "body", "says"),
    [
        ("/generate", '{"prefix": "a", "prefix": "b"}', "given 2 times"),
        ("/generate", '{"prefix": "\\ud800"}', "surrogate"),
        ("/v1/completions", '{"prompt": "\\udfff"}', "surrogate"),
        ("/generate", "[" * 10_000 + "]" * 10_000, "nests deeper"),
        ("/v1/completions", '{"prompt": "hi", "stream_options": "x"}', "stream_options"),
        ("/v1/completions", '{"prompt": "hi", "stream_options": {"include_usage": {}}}', "true"),
        ("/v1/completions", '{"prompt": []}', "prompt"),
        ("/v1/completions", '{"prompt": "hi", "echo": 0}', "echo"),
        ("/v1/completions", '{"prompt": "hi", "user": null}', "user"),
    ],
)
def test_hostile_json_bodies_are_400s(client, path, body, says):
    response = client.post(path, data=body, content_type="application/json")
    assert response.status_code == 400, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert error["type"] == "invalid_request" and says in error["message"]


@pytest.mark.parametrize(
    ("body", "greedy"),
    [
        # Clamped to float32's smallest normal: only the likeliest token is kept, as greedy.
        ({"prefix": "Ash", "length": 4, "top_p": 1e-320, "seed": 3}, True),
        ({"prefix": "Ash", "length": 4, "temperature": 1e-300, "seed": 3}, True),  # greedy
        ({"prefix": "Ash", "length": 4, "model": None, "seed": None, "stop": None}, False),
    ],
)
def test_edge_values_the_schema_allows_are_served(client, body, greedy):
    response = client.post("/generate", json=body)
    assert response.status_code == 200, response.get_json()
    [sample] = response.get_json()["samples"]
    assert sample["tokens"] >= 1 and sample["text"], sample
    if greedy:
        plain = client.post("/generate", json={"prefix": "Ash", "length": 4, "temperature": 0})
        assert sample["text"] == plain.get_json()["samples"][0]["text"]


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data", None]
)
def test_json_bodies_need_the_json_content_type(client, content_type):
    # A cross-site page can post text/plain and forms without asking: they are refused.
    for path in ("/generate", "/v1/completions"):
        response = client.post(path, data='{"prefix": "x"}', content_type=content_type)
        assert response.status_code == 415, (path, content_type)
        assert response.get_json()["error"]["type"] == "invalid_request"
    charset = client.post(
        "/generate", data='{"length": 1}', content_type="application/json; charset=utf-8"
    )
    assert charset.status_code == 200


@pytest.mark.parametrize("data", [b"[1, 2]", b"{not json", b'"text"'])
def test_body_must_be_a_json_object(client, data):
    response = client.post("/generate", data=data, content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["error"]["type"] == "invalid_request"


def test_post_parameters_belong_in_the_body(client):
    response = client.post("/generate?length=3", json={"prefix": "x"})
    assert response.status_code == 400 and response.get_json()["error"]["param"] == "length"


def test_404_and_405_are_json(client):
    missing = client.get("/nowhere")
    assert missing.status_code == 404 and missing.get_json()["error"]["type"] == "not_found"
    wrong = client.delete("/generate")
    assert wrong.status_code == 405 and wrong.get_json()["error"]["param"] is None
    assert "GET" in wrong.headers["Allow"]


def test_500_never_leaks_a_traceback(app, monkeypatch):
    def broken(feeds):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(service(app).registry.models["tiny"].engine, "step", broken)
    client = app.test_client()
    response = client.get("/generate?prefix=x&length=2")
    assert response.status_code == 500
    assert response.get_json() == {
        "error": {
            "message": "internal server error; the server log has details",
            "type": "internal",
            "param": None,
        }
    }
    streamed = client.get("/generate?prefix=x&length=2&stream=true").data.decode()
    assert '"type": "internal"' in streamed and "secret" not in streamed
    assert "Traceback" not in response.get_data(as_text=True)
    assert service(app).admission.in_flight == 0


def test_metrics_parse_and_count(client):
    client.get("/generate?prefix=Ash&length=3&temperature=0")
    client.get("/generate?length=0")
    families = {
        f.name: f
        for f in text_string_to_metric_families(client.get("/metrics").get_data(as_text=True))
    }
    for name in (
        "ghost_requests",
        "ghost_rejected_requests",
        "ghost_queue_depth",
        "ghost_sequences_in_flight",
        "ghost_step_sequences",
        "ghost_time_to_first_token_seconds",
        "ghost_inter_token_latency_seconds",
        "ghost_request_duration_seconds",
        "ghost_generated_tokens",
        "ghost_model_loads",
    ):
        assert name in families, name
    requests = {
        (s.labels["route"], s.labels["status"]): s.value
        for s in families["ghost_requests"].samples
        if s.name == "ghost_requests_total"
    }
    assert requests[("/generate", "200")] == 1 and requests[("/generate", "400")] == 1
    tokens = [
        s.value
        for s in families["ghost_generated_tokens"].samples
        if s.name == "ghost_generated_tokens_total"
    ]
    assert tokens == [3]


def test_openapi_describes_every_route_and_parameter(app, client):
    document = client.get("/openapi.json").get_json()
    assert document["openapi"].startswith("3.")
    served = {rule.rule for rule in app.url_map.iter_rules() if rule.endpoint != "static"}
    assert served == ROUTES == set(document["paths"])
    query = {p["name"]: p["schema"] for p in document["paths"]["/generate"]["get"]["parameters"]}
    assert set(query) == set(NATIVE_NAMES)
    # The ranges are the server's own, model limits included.
    assert query["length"]["maximum"] == 127 and query["top_k"]["maximum"] == 512
    completions = document["paths"]["/v1/completions"]["post"]
    body = completions["requestBody"]["content"]["application/json"]["schema"]["properties"]
    assert body["max_tokens"]["default"] == 16 and body["n"]["maximum"] == 8
    assert body["model"]["enum"] == ["tiny", None]
    assert {"400", "413", "414", "415", "429", "503"} <= set(completions["responses"])
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            assert operation["responses"], (path, method)
    error = document["components"]["schemas"]["Error"]["properties"]["error"]
    assert set(error["properties"]["type"]["enum"]) >= {"invalid_request", "overloaded"}


def test_model_loads_once_under_concurrent_first_requests(tiny_serving_model, monkeypatch):
    calls = []
    real_load = registry.engines.load
    monkeypatch.setattr(
        registry.engines, "load", lambda *a, **k: calls.append(1) or real_load(*a, **k)
    )
    app = create_app(settings_for(tiny_serving_model))
    assert calls == [], "nothing loads before the first request"
    statuses = []

    def first_request():
        statuses.append(app.test_client().get("/generate?prefix=x&length=2").status_code)

    threads = [threading.Thread(target=first_request) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert set(statuses) <= {200, 503} and len(statuses) == 12
    assert service(app).registry.wait_ready(LOAD_TIMEOUT_S)
    assert app.test_client().get("/generate?prefix=x&length=2").status_code == 200
    assert calls == [1]
    loads = service(app).metrics.model_loads.labels("tiny")._value.get()
    assert loads == 1
    service(app).registry.close()


def test_import_loads_nothing_and_serving_never_imports_tensorflow(tiny_serving_model):
    script = (
        "import sys\n"
        "import api.wsgi\n"
        "assert 'ctranslate2' not in sys.modules\n"
        "client = api.wsgi.app.test_client()\n"
        "api.wsgi.app.extensions['ghostwriter'].registry.wait_ready(60)\n"
        "assert client.get('/generate?prefix=x&length=2').status_code == 200\n"
        "assert 'tensorflow' not in sys.modules and 'gpt_2_simple' not in sys.modules\n"
    )
    env = {"GHOST_MODELS_DIR": str(tiny_serving_model.models_dir), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"GHOST_MAX_INFLIGHT": "many"}, "GHOST_MAX_INFLIGHT"),
        ({"GHOST_ENGINE": "pytorch"}, "GHOST_ENGINE"),
        ({"GHOST_ENGINE": "onnx", "GHOST_KV_TYPE": "q8_0"}, "KV_TYPE for the onnx .* f16, f32,"),
        ({"GHOST_ENGINE": "llama", "GHOST_KV_TYPE": "f32"}, "KV_TYPE for the llama .* q8_0, f16,"),
        ({"GHOST_KV_TOKENS": "0"}, "GHOST_KV_TOKENS"),
        ({"GHOST_DEFAULT_MODEL": "absent"}, "GHOST_DEFAULT_MODEL"),
    ],
)
def test_bad_settings_fail_at_start_naming_the_variable(
    tiny_serving_model, monkeypatch, env, message
):
    monkeypatch.setenv("GHOST_MODELS_DIR", str(tiny_serving_model.models_dir))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=message):
        create_app()


def test_settings_precedence(tiny_serving_model, monkeypatch):
    monkeypatch.setenv("GHOST_MODELS_DIR", str(tiny_serving_model.models_dir))
    monkeypatch.setenv("GHOST_MAX_INFLIGHT", "7")
    monkeypatch.setenv("GHOST_MAX_LENGTH", "9")
    settings = service(create_app({"max_length": 11})).settings
    assert (settings.max_inflight, settings.max_length, settings.max_slots) == (7, 11, 32)


def test_several_models_chosen_per_request(tiny_serving_model, tiny_serving_model_int8, tmp_path):
    (tmp_path / "alpha").symlink_to(tiny_serving_model.path)
    (tmp_path / "beta").symlink_to(tiny_serving_model_int8.path)
    (tmp_path / "not-a-model").mkdir()
    app = create_app({"models_dir": tmp_path, "default_model": "beta"})
    try:
        assert service(app).registry.wait_ready(LOAD_TIMEOUT_S)
        client = app.test_client()
        listed = client.get("/models").get_json()
        assert [m["name"] for m in listed["models"]] == ["alpha", "beta"]
        assert listed["default"] == "beta"
        assert [m["quantization"] for m in listed["models"]] == ["f32", "q8_0"]
        assert client.get("/generate?length=2").get_json()["model"] == "beta"
        assert client.get("/generate?length=2&model=alpha").get_json()["model"] == "alpha"
        ids = [m["id"] for m in client.get("/v1/models").get_json()["data"]]
        assert ids == ["alpha", "beta"]
    finally:
        service(app).registry.close()
