import Foundation
import PostgresNIO
import PhoenixJobsCore
import PhoenixPlatform
import PhoenixQueue
import PhoenixRedis
import PhoenixSupabase
import Testing
import TestSupport
import UserProfileSync
import PhoenixWorker
import EventBridge

@Suite struct UserDataTests {
    /// Gives a user a row in every table that can hold one.
    func populate(_ client: PostgresClient, _ user: UUID) async throws {
        try await client.query("INSERT INTO public.letter_generations (user_id, job_offer_text, generated_letter) VALUES (\(user), 'Offre', 'Lettre')")
        try await client.query("INSERT INTO public.cv_generations (user_id, cv_data, generated_html) VALUES (\(user), '{}'::jsonb, '<p/>')")
        try await client.query("INSERT INTO public.user_activity_metrics (user_id, app_source, action_type) VALUES (\(user), 'cv', 'cv.viewed')")
        try await client.query("INSERT INTO public.phoenix_events (stream_id, event_type, app_source) VALUES (\(user), 'cv.generated', 'cv')")
        try await client.query("INSERT INTO public.phoenix_nudges_sent (user_id, nudge_type, app_source) VALUES (\(user), 'reminder', 'cv')")
        try await client.query("INSERT INTO public.payment_history (user_id, amount, payment_status, description) VALUES (\(user), 9.99, 'succeeded', 'Premium')")
        try await client.query("SELECT public.check_usage_limit(\(user), 'cv_generations', 1::int)")
        try await client.query("INSERT INTO public.phoenix_job_runs (job_id, type, queue, status, attempt, user_id, result) VALUES (\(UUID()), 'letter.generate', 'letters', 'completed', 1, \(user), '{}'::jsonb)")
    }

    /// The rows a user can have, one kind each (every table that holds user data, with its links), as SQL
    /// for a user `$1`.
    static let rowKinds: [(String, String)] = [
        ("letter", "INSERT INTO public.letter_generations (user_id, job_offer_text, generated_letter) VALUES ($1, 'Offre', 'Lettre')"),
        ("cv", "INSERT INTO public.cv_generations (user_id, cv_data, generated_html) VALUES ($1, '{}'::jsonb, '<p/>')"),
        ("activity", "INSERT INTO public.user_activity_metrics (user_id, app_source, action_type) VALUES ($1, 'cv', 'cv.viewed')"),
        ("event", "INSERT INTO public.phoenix_events (stream_id, event_type, app_source) VALUES ($1, 'cv.generated', 'cv')"),
        ("nudge", "INSERT INTO public.phoenix_nudges_sent (user_id, nudge_type, app_source) VALUES ($1, 'reminder', 'cv')"),
        ("payment", "INSERT INTO public.payment_history (user_id, amount, payment_status) VALUES ($1, 5, 'succeeded')"),
        ("payment of a subscription", """
            INSERT INTO public.payment_history (user_id, subscription_id, amount, payment_status, stripe_payment_intent_id, description)
            SELECT $1, subscription_id, 9.99, 'succeeded', 'pi_' || md5($1::text), 'Premium' FROM public.user_subscriptions WHERE user_id = $1 AND app_name = 'cv'
            """),
        ("paid subscription", "UPDATE public.user_subscriptions SET subscription_tier = 'premium', stripe_customer_id = 'cus_' || md5($1::text) WHERE user_id = $1"),
        ("usage", "SELECT public.check_usage_limit($1, 'letters_generated', 1)"),
        ("job run", "INSERT INTO public.phoenix_job_runs (job_id, type, queue, status, attempt, user_id, error) VALUES (gen_random_uuid(), 'cv.render', 'cv', 'failed', 1, $1, 'boom')"),
        ("export", "INSERT INTO public.phoenix_user_exports (export_id, user_id, document) VALUES (gen_random_uuid(), $1, jsonb_build_object('user_id', $1))"),
        // A job asked for through the outbox that no relay has taken yet (none runs here).
        ("outbox", "SELECT public.phoenix_enqueue_job('letter.generate', jsonb_build_object('user_id', $1::text, 'job_offer_text', 'Offre'))"),
    ]

