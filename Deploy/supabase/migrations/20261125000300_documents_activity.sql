-- Generated letters and CVs, user activity, their retention, and the per-user dashboard view.

CREATE TABLE IF NOT EXISTS public.letter_generations (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid REFERENCES public.profiles (id) ON DELETE CASCADE,
  job_offer_text text,
  generated_letter text,
  generation_type varchar(50) DEFAULT 'standard',
  ai_optimization_level varchar(50) DEFAULT 'basic',
  created_at timestamptz DEFAULT now(),
  expires_at timestamptz DEFAULT now() + interval '30 days'
);
CREATE INDEX IF NOT EXISTS idx_letter_generations_user_id ON public.letter_generations (user_id);

CREATE TABLE IF NOT EXISTS public.cv_generations (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid REFERENCES public.profiles (id) ON DELETE CASCADE,
  template_used varchar(100),
  generation_status varchar(50) DEFAULT 'pending',
  cv_data jsonb NOT NULL,
  generated_html text,
  created_at timestamptz DEFAULT now(),
  expires_at timestamptz DEFAULT now() + interval '7 days'
);
CREATE INDEX IF NOT EXISTS idx_cv_generations_user_id ON public.cv_generations (user_id);
CREATE INDEX IF NOT EXISTS idx_cv_generations_status ON public.cv_generations (generation_status);

CREATE TABLE IF NOT EXISTS public.user_activity_metrics (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid REFERENCES public.profiles (id) ON DELETE CASCADE,
  app_source varchar(50) NOT NULL,
  action_type varchar(100) NOT NULL,
  session_id varchar(255),
  metadata jsonb,
  "timestamp" timestamptz DEFAULT now()
);
CREATE INDEX IF NOT EXISTS idx_user_activity_user_app ON public.user_activity_metrics (user_id, app_source);
CREATE INDEX IF NOT EXISTS idx_user_activity_timestamp ON public.user_activity_metrics ("timestamp");

ALTER TABLE public.letter_generations ENABLE ROW LEVEL SECURITY;
CREATE POLICY "Users read their own letters" ON public.letter_generations
  FOR SELECT TO authenticated USING ((SELECT auth.uid()) = user_id);
CREATE POLICY "Users insert their own letters" ON public.letter_generations
  FOR INSERT TO authenticated WITH CHECK ((SELECT auth.uid()) = user_id);
ALTER TABLE public.cv_generations ENABLE ROW LEVEL SECURITY;
CREATE POLICY "Users read their own CVs" ON public.cv_generations
  FOR SELECT TO authenticated USING ((SELECT auth.uid()) = user_id);
CREATE POLICY "Users insert their own CVs" ON public.cv_generations
  FOR INSERT TO authenticated WITH CHECK ((SELECT auth.uid()) = user_id);
ALTER TABLE public.user_activity_metrics ENABLE ROW LEVEL SECURITY;
CREATE POLICY "Users read their own activity" ON public.user_activity_metrics
  FOR SELECT TO authenticated USING ((SELECT auth.uid()) = user_id);

GRANT SELECT, INSERT ON public.letter_generations, public.cv_generations TO authenticated;
GRANT SELECT ON public.user_activity_metrics TO authenticated;
GRANT ALL ON public.letter_generations, public.cv_generations, public.user_activity_metrics TO service_role;

-- GDPR retention: expired documents, and activity older than two years. Returns the rows deleted.
CREATE OR REPLACE FUNCTION public.cleanup_expired_data() RETURNS int
LANGUAGE plpgsql SET search_path = public AS $$
DECLARE
  total int := 0;
  deleted int;
BEGIN
  DELETE FROM public.cv_generations WHERE expires_at < now();
  GET DIAGNOSTICS deleted = ROW_COUNT;
  total := total + deleted;
  DELETE FROM public.letter_generations WHERE expires_at < now();
  GET DIAGNOSTICS deleted = ROW_COUNT;
  total := total + deleted;
  DELETE FROM public.user_activity_metrics WHERE "timestamp" < now() - interval '2 years';
  GET DIAGNOSTICS deleted = ROW_COUNT;
  RETURN total + deleted;
END
$$;
REVOKE EXECUTE ON FUNCTION public.cleanup_expired_data() FROM PUBLIC, anon, authenticated;
GRANT EXECUTE ON FUNCTION public.cleanup_expired_data() TO service_role;

CREATE OR REPLACE VIEW public.phoenix_ecosystem_dashboard WITH (security_invoker = true) AS
SELECT p.id AS user_id,
       p.email,
       p.full_name,
       p.subscription_tier,
       p.total_cv_generated,
       p.total_letters_generated,
       p.total_coaching_sessions,
       (SELECT count(*) FROM public.cv_generations c WHERE c.user_id = p.id AND c.created_at >= now() - interval '30 days') AS cvs_last_30_days,
       (SELECT count(*) FROM public.letter_generations l WHERE l.user_id = p.id AND l.created_at >= now() - interval '30 days') AS letters_last_30_days,
       (SELECT max(a."timestamp") FROM public.user_activity_metrics a WHERE a.user_id = p.id) AS last_activity,
       p.created_at AS user_since
FROM public.profiles p;
GRANT SELECT ON public.phoenix_ecosystem_dashboard TO authenticated, service_role;
