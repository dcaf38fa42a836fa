-- A job cancelled while it ran (DELETE /v1/jobs/{id} on a running job) keeps a run row saying so: its status
-- may now be 'cancelled' besides 'completed' and 'failed'.
ALTER TABLE public.phoenix_job_runs DROP CONSTRAINT IF EXISTS phoenix_job_runs_status_check;
ALTER TABLE public.phoenix_job_runs
  ADD CONSTRAINT phoenix_job_runs_status_check CHECK (status IN ('completed', 'failed', 'cancelled'));
