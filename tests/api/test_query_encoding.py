"""A query string that is not UTF-8 is the client's mistake: a JSON 400, never a 500 or a guess."""

import pytest


@pytest.mark.parametrize(
    "query",
    [b"prefix=%FF%FEabc", b"prefix=\xff\xfeabc", b"prefix=ok&stop=%C3"],
    ids=["percent-encoded", "raw bytes", "truncated sequence"],
)
def test_invalid_utf8_in_the_query_is_a_json_400(client, query):
    # WSGI carries the query's raw bytes as a latin-1 string.
    response = client.get("/generate", environ_overrides={"QUERY_STRING": query.decode("latin-1")})
    assert response.status_code == 400
    assert response.json["error"]["type"] == "invalid_request"
    assert "UTF-8" in response.json["error"]["message"]


def test_utf8_text_in_any_script_is_welcome(client):
    response = client.get("/generate", query_string="prefix=Pikachu ⚡ שלום 🎵&length=2&seed=1")
    assert response.status_code == 200, response.json
    assert response.json["prefix"] == "Pikachu ⚡ שלום 🎵"
