import PostgresNIO
import Testing
import TestSupport

/// Every column of every table of shared/schema/phoenix-supabase.md, as `column type nullability [default]`
/// in PostgreSQL's own spelling of types and defaults.
let documentedColumns: [String: [String]] = [
    "phoenix_events": [
        "event_id uuid not-null default gen_random_uuid()",
        "stream_id uuid not-null",
        "event_type varchar(100) not-null",
        "timestamp timestamptz null default now()",
        "app_source varchar(50) not-null",
        "payload jsonb not-null default '{}'::jsonb",
        "version varchar(10) null default '1.0'::character varying",
        "correlation_id uuid null",
        "user_agent text null",
        "session_id varchar(100) null",
        "metadata jsonb null default '{}'::jsonb",
        "created_at timestamptz null default now()",
    ],
    "phoenix_nudges_sent": [
        "nudge_id uuid not-null default gen_random_uuid()",
        "user_id uuid not-null",
        "nudge_type varchar(50) not-null",
        "sent_at timestamptz null default now()",
        "app_source varchar(50) not-null",
        "success boolean null default false",
    ],
    "profiles": [
        "id uuid not-null",
        "email varchar(255) not-null",
        "full_name varchar(255) null",
        "avatar_url text null",
        "subscription_tier varchar(50) null default 'free'::character varying",
        "created_at timestamptz null default now()",
        "updated_at timestamptz null default now()",
        "last_login timestamptz null default now()",
        #"preferences jsonb null default '{"language": "fr", "timezone": "Europe/Paris", "marketing_emails": false, "email_notifications": true}'::jsonb"#,
        "total_cv_generated integer null default 0",
        "total_letters_generated integer null default 0",
        "total_coaching_sessions integer null default 0",
    ],
    "user_subscriptions": [
        "subscription_id uuid not-null default gen_random_uuid()",
        "user_id uuid null",
        "app_name varchar(50) not-null",
        "subscription_tier varchar(50) not-null",
        "subscription_status varchar(50) null default 'active'::character varying",
        "stripe_customer_id varchar(255) null",
        "stripe_subscription_id varchar(255) null",
        "stripe_product_id varchar(255) null",
        "stripe_price_id varchar(255) null",
        "current_period_start timestamptz null",
        "current_period_end timestamptz null",
        "trial_end timestamptz null",
        "amount_paid numeric(10,2) null",
        "currency varchar(3) null default 'EUR'::character varying",
        "created_at timestamptz null default now()",
        "updated_at timestamptz null default now()",
        "cancelled_at timestamptz null",
    ],
    "user_usage_limits": [
        "limit_id uuid not-null default gen_random_uuid()",
        "user_id uuid null",
        "period_start timestamptz not-null",
        "period_end timestamptz not-null",
        "cv_generations_used integer null default 0",
        "cv_generations_limit integer null default 3",
        "cv_uploads_used integer null default 0",
        "cv_uploads_limit integer null default 5",
        "letters_generated_used integer null default 0",
        "letters_generated_limit integer null default 2",
        "mirror_match_used integer null default 0",
        "mirror_match_limit integer null default 1",
        "coaching_sessions_used integer null default 0",
        "coaching_sessions_limit integer null default 1",
        "created_at timestamptz null default now()",
        "updated_at timestamptz null default now()",
    ],
    "payment_history": [
        "payment_id uuid not-null default gen_random_uuid()",
        "user_id uuid null",
        "subscription_id uuid null",
        "stripe_payment_intent_id varchar(255) null",
        "stripe_invoice_id varchar(255) null",
        "amount numeric(10,2) not-null",
        "currency varchar(3) null default 'EUR'::character varying",
        "payment_status varchar(50) not-null",
        "payment_date timestamptz null default now()",
        "description text null",
        "stripe_metadata jsonb null default '{}'::jsonb",
        "created_at timestamptz null default now()",
    ],
    "letter_generations": [
        "id uuid not-null default gen_random_uuid()",
        "user_id uuid null",
        "job_offer_text text null",
        "generated_letter text null",
        "generation_type varchar(50) null default 'standard'::character varying",
        "ai_optimization_level varchar(50) null default 'basic'::character varying",
        "created_at timestamptz null default now()",
        "expires_at timestamptz null default (now() + '30 days'::interval)",
    ],
    "cv_generations": [
        "id uuid not-null default gen_random_uuid()",
        "user_id uuid null",
        "template_used varchar(100) null",
        "generation_status varchar(50) null default 'pending'::character varying",
        "cv_data jsonb not-null",
        "generated_html text null",
        "created_at timestamptz null default now()",
        "expires_at timestamptz null default (now() + '7 days'::interval)",
    ],
    "user_activity_metrics": [
        "id uuid not-null default gen_random_uuid()",
        "user_id uuid null",
        "app_source varchar(50) not-null",
        "action_type varchar(100) not-null",
        "session_id varchar(255) null",
        "metadata jsonb null",
        "timestamp timestamptz null default now()",
    ],
]

