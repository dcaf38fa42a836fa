// Client of the Phoenix Jobs HTTP API, for Node 20 and browsers: ES module, no dependencies, fetch only.

/** States after which a job changes no more (only an operator's retry brings a dead job back). */
export const FINAL_STATES = Object.freeze(['completed', 'dead', 'cancelled']);
/** Longest wait the API takes in one long poll (`GET /v1/jobs/{id}?wait=`), in seconds. */
const MAX_POLL_WAIT = 60;
/** How often a dropped event stream is opened again (from its last event) before the error is thrown. */
const STREAM_RETRIES = 5;

/**
 * An answer other than success: its HTTP status, the API's error code and message, and, for 429 and 503,
 * how many seconds the API asked to wait.
 */
export class PhoenixJobsError extends Error {
  /**
   * @param {number} status
   * @param {string} code
   * @param {string} message
   * @param {number | null} retryAfter
   */
  constructor(status, code, message, retryAfter = null) {
    super(`${status} ${code}: ${message}`);
    this.name = 'PhoenixJobsError';
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

/** @param {Response} response */
async function errorFrom(response) {
  const text = await response.text();
  let code = `http_${response.status}`;
  let message = text.slice(0, 500);
  try {
    ({ code, message } = JSON.parse(text).error);
  } catch {
    // Not the API's JSON error: the status and the text say what there is.
  }
  const retryAfter = response.headers.get('retry-after');
  return new PhoenixJobsError(response.status, code, message, retryAfter && /^\d+$/.test(retryAfter) ? Number(retryAfter) : null);
}

/**
 * A submission's body from a job request.
 * @param {import('./phoenix-jobs').JobRequest} job
 */
function submission(job) {
  const body = { type: job.type, payload: job.payload ?? {} };
  if (job.queue != null) body.queue = job.queue;
  if (job.delaySeconds != null) body.delaySeconds = job.delaySeconds;
  if (job.priority) body.priority = job.priority;
  if (job.idempotencyKey != null) body.idempotencyKey = job.idempotencyKey;
  if (job.correlationId != null) body.correlationId = job.correlationId;
  return body;
}

/**
 * Reads `text/event-stream` bytes: yields each event (`{kind, data, id}`) as its blank line arrives; comment
 * lines (`: keep-alive`) are passed over.
 * @param {ReadableStream<Uint8Array>} body
 * @returns {AsyncGenerator<import('./phoenix-jobs').JobEvent>}
 */
async function* parseEvents(body) {
  const decoder = new TextDecoder();
  const reader = body.getReader();
  let pending = '';
  let kind = 'message';
  let data = [];
  let id = null;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      pending += decoder.decode(value, { stream: true });
      let end;
      while ((end = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, end).replace(/\r$/, '');
        pending = pending.slice(end + 1);
        if (line === '') {
          if (data.length) yield { kind, data: JSON.parse(data.join('\n')), id };
          kind = 'message';
          data = [];
          id = null;
        } else if (!line.startsWith(':')) {
          const colon = line.indexOf(':');
          const name = colon < 0 ? line : line.slice(0, colon);
          const field = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (name === 'event') kind = field;
          else if (name === 'data') data.push(field);
          else if (name === 'id') id = field;
        }
      }
    }
  } finally {
    reader.releaseLock();
    await body.cancel().catch(() => {});
  }
}

/** Whether a job's stream ends with `event`: its last change, or a status of a job that had ended. */
function endsJob(event) {
  return event.kind === 'status' ? FINAL_STATES.includes(event.data.state) : FINAL_STATES.includes(event.kind);
}

/**
 * The Phoenix Jobs API. `token` is a Supabase JWT: a user's (their own jobs of the types users submit) or a
 * service_role key.
 */
export class PhoenixJobs {
  /**
   * @param {{baseUrl: string, token: string, fetch?: typeof fetch}} options
   */
  constructor({ baseUrl, token, fetch: fetchFunction = globalThis.fetch }) {
    if (!baseUrl || !token) throw new TypeError('PhoenixJobs needs a baseUrl and a token');
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.token = token;
    this.fetch = fetchFunction;
  }

  /** @param {string} method @param {string} path @param {unknown} [body] @param {AbortSignal} [signal] */
  async request(method, path, body, signal) {
    const headers = { Authorization: `Bearer ${this.token}`, Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const response = await this.fetch(this.baseUrl + path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal,
    });
    if (!response.ok) throw await errorFrom(response);
    return response.json();
  }

