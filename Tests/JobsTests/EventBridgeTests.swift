import EventBridge
import Foundation
import PostgresNIO
import PhoenixJobsCore
import PhoenixQueue
import PhoenixRedis
import PhoenixSupabase
import Testing
import TestSupport

@Suite struct EventBridgeTests {
    @Test func anEventIsStoredOnceWhenEnqueuedTwiceOrDeliveredTwice() async throws {
        try await withPlatform { queue, client in
            let user = try await signUp(client, name: "Ines")
            let event = EventPayload(streamID: user.id, eventType: "cv.template_selected", appSource: "cv", payload: .object(["template": .string("modern")]), eventID: UUID(), sessionID: "s-1")
            let first = try eventJob(event), second = try eventJob(event)
            try await queue.enqueue([first, second])
            try await eventually("both jobs completed") { try await queue.stats(queue: "events").completed == 2 }

            // Redelivery, as after a lost ack: the same job back in the ready list.
            try await queue.redis.send("HSET", queue.keys.job(first.idString, in: "events"), "state", "ready")
            try await queue.redis.send("LPUSH", queue.keys.ready("events"), first.idString)
            try await eventually("the redelivered job completed") { try await queue.stats(queue: "events").completed == 3 }

            #expect(try await scalar(client, "SELECT count(*)::int FROM public.phoenix_events WHERE event_id = \(event.eventID)") == 1)
            #expect(try await scalar(client, "SELECT count(*)::int FROM public.user_activity_metrics WHERE user_id = \(user.id) AND action_type = 'cv.template_selected'") == 1)
            #expect(try await scalar(client, "SELECT count(*)::int FROM public.phoenix_job_runs WHERE job_id = \(first.id) AND status = 'completed' AND attempt = 1") == 1)
            #expect(try await queue.job(id: first.idString)?.attempt == 2)
        }
    }

    @Test func userRegisteredLeadsToTheProfile() async throws {
        try await withPlatform { queue, client in
            let user = try await signUp(client, name: "Hugo")
            // A user created before the sign-up trigger existed: no profile yet.
            try await client.query("DELETE FROM public.profiles WHERE id = \(user.id)")
            try await queue.enqueue(try eventJob(EventPayload(streamID: user.id, eventType: "user.registered", appSource: "website")))
            try await eventually("the profile exists") {
                try await scalar(client, "SELECT count(*)::int FROM public.profiles WHERE id = \(user.id)") == 1
            }
            #expect(try await text(client, "SELECT full_name FROM public.profiles WHERE id = \(user.id)") == "Hugo")
            #expect(try await text(client, "SELECT email FROM public.profiles WHERE id = \(user.id)") == user.email)
        }
    }

    @Test func letterGeneratedUpdatesTheProfileTotals() async throws {
        try await withPlatform { queue, client in
            let user = try await signUp(client, name: "Zoe")
            try await client.query("INSERT INTO public.letter_generations (user_id, generated_letter) VALUES (\(user.id), 'Madame, Monsieur')")
            #expect(try await scalar(client, "SELECT total_letters_generated FROM public.profiles WHERE id = \(user.id)") == 0)
            try await queue.enqueue(try eventJob(EventPayload(streamID: user.id, eventType: "letter.generated", appSource: "letters")))
            try await eventually("the totals are updated") {
                try await scalar(client, "SELECT total_letters_generated FROM public.profiles WHERE id = \(user.id)") == 1
            }
            try await eventually("all jobs done") { try await settled(queue) }
            #expect(try await queue.stats(queue: "profiles").completed == 1)
        }
    }

