import Foundation
import Logging
import PostgresNIO
import PhoenixSupabase
import Testing
import TestSupport

@Suite struct JobRunTests {
    @Test func theSameJobDeliveredTwiceConcurrentlyCommitsOneRunAndOneResult() async throws {
        try await TestPostgres.withMigratedDatabase { client in
            let user = try await createUser(client)
            let store = PhoenixStore(client: client)
            let run = JobRun(jobID: UUID(), type: "letter.generate", queue: "letters", attempt: 1, worker: "w1", userID: user)
            let outcomes = try await withThrowingTaskGroup(of: Bool.self) { group in
                for worker in ["w1", "w2"] {
                    var delivery = run
                    delivery.worker = worker
                    group.addTask {
                        let outcome = try await store.runOnce(delivery) { connection in
                            let id = try await DocumentRepository.insertLetter(userID: user, jobOfferText: "Développeur Swift", letter: "Madame, Monsieur…", generationType: "standard", optimizationLevel: "basic", on: connection)
                            // Hold the transaction open so that both deliveries overlap.
                            try await connection.query("SELECT pg_sleep(0.3)", logger: Logger(label: "test.store"))
                            return ((), #"{"letter_id": "\#(id.uuidString.lowercased())"}"#)
                        }
                        if case .ran = outcome { return true }
                        return false
                    }
                }
                var ran: [Bool] = []
                for try await outcome in group { ran.append(outcome) }
                return ran
            }
            #expect(outcomes.count == 2)
            #expect(outcomes.filter { $0 }.count == 1)
            #expect(try await count(client, "SELECT count(*)::int FROM public.phoenix_job_runs WHERE job_id = \(run.jobID)") == 1)
            #expect(try await count(client, "SELECT count(*)::int FROM public.letter_generations WHERE user_id = \(user)") == 1)
            #expect(try await count(client, "SELECT count(*)::int FROM public.phoenix_job_runs WHERE job_id = \(run.jobID) AND status = 'completed' AND result ? 'letter_id' AND duration_ms >= 300") == 1)
        }
    }

    @Test func overlappingBatchesRunEachSharedJobOnce() async throws {
        try await TestPostgres.withMigratedDatabase { client in
            let user = try await createUser(client)
            let store = PhoenixStore(client: client)
            let jobs = (0..<3).map { _ in JobRun(jobID: UUID(), type: "event.publish", queue: "events", attempt: 1, worker: "w", userID: user) }
            // Both batches hold the middle job; each writes one letter per job it runs.
            let batches = [[jobs[0], jobs[1]], [jobs[1], jobs[2]]]
            let ran = try await withThrowingTaskGroup(of: Set<UUID>.self) { group in
                for batch in batches {
                    group.addTask {
                        try await store.runBatchOnce(batch) { connection, ids in
                            for id in ids {
                                _ = try await DocumentRepository.insertLetter(userID: user, jobOfferText: id.uuidString, letter: "…", generationType: "standard", optimizationLevel: "basic", on: connection)
                            }
                            try await connection.query("SELECT pg_sleep(0.3)", logger: Logger(label: "test.store"))
                        }
                    }
                }
                var all: [Set<UUID>] = []
                for try await ids in group { all.append(ids) }
                return all
            }
            #expect(ran.count == 2)
            #expect(ran[0].intersection(ran[1]).isEmpty)
            #expect(ran[0].union(ran[1]) == Set(jobs.map(\.jobID)))
            #expect(try await count(client, "SELECT count(*)::int FROM public.phoenix_job_runs WHERE status = 'completed'") == 3)
            #expect(try await count(client, "SELECT count(DISTINCT job_offer_text)::int FROM public.letter_generations") == 3)
            #expect(try await count(client, "SELECT count(*)::int FROM public.letter_generations") == 3)
        }
    }

    @Test func aFailedAttemptRollsBackAndTheNextOneCommits() async throws {
        try await TestPostgres.withMigratedDatabase { client in
            let user = try await createUser(client)
            let store = PhoenixStore(client: client)
            var run = JobRun(jobID: UUID(), type: "cv.render", queue: "cv", attempt: 1, worker: "w1", userID: user)
            struct Boom: Error, CustomStringConvertible { var description: String { "renderer crashed" } }
            await #expect(throws: Boom.self) {
                _ = try await store.runOnce(run) { connection -> (value: Void, result: String?) in
                    _ = try await DocumentRepository.insertCV(userID: user, template: "classic", status: "completed", cvData: "{}", html: nil, on: connection)
                    throw Boom()
                }
            }
            // runOnce records the failed attempt itself (issue 17: nothing called recordFailure, so failed
            // attempts never reached phoenix_job_runs).
            #expect(try await count(client, "SELECT count(*)::int FROM public.cv_generations") == 0)
            #expect(try await count(client, "SELECT count(*)::int FROM public.phoenix_job_runs WHERE status = 'failed' AND error = 'renderer crashed'") == 1)

            run.attempt = 2
            let outcome = try await store.runOnce(run) { connection in
                _ = try await DocumentRepository.insertCV(userID: user, template: "classic", status: "completed", cvData: "{}", html: "<p/>", on: connection)
                return ((), nil)
            }
            guard case .ran = outcome else {
                Issue.record("the second attempt should run")
                return
            }
            // A late failure report of an older attempt does not overwrite the completed run.
            try await store.recordFailure(run, error: "late")
            #expect(try await count(client, "SELECT count(*)::int FROM public.phoenix_job_runs WHERE status = 'completed' AND attempt = 2 AND error IS NULL") == 1)
            #expect(try await count(client, "SELECT count(*)::int FROM public.cv_generations") == 1)
        }
    }

