import Foundation
import PostgresNIO
import Queue
import Store
import Testing
import TestSupport
import UserProfileSync
import Worker

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
            for section in ["letters", "cvs", "activity", "events", "nudges", "payments", "subscriptions", "usage_limits"] {
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
            let tables = try await client.query("SELECT table_schema || '.' || table_name FROM information_schema.tables WHERE table_schema IN ('public', 'auth') AND table_type = 'BASE TABLE'")
            var names: [String] = []
            for try await name in tables.decode(String.self) { names.append(name) }
            #expect(names.count >= 12)
            for table in names {
                for needle in [alice.id.uuidString.lowercased(), alice.email] {
                    let hits = try await scalar(client, PostgresQuery(unsafeSQL: "SELECT count(*)::int FROM \(table) t WHERE t::text LIKE '%\(needle)%'"))
                    #expect(hits == 0, "\(table) still holds \(needle)")
                }
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
