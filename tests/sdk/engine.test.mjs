// The official OpenAI SDK (npm "openai") against `ebb engine`: completions
// and chat, streaming and not. Run by meson with EBB set to the binary.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import OpenAI from 'openai';

const MODEL = 'meta-llama/Llama-3.1-8B-Instruct';
let engine, client, port;

function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

async function waitHealthy(url, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try { if ((await fetch(url)).status === 200) return; } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`engine not healthy at ${url}`);
}

before(async () => {
  port = await freePort();
  engine = spawn(process.env.EBB, ['engine', '--port', String(port), '--time-scale', '20',
    '--api-key', 'sk-test'], { stdio: ['ignore', 'inherit', 'inherit'] });
  await waitHealthy(`http://127.0.0.1:${port}/health`, 20000);
  client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: 'sk-test', maxRetries: 0 });
});

after(async () => {
  const exited = new Promise((r) => engine.on('exit', (code) => r(code)));
  engine.kill('SIGTERM');
  assert.equal(await exited, 0, 'engine exits 0 on SIGTERM');
});

test('models.list returns the served model', async () => {
  const page = await client.models.list();
  assert.deepEqual(page.data.map((m) => m.id), [MODEL]);
});

test('completions.create, non-streaming', async () => {
  const r = await client.completions.create({ model: MODEL, prompt: 'Once upon a time,', max_tokens: 10 });
  assert.equal(r.object, 'text_completion');
  assert.equal(r.choices[0].finish_reason, 'length');
  assert.equal(r.usage.completion_tokens, 10);
  assert.equal(r.usage.prompt_tokens, 6);
  assert.equal(r.usage.total_tokens, 16);
});

test('completions.create, streaming with usage', async () => {
  const s = await client.completions.create({ model: MODEL, prompt: 'Once upon a time,', max_tokens: 12,
    stream: true, stream_options: { include_usage: true } });
  let text = '', usage = null, finish = null;
  for await (const chunk of s) {
    if (chunk.choices.length) { text += chunk.choices[0].text; finish = chunk.choices[0].finish_reason ?? finish; }
    if (chunk.usage) usage = chunk.usage;
  }
  assert.equal(text.trim().split(/\s+/).length, 12);
  assert.equal(finish, 'length');
  assert.equal(usage.completion_tokens, 12);
});

test('chat.completions.create, non-streaming', async () => {
  const r = await client.chat.completions.create({ model: MODEL,
    messages: [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: 'Hello' }], max_tokens: 8 });
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.choices[0].message.role, 'assistant');
  assert.equal(r.choices[0].message.content.trim().split(/\s+/).length, 8);
  assert.equal(r.usage.completion_tokens, 8);
});

test('chat.completions.create, streaming', async () => {
  const s = await client.chat.completions.create({ model: MODEL,
    messages: [{ role: 'user', content: 'Hello' }], max_tokens: 6, stream: true,
    stream_options: { include_usage: true } });
  let role = null, content = '', usage = null;
  for await (const chunk of s) {
    const d = chunk.choices[0]?.delta;
    if (d?.role) role = d.role;
    if (d?.content) content += d.content;
    if (chunk.usage) usage = chunk.usage;
  }
  assert.equal(role, 'assistant');
  assert.equal(content.trim().split(/\s+/).length, 6);
  assert.equal(usage.completion_tokens, 6);
});

test('an unknown model is a NotFoundError (404)', async () => {
  await assert.rejects(client.completions.create({ model: 'nope', prompt: 'x', max_tokens: 1 }),
    (e) => e instanceof OpenAI.NotFoundError && e.status === 404 && /does not exist/.test(e.message));
});

test('a context overflow is a BadRequestError (400)', async () => {
  await assert.rejects(client.completions.create({ model: MODEL, prompt: 'x', max_tokens: 200000 }),
    (e) => e instanceof OpenAI.BadRequestError && e.status === 400 && /maximum context length/.test(e.message));
});

test('a wrong API key is an AuthenticationError (401)', async () => {
  const bad = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: 'wrong', maxRetries: 0 });
  await assert.rejects(bad.models.list(), (e) => e instanceof OpenAI.AuthenticationError && e.status === 401);
});
