// What every client test needs: where the gateway is, the key to call it
// with, and what the mock upstream (tests/mockllm) answers, so that each
// test can check the values a client handed back, not only their shape.
//
// Set by tests/e2e/test_clients.py:
//   MM_BASE_URL   the gateway's base URL of the API, e.g. http://127.0.0.1:PORT/openai/v1
//   MM_API_KEY    an application's API key
//   MM_MOCK_NAME  the mock's --name (its replies say "mock reply from <name> for <model>")
import assert from 'node:assert/strict';

export const baseURL = process.env.MM_BASE_URL;
export const apiKey = process.env.MM_API_KEY;
export const mockName = process.env.MM_MOCK_NAME;
if (!baseURL || !apiKey || !mockName) {
  throw new Error('MM_BASE_URL, MM_API_KEY and MM_MOCK_NAME must be set (tests/e2e/test_clients.py sets them)');
}

export const CHAT_MODEL = 'gpt-4o';
export const EMBED_MODEL = 'text-embedding-3-small';
export const EMBED_DIMS = 8; // the mock's default vector length
// The mock's usage unless told otherwise.
export const PROMPT_TOKENS = 10;
export const COMPLETION_TOKENS = 20;

export function replyText(model = CHAT_MODEL) {
  return `mock reply from ${mockName} for ${model}`;
}

// Component j of the mock's vector for input i (tests/mockllm/README.md).
export function embedValue(i, j) {
  const v = (i + 1) / 8 + j / 1024;
  return j % 2 ? -v : v;
}

// Checks a list of vectors: one per input, in order, each of dims values,
// each value exactly the mock's (they are exact in float32 and float64).
export function checkVectors(vectors, n, dims = EMBED_DIMS) {
  assert.equal(vectors.length, n, 'one vector per input');
  vectors.forEach((v, i) => {
    assert.equal(v.length, dims, `vector ${i} has ${dims} values`);
    assert.deepEqual(Array.from(v), Array.from({ length: dims }, (_, j) => embedValue(i, j)),
      `vector ${i} holds the mock's values`);
  });
}

export const INPUTS = ['The gateway spreads requests.', 'Over several models.', 'And endpoints.'];
