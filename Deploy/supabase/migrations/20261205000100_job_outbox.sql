-- Transactional enqueue (issue 22): an app asks for a job inside its own transaction by calling
-- public.phoenix_enqueue_job (supabase-js / supabase-py rpc(), plain SQL, or a trigger on its own tables). The
-- request is a row of public.phoenix_job_outbox, so it exists if and only if that transaction commits; a relay
-- moves committed rows into Redis with the row's id as the job's id, and deletes them.
--
-- The rules are the HTTP front's (UserJobRules), enforced here: a signed-in user (`authenticated`) may ask only
-- for the user job types, only about themselves, never for a queue or a priority, never for the events billing
-- or the system own, and their idempotency keys are their own; `service_role` may ask for anything; `anon`
-- may not call the function at all.

CREATE TABLE IF NOT EXISTS public.phoenix_job_outbox (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  job_type varchar(100) NOT NULL CHECK (job_type <> ''),
  payload jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(payload) = 'object'),
  -- The options the HTTP front takes (JobSubmission): NULL / 0 for the job type's defaults.
  queue varchar(100),
  priority int NOT NULL DEFAULT 0 CHECK (priority BETWEEN -1000 AND 1000),
  run_at timestamptz,
  idempotency_key varchar(400),
  correlation_id varchar(200),
  -- Who asked: 'user:<id>' or 'service' (the job's enqueuedBy).
  enqueued_by varchar(100) NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  -- Set by the relay for a row it cannot turn into a job (an unknown type, a payload its type refuses): the row
  -- stays, for an operator to read, and is not tried again.
  error text,
  failed_at timestamptz
);
-- The relay's order: the waiting rows, oldest first.
CREATE INDEX IF NOT EXISTS phoenix_job_outbox_waiting_idx ON public.phoenix_job_outbox (created_at) WHERE error IS NULL;

-- Only the function (as its owner) and the back-end services touch the outbox: row-level security on, and no
-- policy for anon or authenticated.
ALTER TABLE public.phoenix_job_outbox ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON public.phoenix_job_outbox FROM PUBLIC, anon, authenticated;
GRANT ALL ON public.phoenix_job_outbox TO service_role;

-- The job types a user may ask for, each with the payload field that must hold the user's own id: the job
-- catalog's user fields (JobDeclaration.userField). StoreTests' OutboxFunctionTests keeps this list equal to the catalog.
CREATE TABLE IF NOT EXISTS public.phoenix_user_job_types (
  job_type varchar(100) PRIMARY KEY,
  user_field varchar(100) NOT NULL
);
ALTER TABLE public.phoenix_user_job_types ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON public.phoenix_user_job_types FROM PUBLIC, anon, authenticated;
GRANT ALL ON public.phoenix_user_job_types TO service_role;
INSERT INTO public.phoenix_user_job_types (job_type, user_field) VALUES
  ('event.publish', 'stream_id'),
  ('profile.sync', 'user_id'),
  ('user.export', 'user_id'),
  ('user.erase', 'user_id'),
  ('letter.generate', 'user_id'),
  ('cv.render', 'user_id')
ON CONFLICT (job_type) DO UPDATE SET user_field = EXCLUDED.user_field;

-- Jobs each user asked for through the function, per minute: the HTTP front's per-caller rate limit (600 a
-- minute by default) holds on this path too, counted in the minute each transaction began. One row per user that asked this minute; older rows go as the user
-- asks again.
CREATE TABLE IF NOT EXISTS public.phoenix_outbox_rate (
  subject varchar(100) NOT NULL,
  minute timestamptz NOT NULL,
  asked int NOT NULL,
  PRIMARY KEY (subject, minute)
);
ALTER TABLE public.phoenix_outbox_rate ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON public.phoenix_outbox_rate FROM PUBLIC, anon, authenticated;
GRANT ALL ON public.phoenix_outbox_rate TO service_role;

-- Asks for a job in the caller's transaction; returns its id (the job id it will have in Redis).
-- options: {"queue", "delaySeconds", "priority", "idempotencyKey", "correlationId"}, the HTTP front's names.
-- Errors (SQLSTATE 42501 for what the caller may not do, 22023 for a malformed request) name the problem.
-- The caller is a user when its role or its JWT's role claim is `authenticated` (either one is enough, so a
-- forged claim cannot lift a user's session); otherwise it was granted EXECUTE as a service.
CREATE OR REPLACE FUNCTION public.phoenix_enqueue_job(job_type text, payload jsonb DEFAULT '{}', options jsonb DEFAULT '{}')
RETURNS uuid LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_session_role text := current_setting('role', true);
  v_claim_role text := auth.jwt() ->> 'role';
  v_user uuid;
  v_field text;
  v_unknown text;
  v_delay numeric;
  v_priority numeric;
  v_key text;
  v_enqueued_by text := 'service';
  v_asked int;
  v_id uuid;
