"""Helpers shared by the import/export e2e tests (test_cp_apkconf*.py,
test_cp_crs*.py): an API as a comparable snapshot, the YAML import call."""
import json

VOLATILE = {"id", "createdAt", "updatedAt", "apiId", "revision"}
YAML_CT = {"Content-Type": "application/yaml"}


def api_snapshot(cp, api_id):
    """The API, its endpoints and policies with ids replaced by names (so two
    control planes can be compared)."""
    api = cp.ok("GET", "/apis/%s" % api_id)
    eps = cp.ok("GET", "/apis/%s/endpoints" % api_id)["items"]
    pols = cp.ok("GET", "/apis/%s/policies" % api_id)["items"]
    names = {e["id"]: e["name"] for e in eps}
    vendors = {v["id"]: v["name"] for v in cp.ok("GET", "/vendors")["items"]}

    def clean(o):
        if isinstance(o, dict):
            out = {}
            for k, v in o.items():
                if k in VOLATILE:
                    continue
                if k == "endpoint" and isinstance(v, str):
                    v = names.get(v, "?" + v)
                out[k] = clean(v)
            return out
        if isinstance(o, list):
            return [clean(x) for x in o]
        return o

    api = clean(api)
    api["vendor"] = vendors[api["vendor"]]
    eps = sorted((clean(e) for e in eps), key=lambda e: e["name"])
    pols = sorted((clean(p) for p in pols), key=lambda p: json.dumps(p, sort_keys=True))
    return {"api": api, "endpoints": eps, "policies": pols}


def import_yaml(cp, body, headers=None, token=None):
    """POST /apis/import with a YAML body (bytes)."""
    return cp.api("POST", "/apis/import", body=body,
                  headers=YAML_CT if headers is None else headers, token=token)


def revision(cp):
    return cp.ok("GET", "/revision")["revision"]


def error_message(r):
    return r.json()["error"]["message"]
