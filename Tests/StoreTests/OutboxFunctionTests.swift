import Foundation
import Logging
import PostgresNIO
import Testing
import TestSupport

/// Issue 22 (1): `public.phoenix_enqueue_job` asks for a job inside the caller's transaction, under the HTTP
/// front's rules, enforced in SQL.
@Suite struct OutboxFunctionTests {
    let logger = Logger(label: "test.outbox")

    /// Who calls: the session role (`SET LOCAL ROLE`, as PostgREST does) and the JWT claims it carries.
    struct Caller {
        var role: String
        var claims: String?

        static func user(_ id: UUID) -> Caller {
            Caller(role: "authenticated", claims: #"{"sub": "\#(id.uuidString.lowercased())", "role": "authenticated"}"#)
        }
        static let service = Caller(role: "service_role", claims: #"{"role": "service_role"}"#)
        static let anon = Caller(role: "anon", claims: #"{"role": "anon"}"#)
    }

    /// What one call answered: the job id, or the SQLSTATE and message of its error.
    enum Answer: Equatable {
        case id(UUID)
        case refused(state: String, message: String)

        var state: String? {
            if case .refused(let state, _) = self { return state }
            return nil
        }
    }

    /// Calls the function as `caller` in a transaction of its own, committed when the call succeeded.
    func enqueue(_ client: PostgresClient, as caller: Caller, type: String, payload: String, options: String = "{}") async throws -> Answer {
        do {
            return try await client.withTransaction(logger: logger) { connection in
                try await connection.query(PostgresQuery(unsafeSQL: "SET LOCAL ROLE \(caller.role)"), logger: logger)
                if let claims = caller.claims {
                    try await connection.query("SELECT set_config('request.jwt.claims', \(claims), true)", logger: logger)
                }
                let rows = try await connection.query(
                    "SELECT public.phoenix_enqueue_job(\(type), \(payload)::jsonb, \(options)::jsonb)", logger: logger)
                for try await id in rows.decode(UUID.self) { return .id(id) }
                return .refused(state: "", message: "no row")
            }
        } catch let error as PostgresTransactionError {
            guard let refusal = error.closureError as? PSQLError else { throw error }
            return .refused(state: refusal.serverInfo?[.sqlState] ?? "", message: refusal.serverInfo?[.message] ?? "")
        }
    }

    /// The outbox's rows, as `type|enqueued_by|queue|priority|idempotency_key|correlation_id|delayed`.
    func rows(_ client: PostgresClient) async throws -> [String] {
        let query: PostgresQuery = """
            SELECT job_type || '|' || enqueued_by || '|' || coalesce(queue, '') || '|' || priority || '|' ||
              coalesce(idempotency_key, '') || '|' || coalesce(correlation_id, '') || '|' || (run_at IS NOT NULL)
            FROM public.phoenix_job_outbox ORDER BY created_at, job_type
            """
        var found: [String] = []
        for try await row in try await client.query(query).decode(String.self) { found.append(row) }
        return found
    }

    @Test func aUserAsksForTheirOwnJobAndTheRowNamesThemAndNamespacesTheirKey() async throws {
        try await TestPostgres.withMigratedDatabase { client in
            let alice = try await createUser(client)
            let answer = try await enqueue(client, as: .user(alice), type: "letter.generate",
                                           payload: #"{"user_id": "\#(alice.uuidString)"}"#,
                                           options: #"{"idempotencyKey": "k1", "delaySeconds": 60, "correlationId": "c1"}"#)
            guard case .id(let id) = answer else { Issue.record("refused: \(answer)"); return }
            let a = alice.uuidString.lowercased()
            #expect(try await rows(client) == ["letter.generate|user:\(a)||0|user:\(a):letter.generate:k1|c1|true"])
            #expect(try await count(client, "SELECT count(*)::int FROM public.phoenix_job_outbox WHERE id = \(id)") == 1)
        }
    }

    @Test func aUserCannotAskForAnotherUsersJobAServiceJobAQueueAPriorityOrABillingEvent() async throws {
        try await TestPostgres.withMigratedDatabase { client in
            let alice = try await createUser(client), bob = try await createUser(client)
            let mine = #"{"user_id": "\#(alice)"}"#
            let refusals: [(type: String, payload: String, options: String)] = [
                ("letter.generate", #"{"user_id": "\#(bob)"}"#, "{}"),
                ("letter.generate", "{}", "{}"),
                ("subscription.apply", mine, "{}"),
                ("profile.refresh_stats", mine, "{}"),
                ("letter.generate", mine, #"{"queue": "letters"}"#),
                ("letter.generate", mine, #"{"priority": 5}"#),
                ("event.publish", #"{"stream_id": "\#(alice)", "event_type": "user.tier_updated", "app_source": "cv"}"#, "{}"),
                ("event.publish", #"{"stream_id": "\#(alice)", "event_type": "subscription.updated", "app_source": "cv"}"#, "{}"),
                ("event.publish", #"{"stream_id": "\#(alice)", "event_type": "cv.generated", "app_source": "billing"}"#, "{}"),
            ]
            for refusal in refusals {
                let answer = try await enqueue(client, as: .user(alice), type: refusal.type, payload: refusal.payload, options: refusal.options)
                #expect(answer.state == "42501", "\(refusal.type) \(refusal.payload) \(refusal.options): \(answer)")
            }
            // Her own event of a type users publish is fine.
            let event = #"{"stream_id": "\#(alice)", "event_type": "cv.generated", "app_source": "cv"}"#
            #expect(try await enqueue(client, as: .user(alice), type: "event.publish", payload: event).state == nil)
            #expect(try await rows(client).count == 1)
        }
    }

    @Test func anonCannotCallItAndAForgedClaimDoesNotLiftAUsersSession() async throws {
        try await TestPostgres.withMigratedDatabase { client in
            let alice = try await createUser(client)
            let anon = try await enqueue(client, as: .anon, type: "letter.generate", payload: #"{"user_id": "\#(alice)"}"#)
            #expect(anon.state == "42501")
            // A user's session whose claims say service_role still gets a user's rights.
            let forged = Caller(role: "authenticated", claims: #"{"sub": "\#(alice)", "role": "service_role"}"#)
            #expect(try await enqueue(client, as: forged, type: "subscription.apply", payload: #"{"user_id": "\#(alice)"}"#).state == "42501")
            // And a service session whose claims say anon is refused.
            let anonClaims = Caller(role: "service_role", claims: #"{"role": "anon"}"#)
            #expect(try await enqueue(client, as: anonClaims, type: "diagnostic.noop", payload: "{}").state == "42501")
            #expect(try await rows(client).isEmpty)
        }
    }

    /// The HTTP front's per-caller limit holds here too: 600 jobs a minute per user (counted in the minute each
    /// transaction began); other users and services are not held by it.
    @Test func aUserMayAskForAtMostSixHundredJobsAMinute() async throws {
        try await TestPostgres.withMigratedDatabase { client in
            let alice = try await createUser(client), bob = try await createUser(client)
            /// Asks for `count` jobs as `user` in one transaction; nil, or the SQLSTATE of the refusal.
            func ask(_ count: Int, as user: UUID) async throws -> String? {
                let caller = Caller.user(user)
                do {
                    try await client.withTransaction(logger: logger) { connection in
                        try await connection.query(PostgresQuery(unsafeSQL: "SET LOCAL ROLE \(caller.role)"), logger: logger)
                        try await connection.query("SELECT set_config('request.jwt.claims', \(caller.claims ?? ""), true)", logger: logger)
                        // Read to the end: an error after the row description comes with the rows.
                        _ = try await connection.query("""
                            SELECT count(public.phoenix_enqueue_job('profile.sync', jsonb_build_object('user_id', \(user.uuidString.lowercased()))))
                            FROM generate_series(1, \(count))
                            """, logger: logger).collect()
                    }
                    return nil
                } catch let error as PostgresTransactionError {
                    return (error.closureError as? PSQLError)?.serverInfo?[.sqlState] ?? "\(error)"
                }
            }
            let refused = try await ask(601, as: alice)
            #expect(refused == "54000", "\(String(describing: refused))")
            #expect(try await count(client, "SELECT count(*)::int FROM public.phoenix_job_outbox") == 0)
            #expect(try await ask(600, as: alice) == nil)
            #expect(try await ask(1, as: bob) == nil)
            #expect(try await enqueue(client, as: .service, type: "profile.sync", payload: #"{"user_id": "\#(bob)"}"#).state == nil)
            #expect(try await count(client, "SELECT count(*)::int FROM public.phoenix_job_outbox") == 602)
        }
    }

    @Test func serviceRoleAsksForAnyJobWithAQueueAndAPriority() async throws {
        try await TestPostgres.withMigratedDatabase { client in
            let answer = try await enqueue(client, as: .service, type: "subscription.apply", payload: #"{"user_id": "\#(UUID())"}"#,
                                           options: #"{"queue": "profiles", "priority": 7, "idempotencyKey": "s1"}"#)
            #expect(answer.state == nil, "\(answer)")
            #expect(try await rows(client) == ["subscription.apply|service|profiles|7|service:subscription.apply:s1||false"])
        }
    }

    @Test func aMalformedRequestIsRefusedWithWhatIsWrongAndWritesNothing() async throws {
        try await TestPostgres.withMigratedDatabase { client in
            let cases: [(type: String, payload: String, options: String, says: String)] = [
                ("", "{}", "{}", "job_type"),
                ("diagnostic.noop", "[1]", "{}", "payload must be a JSON object"),
                ("diagnostic.noop", "{}", "[]", "options must be a JSON object"),
                ("diagnostic.noop", "{}", #"{"maxAttempts": 9, "delay": 1}"#, "unknown options: delay, maxAttempts"),
                ("diagnostic.noop", "{}", #"{"priority": 1.5}"#, "whole number"),
                ("diagnostic.noop", "{}", #"{"priority": "1"}"#, "priority must be a number"),
                ("diagnostic.noop", "{}", #"{"delaySeconds": -1}"#, "between 0 and 31536000"),
                ("diagnostic.noop", "{}", #"{"idempotencyKey": ""}"#, "1-200 bytes"),
                ("diagnostic.noop", "{}", #"{"idempotencyKey": "route:x"}"#, "reserved"),
                ("diagnostic.noop", "{}", #"{"queue": 3}"#, "queue must be a string"),
                ("diagnostic.noop", #"{"text": "\#(String(repeating: "a", count: 131_072))"}"#, "{}", "payload must be at most 131072 bytes"),
            ]
            for bad in cases {
                let answer = try await enqueue(client, as: .service, type: bad.type, payload: bad.payload, options: bad.options)
                guard case .refused(let state, let message) = answer else { Issue.record("accepted \(bad)"); continue }
                #expect(state == "22023", "\(bad): \(message)")
                #expect(message.contains(bad.says), "\(bad): \(message)")
            }
            #expect(try await rows(client).isEmpty)
        }
    }

    /// The point of the outbox: the request exists if and only if the caller's transaction commits.
    @Test func aRolledBackTransactionLeavesNoRowAndACommittedOneLeavesOne() async throws {
        struct RolledBack: Error {}
        try await TestPostgres.withMigratedDatabase { client in
            let error = await #expect(throws: PostgresTransactionError.self) {
                try await client.withTransaction(logger: logger) { connection in
                    _ = try await connection.query("SELECT public.phoenix_enqueue_job('diagnostic.noop', '{}'::jsonb)", logger: logger)
                    throw RolledBack()
                }
            }
            #expect(error?.closureError is RolledBack && error?.rollbackError == nil)
            #expect(try await rows(client).isEmpty)
            try await client.withTransaction(logger: logger) { connection in
                _ = try await connection.query("SELECT public.phoenix_enqueue_job('diagnostic.noop', '{}'::jsonb)", logger: logger)
            }
            #expect(try await rows(client) == ["diagnostic.noop|service||0|||false"])
        }
    }
}
