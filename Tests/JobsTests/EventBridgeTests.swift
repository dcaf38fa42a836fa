import EventBridge
import Foundation
import PostgresNIO
import Queue
import Redis
import Store
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
            try await queue.redis.send("HSET", queue.keys.job(first.idString), "state", "ready")
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
}
