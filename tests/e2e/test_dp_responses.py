"""POST /responses through the gateway (SPEC 2.2, 3.1 step 6): in the
default operation set, routed like chat (failover, rate limits), its usage
read in the Responses API's names from the JSON answer and, in a stream,
from the response.completed event; the gateway never adds stream_options to
it. Images and audio report usage in the same names."""
import json

import dp_util as du
import mm
from openai_util import OpenAISystem


def faults(system, rules):
    r = mm.request(system.mock.port, "POST", "/__mock/faults", body={"rules": rules})
    assert r.status == 200, r.text


def sse_events(body):
    out = []
    for block in body.decode().split("\n\n"):
        if block:
            lines = dict(line.split(": ", 1) for line in block.split("\n"))
            out.append((lines.get("event"), json.loads(lines["data"])))
    return out


def test_responses_json_and_stream_count_their_usage():
    s = OpenAISystem(total_tokens=10 ** 6)
    r = s.post("/responses", {"model": "gpt-4o", "input": "hi"})
    assert r.status == 200, r.text
    assert r.headers["x-modelmux-model"] == "gpt-4o"
    assert r.json()["output"][0]["content"][0]["text"] == "mock reply from m1 for gpt-4o"
    assert (s.tokens("prompt"), s.tokens("completion")) == (10, 20)

    faults(s, [{"promptTokens": 4, "completionTokens": 6, "chunks": 3}])
    r = s.post("/responses", {"model": "gpt-4o", "input": "hi", "stream": True})
    assert r.status == 200, r.text
    events = sse_events(r.body)
    # every event reaches the caller unchanged, the last one with the usage
    assert [n for n, _ in events][-1] == "response.completed"
    assert len(events) == 4 + 3 + 4
    assert events[-1][1]["response"]["usage"]["total_tokens"] == 10
    mm.wait_until(lambda: s.tokens("completion") == 26, what="stream usage counted")
    assert s.tokens("prompt") == 14
    sent = [q for q in s.mock_requests() if q["path"] == "/v1/responses"]
    assert len(sent) == 2 and all("stream_options" not in q["json"] for q in sent)

    # streamed chat still gets its usage asked for (a budget needs it) and hidden
    r = s.post("/chat/completions", {"model": "gpt-4o", "stream": True,
                                     "messages": [{"role": "user", "content": "hi"}]})
    assert r.status == 200 and b'"usage":{' not in r.body
    assert s.mock_requests()[-1]["json"]["stream_options"] == {"include_usage": True}
    s.stop()


def test_images_and_audio_usage_in_the_responses_api_names():
    s = OpenAISystem()
    r = s.post("/images/generations", {"model": "gpt-image-1", "prompt": "a cat"})
    assert r.status == 200, r.text
    assert (s.tokens("prompt"), s.tokens("completion")) == (10, 20)
    s.stop()


def test_responses_failover_and_token_budget():
    s = OpenAISystem(total_tokens=45)
    faults(s, [{"model": "gpt-4o", "path": "/responses", "status": 500, "count": 1}])
    r = s.post("/responses", {"model": "gpt-4o", "input": "hi"})
    assert r.status == 200, r.text
    assert r.headers["x-modelmux-model"] == "gpt-4o-mini"
    assert r.headers["x-modelmux-attempts"] == "2"
    assert [q["model"] for q in s.mock_requests()] == ["gpt-4o", "gpt-4o-mini"]
    # 30 tokens spent of 45; a stream spends 30 more, read from response.completed
    mm.wait_until(lambda: s.tokens("completion") == 20, what="usage counted")
    r = s.post("/responses", {"model": "gpt-4o-mini", "input": "hi", "stream": True})
    assert r.status == 200
    mm.wait_until(lambda: s.tokens("completion") == 40, what="stream usage counted")
    r = s.post("/responses", {"model": "gpt-4o-mini", "input": "hi"})
    assert r.status == 429, r.text
    assert "retry-after" in r.headers
    s.stop()
