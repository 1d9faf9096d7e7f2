"""The data-plane channel GET /dp/v1/config (SPEC 2.3): snapshots valid
against schema/config.schema.json, long poll wake-up within 50 ms, 304 after
the wait, tokens, the data-plane registry, and waiting connections that hold
no thread."""
import hashlib
import json
import os
import socket
import threading
import time

import jsonschema
import pytest

import mm
from cp_util import (RecordingCP, dp_config, dumps_sorted, make_api, make_endpoint, proc_status,
                     read_status, revision, snapshot)

SCHEMA = json.load(open(os.path.join(mm.SOURCE_DIR, "schema", "config.schema.json")))
SECRET = "sk-channel-secret-value-42"


def full_config(cp):
    """A config using every part of the snapshot."""
    cp.ok("PUT", "/secrets/open-ai-secret", {"apiKey": SECRET})
    api = make_api(cp, base="/chat-service-prod-sand", version="1.0", subscriptionValidation=True)
    sec = {"secret": "open-ai-secret", "secretKey": "apiKey"}
    p1 = make_endpoint(cp, api["id"], "prod-1", url="http://127.0.0.1:9/v1", security=sec)
    p2 = make_endpoint(cp, api["id"], "prod-2", url="http://127.0.0.1:9/v2",
                       security={"secret": "missing-secret"})
    s1 = make_endpoint(cp, api["id"], "sand-1", env="sandbox", url="https://example.com/v1")
    cp.ok("POST", "/apis/%s/policies" % api["id"], {
        "type": "modelWeightedRoundRobin", "suspendDurationSec": 30,
        "production": [{"model": "gpt-4o", "endpoint": p1["id"], "weight": 3},
                       {"model": "o1-mini", "endpoint": p2["id"], "weight": 1}],
        "sandbox": [{"model": "gpt-4o-mini", "endpoint": s1["id"], "weight": 1}]}, expect=201)
    cp.ok("POST", "/apis/%s/policies" % api["id"], {
        "type": "aiRateLimit", "unit": "hour", "scope": "application", "totalTokens": 1000},
        expect=201)
    api2 = make_api(cp, base="/fo", version="v1")
    f1 = make_endpoint(cp, api2["id"], "a")
    f2 = make_endpoint(cp, api2["id"], "b")
    cp.ok("POST", "/apis/%s/policies" % api2["id"], {
        "type": "modelFailover", "requestTimeoutMs": 1000,
        "production": {"target": {"model": "gpt-4o", "endpoint": f1["id"]},
                       "fallbacks": [{"model": "gpt-4o-mini", "endpoint": f2["id"]}]}}, expect=201)
    # the vendor's auth gives the defaults: AzureOpenAI sends api-key, no prefix
    az = make_api(cp, base="/azure", version="v1", vendor="azure-openai")
    make_endpoint(cp, az["id"], "az", url="https://x.openai.azure.com/openai/deployments/{model}",
                  security={"secret": "open-ai-secret"})
    # a secret that exists but lacks the key named
    make_endpoint(cp, az["id"], "az-nokey", security={"secret": "open-ai-secret",
                                                       "secretKey": "nokey"})
    app = cp.ok("POST", "/applications", {"name": "app"}, expect=201)
    key = cp.ok("POST", "/applications/%s/keys" % app["id"], {"type": "production"}, expect=201)
    cp.ok("POST", "/applications/%s/keys" % app["id"],
          {"type": "sandbox", "expiresAt": "2099-01-01T00:00:00Z"}, expect=201)
    cp.ok("POST", "/applications/%s/subscriptions" % app["id"], {"apiId": api["id"]}, expect=201)
    return api, app, key, (p1, p2, s1)


