-- Users, subscriptions, payments and monthly usage quotas; the sign-up trigger; the quota functions.

CREATE TABLE IF NOT EXISTS public.profiles (
  id uuid PRIMARY KEY REFERENCES auth.users (id) ON DELETE CASCADE,
  email varchar(255) UNIQUE NOT NULL,
  full_name varchar(255),
  avatar_url text,
  subscription_tier varchar(50) DEFAULT 'free',
  created_at timestamptz DEFAULT now(),
  updated_at timestamptz DEFAULT now(),
  last_login timestamptz DEFAULT now(),
  preferences jsonb DEFAULT '{"email_notifications": true, "marketing_emails": false, "language": "fr", "timezone": "Europe/Paris"}'::jsonb,
  total_cv_generated int DEFAULT 0,
  total_letters_generated int DEFAULT 0,
  total_coaching_sessions int DEFAULT 0
);
CREATE INDEX IF NOT EXISTS idx_profiles_email ON public.profiles (email);
CREATE INDEX IF NOT EXISTS idx_profiles_subscription_tier ON public.profiles (subscription_tier);
CREATE INDEX IF NOT EXISTS idx_profiles_created_at ON public.profiles (created_at);

CREATE TABLE IF NOT EXISTS public.user_subscriptions (
  subscription_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid REFERENCES public.profiles (id) ON DELETE CASCADE,
  app_name varchar(50) NOT NULL CHECK (app_name IN ('cv', 'letters', 'rise', 'ecosystem')),
  subscription_tier varchar(50) NOT NULL CHECK (subscription_tier IN ('free', 'premium', 'pro')),
  subscription_status varchar(50) DEFAULT 'active'
    CHECK (subscription_status IN ('active', 'cancelled', 'past_due', 'trialing', 'incomplete')),
  stripe_customer_id varchar(255),
  stripe_subscription_id varchar(255),
  stripe_product_id varchar(255),
  stripe_price_id varchar(255),
  current_period_start timestamptz,
  current_period_end timestamptz,
  trial_end timestamptz,
  amount_paid decimal(10, 2),
  currency varchar(3) DEFAULT 'EUR',
  created_at timestamptz DEFAULT now(),
  updated_at timestamptz DEFAULT now(),
  cancelled_at timestamptz,
  UNIQUE (user_id, app_name)
);

CREATE TABLE IF NOT EXISTS public.user_usage_limits (
  limit_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid REFERENCES public.profiles (id) ON DELETE CASCADE,
  period_start timestamptz NOT NULL,
  period_end timestamptz NOT NULL,
  cv_generations_used int DEFAULT 0,
  cv_generations_limit int DEFAULT 3,
  cv_uploads_used int DEFAULT 0,
  cv_uploads_limit int DEFAULT 5,
  letters_generated_used int DEFAULT 0,
  letters_generated_limit int DEFAULT 2,
  mirror_match_used int DEFAULT 0,
  mirror_match_limit int DEFAULT 1,
  coaching_sessions_used int DEFAULT 0,
  coaching_sessions_limit int DEFAULT 1,
  created_at timestamptz DEFAULT now(),
  updated_at timestamptz DEFAULT now(),
  UNIQUE (user_id, period_start, period_end)
);

CREATE TABLE IF NOT EXISTS public.payment_history (
  payment_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid REFERENCES public.profiles (id) ON DELETE CASCADE,
  subscription_id uuid REFERENCES public.user_subscriptions (subscription_id),
  stripe_payment_intent_id varchar(255) UNIQUE,
  stripe_invoice_id varchar(255),
  amount decimal(10, 2) NOT NULL,
  currency varchar(3) DEFAULT 'EUR',
  payment_status varchar(50) NOT NULL CHECK (payment_status IN ('succeeded', 'failed', 'pending', 'cancelled', 'refunded')),
  payment_date timestamptz DEFAULT now(),
  description text,
  stripe_metadata jsonb DEFAULT '{}'::jsonb,
  created_at timestamptz DEFAULT now()
);
CREATE INDEX IF NOT EXISTS idx_user_subscriptions_user_id ON public.user_subscriptions (user_id);
CREATE INDEX IF NOT EXISTS idx_user_usage_limits_user_id ON public.user_usage_limits (user_id);
CREATE INDEX IF NOT EXISTS idx_payment_history_user_id ON public.payment_history (user_id);

