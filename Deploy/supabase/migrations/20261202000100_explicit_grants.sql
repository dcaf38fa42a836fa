-- Explicit privileges. On a Supabase project the default privileges give anon and authenticated every
-- right on each new table, view, sequence and function of public, and PostgreSQL lets PUBLIC execute every
-- new function; the earlier migrations granted what each role needs but never took those defaults back.
-- This one revokes everything from anon, authenticated and PUBLIC, then grants exactly the allow-list that
-- StoreTests' GrantTests keeps. A migration that adds an object after this one grants for it the same way.
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC, anon, authenticated;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM PUBLIC, anon, authenticated;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA public FROM PUBLIC, anon, authenticated;

-- A signed-in user reads their own rows (row-level security picks them) and the views over them.
GRANT SELECT ON public.profiles, public.user_subscriptions, public.user_usage_limits, public.payment_history,
  public.letter_generations, public.cv_generations, public.user_activity_metrics,
  public.phoenix_events, public.phoenix_nudges_sent, public.phoenix_user_exports TO authenticated;
GRANT SELECT ON public.phoenix_user_journey, public.user_active_subscriptions, public.phoenix_ecosystem_dashboard TO authenticated;
-- …changes only the profile columns that are theirs (not the email, the tier or the counters)…
GRANT UPDATE (full_name, avatar_url, preferences, last_login) ON public.profiles TO authenticated;
-- …saves their own letters and CVs, and checks their own quota and tiers (both functions refuse another
-- user's id to a user).
GRANT INSERT ON public.letter_generations, public.cv_generations TO authenticated;
GRANT EXECUTE ON FUNCTION public.check_usage_limit(uuid, varchar, int), public.get_user_app_tier(uuid, varchar) TO authenticated;

-- get_user_app_tier answered any user's tier; a user now gets only their own.
CREATE OR REPLACE FUNCTION public.get_user_app_tier(p_user_id uuid, p_app_name varchar)
RETURNS varchar LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public AS $$
BEGIN
  IF auth.uid() IS NOT NULL AND auth.uid() <> p_user_id AND coalesce(auth.role(), '') <> 'service_role' THEN
    RAISE EXCEPTION 'a user may only read their own tier' USING ERRCODE = '42501';
  END IF;
  RETURN coalesce((
    SELECT subscription_tier FROM public.user_subscriptions
    WHERE user_id = p_user_id AND app_name = p_app_name
      AND subscription_status IN ('active', 'trialing')
      AND (current_period_end IS NULL OR current_period_end > now())
  ), 'free');
END
$$;
REVOKE ALL ON FUNCTION public.get_user_app_tier(uuid, varchar) FROM PUBLIC, anon;
GRANT EXECUTE ON FUNCTION public.get_user_app_tier(uuid, varchar) TO authenticated;

-- The back-end services have every right.
GRANT ALL ON ALL TABLES IN SCHEMA public TO service_role;
GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO service_role;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO service_role;