def test_snapshot_matches_schema_and_db():
    cp = RecordingCP()
    api, app, key, (p1, p2, s1) = full_config(cp)
    doc = snapshot(cp)
    jsonschema.validate(doc, SCHEMA)
    assert doc["schemaVersion"] == 1 and doc["revision"] == revision(cp)
    body = {"vendors": doc["vendors"], "apis": doc["apis"], "applications": doc["applications"],
            "keys": doc["keys"]}
    assert doc["sha256"] == hashlib.sha256(dumps_sorted(body).encode()).hexdigest()
    a = next(x for x in doc["apis"] if x["id"] == api["id"])
    eps = {e["name"]: e for e in a["endpoints"]}
    assert eps["prod-1"]["auth"] == {"header": "Authorization", "value": "Bearer " + SECRET}
    assert eps["prod-2"]["auth"] == {"header": "Authorization", "missingSecret": "missing-secret"}
    assert eps["sand-1"]["auth"] is None
    az = next(x for x in doc["apis"] if x["basePath"] == "/azure")
    azeps = {e["name"]: e for e in az["endpoints"]}
    assert azeps["az"]["auth"] == {"header": "api-key", "value": SECRET}
    assert azeps["az-nokey"]["auth"] == {"header": "api-key", "missingSecret": "open-ai-secret"}
    vendors = {v["id"]: v for v in doc["vendors"]}
    assert vendors["azure-openai"]["requestModel"] == {"in": "path", "field": "model"}
    assert [p["type"] for p in a["policies"]] == ["modelWeightedRoundRobin", "aiRateLimit"]
    k = next(x for x in doc["keys"] if x["type"] == "production")
    assert k["hash"] == hashlib.sha256(key["key"].encode()).hexdigest()
    # subscriptions and the name are the application's, once for all its keys
    apps = {x["id"]: x for x in doc["applications"]}
    assert apps[app["id"]] == {"id": app["id"], "name": "app", "subscriptions": [api["id"]]}
    assert k["application"] == app["id"] and "subscriptions" not in k
    assert k.get("expiresAt") is None  # never expires: left out
    ks = next(x for x in doc["keys"] if x["type"] == "sandbox")
    assert ks["expiresAt"] == "2099-01-01T00:00:00Z" and "subscriptions" not in ks
    assert ks["application"] == app["id"]
    assert key["key"] not in json.dumps(doc)
    # the secret value goes to data planes only, never to the admin API
    for r in cp.responses:
        assert SECRET.encode() not in r.body
    # the same revision gives the same document; a change gives a new one
    assert snapshot(cp)["sha256"] == doc["sha256"]
    cp.ok("PUT", "/secrets/open-ai-secret", {"apiKey": SECRET + "-rotated"})
    doc2 = snapshot(cp)
    jsonschema.validate(doc2, SCHEMA)
    assert doc2["revision"] == doc["revision"] + 1 and doc2["sha256"] != doc["sha256"]


def test_snapshot_is_applied_by_a_real_data_plane():
    """The document passes the data plane's own validation (it refuses a
    whole snapshot on any error), at every revision: the data plane
    follows, and the registry shows it current."""
    cp = RecordingCP()
    full_config(cp)
    cp.ok("POST", "/vendors", {"name": "Custom", "models": ["m-" + "x" * 126],
                               "auth": {"header": "X-Api-Key", "prefix": "Key "}}, expect=201)
    dp = mm.DataPlane(cp=cp, dp_id="follower")
    try:
        def applied():
            m = [l for l in dp.metrics().splitlines() if l.startswith("modelmux_config_revision")]
            return m and float(m[0].split()[-1]) == revision(cp)

        mm.wait_until(applied, timeout=15, what="the data plane to apply the snapshot")
        cp.ok("PUT", "/secrets/open-ai-secret", {"apiKey": SECRET + " \u00fc-rotated"})
        mm.wait_until(applied, timeout=15, what="the data plane to apply the next revision")
        # the registry learns it from the data plane's next poll (after=N)
        def listed_current():
            items = {d["id"]: d for d in cp.ok("GET", "/dataplanes")["items"]}
            f = items.get("follower", {})
            return f.get("revision") == revision(cp) and f.get("status") == "current"

        mm.wait_until(listed_current, timeout=10, what="the registry to show the data plane current")
        assert "snapshot rejected" not in dp.stderr()
    finally:
        assert dp.stop() == 0