    @Test func aTierChangeUpdatesSubscriptionsLimitsAndProfileAndEmitsItsEvent() async throws {
        try await withPlatform { queue, client in
            let user = try await signUp(client, name: "Nora")
            let billing = EventPayload(streamID: user.id, eventType: "subscription.updated", appSource: "billing", payload: .object([
                "app_name": .string("letters"), "tier": .string("premium"), "status": .string("active"),
            ]))
            try await queue.enqueue(try eventJob(billing))
            try await eventually("the tier event is written") {
                try await scalar(client, "SELECT count(*)::int FROM public.phoenix_events WHERE stream_id = \(user.id) AND event_type = 'user.tier_updated'") == 1
            }
            #expect(try await text(client, "SELECT subscription_tier FROM public.user_subscriptions WHERE user_id = \(user.id) AND app_name = 'letters'") == "premium")
            #expect(try await text(client, "SELECT subscription_tier FROM public.profiles WHERE id = \(user.id)") == "premium")
            // The premium user's letters get twice a free user's turns in the fair letters queue.
            let weights = try await queue.redis.send("HGET", queue.keys.weights("letters"), user.id.uuidString.lowercased())
            #expect(weights.string == "2")
            #expect(try await scalar(client, "SELECT letters_generated_limit FROM public.user_usage_limits WHERE user_id = \(user.id)") == -1)
            #expect(try await scalar(client, "SELECT cv_generations_limit FROM public.user_usage_limits WHERE user_id = \(user.id)") == 3)
        }
    }

    /// Issue 14 (1): a user's own billing event, however it reached the queue, is recorded as theirs and routes no tier change.
    @Test func aBillingEventSubmittedByAUserChangesNoTier() async throws {
        try await withPlatform { queue, client in
            let user = try await signUp(client, name: "Mallory")
            for (type, app, tier) in [("subscription.updated", "cv", "pro"), ("subscription.created", "letters", "premium")] {
                var job = try eventJob(EventPayload(streamID: user.id, eventType: type, appSource: "billing", payload: .object([
                    "app_name": .string(app), "tier": .string(tier), "status": .string("active"),
                ])))
                job.enqueuedBy = Enqueuer.user(user.id)
                try await queue.enqueue(job)
            }
            try await eventually("both events are stored") {
                try await scalar(client, "SELECT count(*)::int FROM public.phoenix_events WHERE stream_id = \(user.id) AND app_source = 'billing'") == 2
            }
            try await eventually("all jobs done") { try await settled(queue) }
            #expect(try await queue.stats(queue: "events").completed == 2)
            #expect(try await queue.stats(queue: "profiles").enqueued == 0)
            #expect(try await text(client, "SELECT public.get_user_app_tier(\(user.id), 'cv')") == "free")
            #expect(try await text(client, "SELECT public.get_user_app_tier(\(user.id), 'letters')") == "free")
            #expect(try await scalar(client, "SELECT count(*)::int FROM public.phoenix_events WHERE metadata ->> 'submitted_by' = \(Enqueuer.user(user.id))") == 2)
        }
    }

    @Test func invalidEventsFailPermanentlyAndWriteNothing() async throws {
        try await withPlatform { queue, client in
            let user = try await signUp(client, name: "Omar")
            let huge = String(repeating: "x", count: 70_000)
            let bad = [
                EventPayload(streamID: user.id, eventType: "Registered", appSource: "website"),
                EventPayload(streamID: user.id, eventType: "user.registered", appSource: "fax"),
                EventPayload(streamID: user.id, eventType: "cv.uploaded", appSource: "cv", payload: .object(["blob": .string(huge)])),
            ]
            try await queue.enqueue(try bad.map(eventJob))
            let notAUUID = JobEnvelope(type: "event.publish", queue: "events", payload: .object([
                "stream_id": .string("not-a-uuid"), "event_type": .string("a.b"), "app_source": .string("cv"), "payload": .object([:]),
            ]))
            try await queue.enqueue(notAUUID)
            try await eventually("all four are dead") { try await queue.stats(queue: "events").dead == 4 }
            let errors = try await queue.deadJobs(queue: "events").map(\.error).sorted()
            #expect(errors.contains { $0.contains("event_type 'Registered' must be domain.action") })
            #expect(errors.contains { $0.contains("app_source 'fax' must be one of") })
            #expect(errors.contains { $0.contains("payload is 700") && $0.contains("bytes of JSON; at most 65536 are accepted") })
            #expect(errors.contains { $0.contains("field 'stream_id'") })
            #expect(try await scalar(client, "SELECT count(*)::int FROM public.phoenix_events") == 0)
            #expect(try await scalar(client, "SELECT count(*)::int FROM public.phoenix_job_runs") == 0)
        }
    }