    /// Issue 14 (5): the erase works for every kind of row a user can have, alone and all together (a paying
    /// user's payment linked to their subscription stopped the cascade before), and leaves others' rows.
    @Test func eraseWorksForEveryCombinationOfRows() async throws {
        try await withPlatform { queue, client in
            var users: [(id: UUID, email: String, kinds: [String])] = []
            for (index, (kind, _)) in Self.rowKinds.enumerated() {
                let user = try await signUp(client, name: "Solo\(index)")
                users.append((user.id, user.email, [kind]))
            }
            let everything = try await signUp(client, name: "Everything")
            users.append((everything.id, everything.email, Self.rowKinds.map(\.0)))
            let bystander = try await signUp(client, name: "Bystander")
            for user in users + [(bystander.id, bystander.email, Self.rowKinds.map(\.0))] {
                for (kind, sql) in Self.rowKinds where user.kinds.contains(kind) {
                    var bindings = PostgresBindings()
                    bindings.append(user.id)
                    try await client.query(PostgresQuery(unsafeSQL: sql, binds: bindings))
                }
            }
            let erasures = try users.map { try JobEnvelope(UserEraseJob.self, .init(userID: $0.id)) }
            try await queue.enqueue(erasures)
            try await eventually("every erase completed") { try await queue.stats(queue: "profiles").completed == erasures.count }
            #expect(try await queue.stats(queue: "profiles").dead == 0)
            for user in users {
                for needle in [user.id.uuidString.lowercased(), user.email] {
                    let holding = try await Self.tablesHolding(needle, client)
                    #expect(holding.isEmpty, "\(user.kinds) still in \(holding)")
                }
            }
            #expect(try await scalar(client, "SELECT count(*)::int FROM public.payment_history WHERE user_id IS NULL AND subscription_id IS NULL") == 4)
            #expect(try await scalar(client, "SELECT count(*)::int FROM public.payment_history WHERE user_id = \(bystander.id) AND subscription_id IS NOT NULL") == 1)
            #expect(try await Self.tablesHolding(bystander.id.uuidString.lowercased(), client).count >= 9)
        }
    }

    /// Issue 14 (5): the erase removes the user's waiting, delayed and dead jobs from Redis, and nothing of an
    /// event or job run arriving afterwards names the user.
    @Test func eraseRemovesTheUsersJobsFromRedisAndLaterEventsWriteNothing() async throws {
        try await withPlatform { queue, client in
            let alice = try await signUp(client, name: "Alice")
            let bob = try await signUp(client, name: "Bob")
            // No letters or cv worker runs here: those jobs wait. subscription.apply for "chess" goes dead.
            let waiting = { (user: UUID) in JobEnvelope(type: "letter.generate", queue: "letters", payload: .object(["user_id": .string(user.uuidString.uppercased()), "job_offer_text": .string("Lettre secrète")]), idempotencyKey: "letter-\(user)") }
            let delayed = { (user: UUID) in JobEnvelope(type: "cv.render", queue: "cv", payload: .object(["user_id": .string(user.uuidString.lowercased())]), delay: .seconds(3600)) }
            try await queue.enqueue([waiting(alice.id), delayed(alice.id), waiting(bob.id), delayed(bob.id)])
            try await queue.enqueue(try JobEnvelope(SubscriptionApplyJob.self, .init(userID: alice.id, appName: "chess", tier: "pro")))
            try await eventually("the bad subscription job is dead") { try await queue.stats(queue: "profiles").dead == 1 }

            try await queue.enqueue(try JobEnvelope(UserEraseJob.self, .init(userID: alice.id)))
            try await eventually("the erase completed") { try await queue.stats(queue: "profiles").completed == 1 }
            for name in ["letters", "cv", "profiles"] {
                let stats = try await queue.stats(queue: name)
                #expect(stats.ready + stats.delayed + stats.dead == (name == "profiles" ? 0 : 1), "\(name): \(stats)")
            }
            var remaining: [String] = []
            for name in ["letters", "cv"] {
                for key in [queue.keys.ready(name)] { remaining += try await queue.redis.send("LRANGE", key, 0, -1).array?.compactMap(\.string) ?? [] }
                remaining += try await queue.redis.send("ZRANGE", queue.keys.delayed(name), 0, -1).array?.compactMap(\.string) ?? []
            }
            for id in remaining {
                let envelope = try #require(try await queue.job(id: id)?.envelope)
                #expect(envelope.payload.jsonString.lowercased().contains(bob.id.uuidString.lowercased()))
            }
            #expect(try await queue.redis.send("EXISTS", queue.keys.idempotency("letter-\(alice.id)", in: "letters")) == .integer(0))
            #expect(try await queue.redis.send("EXISTS", queue.keys.idempotency("letter-\(bob.id)", in: "letters")) == .integer(1))

            // Afterwards: an event in Alice's stream and a job run naming her leave nothing behind.
            try await queue.enqueue(try eventJob(EventPayload(streamID: alice.id, eventType: "cv.generated", appSource: "cv")))
            try await eventually("the late event's job completed") { try await queue.stats(queue: "events").completed == 1 }
            try await client.query("INSERT INTO public.phoenix_job_runs (job_id, type, queue, status, attempt, user_id, error) VALUES (\(UUID()), 'cv.render', 'cv', 'failed', 1, \(alice.id), 'late')")
            try await client.query("SELECT public.create_phoenix_event(\(alice.id), 'cv.uploaded', 'cv')")
            #expect(try await Self.tablesHolding(alice.id.uuidString.lowercased(), client).isEmpty)
            #expect(try await scalar(client, "SELECT count(*)::int FROM public.phoenix_job_runs WHERE error = 'late'") == 0)
        }
    }