def test_tokens_and_bad_queries():
    cp = RecordingCP()
    assert dp_config(cp, token=None).status == 401
    assert dp_config(cp, token="wrong").status == 401
    assert dp_config(cp, token=mm.ADMIN_TOKEN).status == 401
    assert dp_config(cp, token=mm.DP_TOKEN + "x").status == 401
    assert dp_config(cp, token=mm.DP_TOKEN[:-1]).status == 401
    for auth in ("Basic " + mm.DP_TOKEN, mm.DP_TOKEN, "Bearer", "Bearer  "):
        r = mm.request(cp.port, "GET", "/dp/v1/config", headers={"Authorization": auth,
                                                                "X-Dataplane-Id": "a"})
        assert r.status == 401, (auth, r)
    # the same Bearer syntax as the admin API: the scheme is case-insensitive
    for auth in ("bearer " + mm.DP_TOKEN, "Bearer  " + mm.DP_TOKEN):
        r = mm.request(cp.port, "GET", "/dp/v1/config?after=0", headers={
            "Authorization": auth, "X-Dataplane-Id": "a"})
        assert r.status == 200, (auth, r)
        r = mm.request(cp.port, "GET", "/api/v1/revision",
                       headers={"Authorization": auth.replace(mm.DP_TOKEN, mm.ADMIN_TOKEN)})
        assert r.status == 200, (auth, r)
    assert dp_config(cp, dp_id=None).status == 400
    assert mm.request(cp.port, "GET", "/dp/v1/config?after=x", token=mm.DP_TOKEN,
                      headers={"X-Dataplane-Id": "a"}).status == 400
    assert mm.request(cp.port, "GET", "/dp/v1/config?after=0&wait=-1", token=mm.DP_TOKEN,
                      headers={"X-Dataplane-Id": "a"}).status == 400
    assert mm.request(cp.port, "POST", "/dp/v1/config", token=mm.DP_TOKEN,
                      headers={"X-Dataplane-Id": "a"}).status == 405
    assert mm.request(cp.port, "GET", "/dp/v1/other", token=mm.DP_TOKEN).status == 404
    # the admin token does not open the channel, the DP token not the API
    assert cp.api("GET", "/revision", token=mm.DP_TOKEN).status == 401


def test_hostile_dataplane_ids():
    cp = RecordingCP()
    for bad in ("", "a" * 129, "tab\there", "caf\xe9", "\xc3\xa9\xff", "x" * 20000):
        r = mm.request(cp.port, "GET", "/dp/v1/config?after=0&wait=0", token=mm.DP_TOKEN,
                       headers={"X-Dataplane-Id": bad})
        assert r.status == 400, (bad[:20], r)
    # 128 characters of UTF-8 are fine (256 bytes), and the list stays readable
    good = "\u00e9" * 128
    r = mm.request(cp.port, "GET", "/dp/v1/config?after=0&wait=0", token=mm.DP_TOKEN,
                   headers={"X-Dataplane-Id": good.encode().decode("latin-1")})
    assert r.status == 200, r
    items = cp.ok("GET", "/dataplanes")["items"]
    assert [d["id"] for d in items] == [good]
    assert set(items[0]) == {"id", "revision", "lastSeen", "status"}
    assert cp.poll() is None


def test_channel_disabled_without_dp_token():
    cp = mm.ControlPlane(env={"MODELMUX_DP_TOKEN": None})
    r = dp_config(cp)
    assert r.status == 401 and "disabled" in r.json()["error"]["message"]
    r = dp_config(cp, token="")
    assert r.status == 401


def test_long_poll_wakes_within_50ms_and_304_after_wait():
    cp = RecordingCP()
    rev = revision(cp)
    t0 = time.time()
    r = dp_config(cp, after=rev, wait=1)
    assert r.status == 304 and r.body == b""
    assert 0.9 <= time.time() - t0 < 1.0 + 0.5 * mm.SLOW
    r = dp_config(cp, after=rev, wait=0)
    assert r.status == 304
    assert dp_config(cp, after=rev - 1, wait=10).status == 200
    for i in range(3):
        result = {}

        def waiter():
            result["r"] = dp_config(cp, after=revision(cp), wait=30, dp_id="w")
            result["t"] = time.time()

        th = threading.Thread(target=waiter)
        th.start()
        time.sleep(0.3)
        assert th.is_alive()
        t_commit = time.time()
        cp.ok("POST", "/applications", {"name": "wake-%d" % i}, expect=201)
        t_ack = time.time()
        th.join(10)
        r = result["r"]
        assert r.status == 200 and r.json()["revision"] == revision(cp)
        # answered within 50 ms of the commit (the ack arriving bounds it)
        assert result["t"] - t_ack < 0.05 * mm.SLOW, (result["t"] - t_ack, t_ack - t_commit)


