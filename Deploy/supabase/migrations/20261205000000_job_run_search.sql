-- The dashboard finds runs by user, type and state, newest first (DashboardSearch): these indexes keep that a
-- range read on a large table, and the erasure of a user's runs with it.
CREATE INDEX IF NOT EXISTS idx_phoenix_job_runs_started_at ON public.phoenix_job_runs (started_at DESC);
CREATE INDEX IF NOT EXISTS idx_phoenix_job_runs_user_started ON public.phoenix_job_runs (user_id, started_at DESC) WHERE user_id IS NOT NULL;