    @Test func eventsAreIdempotentOnTheirId() async throws {
        try await TestPostgres.withMigratedDatabase { client in
            let user = try await createUser(client)
            let event = NewEvent(streamID: user, eventType: "letter.generated", appSource: "letters", payload: #"{"letter_id": "x"}"#)
            let first = try await client.withConnection { try await EventRepository.append([event, event], on: $0) }
            #expect(first == [event.eventID])
            let again = try await client.withConnection { try await EventRepository.append([event], on: $0) }
            #expect(again.isEmpty)
            #expect(try await count(client, "SELECT count(*)::int FROM public.phoenix_events") == 1)
        }
    }

    /// Issue 14 (8): a PostgreSQL failure reads as SQLSTATE, message and the object it names, never a bind value.
    @Test func aDatabaseFailureSaysWhatFailedWithoutTheValues() async throws {
        try await TestPostgres.withMigratedDatabase { client in
            let store = PhoenixStore(client: client)
            let stranger = UUID()
            let run = JobRun(jobID: UUID(), type: "letter.generate", queue: "letters", attempt: 1, worker: "w1", userID: nil)
            do {
                _ = try await store.runOnce(run) { connection in
                    _ = try await DocumentRepository.insertLetter(userID: stranger, jobOfferText: "secret offer", letter: "secret letter", generationType: "standard", optimizationLevel: "basic", on: connection)
                    return ((), nil)
                }
                Issue.record("a letter for a user without a profile was stored")
            } catch {
                let text = "\(error)"
                let database = try #require(error as? DatabaseError, "\(type(of: error)): \(text)")
                #expect(database.sqlState == "23503" && database.isDataError)
                #expect(text.contains("23503") && text.contains("letter_generations") && text.contains("constraint letter_generations_user_id_fkey"), "\(text)")
                #expect(!text.contains("Generic description"))
                #expect(!text.contains(stranger.uuidString.lowercased()) && !text.contains("secret"), "\(text)")
            }
            // Nothing of the attempt committed; its run row says it failed and why, without the values.
            #expect(try await count(client, "SELECT count(*)::int FROM public.letter_generations") == 0)
            #expect(try await count(client, "SELECT count(*)::int FROM public.phoenix_job_runs WHERE status = 'failed' AND error LIKE '%23503%' AND error NOT LIKE '%secret%'") == 1)
            #expect(try await count(client, "SELECT count(*)::int FROM public.phoenix_job_runs") == 1)
        }
    }
}
