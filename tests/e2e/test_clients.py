"""The clients applications use today, through the real data plane to the
mock upstream: the official OpenAI SDK (npm "openai"), the Vercel AI SDK
("ai" + "@ai-sdk/openai", its default provider openai(model) on the
Responses API and openai.chat(model)) and LangChain.js ("@langchain/openai"),
each doing chat, streaming, embeddings of several inputs (dimensions and
values checked) and the Responses API (tests/clients/*.test.mjs, run by
`node --test`). The versions are pinned in tests/clients/package.json (the
newest whose engines allow Node 20; README.md says which).

Needs node and tests/clients/node_modules (make test installs them:
scripts/install-deps.sh and scripts/install-node-deps.sh)."""
import os
import re
import shutil
import subprocess

import pytest

import dp_util as du
import mm
from openai_util import OpenAISystem

CLIENTS_DIR = os.path.join(mm.SOURCE_DIR, "tests", "clients")
SUITES = {"openai": "openai.test.mjs", "vercel": "vercel.test.mjs", "langchain": "langchain.test.mjs"}
PACKAGES = ["openai", "ai", "@ai-sdk/openai", "@langchain/openai", "@langchain/core"]


@pytest.fixture
def system():
    s = OpenAISystem(total_tokens=10 ** 9)  # a budget: streamed chat gets its usage asked for
    yield s
    s.stop()


def run_node(system, test_file):
    node = shutil.which("node")
    assert node, "node is not installed (scripts/install-deps.sh installs it)"
    for p in PACKAGES:
        assert os.path.isdir(os.path.join(CLIENTS_DIR, "node_modules", p)), \
            "tests/clients/node_modules/%s missing: run scripts/install-node-deps.sh" % p
    env = dict(os.environ)
    env.update({"MM_BASE_URL": system.base_url, "MM_API_KEY": system.key, "MM_MOCK_NAME": "m1"})
    for k in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "LANGCHAIN_TRACING_V2", "LANGSMITH_TRACING"):
        env.pop(k, None)
    try:
        run = subprocess.run([node, "--test", "--test-reporter=tap", test_file], cwd=CLIENTS_DIR,
                             env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, timeout=min(120 * mm.SLOW, 480))
    except subprocess.TimeoutExpired as e:
        pytest.fail("%s did not finish in time:\n%s" % (test_file, (e.stdout or b"").decode()[-8000:]))
    out = run.stdout.decode("utf-8", "replace")
    summary = dict(re.findall(r"^# (tests|pass|fail|cancelled) (\d+)$", out, re.M))
    assert run.returncode == 0 and summary.get("fail") == "0" and summary.get("cancelled") == "0", \
        "%s failed (rc %d):\n%s\n--- data plane stderr ---\n%s" % (
            test_file, run.returncode, out[-12000:], system.dp.stderr()[-3000:])
    return int(summary.get("pass", "0"))


@pytest.mark.parametrize("client", sorted(SUITES))
def test_client(system, client):
    passed = run_node(system, SUITES[client])
    assert passed >= 6, "too few %s tests ran" % client
    seen = system.mock_requests()
    paths = {r["path"] for r in seen}
    # every call reached the mock through the gateway, with the vendor's key
    assert all(r["headers"].get("authorization") == "Bearer " + du.UPSTREAM_SECRET for r in seen)
    assert {"/v1/chat/completions", "/v1/embeddings", "/v1/responses"} <= paths
    # the gateway never adds stream_options to a /responses request
    for r in seen:
        if r["path"] == "/v1/responses":
            assert "stream_options" not in (r["json"] or {}), r["json"]

    # every answer reported usage the gateway read (chat, /responses JSON
    # and streams, embeddings...)
    assert system.tokens("prompt") > 0 and system.tokens("completion") > 0
