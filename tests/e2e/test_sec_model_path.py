"""Issue 11 item 13: an Azure-style endpoint takes the caller's model in its
URL path ({model}). A model "." or ".." (a dot segment curl used to squash,
sending POST /openai/chat/completions with the gateway's api-key), or one
with '/', '\\', '?', '#', '%' or a control character, is refused with 400 in
the OpenAI error shape and never reaches the upstream; a plain model does,
and the path the gateway builds reaches the upstream as it is (curl does not
normalise it). The mock upstream records the path it received."""
import json

import pytest

import dp_util as du
import mm

KEY = "key-modelpath-0123456789"


@pytest.fixture
def dp(mock):
    az = du.endpoint("az", mock.url + "/openai/deployments/{model}", header="api-key",
                     value="gateway-azure-key")
    dots = du.endpoint("dots", mock.url + "/openai/./deployments/{model}", header="api-key",
                       value="gateway-azure-key")
    apis = [du.api("a1", "/az", [az], vendor="v-azure"),
            du.api("a2", "/dots", [dots], vendor="v-azure")]
    cfg = du.write_snapshot(du.snapshot(apis, [du.key("k1", KEY)]))
    d = mm.DataPlane(config=cfg)
    yield d
    assert d.stop() == 0


def send(dp, model, base="/az"):
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": "hi"}]})
    return mm.request(dp.port, "POST", base + "/1.0" + du.CHAT, body=body,
                      headers={"Authorization": "Bearer " + KEY,
                               "Content-Type": "application/json"})


@pytest.mark.parametrize("model", ["", ".", "..", "a/b", "../../admin", "a\\b", "a?b", "a#b",
                                   "%2e%2e", "a%2Fb", "a\u0007b", "a\u007fb"])
def test_bad_model_in_path_refused(dp, mock, model):
    du.mock_clear(mock)
    r = send(dp, model)
    assert r.status == 400, (model, r.text)
    doc = r.json()
    assert set(doc) == {"error"} and doc["error"]["type"] == "invalid_request_error", doc
    assert doc["error"]["message"] and doc["error"]["code"], doc
    assert du.mock_requests(mock) == [], "the upstream was called for %r" % model
    # The next request is served.
    r = send(dp, "gpt-4o")
    assert r.status == 200, r.text


def test_plain_model_reaches_its_deployment(dp, mock):
    du.mock_clear(mock)
    r = send(dp, "gpt-4o")
    assert r.status == 200, r.text
    (item,) = du.mock_requests(mock)
    assert item["path"].split("?")[0] == "/openai/deployments/gpt-4o/chat/completions", item["path"]
    assert du.lower_headers(item)["api-key"] == "gateway-azure-key"
    # Dots are fine inside a name.
    du.mock_clear(mock)
    r = send(dp, "gpt-4.1..mini")
    (item,) = du.mock_requests(mock)
    assert item["path"].split("?")[0] == "/openai/deployments/gpt-4.1..mini/chat/completions"


def test_path_sent_as_built(dp, mock):
    du.mock_clear(mock)
    send(dp, "gpt-4o", base="/dots")
    (item,) = du.mock_requests(mock)
    # curl would have squashed "/./" (CURLOPT_PATH_AS_IS keeps it).
    assert item["path"].split("?")[0] == "/openai/./deployments/gpt-4o/chat/completions", item["path"]
