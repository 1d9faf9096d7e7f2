"""modelmux-dp basics with --config (no control plane): flags and exit codes,
/healthz and /readyz, response headers, what the upstream sees (credentials,
hop-by-hop headers, query string), Azure-style {model} paths, multipart model
rewrite, missing secrets, /metrics names and the access log."""
import json
import os
import socket
import stat
import subprocess
import time


import dp_util as du
import mm

KEY = "key-basic-0123456789"
P = "/api/1.0" + du.CHAT


def simple_config(mock, policies=None, **kw):
    eps = [du.endpoint("e1", mock.url + "/v1", name="ep-one")]
    pol = policies if policies is not None else [du.wrr("p1", [du.target("gpt-4o-mini", "e1")])]
    return du.write_snapshot(du.snapshot([du.api("a1", "/api", eps, pol, name="chat-api", **kw)],
                                         [du.key("k1", KEY)]))


def run_dp(args, timeout=10):
    return subprocess.run([mm.binary("modelmux-dp")] + args, capture_output=True, timeout=timeout * mm.SLOW,
                          text=True)


# --- flags and exit codes ---------------------------------------------------

def test_help_and_usage_errors():
    r = run_dp(["--help"])
    assert r.returncode == 0
    assert "--listen" in r.stdout and "--cp" in r.stdout and "--workers" in r.stdout
    for args in (["--bogus"], ["--config"], [], ["--cp", "http://x", "--config", "f"],
                 ["--config", "f", "--workers", "0"], ["--config", "f", "--workers", "x"],
                 ["--config", "f", "--listen", "nope"], ["--cp", "ftp://x"]):
        r = run_dp(args)
        assert r.returncode == 2, (args, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1, (args, r.stderr)
        assert r.stderr.startswith("modelmux-dp: ")


def test_bad_config_file_exits_1_with_one_line(tmp_path):
    cases = {"missing": None, "garbage": b"\x00\xffnot json", "array": b"[1,2]",
             "schema": json.dumps({"schemaVersion": 99, "revision": 1}).encode(),
             "badref": json.dumps(du.snapshot([du.api("a1", "/x", [], [du.wrr("p", [du.target("m", "nope")])])],
                                              [])).encode()}
    for name, data in cases.items():
        path = str(tmp_path / (name + ".json"))
        if data is not None:
            with open(path, "wb") as f:
                f.write(data)
        r = run_dp(["--config", path, "--listen", "127.0.0.1:%d" % mm.free_port(),
                    "--admin-listen", "127.0.0.1:%d" % mm.free_port()])
        assert r.returncode == 1, (name, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and path in lines[0], (name, r.stderr)


def test_port_in_use_exits_1(mock):
    cfg = simple_config(mock)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        r = run_dp(["--config", cfg, "--listen", "127.0.0.1:%d" % port,
                    "--admin-listen", "127.0.0.1:%d" % mm.free_port()])
        assert r.returncode == 1, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
        r = run_dp(["--config", cfg, "--listen", "127.0.0.1:%d" % mm.free_port(),
                    "--admin-listen", "127.0.0.1:%d" % port])
        assert r.returncode == 1, r.stderr


def test_second_data_plane_on_the_same_port_exits_1(mock):
    """A port held by another data plane is in use too (the workers bind
    with SO_REUSEPORT: a second data plane of the same user used to bind it
    as well and take part of the connections)."""
    cfg = simple_config(mock)
    dp = mm.DataPlane(config=cfg, workers=2)
    r = run_dp(["--config", cfg, "--listen", "127.0.0.1:%d" % dp.port,
                "--admin-listen", "127.0.0.1:%d" % mm.free_port()])
    assert r.returncode == 1, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "--listen" in lines[0] and "in use" in lines[0], lines
    for _ in range(10):  # every connection still reaches the first one
        assert du.chat(dp, KEY).status == 200
    # (the access log is written once MHD is done with the request: poll)
    mm.wait_until(lambda: len(du.access_log(dp)) == 10, what="10 requests logged by the first")
    assert dp.stop() == 0


# --- serving ------------------------------------------------------------------

def test_headers_and_upstream_hygiene(mock):
    dp = mm.DataPlane(config=simple_config(mock))
    assert mm.request(dp.admin_port, "GET", "/healthz").status == 200
    assert mm.request(dp.admin_port, "GET", "/readyz").status == 200
    r = mm.request(dp.port, "POST", P + "?api-version=2024-02-01&x=a%20b",
                   body={"model": "gpt-4o", "messages": []},
                   headers={"Authorization": "Bearer " + KEY, "apikey": KEY, "X-Custom": "kept",
                            "Connection": "keep-alive", "Proxy-Authorization": "Basic eA==",
                            "x-request-id": "caller-id-1"})
    assert r.status == 200, r.text
    assert r.headers["x-modelmux-model"] == "gpt-4o-mini"
    assert r.headers["x-modelmux-endpoint"] == "ep-one"
    assert r.headers["x-modelmux-attempts"] == "1"
    assert r.headers["x-request-id"] == "caller-id-1"
    assert r.headers["content-type"] == "application/json"
    assert r.json()["model"] == "gpt-4o-mini"
    item = du.mock_requests(mock)[-1]
    h = du.lower_headers(item)
    assert h["authorization"] == "Bearer " + du.UPSTREAM_SECRET
    assert "apikey" not in h and "proxy-authorization" not in h
    assert h["x-custom"] == "kept"
    assert h["x-request-id"] == "caller-id-1"
    assert item["path"].startswith("/v1/chat/completions")
    assert item["json"]["model"] == "gpt-4o-mini"
    assert KEY not in json.dumps(item)
    # a gateway-made id when the caller sends none
    r = du.chat(dp, KEY)
    assert len(r.headers["x-request-id"]) >= 8
    # the access log names the request and never the key
    dp.stop()
    log = dp.stderr()
    assert KEY not in log and du.UPSTREAM_SECRET not in log
    lines = [json.loads(l) for l in log.splitlines() if l.startswith("{")]
    assert any(l["id"] == "caller-id-1" and l["status"] == 200 and l["endpoint"] == "ep-one"
               and l["model"] == "gpt-4o-mini" and l["attempts"] == 1 and l["totalTokens"] == 30
               for l in lines), lines


def test_query_string_forwarded():
    with du.RecordingUpstream() as up:
        eps = [du.endpoint("e1", up.url + "/v1")]
        cfg = du.write_snapshot(du.snapshot([du.api("a1", "/api", eps, [du.wrr("p1", [du.target("m", "e1")])])],
                                            [du.key("k1", KEY)]))
        dp = mm.DataPlane(config=cfg)
        r = mm.request(dp.port, "POST", P + "?api-version=2024-02-01&q=a%20b&flag",
                       body={"model": "gpt-4o"}, headers={"Authorization": "Bearer " + KEY})
        assert r.status == 200, r.text
        path = up.seen[-1]["path"]
        assert path.startswith("/v1/chat/completions?"), path
        assert "api-version=2024-02-01" in path and "q=a%20b" in path and "flag" in path, path
        assert up.seen[-1]["headers"]["authorization"] == "Bearer " + du.UPSTREAM_SECRET


def test_request_ids_made_and_passed_on(mock):
    """Ids the gateway makes are "<8 hex>-<worker, hex>-<sequence, hex>" and
    never repeat; the caller's id goes on as given (cut to 47 characters);
    one that is not acceptable is replaced. The upstream gets the same id,
    and the caller's headers, an empty one included."""
    import re
    dp = mm.DataPlane(config=simple_config(mock), workers=2)
    ids = [du.chat(dp, KEY).headers["x-request-id"] for _ in range(20)]
    assert len(set(ids)) == 20, ids
    for rid in ids:
        assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{1,8}-[0-9a-f]{1,16}", rid), rid
    assert len({rid.split("-")[0] for rid in ids}) == 1  # one prefix per process
    long_id = "a" * 30 + "-" + "b" * 33  # 64 characters: accepted, cut to the buffer
    r = du.chat(dp, KEY, headers={"x-request-id": long_id, "X-Empty": ""})
    assert r.status == 200 and r.headers["x-request-id"] == long_id[:47]
    h = du.lower_headers(du.mock_requests(mock)[-1])
    assert h["x-request-id"] == long_id[:47]
    assert h.get("x-empty") == ""
    r = du.chat(dp, KEY, headers={"x-request-id": "bad id!"})
    assert r.status == 200 and re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]+-[0-9a-f]+", r.headers["x-request-id"])
    assert dp.stop() == 0


def test_upstream_connections_reused_and_closed_by_the_upstream(mock):
    """Idle upstream connections stay with the data plane between requests:
    many requests reuse them; an upstream that closes each connection after
    its answer (without saying so) costs nothing but a new connection, and
    the data plane holds no more sockets afterwards than before."""
    dp = mm.DataPlane(config=simple_config(mock), workers=1)
    for _ in range(30):
        assert du.chat(dp, KEY).status == 200
    with du.RecordingUpstream() as up:
        base = up.server.RequestHandlerClass

        class Closing(base):
            def do_POST(self):
                base.do_POST(self)
                self.close_connection = True  # no "Connection: close" sent

        up.server.RequestHandlerClass = Closing
        eps = [du.endpoint("e1", up.url + "/v1")]
        cfg = du.write_snapshot(du.snapshot([du.api("a1", "/api", eps, [du.wrr("p1", [du.target("m", "e1")])])],
                                            [du.key("k1", KEY)]))
        closing = mm.DataPlane(config=cfg, workers=1)
        fds = len(os.listdir("/proc/%d/fd" % closing.pid))
        for i in range(8):
            r = du.chat(closing, KEY)
            assert r.status == 200, (i, r.status, r.text)
            time.sleep(0.15)  # the upstream's close reaches the idle connection
        assert len(up.seen) == 8
        # The upstream's last close reaches the idle connection a moment later
        # on a loaded machine: wait for it (bounded) before counting.
        deadline = time.monotonic() + 5 * mm.SLOW
        while len(os.listdir("/proc/%d/fd" % closing.pid)) > fds + 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(os.listdir("/proc/%d/fd" % closing.pid)) <= fds + 1
        assert closing.stop() == 0
    assert du.chat(dp, KEY).status == 200
    assert dp.stop() == 0


def test_no_policy_goes_to_first_endpoint_with_model_unchanged(mock):
    eps = [du.endpoint("e1", mock.url + "/v1", name="first"), du.endpoint("e2", "http://127.0.0.1:9/v1")]
    cfg = du.write_snapshot(du.snapshot([du.api("a1", "/api", eps, [])], [du.key("k1", KEY)]))
    dp = mm.DataPlane(config=cfg)
    r = du.chat(dp, KEY, model="whatever-model")
    assert r.status == 200, r.text
    assert r.headers["x-modelmux-model"] == "whatever-model"
    assert r.headers["x-modelmux-endpoint"] == "first"
    assert du.mock_requests(mock)[-1]["json"]["model"] == "whatever-model"


def test_azure_model_in_path(mock):
    ep = du.endpoint("az", mock.url + "/openai/deployments/{model}", header="api-key", value="azure-secret")
    pol = du.wrr("p1", [du.target("gpt-4o", "az")])
    cfg = du.write_snapshot(du.snapshot([du.api("a1", "/az", [ep], [pol], vendor="v-azure")],
                                        [du.key("k1", KEY)]))
    dp = mm.DataPlane(config=cfg)
    r = mm.request(dp.port, "POST", "/az/1.0/chat/completions",
                   body={"model": "my-model", "messages": []}, headers={"Authorization": "Bearer " + KEY})
    assert r.status == 200, r.text
    item = du.mock_requests(mock)[-1]
    assert item["path"].startswith("/openai/deployments/gpt-4o/chat/completions"), item["path"]
    h = du.lower_headers(item)
    assert h["api-key"] == "azure-secret"
    assert "authorization" not in h
    assert item["json"]["model"] == "my-model"  # the body is not the model's place here


def test_multipart_model_rewritten_in_place(mock):
    # a round robin that routes transcriptions (its "operations")
    pol = dict(du.wrr("p1", [du.target("gpt-4o-mini", "e1")]),
               operations=["/chat/completions", "/audio/transcriptions"])
    dp = mm.DataPlane(config=simple_config(mock, [pol]))
    audio = bytes(range(256)) * 40
    boundary = "----mmboundaryXYZ"
    body = ("--%s\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n" % boundary).encode()
    body += ("--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n"
             "Content-Type: audio/wav\r\n\r\n" % boundary).encode() + audio + b"\r\n"
    body += ("--%s--\r\n" % boundary).encode()
    r = mm.request(dp.port, "POST", "/api/1.0/audio/transcriptions", body=body,
                   headers={"Authorization": "Bearer " + KEY,
                            "Content-Type": "multipart/form-data; boundary=" + boundary})
    assert r.status == 200, r.text
    assert r.headers["x-modelmux-model"] == "gpt-4o-mini"
    item = du.mock_requests(mock)[-1]
    assert item["model"] == "gpt-4o-mini"
    assert item["bodyLength"] == len(body) - len("whisper-1") + len("gpt-4o-mini")


def test_missing_secret_is_502_naming_it(mock):
    eps = [du.endpoint("e1", mock.url + "/v1", name="ep-x", missing_secret="open-ai-secret")]
    cfg = du.write_snapshot(du.snapshot(
        [du.api("a1", "/api", eps, [du.wrr("p1", [du.target("gpt-4o", "e1")])])], [du.key("k1", KEY)]))
    dp = mm.DataPlane(config=cfg)
    r = du.chat(dp, KEY)
    assert r.status == 502
    err = r.json()["error"]
    assert "open-ai-secret" in err["message"] and err["code"] == "missing_secret" and err["type"]
    assert du.mock_requests(mock) == []


def test_not_found_and_method_not_allowed(mock):
    dp = mm.DataPlane(config=simple_config(mock))
    r = mm.request(dp.port, "POST", "/nope/1.0/chat/completions", body={"model": "x"})
    assert r.status == 404 and set(r.json()["error"]) >= {"message", "type", "code"}
    r = mm.request(dp.port, "GET", P)
    assert r.status == 405 and r.json()["error"]["code"]
    r = mm.request(dp.port, "POST", "/api/chat/completions", body={"model": "x"})
    assert r.status == 404  # not a default-version API


def test_default_version_path(mock):
    dp = mm.DataPlane(config=simple_config(mock, default_version=True))
    r = mm.request(dp.port, "POST", "/api/chat/completions", body={"model": "x"},
                   headers={"Authorization": "Bearer " + KEY})
    assert r.status == 200, r.text


def test_metrics_names(mock):
    dp = mm.DataPlane(config=simple_config(mock))
    assert du.chat(dp, KEY).status == 200
    text = dp.metrics()
    for name in ("modelmux_requests_total", "modelmux_upstream_duration_seconds_bucket",
                 "modelmux_tokens_total", "modelmux_target_suspended", "modelmux_config_revision"):
        assert name in text, name
    assert "# TYPE modelmux_ratelimited_total counter" in text
    assert du.metric_value(text, "modelmux_requests_total", api="chat-api", model="gpt-4o-mini",
                           endpoint="ep-one", status="200") == 1
    assert du.metric_value(text, "modelmux_tokens_total", api="chat-api", kind="prompt") == 10
    assert du.metric_value(text, "modelmux_tokens_total", api="chat-api", kind="completion") == 20
    assert du.metric_value(text, "modelmux_target_suspended", api="chat-api", model="gpt-4o-mini") == 0
    assert du.metric_value(text, "modelmux_config_revision") == 1
    assert mm.request(dp.admin_port, "GET", "/nope").status == 404
    assert mm.request(dp.admin_port, "POST", "/metrics", body=b"x").status == 405


def test_readyz_503_until_config_then_200(mock, tmp_path):
    """Following a control plane that does not answer: not ready, requests 503."""
    with socket.socket() as s:  # accepts connections, never answers
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        cp_url = "http://127.0.0.1:%d" % s.getsockname()[1]
        dp = mm.DataPlane(cp=cp_url, wait_ready=False, cache=str(tmp_path / "none.json"))
        assert mm.request(dp.admin_port, "GET", "/readyz").status == 503
        r = du.chat(dp, KEY)
        assert r.status == 503 and r.json()["error"]["code"]
        assert du.metric_value(dp.metrics(), "modelmux_config_revision") == -1
        dp.stop()
    # the same with a config: ready
    dp = mm.DataPlane(config=simple_config(mock))
    assert mm.request(dp.admin_port, "GET", "/readyz").status == 200


def test_keepalive_connection_serves_many_requests(mock):
    import http.client
    dp = mm.DataPlane(config=simple_config(mock))
    conn = http.client.HTTPConnection("127.0.0.1", dp.port, timeout=10)
    for i in range(20):
        conn.request("POST", P, body=json.dumps({"model": "gpt-4o"}),
                     headers={"Authorization": "Bearer " + KEY, "Content-Type": "application/json"})
        r = conn.getresponse()
        assert r.status == 200
        r.read()
    conn.close()


def test_rate_limit_headers_429_and_metric(mock):
    pols = [du.wrr("p1", [du.target("gpt-4o-mini", "e1")]), du.ratelimit("rl", requests=3, totalTokens=1000)]
    dp = mm.DataPlane(config=simple_config(mock, policies=pols))
    remaining = []
    for _ in range(3):
        r = du.chat(dp, KEY)
        assert r.status == 200, r.text
        assert r.headers["x-ratelimit-limit-requests"] == "3"
        assert r.headers["x-ratelimit-limit-tokens"] == "1000"
        remaining.append(r.headers["x-ratelimit-remaining-requests"])
    assert remaining == ["2", "1", "0"]
    r = du.chat(dp, KEY)
    assert r.status == 429
    assert r.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(r.headers["retry-after"]) <= 60
    assert r.headers["x-ratelimit-remaining-requests"] == "0"
    assert len(du.mock_requests(mock)) == 3
    assert du.metric_value(dp.metrics(), "modelmux_ratelimited_total", api="chat-api") == 1
