// The JavaScript client against a live phoenix serve: PHOENIX_BASE_URL, PHOENIX_SERVICE_TOKEN and
// JWT_SECRET_KEY (to sign users' tokens), as scripts/check-clients.sh sets them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomUUID } from 'node:crypto';
import { PhoenixJobs, PhoenixJobsError } from '../phoenix-jobs.js';

const baseUrl = process.env.PHOENIX_BASE_URL;
const serviceToken = process.env.PHOENIX_SERVICE_TOKEN;
const service = new PhoenixJobs({ baseUrl, token: serviceToken });

function userToken(userId) {
  const encode = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const unsigned = `${encode({ alg: 'HS256', typ: 'JWT' })}.${encode({ role: 'authenticated', sub: userId, aud: 'authenticated', exp: Math.floor(Date.now() / 1000) + 600 })}`;
  return `${unsigned}.${createHmac('sha256', process.env.JWT_SECRET_KEY).update(unsigned).digest('base64url')}`;
}

async function diagnostics(action) {
  const response = await fetch(`${baseUrl}/v1/queues/diagnostics/${action}`, { method: 'POST', headers: { Authorization: `Bearer ${serviceToken}` } });
  assert.equal(response.status, 200);
}

test('a submitted job is waited for until it completes', async () => {
  const job = await service.submit('diagnostic.noop');
  assert.equal(job.created, true);
  const done = await service.wait(job.id, { timeout: 60 });
  assert.equal(done.state, 'completed');
  assert.equal((await service.get(job.id)).id, job.id);
});

test('a batch with idempotency keys adds each job once', async () => {
  const batch = [1, 2, 3].map(() => ({ type: 'diagnostic.noop', idempotencyKey: `js-${randomUUID()}` }));
  const first = await service.submitBatch(batch);
  const again = await service.submitBatch(batch);
  assert.deepEqual(first.map((job) => job.created), [true, true, true]);
  assert.deepEqual(again.map((job) => job.created), [false, false, false]);
  assert.deepEqual(again.map((job) => job.id), first.map((job) => job.id));
});

test("a job's events follow it to its end and resume after an event", async () => {
  await diagnostics('pause');
  try {
    const job = await service.submit({ type: 'diagnostic.noop' });
    const events = service.events(job.id);
    const status = (await events.next()).value;
    assert.equal(status.kind, 'status');
    assert.equal(status.data.state, 'ready');
    await diagnostics('resume');
    const kinds = [];
    for await (const event of events) kinds.push(event.kind);
    assert.deepEqual(kinds, ['started', 'completed']);
    const resumed = [];
    for await (const event of service.events(job.id, { lastEventId: status.id })) resumed.push(event.kind);
    assert.deepEqual(resumed, ['started', 'completed']);
  } finally {
    await diagnostics('resume');
  }
});

test("errors carry the status and the API's code, and another caller's job is no job", async () => {
  await assert.rejects(service.submit('no.such_type'), (error) => error instanceof PhoenixJobsError && error.status === 422 && error.code === 'invalid_job');
  const job = await service.submit('diagnostic.noop', {}, { delaySeconds: 600 });
  const stranger = new PhoenixJobs({ baseUrl, token: userToken(randomUUID()) });
  await assert.rejects(stranger.get(job.id), (error) => error.status === 404 && error.code === 'not_found');
  await assert.rejects(service.wait(job.id, { timeout: 1 }), (error) => error.name === 'TimeoutError');
  assert.equal((await service.cancel(job.id)).state, 'cancelled');
});

test('an EventSource URL carries a stream token that opens the stream without a header', async () => {
  const job = await service.submit('diagnostic.noop');
  await service.wait(job.id, { timeout: 60 });
  const url = await service.eventSourceUrl(job.id);
  assert.match(url, /access_token=service_role\./);
  const response = await fetch(url);
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('content-type'), 'text/event-stream');
  assert.match(await response.text(), /event: status\n/);
});
