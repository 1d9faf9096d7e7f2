// The Vercel AI SDK ("ai" + "@ai-sdk/openai") through modelmux: its default
// provider openai(model), which calls the Responses API, and openai.chat(model)
// (chat completions), each with generateText and streamText; embedMany.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { embed, embedMany, generateText, streamText } from 'ai';
import { createOpenAI } from '@ai-sdk/openai';
import {
  apiKey, baseURL, CHAT_MODEL, checkVectors, COMPLETION_TOKENS, EMBED_MODEL, INPUTS,
  PROMPT_TOKENS, replyText,
} from './common.mjs';

const openai = createOpenAI({ apiKey, baseURL });
const models = {
  'openai(model) (Responses API)': openai(CHAT_MODEL),
  'openai.chat(model)': openai.chat(CHAT_MODEL),
};

for (const [name, model] of Object.entries(models)) {
  test(`vercel ai: generateText with ${name}`, async () => {
    const r = await generateText({ model, prompt: 'hi', maxRetries: 0 });
    assert.equal(r.text, replyText());
    assert.equal(r.finishReason, 'stop');
    assert.equal(r.usage.inputTokens, PROMPT_TOKENS);
    assert.equal(r.usage.outputTokens, COMPLETION_TOKENS);
    assert.equal(r.response.modelId, CHAT_MODEL);
  });

  test(`vercel ai: streamText with ${name}`, async () => {
    const errors = [];
    const r = streamText({ model, prompt: 'hi', maxRetries: 0, onError: ({ error }) => errors.push(error) });
    let text = '';
    let parts = 0;
    for await (const delta of r.textStream) {
      text += delta;
      parts++;
    }
    assert.deepEqual(errors, []);
    assert.equal(text, replyText());
    assert.ok(parts >= 2, 'the text arrived in pieces');
    const usage = await r.usage;
    assert.equal(usage.inputTokens, PROMPT_TOKENS);
    assert.equal(usage.outputTokens, COMPLETION_TOKENS);
    assert.equal(await r.finishReason, 'stop');
  });
}

test('vercel ai: the default provider calls /responses, openai.chat /chat/completions', async () => {
  const seen = [];
  const spy = createOpenAI({
    apiKey, baseURL,
    fetch: (url, init) => { seen.push(new URL(url).pathname); return fetch(url, init); },
  });
  await generateText({ model: spy(CHAT_MODEL), prompt: 'hi', maxRetries: 0 });
  await generateText({ model: spy.chat(CHAT_MODEL), prompt: 'hi', maxRetries: 0 });
  assert.deepEqual(seen.map((p) => p.replace(/^.*\/v1/, '')), ['/responses', '/chat/completions']);
});

test('vercel ai: embedMany and embed', async () => {
  const model = openai.embedding(EMBED_MODEL);
  const r = await embedMany({ model, values: INPUTS, maxRetries: 0 });
  checkVectors(r.embeddings, INPUTS.length);
  assert.equal(r.usage.tokens, PROMPT_TOKENS);
  const one = await embed({ model, value: 'one', maxRetries: 0 });
  checkVectors([one.embedding], 1);
});
