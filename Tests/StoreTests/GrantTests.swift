import Foundation
import Logging
import PostgresNIO
import PhoenixSupabase
import Testing
import TestSupport

/// Issue 14 (6): after migrating a database that has Supabase's default privileges, anon and authenticated
/// hold exactly the rights of the allow-list below, and a user's rights act only on their own data.
@Suite struct GrantTests {
    let logger = Logger(label: "test.grants")

    /// Every right anon and authenticated hold in `public`, as `role privilege object`. Anything else the
    /// migrations leave granted (a Supabase default they did not take back) fails the test.
    static let allowList: Set<String> = {
        var rights: Set<String> = []
        for table in ["profiles", "user_subscriptions", "user_usage_limits", "payment_history", "letter_generations", "cv_generations",
                      "user_activity_metrics", "phoenix_events", "phoenix_nudges_sent", "phoenix_user_exports",
                      "phoenix_user_journey", "user_active_subscriptions", "phoenix_ecosystem_dashboard"] {
            rights.insert("authenticated SELECT \(table)")
        }
        rights.formUnion(["authenticated INSERT letter_generations", "authenticated INSERT cv_generations"])
        for column in ["full_name", "avatar_url", "preferences", "last_login"] { rights.insert("authenticated UPDATE profiles.\(column)") }
        rights.formUnion(["authenticated EXECUTE check_usage_limit", "authenticated EXECUTE get_user_app_tier",
                          "authenticated EXECUTE phoenix_enqueue_job"])
        return rights
    }()

    /// What Supabase grants by default on every new object of `public` (its `ALTER DEFAULT PRIVILEGES` for
    /// the `postgres` role), applied before the migrations run.
    static let supabaseDefaults = [
        "GRANT USAGE ON SCHEMA public TO anon, authenticated, service_role",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO anon, authenticated, service_role",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON SEQUENCES TO anon, authenticated, service_role",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON FUNCTIONS TO anon, authenticated, service_role",
    ]

    static let rightsQuery = """
        WITH roles(role) AS (VALUES ('anon'), ('authenticated')),
        relations AS (SELECT c.oid, c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public')
        SELECT r.role || ' ' || p.priv || ' ' || c.relname FROM relations c CROSS JOIN roles r
          CROSS JOIN (VALUES ('SELECT'), ('INSERT'), ('UPDATE'), ('DELETE'), ('TRUNCATE'), ('REFERENCES'), ('TRIGGER')) p(priv)
          WHERE c.relkind IN ('r', 'v', 'm', 'p') AND has_table_privilege(r.role, c.oid, p.priv)
        UNION ALL
        SELECT r.role || ' ' || p.priv || ' ' || c.relname || '.' || a.attname FROM relations c JOIN pg_attribute a ON a.attrelid = c.oid
          CROSS JOIN roles r CROSS JOIN (VALUES ('SELECT'), ('INSERT'), ('UPDATE'), ('REFERENCES')) p(priv)
          WHERE c.relkind IN ('r', 'v', 'm', 'p') AND a.attnum > 0 AND NOT a.attisdropped
            AND has_column_privilege(r.role, c.oid, a.attnum, p.priv) AND NOT has_table_privilege(r.role, c.oid, p.priv)
        UNION ALL
        SELECT r.role || ' ' || p.priv || ' ' || c.relname FROM relations c CROSS JOIN roles r
          CROSS JOIN (VALUES ('USAGE'), ('SELECT'), ('UPDATE')) p(priv)
          WHERE c.relkind = 'S' AND has_sequence_privilege(r.role, c.oid, p.priv)
        UNION ALL
        SELECT r.role || ' EXECUTE ' || f.proname FROM pg_proc f JOIN pg_namespace n ON n.oid = f.pronamespace CROSS JOIN roles r
          WHERE n.nspname = 'public' AND has_function_privilege(r.role, f.oid, 'EXECUTE')
        """

    @Test func anonAndAuthenticatedHoldExactlyTheAllowListOnASupabaseProject() async throws {
        let url = try await TestPostgres.freshDatabase()
        let migrator = try Migrator(directory: TestPostgres.migrations)
        try await TestPostgres.withClient(url) { client in
            for statement in try #require(migrator.migrations.first).statements { try await client.query(PostgresQuery(unsafeSQL: statement)) }
            for statement in Self.supabaseDefaults { try await client.query(PostgresQuery(unsafeSQL: statement)) }
            try await migrator.apply(client, logger: logger)
            var rights: Set<String> = []
            for try await right in try await client.query(PostgresQuery(unsafeSQL: Self.rightsQuery)).decode(String.self) { rights.insert(right) }
            #expect(rights.subtracting(Self.allowList).sorted() == [], "granted beyond the allow-list")
            #expect(Self.allowList.subtracting(rights).sorted() == [], "missing from the grants")

            // What those rights let a user do: their own tier, not another's; their name, not their tier.
            let alice = UUID(), bob = UUID()
            for (user, email) in [(alice, "alice@example.org"), (bob, "bob@example.org")] {
                try await client.query("INSERT INTO auth.users (id, email) VALUES (\(user), \(email))")
            }
            let claims = #"{"sub": "\#(alice.uuidString.lowercased())", "role": "authenticated"}"#
            let asAlice = { (sql: String) async throws -> String? in
                try await client.withTransaction(logger: logger) { connection in
                    try await connection.query("SET LOCAL ROLE authenticated", logger: logger)
                    try await connection.query("SELECT set_config('request.jwt.claims', \(claims), true)", logger: logger)
                    do {
                        _ = try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger).collect()
                        return nil
                    } catch let error as PSQLError {
                        return error.serverInfo?[.sqlState]
                    }
                }
            }
            #expect(try await asAlice("SELECT public.get_user_app_tier('\(alice)', 'cv')") == nil)
            #expect(try await asAlice("SELECT public.get_user_app_tier('\(bob)', 'cv')") == "42501")
            #expect(try await asAlice("UPDATE public.profiles SET full_name = 'Alice A.' WHERE id = '\(alice)'") == nil)
            for column in ["subscription_tier = 'pro'", "total_letters_generated = 0", "email = 'x@example.org'"] {
                #expect(try await asAlice("UPDATE public.profiles SET \(column) WHERE id = '\(alice)'") == "42501", "\(column)")
            }
            #expect(try await asAlice("SELECT public.create_phoenix_event('\(alice)', 'a.b', 'billing')") == "42501")
            #expect(try await asAlice("SELECT public.cleanup_old_phoenix_events(0)") == "42501")
            #expect(try await asAlice("SELECT public.get_phoenix_ecosystem_stats()") == "42501")
            #expect(try await asAlice("INSERT INTO public.user_subscriptions (user_id, app_name, subscription_tier) VALUES ('\(alice)', 'ecosystem', 'pro')") == "42501")
        }
    }
}
