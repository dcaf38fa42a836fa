-- The right to be forgotten, lasting: an erased user is remembered only as a SHA-256 of their id (which
-- names nobody to whoever does not already hold the id), so that an event or job arriving after the erase
-- writes nothing that names them again. Services only.
CREATE TABLE IF NOT EXISTS public.phoenix_erased_users (
  user_hash bytea PRIMARY KEY,
  erased_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE public.phoenix_erased_users ENABLE ROW LEVEL SECURITY;
GRANT ALL ON public.phoenix_erased_users TO service_role;

-- The tombstone key of a user id (lowercase text form, as uuid::text writes it).
CREATE OR REPLACE FUNCTION public.phoenix_user_hash(p_user_id uuid) RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT SET search_path = public AS $$
  SELECT sha256(convert_to(p_user_id::text, 'UTF8'))
$$;

CREATE OR REPLACE FUNCTION public.phoenix_is_erased(p_user_id uuid) RETURNS boolean
LANGUAGE sql STABLE SET search_path = public AS $$
  SELECT p_user_id IS NOT NULL
     AND EXISTS (SELECT 1 FROM public.phoenix_erased_users WHERE user_hash = public.phoenix_user_hash(p_user_id))
$$;

-- An event in an erased user's stream is dropped, whoever writes it (the event bridge, create_phoenix_event,
-- an app through Supabase).
CREATE OR REPLACE FUNCTION public.phoenix_drop_events_of_erased_users() RETURNS trigger
LANGUAGE plpgsql SET search_path = public AS $$
BEGIN
  IF public.phoenix_is_erased(NEW.stream_id) THEN
    RETURN NULL;
  END IF;
  RETURN NEW;
END
$$;
DROP TRIGGER IF EXISTS phoenix_events_not_for_erased_users ON public.phoenix_events;
CREATE TRIGGER phoenix_events_not_for_erased_users BEFORE INSERT ON public.phoenix_events
  FOR EACH ROW EXECUTE FUNCTION public.phoenix_drop_events_of_erased_users();

-- A job run about an erased user (a late job of theirs failing, say) keeps no user id, result or error.
CREATE OR REPLACE FUNCTION public.phoenix_forget_erased_users_in_runs() RETURNS trigger
LANGUAGE plpgsql SET search_path = public AS $$
BEGIN
  IF public.phoenix_is_erased(NEW.user_id) THEN
    NEW.user_id := NULL;
    NEW.result := NULL;
    NEW.error := NULL;
  END IF;
  RETURN NEW;
END
$$;
DROP TRIGGER IF EXISTS phoenix_job_runs_not_for_erased_users ON public.phoenix_job_runs;
CREATE TRIGGER phoenix_job_runs_not_for_erased_users BEFORE INSERT OR UPDATE ON public.phoenix_job_runs
  FOR EACH ROW WHEN (NEW.user_id IS NOT NULL) EXECUTE FUNCTION public.phoenix_forget_erased_users_in_runs();

-- The daily retention pass (`maintenance.cleanup`): expired documents and old activity
-- (cleanup_expired_data), events older than a year (cleanup_old_phoenix_events), expired exports, and job
-- runs finished more than p_job_runs_retention_days ago. Returns what each step deleted.
CREATE OR REPLACE FUNCTION public.phoenix_cleanup(p_job_runs_retention_days int) RETURNS jsonb
LANGUAGE plpgsql SET search_path = public AS $$
DECLARE
  documents int;
  events int;
  exports int;
  runs int;
BEGIN
  IF p_job_runs_retention_days IS NULL OR p_job_runs_retention_days < 1 THEN
    RAISE EXCEPTION 'job runs retention must be at least 1 day, got %', p_job_runs_retention_days USING ERRCODE = '22023';
  END IF;
  documents := public.cleanup_expired_data();
  events := public.cleanup_old_phoenix_events();
  DELETE FROM public.phoenix_user_exports WHERE expires_at <= now();
  GET DIAGNOSTICS exports = ROW_COUNT;
  DELETE FROM public.phoenix_job_runs WHERE coalesce(finished_at, started_at) < now() - make_interval(days => p_job_runs_retention_days);
  GET DIAGNOSTICS runs = ROW_COUNT;
  RETURN jsonb_build_object('expired_documents_and_activity', documents, 'old_events', events, 'expired_exports', exports, 'old_job_runs', runs);
END
$$;