-- Row level security: users read (and for profiles update) their own rows; service_role bypasses RLS.
ALTER TABLE public.profiles ENABLE ROW LEVEL SECURITY;
CREATE POLICY "Users read their own profile" ON public.profiles
  FOR SELECT TO authenticated USING ((SELECT auth.uid()) = id);
CREATE POLICY "Users update their own profile" ON public.profiles
  FOR UPDATE TO authenticated USING ((SELECT auth.uid()) = id) WITH CHECK ((SELECT auth.uid()) = id);
ALTER TABLE public.user_subscriptions ENABLE ROW LEVEL SECURITY;
CREATE POLICY "Users read their own subscriptions" ON public.user_subscriptions
  FOR SELECT TO authenticated USING ((SELECT auth.uid()) = user_id);
ALTER TABLE public.user_usage_limits ENABLE ROW LEVEL SECURITY;
CREATE POLICY "Users read their own usage" ON public.user_usage_limits
  FOR SELECT TO authenticated USING ((SELECT auth.uid()) = user_id);
ALTER TABLE public.payment_history ENABLE ROW LEVEL SECURITY;
CREATE POLICY "Users read their own payments" ON public.payment_history
  FOR SELECT TO authenticated USING ((SELECT auth.uid()) = user_id);

GRANT SELECT, UPDATE ON public.profiles TO authenticated;
GRANT SELECT ON public.user_subscriptions, public.user_usage_limits, public.payment_history TO authenticated;
GRANT ALL ON public.profiles, public.user_subscriptions, public.user_usage_limits, public.payment_history TO service_role;

-- updated_at follows every update.
CREATE OR REPLACE FUNCTION public.update_updated_at_column() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at = now();
  RETURN NEW;
END
$$;
CREATE TRIGGER update_profiles_updated_at BEFORE UPDATE ON public.profiles
  FOR EACH ROW EXECUTE FUNCTION public.update_updated_at_column();
CREATE TRIGGER update_user_subscriptions_updated_at BEFORE UPDATE ON public.user_subscriptions
  FOR EACH ROW EXECUTE FUNCTION public.update_updated_at_column();
CREATE TRIGGER update_user_usage_limits_updated_at BEFORE UPDATE ON public.user_usage_limits
  FOR EACH ROW EXECUTE FUNCTION public.update_updated_at_column();

-- A new auth user gets a profile and free subscriptions to cv, letters and rise.
CREATE OR REPLACE FUNCTION public.handle_new_user() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
  INSERT INTO public.profiles (id, email, full_name)
  VALUES (NEW.id, NEW.email, coalesce(NEW.raw_user_meta_data ->> 'full_name', ''))
  ON CONFLICT (id) DO NOTHING;
  INSERT INTO public.user_subscriptions (user_id, app_name, subscription_tier)
  VALUES (NEW.id, 'cv', 'free'), (NEW.id, 'letters', 'free'), (NEW.id, 'rise', 'free')
  ON CONFLICT (user_id, app_name) DO NOTHING;
  RETURN NEW;
END
$$;
DROP TRIGGER IF EXISTS on_auth_user_created ON auth.users;
CREATE TRIGGER on_auth_user_created AFTER INSERT ON auth.users
  FOR EACH ROW EXECUTE FUNCTION public.handle_new_user();

-- The active, unexpired tier of a user's app subscription, else 'free'.
CREATE OR REPLACE FUNCTION public.get_user_app_tier(p_user_id uuid, p_app_name varchar)
RETURNS varchar LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
  SELECT coalesce((
    SELECT subscription_tier FROM public.user_subscriptions
    WHERE user_id = p_user_id AND app_name = p_app_name
      AND subscription_status IN ('active', 'trialing')
      AND (current_period_end IS NULL OR current_period_end > now())
  ), 'free')
$$;

