// The official OpenAI SDK (npm "openai") through modelmux: chat, streaming,
// legacy completions, the Responses API, embeddings in both encodings,
// images and audio.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI, { toFile } from 'openai';
import {
  apiKey, baseURL, CHAT_MODEL, checkVectors, COMPLETION_TOKENS, EMBED_MODEL, INPUTS,
  PROMPT_TOKENS, replyText,
} from './common.mjs';

const client = new OpenAI({ apiKey, baseURL, maxRetries: 0, timeout: 30000 });

test('openai: chat completion', async () => {
  const c = await client.chat.completions.create({
    model: CHAT_MODEL, messages: [{ role: 'user', content: 'hi' }],
  });
  assert.equal(c.choices[0].message.content, replyText());
  assert.equal(c.model, CHAT_MODEL);
  assert.deepEqual(c.usage, {
    prompt_tokens: PROMPT_TOKENS, completion_tokens: COMPLETION_TOKENS,
    total_tokens: PROMPT_TOKENS + COMPLETION_TOKENS,
  });
});

test('openai: chat completion, raw response carries the gateway headers', async () => {
  const { response } = await client.chat.completions
    .create({ model: CHAT_MODEL, messages: [{ role: 'user', content: 'hi' }] })
    .withResponse();
  assert.equal(response.headers.get('x-modelmux-model'), CHAT_MODEL);
  assert.ok(response.headers.get('x-request-id'));
});

test('openai: chat streaming, with and without usage', async () => {
  for (const include of [false, true]) {
    const stream = await client.chat.completions.create({
      model: CHAT_MODEL, messages: [{ role: 'user', content: 'hi' }], stream: true,
      ...(include ? { stream_options: { include_usage: true } } : {}),
    });
    let text = '';
    let usage = null;
    let chunks = 0;
    for await (const chunk of stream) {
      chunks++;
      text += chunk.choices[0]?.delta?.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    assert.equal(text, replyText());
    assert.ok(chunks >= 5);
    if (include) assert.equal(usage.total_tokens, PROMPT_TOKENS + COMPLETION_TOKENS);
    else assert.equal(usage, null, 'no usage chunk the caller did not ask for');
  }
});

test('openai: models.list, answered by the gateway from its config', async () => {
  const ids = [];
  for await (const m of client.models.list()) {
    assert.equal(m.object, 'model');
    assert.equal(m.owned_by, 'OpenAI');
    ids.push(m.id);
  }
  assert.deepEqual(ids, [CHAT_MODEL, 'gpt-4o-mini']); // the failover policy's models
});

test('openai: legacy completions', async () => {
  const c = await client.completions.create({ model: 'gpt-3.5-turbo-instruct', prompt: 'x' });
  assert.equal(c.choices[0].text, replyText('gpt-3.5-turbo-instruct'));
});

test('openai: Responses API', async () => {
  const r = await client.responses.create({ model: CHAT_MODEL, input: 'hi' });
  assert.equal(r.output_text, replyText());
  assert.equal(r.status, 'completed');
  assert.equal(r.usage.input_tokens, PROMPT_TOKENS);
  assert.equal(r.usage.output_tokens, COMPLETION_TOKENS);
});

test('openai: Responses API streaming', async () => {
  const stream = await client.responses.create({ model: CHAT_MODEL, input: 'hi', stream: true });
  const types = [];
  let text = '';
  let completed = null;
  for await (const ev of stream) {
    types.push(ev.type);
    if (ev.type === 'response.output_text.delta') text += ev.delta;
    if (ev.type === 'response.completed') completed = ev.response;
  }
  assert.equal(types[0], 'response.created');
  assert.equal(types.at(-1), 'response.completed');
  assert.equal(text, replyText());
  assert.equal(completed.output_text ?? completed.output[0].content[0].text, replyText());
  assert.equal(completed.usage.total_tokens, PROMPT_TOKENS + COMPLETION_TOKENS);
});

test('openai: Responses API stream helper', async () => {
  const stream = client.responses.stream({ model: CHAT_MODEL, input: 'hi' });
  let text = '';
  stream.on('response.output_text.delta', (ev) => { text += ev.delta; });
  const final = await stream.finalResponse();
  assert.equal(text, replyText());
  assert.equal(final.output_text, replyText());
});

test('openai: embeddings, several inputs, base64 (the SDK default)', async () => {
  const e = await client.embeddings.create({ model: EMBED_MODEL, input: INPUTS });
  checkVectors(e.data.map((d) => d.embedding), INPUTS.length);
  assert.deepEqual(e.data.map((d) => d.index), [0, 1, 2]);
  assert.equal(e.usage.prompt_tokens, PROMPT_TOKENS);
});

test('openai: embeddings, float encoding and dimensions', async () => {
  const e = await client.embeddings.create({
    model: EMBED_MODEL, input: INPUTS, encoding_format: 'float', dimensions: 5,
  });
  checkVectors(e.data.map((d) => d.embedding), INPUTS.length, 5);
  const one = await client.embeddings.create({ model: EMBED_MODEL, input: 'one' });
  checkVectors(one.data.map((d) => d.embedding), 1);
});

test('openai: images', async () => {
  const img = await client.images.generate({ model: 'gpt-image-1', prompt: 'a cat', n: 2 });
  assert.equal(img.data.length, 2);
  assert.ok(Buffer.from(img.data[0].b64_json, 'base64').subarray(1, 4).toString() === 'PNG');
});

test('openai: audio transcription (multipart)', async () => {
  const file = await toFile(Buffer.from('RIFF....WAVEfmt '), 'a.wav', { type: 'audio/wav' });
  const t = await client.audio.transcriptions.create({ model: 'gpt-4o-transcribe', file });
  assert.equal(t.text, `mock transcription from ${process.env.MM_MOCK_NAME} for gpt-4o-transcribe`);
});
