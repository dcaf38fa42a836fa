import Foundation
import Logging
import PostgresNIO
import PhoenixSupabase
import Testing
import TestSupport

@Suite struct SecurityAndQuotaTests {
    let logger = Logger(label: "test.store")

    @Test func signingUpCreatesTheProfileAndFreeSubscriptions() async throws {
        try await TestPostgres.withMigratedDatabase { client in
            let user = try await createUser(client, name: "Léa Dubois")
            let profile = try await client.query("SELECT full_name, subscription_tier, preferences ->> 'language' FROM public.profiles WHERE id = \(user)")
            var found = false
            for try await (name, tier, language) in profile.decode((String?, String?, String?).self) {
                found = true
                #expect(name == "Léa Dubois")
                #expect(tier == "free")
                #expect(language == "fr")
            }
            #expect(found)
            let subscriptions = try await client.query("SELECT app_name, subscription_tier, subscription_status FROM public.user_subscriptions WHERE user_id = \(user) ORDER BY app_name")
            var rows: [String] = []
            for try await (app, tier, status) in subscriptions.decode((String, String, String?).self) { rows.append("\(app) \(tier) \(status ?? "")") }
            #expect(rows == ["cv free active", "letters free active", "rise free active"])
        }
    }

    @Test func freeUsersGetTwoLettersAMonthAndPremiumIsUnlimited() async throws {
        try await TestPostgres.withMigratedDatabase { client in
            let free = try await createUser(client)
            let premium = try await createUser(client)
            try await client.withConnection { connection in
                let checks = [
                    try await UsageRepository.check(userID: free, feature: .lettersGenerated, on: connection),
                    try await UsageRepository.check(userID: free, feature: .lettersGenerated, on: connection),
                    try await UsageRepository.check(userID: free, feature: .lettersGenerated, on: connection),
                ]
                #expect(checks.map(\.canUse) == [true, true, false])
                #expect(checks.map(\.currentUsage) == [1, 2, 2])
                #expect(checks.map(\.remaining) == [1, 0, 0])
                #expect(checks[2].usageLimit == 2)

                try await UsageRepository.applyTier(userID: premium, app: "letters", tier: "premium", on: connection)
                for _ in 0..<5 {
                    let check = try await UsageRepository.check(userID: premium, feature: .lettersGenerated, on: connection)
                    #expect(check.canUse)
                    #expect(check.usageLimit == -1)
                    #expect(check.remaining == -1)
                }
            }
            let tier = try await client.query("SELECT subscription_tier FROM public.profiles WHERE id = \(premium)")
            for try await value in tier.decode(String.self) { #expect(value == "premium") }
        }
    }

    @Test func unknownFeatureIsRejectedWithoutRunningIt() async throws {
        try await TestPostgres.withMigratedDatabase { client in
            let user = try await createUser(client)
            let attack = "letters_generated_used = 0; DROP TABLE public.profiles; --"
            await #expect {
                for try await _ in try await client.query("SELECT public.check_usage_limit(\(user), \(attack), 1::int)") {}
            } throws: { error in
                (error as? PSQLError)?.serverInfo?[.message]?.hasPrefix("unknown feature") == true
            }
            #expect(try await count(client, "SELECT count(*)::int FROM public.profiles") == 1)
        }
    }

    @Test func usersSeeOnlyTheirOwnRowsAndServiceRoleSeesAll() async throws {
        try await TestPostgres.withMigratedDatabase { client in
            let alice = try await createUser(client, name: "Alice")
            let bob = try await createUser(client, name: "Bob")
            try await client.withConnection { connection in
                for user in [alice, bob] {
                    try await EventRepository.append([NewEvent(streamID: user, eventType: "user.registered", appSource: "website")], on: connection)
                    try await EventRepository.recordActivity(userID: user, appSource: "cv", actionType: "cv.viewed", sessionID: nil, metadata: "{}", at: nil, on: connection)
                    _ = try await UsageRepository.check(userID: user, feature: .cvGenerations, on: connection)
                    _ = try await DocumentRepository.insertLetter(userID: user, jobOfferText: "Offre", letter: "Madame, Monsieur", generationType: "standard", optimizationLevel: "basic", on: connection)
                    _ = try await DocumentRepository.insertCV(userID: user, template: "classic", status: "completed", cvData: "{}", html: "<p>cv</p>", on: connection)
                    try await connection.query("INSERT INTO public.phoenix_nudges_sent (user_id, nudge_type, app_source) VALUES (\(user), 'reminder', 'cv')", logger: logger)
                    try await connection.query("INSERT INTO public.payment_history (user_id, amount, payment_status) VALUES (\(user), 9.99, 'succeeded')", logger: logger)
                }
            }
            let tables: [(String, String)] = [
                ("phoenix_events", "stream_id"), ("phoenix_nudges_sent", "user_id"), ("profiles", "id"),
                ("user_subscriptions", "user_id"), ("user_usage_limits", "user_id"), ("payment_history", "user_id"),
                ("letter_generations", "user_id"), ("cv_generations", "user_id"), ("user_activity_metrics", "user_id"),
            ]
            let claims = #"{"sub": "\#(alice.uuidString.lowercased())", "role": "authenticated"}"#
            for (table, column) in tables {
                let seen = try await client.withTransaction(logger: logger) { connection -> (Int, Int, Int) in
                    try await connection.query("SET LOCAL ROLE authenticated", logger: logger)
                    try await connection.query("SELECT set_config('request.jwt.claims', \(claims), true)", logger: logger)
                    let mine = try await Self.visibleRows(connection, table: table, column: column, user: alice)
                    let theirs = try await Self.visibleRows(connection, table: table, column: column, user: bob)
                    try await connection.query("SET LOCAL ROLE service_role", logger: logger)
                    let all = try await Self.visibleRows(connection, table: table, column: column, user: nil)
                    return (mine, theirs, all)
                }
                #expect(seen.0 > 0, "\(table): alice sees her rows")
                #expect(seen.1 == 0, "\(table): alice sees none of bob's rows")
                #expect(seen.2 == 2 * seen.0, "\(table): service_role sees everyone's rows")
            }
        }
    }

    private static func visibleRows(_ connection: PostgresConnection, table: String, column: String, user: UUID?) async throws -> Int {
        let filter = user.map { "WHERE \(column) = '\($0.uuidString.lowercased())'" } ?? ""
        let rows = try await connection.query(PostgresQuery(unsafeSQL: "SELECT count(*)::int FROM public.\(table) \(filter)"), logger: Logger(label: "test.rls"))
        for try await value in rows.decode(Int.self) { return value }
        return 0
    }
}