-- Sets the current month's limits of an app's features for a tier: the free limits, or -1 (unlimited)
-- for premium and pro. 'ecosystem' covers every app.
CREATE OR REPLACE FUNCTION public.update_usage_limits_for_tier(p_user_id uuid, p_app_name varchar, p_tier varchar)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  v_start timestamptz := date_trunc('month', now());
  v_end timestamptz := date_trunc('month', now()) + interval '1 month';
  v_unlimited boolean;
BEGIN
  IF p_tier NOT IN ('free', 'premium', 'pro') THEN
    RAISE EXCEPTION 'unknown tier %', p_tier USING ERRCODE = '22023';
  END IF;
  IF p_app_name NOT IN ('cv', 'letters', 'rise', 'ecosystem') THEN
    RAISE EXCEPTION 'unknown app %', p_app_name USING ERRCODE = '22023';
  END IF;
  v_unlimited := p_tier IN ('premium', 'pro');
  INSERT INTO public.user_usage_limits (user_id, period_start, period_end)
  VALUES (p_user_id, v_start, v_end)
  ON CONFLICT (user_id, period_start, period_end) DO NOTHING;
  UPDATE public.user_usage_limits SET
    cv_generations_limit = CASE WHEN p_app_name IN ('cv', 'ecosystem') THEN CASE WHEN v_unlimited THEN -1 ELSE 3 END ELSE cv_generations_limit END,
    cv_uploads_limit = CASE WHEN p_app_name IN ('cv', 'ecosystem') THEN CASE WHEN v_unlimited THEN -1 ELSE 5 END ELSE cv_uploads_limit END,
    letters_generated_limit = CASE WHEN p_app_name IN ('letters', 'ecosystem') THEN CASE WHEN v_unlimited THEN -1 ELSE 2 END ELSE letters_generated_limit END,
    mirror_match_limit = CASE WHEN p_app_name IN ('rise', 'ecosystem') THEN CASE WHEN v_unlimited THEN -1 ELSE 1 END ELSE mirror_match_limit END,
    coaching_sessions_limit = CASE WHEN p_app_name IN ('rise', 'ecosystem') THEN CASE WHEN v_unlimited THEN -1 ELSE 1 END ELSE coaching_sessions_limit END
  WHERE user_id = p_user_id AND period_start = v_start AND period_end = v_end;
END
$$;

-- Checks (and when allowed, counts) one use of a feature this month. p_feature is a column stem, checked
-- against the fixed list below: it never reaches dynamic SQL. Callers acting as a user may only check
-- their own quota.
CREATE OR REPLACE FUNCTION public.check_usage_limit(p_user_id uuid, p_feature varchar, p_increment int DEFAULT 1)
RETURNS jsonb LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  v_start timestamptz := date_trunc('month', now());
  v_end timestamptz := date_trunc('month', now()) + interval '1 month';
  v_row public.user_usage_limits%ROWTYPE;
  v_used int;
  v_limit int;
  v_allowed boolean;
  v_app varchar;
