#!/usr/bin/env python3
"""Writes the standalone data-plane snapshot of `make bench`.

Fills bench/snapshot.json.tmpl (one API, POST /bench/1.0/chat/completions,
secured; a weighted round robin gpt-4o:3 / gpt-4o-mini:1 over one endpoint,
the mock) with the mock's port and the SHA-256 of the bench API key, computes
the snapshot's sha256 field the way the schema defines it (compact JSON with
sorted keys of {"vendors", "apis", "keys"}), checks the result against
schema/config.schema.json when python3-jsonschema is there, and writes it
with mode 0600 (a snapshot holds upstream credentials).

With --tls-url and --ca-cert (the TLS variant), a second API,
POST /bench-tls/1.0/chat/completions, the same but with its endpoint at the
HTTPS URL and the CA in the endpoint's "tls": {"caCert"} (SPEC 2.2).

usage: snapshot.py --mock-port PORT --key KEY --out FILE [--tls-url URL --ca-cert FILE]
"""
import argparse
import copy
import datetime
import hashlib
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def add_tls_api(doc, url, ca_pem):
    """A copy of the bench API whose endpoint is url, trusting ca_pem."""
    api = copy.deepcopy(doc["apis"][0])
    api.update(id="api-bench-tls", name="bench-tls-chat", basePath="/bench-tls")
    ep = api["endpoints"][0]
    ep.update(id="ep-mock-tls", name="mock-tls", url=url, tls={"caCert": ca_pem})
    for p in api["policies"]:
        p["id"] += "-tls"
        for t in p["production"]:
            t["endpoint"] = ep["id"]
    doc["apis"].append(api)


def build(mock_port, key, tls_url=None, ca_pem=None):
    with open(os.path.join(HERE, "snapshot.json.tmpl"), encoding="utf-8") as f:
        text = f.read()
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    text = (text.replace("@MOCK_PORT@", str(mock_port))
                .replace("@KEY_SHA256@", hashlib.sha256(key.encode()).hexdigest())
                .replace("@NOW@", now))
    doc = json.loads(text.replace("@SHA256@", "0" * 64))
    if tls_url:
        add_tls_api(doc, tls_url, ca_pem)
    body = {k: doc[k] for k in ("vendors", "apis", "applications", "keys")}
    compact = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    doc["sha256"] = hashlib.sha256(compact.encode("utf-8")).hexdigest()
    return doc


def validate(doc):
    try:
        import jsonschema
    except ImportError:
        return
    with open(os.path.join(ROOT, "schema", "config.schema.json"), encoding="utf-8") as f:
        jsonschema.validate(doc, json.load(f))


def main():
    ap = argparse.ArgumentParser(description="bench snapshot for modelmux-dp --config")
    ap.add_argument("--mock-port", type=int, required=True)
    ap.add_argument("--key", required=True, help="the API key wrk sends (its hash goes in)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--tls-url", help="HTTPS URL of the TLS terminator (adds the TLS API)")
    ap.add_argument("--ca-cert", help="PEM file of the CA that signed the terminator's certificate")
    a = ap.parse_args()
    if bool(a.tls_url) != bool(a.ca_cert):
        ap.error("--tls-url and --ca-cert go together")
    ca_pem = None
    if a.ca_cert:
        with open(a.ca_cert, encoding="ascii") as f:
            ca_pem = f.read()
    doc = build(a.mock_port, a.key, a.tls_url, ca_pem)
    validate(doc)
    fd = os.open(a.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
