-- The event store: phoenix_events ("everything is an event"), nudges, analytics views and functions.

CREATE TABLE IF NOT EXISTS public.phoenix_events (
  event_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  stream_id uuid NOT NULL,
  event_type varchar(100) NOT NULL,
  "timestamp" timestamptz DEFAULT now(),
  app_source varchar(50) NOT NULL,
  payload jsonb NOT NULL DEFAULT '{}'::jsonb,
  version varchar(10) DEFAULT '1.0',
  correlation_id uuid,
  user_agent text,
  session_id varchar(100),
  metadata jsonb DEFAULT '{}'::jsonb,
  created_at timestamptz DEFAULT now()
);
CREATE INDEX IF NOT EXISTS idx_phoenix_events_stream_id ON public.phoenix_events (stream_id);
CREATE INDEX IF NOT EXISTS idx_phoenix_events_event_type ON public.phoenix_events (event_type);
CREATE INDEX IF NOT EXISTS idx_phoenix_events_timestamp ON public.phoenix_events ("timestamp");
CREATE INDEX IF NOT EXISTS idx_phoenix_events_app_source ON public.phoenix_events (app_source);
CREATE INDEX IF NOT EXISTS idx_phoenix_events_stream_timestamp ON public.phoenix_events (stream_id, "timestamp");
CREATE INDEX IF NOT EXISTS idx_phoenix_events_app_type_timestamp ON public.phoenix_events (app_source, event_type, "timestamp");

ALTER TABLE public.phoenix_events ENABLE ROW LEVEL SECURITY;
CREATE POLICY "Users read their own events" ON public.phoenix_events
  FOR SELECT TO authenticated USING ((SELECT auth.uid()) = stream_id);
CREATE POLICY "Services write events" ON public.phoenix_events
  FOR INSERT TO service_role WITH CHECK (true);
GRANT SELECT ON public.phoenix_events TO authenticated;
GRANT ALL ON public.phoenix_events TO service_role;

CREATE TABLE IF NOT EXISTS public.phoenix_nudges_sent (
  nudge_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL,
  nudge_type varchar(50) NOT NULL,
  sent_at timestamptz DEFAULT now(),
  app_source varchar(50) NOT NULL,
  success boolean DEFAULT false
);
CREATE INDEX IF NOT EXISTS idx_phoenix_nudges_user_id ON public.phoenix_nudges_sent (user_id);
CREATE INDEX IF NOT EXISTS idx_phoenix_nudges_type ON public.phoenix_nudges_sent (nudge_type);
CREATE INDEX IF NOT EXISTS idx_phoenix_nudges_sent_at ON public.phoenix_nudges_sent (sent_at);

ALTER TABLE public.phoenix_nudges_sent ENABLE ROW LEVEL SECURITY;
CREATE POLICY "Users read their own nudges" ON public.phoenix_nudges_sent
  FOR SELECT TO authenticated USING ((SELECT auth.uid()) = user_id);
GRANT SELECT ON public.phoenix_nudges_sent TO authenticated;
GRANT ALL ON public.phoenix_nudges_sent TO service_role;

-- Views run with the caller's rights (security_invoker), so row level security applies through them.
CREATE OR REPLACE VIEW public.phoenix_ecosystem_analytics WITH (security_invoker = true) AS
SELECT date_trunc('day', e."timestamp")::date AS date,
       e.app_source,
       e.event_type,
       count(*) AS event_count,
       count(DISTINCT e.stream_id) AS unique_users
FROM public.phoenix_events e
WHERE e."timestamp" >= now() - interval '90 days'
GROUP BY 1, 2, 3;

CREATE OR REPLACE VIEW public.phoenix_user_journey WITH (security_invoker = true) AS
SELECT e.stream_id AS user_id,
       e.event_type,
       e.app_source,
       e."timestamp",
       e.payload,
       lag(e.app_source) OVER journey AS previous_app,
       lead(e.app_source) OVER journey AS next_app
FROM public.phoenix_events e
WHERE e."timestamp" >= now() - interval '30 days'
WINDOW journey AS (PARTITION BY e.stream_id ORDER BY e."timestamp");

GRANT SELECT ON public.phoenix_ecosystem_analytics, public.phoenix_user_journey TO service_role;
GRANT SELECT ON public.phoenix_user_journey TO authenticated;

CREATE OR REPLACE FUNCTION public.create_phoenix_event(
  p_stream_id uuid,
  p_event_type varchar,
  p_app_source varchar,
  p_payload jsonb DEFAULT '{}'::jsonb
) RETURNS uuid LANGUAGE sql SET search_path = public AS $$
  INSERT INTO public.phoenix_events (stream_id, event_type, app_source, payload, metadata)
  VALUES (p_stream_id, p_event_type, p_app_source, coalesce(p_payload, '{}'::jsonb), jsonb_build_object('created_via', 'sql_function'))
  RETURNING event_id
$$;

CREATE OR REPLACE FUNCTION public.get_phoenix_ecosystem_stats(days_back int DEFAULT 30)
RETURNS jsonb LANGUAGE sql STABLE SET search_path = public AS $$
  WITH recent AS (
    SELECT stream_id, app_source FROM public.phoenix_events
    WHERE "timestamp" >= now() - make_interval(days => days_back)
  )
  SELECT jsonb_build_object(
    'period_days', days_back,
    'total_events', (SELECT count(*) FROM recent),
    'unique_users', (SELECT count(DISTINCT stream_id) FROM recent),
    'app_breakdown', coalesce((
      SELECT jsonb_object_agg(app_source, jsonb_build_object('events', events, 'users', users))
      FROM (SELECT app_source, count(*) AS events, count(DISTINCT stream_id) AS users FROM recent GROUP BY app_source) per_app
    ), '{}'::jsonb),
    'generated_at', now()
  )
$$;

CREATE OR REPLACE FUNCTION public.cleanup_old_phoenix_events(retention_days int DEFAULT 365)
RETURNS int LANGUAGE plpgsql SET search_path = public AS $$
DECLARE
  deleted int;
BEGIN
  DELETE FROM public.phoenix_events WHERE "timestamp" < now() - make_interval(days => retention_days);
  GET DIAGNOSTICS deleted = ROW_COUNT;
  RETURN deleted;
END
$$;