    @Test func onePoisonEventDoesNotHoldBackTheValidEventsOfItsBatch() async throws {
        try await withPlatform { queue, client in
            let user = try await signUp(client, name: "Nora")
            var events = (0..<198).map { n in
                EventPayload(streamID: user.id, eventType: "cv.viewed", appSource: "cv", payload: .object(["n": .number(Double(n))]))
            }
            // jsonb refuses U+0000; varchar(100) counts code points, and these 100 characters are 200 of them.
            let nul = EventPayload(streamID: user.id, eventType: "cv.viewed", appSource: "cv", payload: .object(["note": .string("a\u{0}b")]))
            let long = EventPayload(streamID: user.id, eventType: "cv.viewed", appSource: "cv", sessionID: String(repeating: "e\u{301}", count: 100))
            events.insert(nul, at: 50)
            events.insert(long, at: 150)
            let jobs = try events.map(eventJob)
            try await queue.enqueue(jobs)
            try await eventually("every job finished") {
                let stats = try await queue.stats(queue: "events")
                return stats.completed + stats.dead == 200
            }
            // Before, each poison job failed the whole batch it came in, on every one of its attempts.
            let stats = try await queue.stats(queue: "events")
            #expect((stats.completed, stats.dead, stats.failed) == (198, 2, 2))
            #expect(try await scalar(client, "SELECT count(*)::int FROM public.phoenix_job_runs WHERE status = 'completed' AND attempt = 1") == 198)
            #expect(try await scalar(client, "SELECT count(*)::int FROM public.phoenix_events") == 198)
            let errors = try await queue.deadJobs(queue: "events").map(\.error)
            #expect(errors.contains { $0.contains("payload contains a NUL character") })
            #expect(errors.contains { $0.contains("session_id must be at most 100 characters (Unicode code points), got 200") })
        }
    }

    @Test func aFollowUpRoutedAgainAfterItsKeyExpiredIsTheSameJobAndWritesNothingTwice() async throws {
        try await withPlatform { queue, client in
            let user = try await signUp(client, name: "Yann")
            let event = EventPayload(streamID: user.id, eventType: "user.registered", appSource: "website", eventID: UUID())
            let key = "route:\(user.id.uuidString.lowercased()):\(event.eventID!.uuidString.lowercased()):profile.sync"
            let followUp = JobEnvelope.derivedID(key)
            try await queue.enqueue(try eventJob(event))
            try await eventually("the profile sync ran") { try await queue.job(id: followUp.uuidString.lowercased())?.state == .completed }
            // Days later: the idempotency key and the job's record have expired, and the event comes again.
            try await queue.redis.send("DEL", queue.keys.idempotency(key, in: "profiles"), queue.keys.job(followUp.uuidString.lowercased(), in: "profiles"))
            try await queue.enqueue(try eventJob(event))
            try await eventually("the second routing's job completed") {
                try await queue.stats(queue: "profiles").completed == 2
            }
            // Before, the second follow-up had an id of its own and ran again. Another user's event with the
            // same event id routes a job of its own (the key names the stream).
            let other = try await signUp(client, name: "Zoe")
            try await client.query("DELETE FROM public.profiles WHERE id = \(other.id)")
            try await queue.enqueue(try eventJob(EventPayload(streamID: other.id, eventType: "user.registered", appSource: "website", eventID: event.eventID)))
            try await eventually("the other user's profile exists") {
                try await scalar(client, "SELECT count(*)::int FROM public.profiles WHERE id = \(other.id)") == 1
            }
            #expect(try await scalar(client, "SELECT count(*)::int FROM public.phoenix_job_runs WHERE type = 'profile.sync'") == 2)
            #expect(try await scalar(client, "SELECT count(*)::int FROM public.phoenix_job_runs WHERE job_id = \(followUp)") == 1)
        }
    }
}