def test_default_and_oversized_waits_hold_the_request():
    """No wait means 30 s and a wait above 60 means 60: both hold (no 304
    at once, no 400) until a commit answers them."""
    cp = RecordingCP()
    for wait in (None, 61, 3600, 10 ** 12):
        rev = revision(cp)
        result = {}
        th = threading.Thread(target=lambda: result.setdefault(
            "r", dp_config(cp, after=rev, wait=wait, dp_id="w")))
        t0 = time.time()
        th.start()
        time.sleep(0.5)
        assert th.is_alive(), (wait, result)
        cp.ok("POST", "/applications", {"name": "wake-%s" % wait}, expect=201)
        th.join(10)
        assert result["r"].status == 200 and result["r"].json()["revision"] == rev + 1, wait
        assert time.time() - t0 < 5 * mm.SLOW


def test_dataplanes_listed_with_revision():
    cp = RecordingCP()
    rev = revision(cp)
    dp_config(cp, after=0, dp_id="dp-a")
    dp_config(cp, after=rev, wait=0, dp_id="dp-b")
    cp.ok("POST", "/applications", {"name": "x"}, expect=201)
    items = {d["id"]: d for d in cp.ok("GET", "/dataplanes")["items"]}
    assert items["dp-a"]["revision"] == 0 and items["dp-a"]["status"] == "behind"
    assert items["dp-b"]["revision"] == rev and items["dp-b"]["status"] == "behind"
    dp_config(cp, after=rev + 1, wait=0, dp_id="dp-b")
    items = {d["id"]: d for d in cp.ok("GET", "/dataplanes")["items"]}
    assert items["dp-b"]["revision"] == rev + 1 and items["dp-b"]["status"] == "current"
    assert items["dp-b"]["lastSeen"].endswith("Z")
    # a data plane that refused revision rev + 1 asks after it but runs rev:
    # X-Dataplane-Revision says which one it runs
    r = mm.request(cp.port, "GET", "/dp/v1/config?after=%d&wait=0" % (rev + 1), token=mm.DP_TOKEN,
                   headers={"X-Dataplane-Id": "dp-b", "X-Dataplane-Revision": str(rev)})
    assert r.status == 304
    items = {d["id"]: d for d in cp.ok("GET", "/dataplanes")["items"]}
    assert items["dp-b"]["revision"] == rev and items["dp-b"]["status"] == "behind"
    for bad in ("-1", "x", "1.5", "", "99999999999999999999"):
        r = mm.request(cp.port, "GET", "/dp/v1/config?after=0&wait=0", token=mm.DP_TOKEN,
                       headers={"X-Dataplane-Id": "dp-c", "X-Dataplane-Revision": bad})
        assert r.status == 400, (bad, r)
    assert "dp-c" not in {d["id"] for d in cp.ok("GET", "/dataplanes")["items"]}


def send_wait(port, after):
    s = socket.create_connection(("127.0.0.1", port), timeout=30 * mm.SLOW)
    s.sendall(("GET /dp/v1/config?after=%d&wait=30 HTTP/1.1\r\nHost: x\r\n"
               "Authorization: Bearer %s\r\nX-Dataplane-Id: many\r\n\r\n" % (after, mm.DP_TOKEN)).encode())
    return s


def test_200_waiters_hold_no_threads_and_admin_stays_fast():
    cp = RecordingCP()
    time.sleep(0.2)
    base_threads = proc_status(cp.pid, "Threads")
    rev = revision(cp)
    socks = [send_wait(cp.port, rev) for _ in range(200)]
    try:
        time.sleep(0.5)
        assert proc_status(cp.pid, "Threads") <= base_threads + 2, (base_threads, proc_status(cp.pid, "Threads"))
        t0 = time.time()
        for i in range(20):
            cp.ok("GET", "/vendors")
        assert (time.time() - t0) / 20 < 0.05 * mm.SLOW
        cp.ok("POST", "/applications", {"name": "wake-all"}, expect=201)
        statuses = [read_status(s) for s in socks]
        assert statuses == [200] * 200
    finally:
        for s in socks:
            s.close()
    assert cp.poll() is None
    assert proc_status(cp.pid, "Threads") <= base_threads + 2