@Suite struct SchemaTests {
    @Test func everyDocumentedColumnHasItsTypeDefaultAndNullability() async throws {
        let actual = try await TestPostgres.withMigratedDatabase { client in
            let rows = try await client.query("""
                SELECT table_name::text, column_name::text,
                  coalesce(CASE
                    WHEN data_type = 'character varying' THEN 'varchar(' || character_maximum_length || ')'
                    WHEN data_type = 'numeric' THEN 'numeric(' || numeric_precision || ',' || numeric_scale || ')'
                    WHEN data_type = 'timestamp with time zone' THEN 'timestamptz'
                  END, data_type::text),
                  CASE WHEN is_nullable = 'YES' THEN 'null' ELSE 'not-null' END,
                  column_default::text
                FROM information_schema.columns
                WHERE table_schema = 'public'
                  AND table_name IN (SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE')
                """)
            var columns: [String: Set<String>] = [:]
            for try await (table, column, type, nullability, defaultValue) in rows.decode((String, String, String, String, String?).self) {
                columns[table, default: []].insert("\(column) \(type) \(nullability)" + (defaultValue.map { " default \($0)" } ?? ""))
            }
            return columns
        }
        for (table, columns) in documentedColumns {
            let present = try #require(actual[table], "table \(table) is missing")
            for column in columns {
                #expect(present.contains(column), "\(table): expected \(column); have \(present.filter { $0.hasPrefix(column.split(separator: " ")[0] + " ") })")
            }
        }
    }

    @Test func documentedViewsAndFunctionsExist() async throws {
        try await TestPostgres.withMigratedDatabase { client in
            for view in ["phoenix_ecosystem_analytics", "phoenix_user_journey", "user_active_subscriptions", "subscription_analytics", "phoenix_ecosystem_dashboard"] {
                let rows = try await client.query("SELECT to_regclass('public.' || \(view)) IS NOT NULL")
                for try await present in rows.decode(Bool.self) { #expect(present, "view \(view)") }
            }
            for function in [
                "public.create_phoenix_event(uuid,varchar,varchar,jsonb)", "public.get_phoenix_ecosystem_stats(int)",
                "public.cleanup_old_phoenix_events(int)", "public.check_usage_limit(uuid,varchar,int)",
                "public.get_user_app_tier(uuid,varchar)", "public.update_usage_limits_for_tier(uuid,varchar,varchar)",
                "public.cleanup_expired_data()", "public.handle_new_user()",
            ] {
                let rows = try await client.query("SELECT to_regprocedure(\(function)) IS NOT NULL")
                for try await present in rows.decode(Bool.self) { #expect(present, "function \(function)") }
            }
            let stats = try await client.query("SELECT public.get_phoenix_ecosystem_stats(7)::text")
            for try await json in stats.decode(String.self) {
                for key in ["period_days", "total_events", "unique_users", "app_breakdown", "generated_at"] {
                    #expect(json.contains("\"\(key)\""))
                }
            }
        }
    }
}
