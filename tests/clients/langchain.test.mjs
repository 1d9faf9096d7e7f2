// LangChain.js ("@langchain/openai") through modelmux: ChatOpenAI on chat
// completions and on the Responses API (useResponsesApi), invoke and stream;
// OpenAIEmbeddings, which lets the OpenAI SDK ask for base64 vectors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChatOpenAI, OpenAIEmbeddings } from '@langchain/openai';
import {
  apiKey, baseURL, CHAT_MODEL, checkVectors, COMPLETION_TOKENS, EMBED_MODEL, INPUTS,
  PROMPT_TOKENS, replyText,
} from './common.mjs';

const configuration = { baseURL };

for (const useResponsesApi of [false, true]) {
  const api = useResponsesApi ? 'Responses API' : 'chat completions';
  const chat = new ChatOpenAI({ model: CHAT_MODEL, apiKey, configuration, maxRetries: 0, useResponsesApi });

  test(`langchain: invoke on ${api}`, async () => {
    const m = await chat.invoke('hi');
    assert.equal(m.text, replyText());
    assert.equal(m.usage_metadata.input_tokens, PROMPT_TOKENS);
    assert.equal(m.usage_metadata.output_tokens, COMPLETION_TOKENS);
  });

  test(`langchain: stream on ${api}`, async () => {
    let text = '';
    let pieces = 0;
    let usage = null;
    for await (const chunk of await chat.stream('hi')) {
      text += chunk.text;
      if (chunk.text) pieces++;
      if (chunk.usage_metadata) usage = chunk.usage_metadata;
    }
    assert.equal(text, replyText());
    assert.ok(pieces >= 2, 'the text arrived in pieces');
    assert.equal(usage?.total_tokens, PROMPT_TOKENS + COMPLETION_TOKENS);
  });
}

test('langchain: embedDocuments and embedQuery', async () => {
  const emb = new OpenAIEmbeddings({ model: EMBED_MODEL, apiKey, configuration, maxRetries: 0 });
  checkVectors(await emb.embedDocuments(INPUTS), INPUTS.length);
  checkVectors([await emb.embedQuery('one')], 1);
});

test('langchain: embeddings with dimensions', async () => {
  const emb = new OpenAIEmbeddings({ model: EMBED_MODEL, apiKey, configuration, maxRetries: 0, dimensions: 4 });
  checkVectors(await emb.embedDocuments(INPUTS), INPUTS.length, 4);
});