    /// An erase of an id that names no user (erased already, or never there) does not walk the queues: a flood
    /// of such jobs costs Redis nothing beyond the jobs themselves.
    @Test func eraseOfAnUnknownUserPurgesNothing() async throws {
        try await withPlatform { queue, client in
            let ghost = UUID()
            try await queue.enqueue(JobEnvelope(type: "letter.generate", queue: "letters", payload: .object(["user_id": .string(ghost.uuidString.lowercased())])))
            try await queue.enqueue(try JobEnvelope(UserEraseJob.self, .init(userID: ghost)))
            try await eventually("the erase completed") { try await queue.stats(queue: "profiles").completed == 1 }
            #expect(try await queue.stats(queue: "letters").ready == 1)
        }
    }

    /// Issue 14 (5): the daily retention pass deletes what has expired and keeps the rest.
    @Test func theRetentionPassDeletesExpiredExportsRunsAndDocuments() async throws {
        try await withPlatform { queue, client in
            let user = try await signUp(client, name: "Retained")
            try await client.query("INSERT INTO public.phoenix_user_exports (export_id, user_id, document, expires_at) VALUES (\(UUID()), \(user.id), '{}'::jsonb, now() - interval '1 day'), (\(UUID()), \(user.id), '{}'::jsonb, now() + interval '1 day')")
            try await client.query("INSERT INTO public.phoenix_job_runs (job_id, type, queue, status, attempt, finished_at) VALUES (\(UUID()), 'a.b', 'q', 'completed', 1, now() - interval '40 days'), (\(UUID()), 'a.b', 'q', 'completed', 1, now() - interval '20 days')")
            try await client.query("INSERT INTO public.letter_generations (user_id, job_offer_text, expires_at) VALUES (\(user.id), 'old', now() - interval '1 day'), (\(user.id), 'new', now() + interval '1 day')")
            try await client.query("INSERT INTO public.phoenix_events (stream_id, event_type, app_source, \"timestamp\") VALUES (\(user.id), 'a.b', 'cv', now() - interval '400 days'), (\(user.id), 'a.b', 'cv', now())")
            let pass = try JobEnvelope(MaintenanceCleanupJob.self, .init(jobRunsRetentionDays: 30))
            try await queue.enqueue(pass)
            try await eventually("the pass completed") { try await queue.job(id: pass.idString)?.state == .completed }
            #expect(try await scalar(client, "SELECT count(*)::int FROM public.phoenix_user_exports") == 1)
            #expect(try await scalar(client, "SELECT count(*)::int FROM public.phoenix_job_runs WHERE type = 'a.b'") == 1)
            #expect(try await scalar(client, "SELECT count(*)::int FROM public.letter_generations") == 1)
            #expect(try await scalar(client, "SELECT count(*)::int FROM public.phoenix_events WHERE event_type = 'a.b'") == 1)
            let bad = try JobEnvelope(MaintenanceCleanupJob.self, .init(jobRunsRetentionDays: 0))
            try await queue.enqueue(bad)
            try await eventually("a zero retention is refused") { try await queue.job(id: bad.idString)?.state == .dead }
            #expect(try await scalar(client, "SELECT count(*)::int FROM public.phoenix_job_runs WHERE type = 'a.b'") == 1)
            #expect(try PhoenixJobs.periodicJobs(servedBy: [WorkerType.userProfile.queue], environment: [:]).map(\.name) == ["profile.sync_all", "maintenance.cleanup"])
        }
    }

    /// The tables (of `public` and `auth`) with a row whose text holds `needle`.
    static func tablesHolding(_ needle: String, _ client: PostgresClient) async throws -> [String] {
        let tables = try await client.query("SELECT table_schema || '.' || table_name FROM information_schema.tables WHERE table_schema IN ('public', 'auth') AND table_type = 'BASE TABLE'")
        var names: [String] = []
        for try await name in tables.decode(String.self) { names.append(name) }
        var holding: [String] = []
        for table in names where try await scalar(client, PostgresQuery(unsafeSQL: "SELECT count(*)::int FROM \(table) t WHERE t::text ILIKE '%\(needle)%'")) > 0 {
            holding.append(table)
        }
        return holding
    }

