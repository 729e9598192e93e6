// The official OpenAI SDK through `ebb router` to two `ebb engine`s:
// completions and chat, streaming and not, and a request made while no
// backend is up that is held and then served. Run by meson with EBB set.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import OpenAI from 'openai';

const MODEL = 'meta-llama/Llama-3.1-8B-Instruct';
const procs = [];
let client, routerPort, latePort;

function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

function start(args) {
  const p = spawn(process.env.EBB, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  procs.push(p);
  return p;
}

async function waitHealthy(url, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try { if ((await fetch(url)).status === 200) return; } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`not healthy: ${url}`);
}

before(async () => {
  const e1 = await freePort(), e2 = await freePort();
  latePort = await freePort();
  routerPort = await freePort();
  start(['engine', '--port', String(e1), '--time-scale', '20']);
  start(['engine', '--port', String(e2), '--time-scale', '20']);
  await waitHealthy(`http://127.0.0.1:${e1}/health`, 20000);
  await waitHealthy(`http://127.0.0.1:${e2}/health`, 20000);
  start(['router', '--port', String(routerPort), '--health-check-interval', '0.1',
    '--static-backends', `http://127.0.0.1:${e1},http://127.0.0.1:${e2}`,
    '--static-models', `${MODEL},${MODEL}`]);
  await waitHealthy(`http://127.0.0.1:${routerPort}/health`, 20000);
  client = new OpenAI({ baseURL: `http://127.0.0.1:${routerPort}/v1`, apiKey: 'EMPTY', maxRetries: 0 });
});

after(async () => {
  const codes = await Promise.all(procs.map((p) => new Promise((r) => {
    if (p.exitCode !== null) return r(p.exitCode);
    p.on('exit', (code) => r(code));
    p.kill('SIGTERM');
  })));
  assert.deepEqual(codes, codes.map(() => 0), 'every process exits 0 on SIGTERM');
});

test('completions through the router, streaming and not', async () => {
  const r = await client.completions.create({ model: MODEL, prompt: 'Once upon a time,', max_tokens: 10 });
  assert.equal(r.usage.completion_tokens, 10);
  const s = await client.completions.create({ model: MODEL, prompt: 'Once upon a time,', max_tokens: 10,
    stream: true });
  let n = 0;
  for await (const chunk of s) n += chunk.choices.length;
  assert.equal(n, 10);
});

test('chat through the router, streaming and not', async () => {
  const r = await client.chat.completions.create({ model: MODEL,
    messages: [{ role: 'user', content: 'Hello' }], max_tokens: 5 });
  assert.equal(r.choices[0].message.role, 'assistant');
  const s = await client.chat.completions.create({ model: MODEL,
    messages: [{ role: 'user', content: 'Hello' }], max_tokens: 5, stream: true });
  let content = '';
  for await (const chunk of s) content += chunk.choices[0]?.delta?.content ?? '';
  assert.equal(content.trim().split(/\s+/).length, 5);
});

test('an unknown model is a NotFoundError with production-stack\'s message', async () => {
  await assert.rejects(client.completions.create({ model: 'nope', prompt: 'x', max_tokens: 1 }),
    (e) => e instanceof OpenAI.NotFoundError && /not found/.test(e.message));
});

test('held while no backend is up, then served: the SDK sees no error', async () => {
  const late = spawn(process.env.EBB, ['router', '--port', String(await freePort()), '--health-check-interval', '0.1',
    '--static-backends', `http://127.0.0.1:${latePort}`, '--static-models', MODEL], { stdio: 'inherit' });
  procs.push(late);
  const port = late.spawnargs[late.spawnargs.indexOf('--port') + 1];
  await waitHealthy(`http://127.0.0.1:${port}/health`, 20000);
  const c = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: 'EMPTY', maxRetries: 0 });
  const pending = c.completions.create({ model: MODEL, prompt: 'x', max_tokens: 3 });
  await new Promise((r) => setTimeout(r, 500));
  start(['engine', '--port', String(latePort), '--time-scale', '20']);
  const r = await pending;
  assert.equal(r.usage.completion_tokens, 3);
});
