-- The platform's own table: one row per job whose results committed (effectively-once results), and the
-- last failed attempt of jobs that have not succeeded yet. Only services read it.
CREATE TABLE IF NOT EXISTS public.phoenix_job_runs (
  job_id uuid PRIMARY KEY,
  type varchar(100) NOT NULL,
  queue varchar(64) NOT NULL,
  status varchar(20) NOT NULL CHECK (status IN ('completed', 'failed')),
  attempt int NOT NULL CHECK (attempt >= 1),
  worker varchar(255),
  user_id uuid,
  started_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  duration_ms int,
  error text,
  result jsonb
);
CREATE INDEX IF NOT EXISTS idx_phoenix_job_runs_type_status ON public.phoenix_job_runs (type, status);
CREATE INDEX IF NOT EXISTS idx_phoenix_job_runs_finished_at ON public.phoenix_job_runs (finished_at);

ALTER TABLE public.phoenix_job_runs ENABLE ROW LEVEL SECURITY;
GRANT ALL ON public.phoenix_job_runs TO service_role;
