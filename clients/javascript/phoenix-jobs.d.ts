// Types of phoenix-jobs.js.

/** A job's state. */
export type JobState = 'ready' | 'delayed' | 'leased' | 'completed' | 'dead' | 'cancelled';

export declare const FINAL_STATES: readonly JobState[];

/** One job to submit; `idempotencyKey` makes a repeated submission answer the first job (`created: false`). */
export interface JobRequest {
  type: string;
  payload?: Record<string, unknown>;
  queue?: string;
  delaySeconds?: number;
  priority?: number;
  idempotencyKey?: string;
  correlationId?: string;
}

export interface Submitted {
  id: string;
  created: boolean;
}

/** A job as `GET /v1/jobs/{id}` answers it. */
export interface JobStatus {
  id: string;
  type: string;
  queue: string;
  state: JobState;
  attempt: number;
  max_attempts: number | null;
  last_error: string | null;
  enqueued_at?: string;
  started_at: string | null;
  finished_at: string | null;
  progress: number | null;
  progress_message: string | null;
  cancelling: boolean;
  archived?: boolean;
  result: unknown;
  duration_ms: number | null;
}

/** What a job event's data holds (`status` events carry a JobStatus instead, `ready` events the queues followed). */
export interface JobEventData {
  id: string;
  event: 'queued' | 'started' | 'progress' | 'completed' | 'failed' | 'dead' | 'cancelled';
  queue: string;
  at: string;
  type?: string;
  attempt?: number;
  progress?: number;
  message?: string;
  error?: string;
  run_at?: string;
  result?: unknown;
}

/** One server-sent event; `id` resumes the stream after it. */
export interface JobEvent {
  kind: string;
  data: JobEventData | JobStatus | { queues: string[] };
  id: string | null;
}

export declare class PhoenixJobsError extends Error {
  constructor(status: number, code: string, message: string, retryAfter?: number | null);
  readonly status: number;
  readonly code: string;
  readonly retryAfter: number | null;
}

export declare class PhoenixJobs {
  constructor(options: { baseUrl: string; token: string; fetch?: typeof fetch });
  readonly baseUrl: string;
  submit(type: string, payload?: Record<string, unknown>, options?: Omit<JobRequest, 'type' | 'payload'>): Promise<Submitted>;
  submit(job: JobRequest): Promise<Submitted>;
  submitBatch(jobs: JobRequest[]): Promise<Submitted[]>;
  get(id: string): Promise<JobStatus>;
  wait(id: string, options?: { timeout?: number | null; signal?: AbortSignal }): Promise<JobStatus>;
  cancel(id: string): Promise<{ id: string; state: JobState; cancelling?: boolean }>;
  streamToken(): Promise<string>;
  eventSourceUrl(id: string): Promise<string>;
  events(id: string, options?: { lastEventId?: string | null; signal?: AbortSignal }): AsyncGenerator<JobEvent>;
  stream(options?: { queue?: string | null; lastEventId?: string | null; signal?: AbortSignal }): AsyncGenerator<JobEvent>;
}