BEGIN
  IF p_feature NOT IN ('cv_generations', 'cv_uploads', 'letters_generated', 'mirror_match', 'coaching_sessions') THEN
    RAISE EXCEPTION 'unknown feature %: expected cv_generations, cv_uploads, letters_generated, mirror_match or coaching_sessions', p_feature
      USING ERRCODE = '22023';
  END IF;
  IF p_increment IS NULL OR p_increment < 0 THEN
    RAISE EXCEPTION 'p_increment must be zero or positive' USING ERRCODE = '22023';
  END IF;
  IF auth.uid() IS NOT NULL AND auth.uid() <> p_user_id AND coalesce(auth.role(), '') <> 'service_role' THEN
    RAISE EXCEPTION 'a user may only check their own usage' USING ERRCODE = '42501';
  END IF;

  IF NOT EXISTS (SELECT 1 FROM public.user_usage_limits WHERE user_id = p_user_id AND period_start = v_start AND period_end = v_end) THEN
    FOREACH v_app IN ARRAY ARRAY['cv', 'letters', 'rise'] LOOP
      PERFORM public.update_usage_limits_for_tier(p_user_id, v_app, public.get_user_app_tier(p_user_id, v_app));
    END LOOP;
  END IF;

  SELECT * INTO v_row FROM public.user_usage_limits
  WHERE user_id = p_user_id AND period_start = v_start AND period_end = v_end
  FOR UPDATE;

  v_used := CASE p_feature
    WHEN 'cv_generations' THEN v_row.cv_generations_used
    WHEN 'cv_uploads' THEN v_row.cv_uploads_used
    WHEN 'letters_generated' THEN v_row.letters_generated_used
    WHEN 'mirror_match' THEN v_row.mirror_match_used
    ELSE v_row.coaching_sessions_used END;
  v_limit := CASE p_feature
    WHEN 'cv_generations' THEN v_row.cv_generations_limit
    WHEN 'cv_uploads' THEN v_row.cv_uploads_limit
    WHEN 'letters_generated' THEN v_row.letters_generated_limit
    WHEN 'mirror_match' THEN v_row.mirror_match_limit
    ELSE v_row.coaching_sessions_limit END;
  v_allowed := v_limit = -1 OR v_used + p_increment <= v_limit;

  IF v_allowed AND p_increment > 0 THEN
    UPDATE public.user_usage_limits SET
      cv_generations_used = cv_generations_used + CASE WHEN p_feature = 'cv_generations' THEN p_increment ELSE 0 END,
      cv_uploads_used = cv_uploads_used + CASE WHEN p_feature = 'cv_uploads' THEN p_increment ELSE 0 END,
      letters_generated_used = letters_generated_used + CASE WHEN p_feature = 'letters_generated' THEN p_increment ELSE 0 END,
      mirror_match_used = mirror_match_used + CASE WHEN p_feature = 'mirror_match' THEN p_increment ELSE 0 END,
      coaching_sessions_used = coaching_sessions_used + CASE WHEN p_feature = 'coaching_sessions' THEN p_increment ELSE 0 END
    WHERE limit_id = v_row.limit_id;
    v_used := v_used + p_increment;
  END IF;

  RETURN jsonb_build_object(
    'can_use', v_allowed,
    'current_usage', v_used,
    'usage_limit', v_limit,
    'remaining', CASE WHEN v_limit = -1 THEN -1 ELSE greatest(v_limit - v_used, 0) END,
    'period_start', v_start,
    'period_end', v_end
  );
END
$$;
REVOKE EXECUTE ON FUNCTION public.update_usage_limits_for_tier(uuid, varchar, varchar) FROM PUBLIC, anon, authenticated;
GRANT EXECUTE ON FUNCTION public.update_usage_limits_for_tier(uuid, varchar, varchar) TO service_role;
REVOKE EXECUTE ON FUNCTION public.check_usage_limit(uuid, varchar, int) FROM PUBLIC, anon;
GRANT EXECUTE ON FUNCTION public.check_usage_limit(uuid, varchar, int) TO authenticated, service_role;

CREATE OR REPLACE VIEW public.user_active_subscriptions WITH (security_invoker = true) AS
SELECT p.id AS user_id,
       p.email,
       p.full_name,
       p.subscription_tier AS global_tier,
       s.app_name,
       s.subscription_tier AS app_tier,
       s.subscription_status,
       s.current_period_end,
       (s.subscription_status IN ('active', 'trialing') AND (s.current_period_end IS NULL OR s.current_period_end > now())) AS is_active
FROM public.profiles p
JOIN public.user_subscriptions s ON s.user_id = p.id
WHERE s.subscription_status IN ('active', 'trialing');

CREATE OR REPLACE VIEW public.subscription_analytics WITH (security_invoker = true) AS
SELECT s.app_name,
       s.subscription_tier,
       s.subscription_status,
       count(DISTINCT s.user_id) AS user_count,
       coalesce(sum(s.amount_paid), 0) AS total_revenue,
       coalesce(sum(s.amount_paid), 0) / nullif(count(DISTINCT s.user_id), 0) AS avg_revenue_per_user
FROM public.user_subscriptions s
GROUP BY s.app_name, s.subscription_tier, s.subscription_status;

GRANT SELECT ON public.user_active_subscriptions TO authenticated, service_role;
GRANT SELECT ON public.subscription_analytics TO service_role;