  /**
   * Submits one job: `submit('letter.generate', {...}, {idempotencyKey: 'k'})` or `submit({type, payload, ...})`.
   * @returns {Promise<{id: string, created: boolean}>}
   */
  async submit(type, payload = {}, options = {}) {
    const job = typeof type === 'string' ? { ...options, type, payload } : type;
    const { id, created } = await this.request('POST', '/v1/jobs', submission(job));
    return { id, created };
  }

  /** Submits 1 to 1000 jobs at once: every one is checked first, and all are enqueued or none. */
  async submitBatch(jobs) {
    const answer = await this.request('POST', '/v1/jobs/batch', { jobs: jobs.map(submission) });
    return answer.jobs.map(({ id, created }) => ({ id, created }));
  }

  /** The job's state, attempts, last error, progress and result. */
  async get(id) {
    return this.request('GET', `/v1/jobs/${encodeURIComponent(id)}`);
  }

  /**
   * The job once it ended (completed, dead or cancelled), by long polling; rejects with a TimeoutError-named
   * Error when it has not ended within `timeout` seconds.
   */
  async wait(id, { timeout = null, signal } = {}) {
    const deadline = timeout == null ? null : Date.now() + timeout * 1000;
    for (;;) {
      const wait = deadline == null ? MAX_POLL_WAIT : Math.max(0, Math.min(MAX_POLL_WAIT, Math.floor((deadline - Date.now()) / 1000)));
      const job = await this.request('GET', `/v1/jobs/${encodeURIComponent(id)}?wait=${wait}`, undefined, signal);
      if (FINAL_STATES.includes(job.state)) return job;
      if (deadline != null && Date.now() >= deadline) {
        const error = new Error(`job ${id} is still ${job.state} after ${timeout} s`);
        error.name = 'TimeoutError';
        throw error;
      }
    }
  }

  /** Cancels a waiting job, or asks a running one's worker to cancel it (`cancelling` is then true). */
  async cancel(id) {
    return this.request('DELETE', `/v1/jobs/${encodeURIComponent(id)}`);
  }

  /** A token valid 10 minutes that opens this caller's event streams as `?access_token=`. */
  async streamToken() {
    return (await this.request('POST', '/v1/events/token')).token;
  }

  /**
   * A URL of the job's event stream for a browser's `EventSource` (which cannot send the token as a header):
   * it carries a stream token, to be opened within 10 minutes.
   */
  async eventSourceUrl(id) {
    return `${this.baseUrl}/v1/jobs/${encodeURIComponent(id)}/events?access_token=${encodeURIComponent(await this.streamToken())}`;
  }

  /**
   * The job's events as they happen: first a `status` event (unless resuming after `lastEventId`), then each
   * change, ending after the job's last. A dropped connection is opened again from the last event received.
   */
  events(id, { lastEventId = null, signal } = {}) {
    return this.follow(`/v1/jobs/${encodeURIComponent(id)}/events`, lastEventId, signal, true);
  }

  /** Every job's events of the caller (a user), or of `queue` (a service); it does not end on its own. */
  stream({ queue = null, lastEventId = null, signal } = {}) {
    return this.follow(`/v1/events/stream${queue ? `?queue=${encodeURIComponent(queue)}` : ''}`, lastEventId, signal, false);
  }

  async* follow(path, lastEventId, signal, oneJob) {
    let failures = 0;
    for (;;) {
      const headers = { Authorization: `Bearer ${this.token}`, Accept: 'text/event-stream' };
      if (lastEventId) headers['Last-Event-ID'] = lastEventId;
      let response;
      try {
        response = await this.fetch(this.baseUrl + path, { headers, signal });
      } catch (error) {
        if (signal?.aborted || ++failures > STREAM_RETRIES) throw error;
        await new Promise((resolve) => setTimeout(resolve, Math.min(2 ** failures * 100, 5000)));
        continue;
      }
      if (!response.ok) throw await errorFrom(response);
      // The job had ended and nothing was left to send.
      if (response.status === 204) return;
      try {
        for await (const event of parseEvents(response.body)) {
          failures = 0;
          lastEventId = event.id ?? lastEventId;
          yield event;
          if (oneJob && endsJob(event)) return;
        }
      } catch (error) {
        if (signal?.aborted || ++failures > STREAM_RETRIES) throw error;
        continue;
      }
      if (oneJob) return;
    }
  }
}
