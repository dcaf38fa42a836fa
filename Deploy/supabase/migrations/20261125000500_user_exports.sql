-- GDPR data portability: the JSON document `user.export` assembles, kept for seven days. A user reads their
-- own exports through Supabase; services read and write all.
CREATE TABLE IF NOT EXISTS public.phoenix_user_exports (
  export_id uuid PRIMARY KEY,
  user_id uuid NOT NULL,
  document jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL DEFAULT now() + interval '7 days'
);
CREATE INDEX IF NOT EXISTS idx_phoenix_user_exports_user_id ON public.phoenix_user_exports (user_id);

ALTER TABLE public.phoenix_user_exports ENABLE ROW LEVEL SECURITY;
CREATE POLICY "Users read their own exports" ON public.phoenix_user_exports
  FOR SELECT TO authenticated USING ((SELECT auth.uid()) = user_id);
GRANT SELECT ON public.phoenix_user_exports TO authenticated;
GRANT ALL ON public.phoenix_user_exports TO service_role;