BEGIN
  IF v_session_role = 'anon' OR v_claim_role = 'anon' THEN
    RAISE EXCEPTION 'phoenix_enqueue_job needs a signed-in user or service_role' USING ERRCODE = '42501';
  END IF;
  IF job_type IS NULL OR job_type = '' OR length(job_type) > 100 THEN
    RAISE EXCEPTION 'job_type must be 1-100 characters' USING ERRCODE = '22023';
  END IF;
  payload := coalesce(payload, '{}'::jsonb);
  options := coalesce(options, '{}'::jsonb);
  IF jsonb_typeof(payload) <> 'object' THEN
    RAISE EXCEPTION 'payload must be a JSON object' USING ERRCODE = '22023';
  END IF;
  -- A relay holds up to 500 rows at once: their payloads stay small.
  IF octet_length(payload::text) > 131072 THEN
    RAISE EXCEPTION 'payload must be at most 131072 bytes of JSON, got %', octet_length(payload::text) USING ERRCODE = '22023';
  END IF;
  IF jsonb_typeof(options) <> 'object' THEN
    RAISE EXCEPTION 'options must be a JSON object' USING ERRCODE = '22023';
  END IF;
  SELECT string_agg(k, ', ' ORDER BY k) INTO v_unknown FROM jsonb_object_keys(options) AS k
    WHERE k NOT IN ('queue', 'delaySeconds', 'priority', 'idempotencyKey', 'correlationId');
  IF v_unknown IS NOT NULL THEN
    RAISE EXCEPTION 'unknown options: % (expected queue, delaySeconds, priority, idempotencyKey, correlationId)', v_unknown
      USING ERRCODE = '22023';
  END IF;
  IF options ? 'queue' AND jsonb_typeof(options -> 'queue') <> 'string' THEN
    RAISE EXCEPTION 'option queue must be a string' USING ERRCODE = '22023';
  END IF;
  IF options ? 'delaySeconds' THEN
    IF jsonb_typeof(options -> 'delaySeconds') <> 'number' THEN
      RAISE EXCEPTION 'option delaySeconds must be a number' USING ERRCODE = '22023';
    END IF;
    v_delay := (options ->> 'delaySeconds')::numeric;
    IF v_delay < 0 OR v_delay > 31536000 THEN
      RAISE EXCEPTION 'option delaySeconds must be between 0 and 31536000 (a year)' USING ERRCODE = '22023';
    END IF;
  END IF;
  IF options ? 'priority' THEN
    IF jsonb_typeof(options -> 'priority') <> 'number' THEN
      RAISE EXCEPTION 'option priority must be a number' USING ERRCODE = '22023';
    END IF;
    v_priority := (options ->> 'priority')::numeric;
    IF v_priority <> trunc(v_priority) OR v_priority < -1000 OR v_priority > 1000 THEN
      RAISE EXCEPTION 'option priority must be a whole number between -1000 and 1000' USING ERRCODE = '22023';
    END IF;
  END IF;
  IF options ? 'idempotencyKey' THEN
    IF jsonb_typeof(options -> 'idempotencyKey') <> 'string' THEN
      RAISE EXCEPTION 'option idempotencyKey must be a string' USING ERRCODE = '22023';
    END IF;
    v_key := options ->> 'idempotencyKey';
    IF octet_length(v_key) NOT BETWEEN 1 AND 200 THEN
      RAISE EXCEPTION 'option idempotencyKey must be 1-200 bytes' USING ERRCODE = '22023';
    END IF;
    IF v_key LIKE 'periodic:%' OR v_key LIKE 'route:%' OR v_key LIKE 'stripe:%' THEN
      RAISE EXCEPTION 'idempotency keys starting with periodic:, route: or stripe: are reserved for the platform' USING ERRCODE = '22023';
    END IF;
  END IF;
  IF options ? 'correlationId' AND (jsonb_typeof(options -> 'correlationId') <> 'string'
      OR length(options ->> 'correlationId') > 200) THEN
    RAISE EXCEPTION 'option correlationId must be a string of at most 200 characters' USING ERRCODE = '22023';
  END IF;

  IF v_session_role = 'authenticated' OR v_claim_role = 'authenticated' THEN
    v_user := auth.uid();
    IF v_user IS NULL THEN
      RAISE EXCEPTION 'a signed-in caller needs a sub claim' USING ERRCODE = '42501';
    END IF;
    SELECT t.user_field INTO v_field FROM public.phoenix_user_job_types t WHERE t.job_type = phoenix_enqueue_job.job_type;
    IF v_field IS NULL THEN
      RAISE EXCEPTION 'job type % needs service_role; users may ask for %', job_type,
        (SELECT string_agg(t.job_type, ', ' ORDER BY t.job_type) FROM public.phoenix_user_job_types t) USING ERRCODE = '42501';
    END IF;
    IF lower(coalesce(payload ->> v_field, '')) <> v_user::text THEN
      RAISE EXCEPTION 'users may ask for % only for themselves: payload.% must be your user id', job_type, v_field USING ERRCODE = '42501';
    END IF;
    IF options ? 'queue' THEN
      RAISE EXCEPTION 'only service_role may choose a job''s queue; leave queue out and the job goes to its type''s queue' USING ERRCODE = '42501';
    END IF;
    IF coalesce(v_priority, 0) <> 0 THEN
      RAISE EXCEPTION 'only service_role may set a job''s priority; leave priority out' USING ERRCODE = '42501';
    END IF;
    IF job_type = 'event.publish' AND (payload ->> 'app_source' IN ('billing', 'system')
        OR payload ->> 'event_type' = 'user.tier_updated'
        OR payload ->> 'event_type' LIKE 'subscription.%' OR payload ->> 'event_type' LIKE 'payment.%'
        OR payload ->> 'event_type' LIKE 'billing.%') THEN
      RAISE EXCEPTION 'billing and system events come only from the Stripe webhook or a service_role caller' USING ERRCODE = '42501';
    END IF;
    v_enqueued_by := 'user:' || v_user::text;
    DELETE FROM public.phoenix_outbox_rate r WHERE r.subject = v_enqueued_by AND r.minute < date_trunc('minute', now());
    INSERT INTO public.phoenix_outbox_rate AS r (subject, minute, asked)
      VALUES (v_enqueued_by, date_trunc('minute', now()), 1)
      ON CONFLICT (subject, minute) DO UPDATE SET asked = r.asked + 1
      RETURNING r.asked INTO v_asked;
    IF v_asked > 600 THEN
      RAISE EXCEPTION 'a user may ask for at most 600 jobs a minute; try again in the next minute' USING ERRCODE = '54000';
    END IF;
  END IF;

  INSERT INTO public.phoenix_job_outbox (job_type, payload, queue, priority, run_at, idempotency_key, correlation_id, enqueued_by)
  VALUES (job_type, payload, options ->> 'queue', coalesce(v_priority, 0)::int,
          CASE WHEN v_delay IS NULL THEN NULL ELSE clock_timestamp() + make_interval(secs => v_delay::double precision) END,
          CASE WHEN v_key IS NULL THEN NULL ELSE v_enqueued_by || ':' || job_type || ':' || v_key END,
          options ->> 'correlationId', v_enqueued_by)
  RETURNING id INTO v_id;
  RETURN v_id;
END
$$;
REVOKE ALL ON FUNCTION public.phoenix_enqueue_job(text, jsonb, jsonb) FROM PUBLIC, anon;
GRANT EXECUTE ON FUNCTION public.phoenix_enqueue_job(text, jsonb, jsonb) TO authenticated, service_role;

-- Wakes the relays (LISTEN phoenix_job_outbox) once per statement that added rows; PostgreSQL delivers a
-- notification only when the transaction commits, and folds a transaction's equal ones into one.
CREATE OR REPLACE FUNCTION public.phoenix_job_outbox_notify()
RETURNS trigger LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
  PERFORM pg_notify('phoenix_job_outbox', '');
  RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION public.phoenix_job_outbox_notify() FROM PUBLIC, anon, authenticated;
DROP TRIGGER IF EXISTS phoenix_job_outbox_notify ON public.phoenix_job_outbox;
CREATE TRIGGER phoenix_job_outbox_notify AFTER INSERT ON public.phoenix_job_outbox
  FOR EACH STATEMENT EXECUTE FUNCTION public.phoenix_job_outbox_notify();
