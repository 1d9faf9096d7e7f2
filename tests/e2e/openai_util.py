"""A whole modelmux as a new user sets it up for the OpenAI clients: a
control plane, the mock upstream (tests/mockllm, --name m1) and a data plane
following the control plane, with the OpenAI vendor's API at /openai/v1
(the default operation set), one endpoint on the mock, a failover policy for
gpt-4o and, when asked, a token budget. Used by test_clients.py and
test_dp_responses.py."""
import dp_util as du
import mm

MODELS = ["gpt-4o", "gpt-4o-mini", "o1-mini", "text-embedding-3-small", "gpt-3.5-turbo-instruct",
          "gpt-image-1", "gpt-4o-transcribe"]
BASE = "/openai/v1"


class OpenAISystem:
    def __init__(self, total_tokens=None, routing="failover", operations=None):
        """routing: "failover" (gpt-4o, then gpt-4o-mini) or "wrr" (gpt-4o
        and o1-mini in turn; operations: its "operations", None for the
        default)."""
        self.mock = mm.MockLLM(extra_args=["--name", "m1"])
        self.cp = mm.ControlPlane()
        cp = self.cp
        vendor = [v for v in cp.ok("GET", "/vendors")["items"] if v["name"] == "OpenAI"][0]
        cp.ok("PUT", "/vendors/%s/models" % vendor["id"], {"items": MODELS})
        cp.ok("PUT", "/secrets/up-secret", {"apiKey": du.UPSTREAM_SECRET})
        self.api = cp.ok("POST", "/apis", {"name": "openai", "basePath": "/openai", "version": "v1",
                                           "vendor": vendor["id"]}, expect=201)
        path = "/apis/%s" % self.api["id"]
        ep = cp.ok("POST", path + "/endpoints",
                   {"name": "mock", "environment": "production", "url": self.mock.url + "/v1",
                    "security": {"secret": "up-secret", "secretKey": "apiKey"}}, expect=201)
        if routing == "failover":
            policy = {"type": "modelFailover", "requestTimeoutMs": 30000, "suspendDurationSec": 1,
                      "production": {"target": {"model": "gpt-4o", "endpoint": ep["id"]},
                                     "fallbacks": [{"model": "gpt-4o-mini", "endpoint": ep["id"]}]}}
        else:
            policy = {"type": "modelWeightedRoundRobin", "suspendDurationSec": 1,
                      "production": [{"model": "gpt-4o", "endpoint": ep["id"], "weight": 1},
                                     {"model": "o1-mini", "endpoint": ep["id"], "weight": 1}]}
            if operations is not None:
                policy["operations"] = operations
        self.policy = cp.ok("POST", path + "/policies", policy, expect=201)
        if total_tokens is not None:
            cp.ok("POST", path + "/policies", {"type": "aiRateLimit", "unit": "hour", "scope": "api",
                                               "totalTokens": total_tokens}, expect=201)
        app = cp.ok("POST", "/applications", {"name": "app"}, expect=201)
        self.key = cp.ok("POST", "/applications/%s/keys" % app["id"], {"type": "production"},
                         expect=201)["key"]
        self.sandbox_key = cp.ok("POST", "/applications/%s/keys" % app["id"], {"type": "sandbox"},
                                 expect=201)["key"]
        self.dp = mm.DataPlane(cp=cp)
        rev = cp.ok("GET", "/revision")["revision"]
        mm.wait_until(lambda: du.metric_value(self.dp.metrics(), "modelmux_config_revision") == rev,
                      what="data plane on the last revision")

    @property
    def base_url(self):
        return "http://127.0.0.1:%d%s" % (self.dp.port, BASE)

    def post(self, op, body, headers=None):
        return self.dp.call("POST", BASE + op, body, key=self.key, headers=headers)

    def tokens(self, kind):
        return du.metric_value(self.dp.metrics(), "modelmux_tokens_total", kind=kind) or 0

    def mock_requests(self):
        return du.mock_requests(self.mock)

    def stop(self):
        assert self.dp.stop() == 0
        assert self.cp.stop() == 0
        assert self.mock.stop() == 0