    @Test func exportHoldsTheUsersRowsAndNoOtherUsers() async throws {
        try await withPlatform { queue, client in
            let alice = try await signUp(client, name: "Alice")
            let bob = try await signUp(client, name: "Bob")
            try await populate(client, alice.id)
            try await populate(client, bob.id)
            let export = try JobEnvelope(UserExportJob.self, .init(userID: alice.id))
            try await queue.enqueue(export)
            try await eventually("the export is stored") {
                try await scalar(client, "SELECT count(*)::int FROM public.phoenix_user_exports WHERE export_id = \(export.id)") == 1
            }
            let document = try #require(try await client.withConnection { try await UserDataRepository.exportDocument(exportID: export.id, on: $0) })
            #expect(document.contains(alice.email))
            #expect(document.contains(alice.id.uuidString.lowercased()))
            #expect(!document.contains(bob.email))
            #expect(!document.contains(bob.id.uuidString.lowercased()))
            let parsed = try #require(try JSONSerialization.jsonObject(with: Data(document.utf8)) as? [String: Any])
            for section in ["letters", "cvs", "activity", "events", "nudges", "payments", "subscriptions", "usage_limits", "job_runs"] {
                #expect((parsed[section] as? [Any])?.isEmpty == false, "section \(section)")
            }
        }
    }

    @Test func afterEraseNoTableHoldsTheUsersEmailOrIdButWhatTheDocsSayRemains() async throws {
        try await withPlatform { queue, client in
            let alice = try await signUp(client, name: "Alice")
            let bob = try await signUp(client, name: "Bob")
            try await populate(client, alice.id)
            try await populate(client, bob.id)
            try await queue.enqueue(try JobEnvelope(UserExportJob.self, .init(userID: alice.id)))
            try await eventually("the export ran") { try await settled(queue) }
            try await queue.enqueue(try JobEnvelope(UserEraseJob.self, .init(userID: alice.id)))
            try await eventually("the erase ran") { try await queue.stats(queue: "profiles").completed == 2 }

            // Every row of every table, as text, searched for the user's id and email.
            #expect(try await Self.tablesHolding(bob.id.uuidString.lowercased(), client).count >= 9)
            for needle in [alice.id.uuidString.lowercased(), alice.email] {
                let holding = try await Self.tablesHolding(needle, client)
                #expect(holding.isEmpty, "\(holding) still hold \(needle)")
            }
            // What remains by design: the payment, without anything naming the user; Bob's data untouched.
            #expect(try await scalar(client, "SELECT count(*)::int FROM public.payment_history WHERE user_id IS NULL AND amount = 9.99") == 1)
            #expect(try await scalar(client, "SELECT count(*)::int FROM public.letter_generations WHERE user_id = \(bob.id)") == 1)
            #expect(try await scalar(client, "SELECT count(*)::int FROM public.phoenix_events WHERE stream_id = \(bob.id)") == 1)
        }
    }

    @Test func syncAllWalksEveryProfileInBatchesWithProgress() async throws {
        try await withPlatform { queue, client in
            var users: [UUID] = []
            for index in 0..<7 { users.append(try await signUp(client, name: "User\(index)").id) }
            try await client.query("UPDATE public.profiles SET full_name = 'stale'")
            try await client.query("INSERT INTO public.cv_generations (user_id, cv_data) VALUES (\(users[0]), '{}'::jsonb)")
            let job = try JobEnvelope(ProfileSyncAllJob.self, .init(batchSize: 3))
            try await queue.enqueue(job)
            try await eventually("sync_all completed") { try await queue.job(id: job.idString)?.state == .completed }
            #expect(try await scalar(client, "SELECT count(*)::int FROM public.profiles WHERE full_name LIKE 'User%'") == 7)
            #expect(try await scalar(client, "SELECT total_cv_generated FROM public.profiles WHERE id = \(users[0])") == 1)
            let record = try #require(try await queue.job(id: job.idString))
            #expect(record.progress == 1)
            #expect(record.progressMessage == "7 profiles synchronised")
        }
    }

    @Test func subscriptionForAnUnknownAppIsAPermanentFailure() async throws {
        try await withPlatform { queue, client in
            let user = try await signUp(client, name: "Eva")
            try await queue.enqueue(try JobEnvelope(SubscriptionApplyJob.self, .init(userID: user.id, appName: "chess", tier: "premium")))
            try await eventually("the job is dead") { try await queue.stats(queue: "profiles").dead == 1 }
            #expect(try await queue.deadJobs(queue: "profiles").first?.error.contains("app_name 'chess' must be one of cv, ecosystem, letters, rise") == true)
            #expect(try await text(client, "SELECT subscription_tier FROM public.profiles WHERE id = \(user.id)") == "free")
        }
    }
}
