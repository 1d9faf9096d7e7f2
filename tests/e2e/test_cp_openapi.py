"""schema/openapi.yaml and the server's route table (modelmux-cp
--print-routes) list exactly the same routes, and every listed route
answers (not 404/405) on the real server."""
import os
import subprocess

import yaml

import mm

METHODS = {"get", "put", "post", "patch", "delete"}


def server_routes():
    out = subprocess.run([mm.binary("modelmux-cp"), "--print-routes"], capture_output=True,
                         text=True, check=True).stdout
    return {tuple(line.split(" ", 1)) for line in out.splitlines() if line}


def spec_routes():
    with open(os.path.join(mm.SOURCE_DIR, "schema", "openapi.yaml")) as f:
        doc = yaml.safe_load(f)
    assert doc["openapi"].startswith("3.")
    base = "/api/v1"
    assert doc["servers"][0]["url"].endswith(base)
    routes = set()
    for path, item in doc["paths"].items():
        for method in item:
            if method in METHODS:
                routes.add((method.upper(), base + path))
    return doc, routes


def test_openapi_matches_route_table():
    doc, spec = spec_routes()
    srv = server_routes()
    assert srv - spec == set(), "routes missing from openapi.yaml"
    assert spec - srv == set(), "openapi.yaml routes the server does not have"


def test_openapi_refs_resolve():
    doc, _ = spec_routes()

    def walk(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "$ref":
                    parts = v.lstrip("#/").split("/")
                    target = doc
                    for p in parts:
                        assert p in target, v
                        target = target[p]
                else:
                    walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(doc)


def test_every_route_is_served():
    cp = mm.ControlPlane()
    for method, pattern in sorted(server_routes()):
        path = pattern.replace("/api/v1", "")
        for name in ("{id}", "{eid}", "{pid}", "{kid}", "{apiId}", "{name}"):
            path = path.replace(name, "unknown")
        r = cp.api(method, path, body={} if method in ("POST", "PUT", "PATCH") else None)
        assert r.status not in (405,), (method, pattern, r)
        if r.status == 404:
            assert "no such route" not in r.text, (method, pattern, r)
