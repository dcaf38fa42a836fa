import Foundation
import PhoenixJobsCore

/// One waiting row of `public.phoenix_job_outbox`, as the relay reads it.
struct OutboxRow: Sendable {
    /// The columns the relay selects, in order.
    typealias Columns = (UUID, String, String, String?, Int32, Date?, String?, String?, String)

    var id: UUID
    var type: String
    var payload: String
    var queue: String?
    var priority: Int
    var runAt: Date?
    var idempotencyKey: String?
    var correlationId: String?
    var enqueuedBy: String

    init(_ columns: Columns) {
        (id, type, payload, queue, _, runAt, idempotencyKey, correlationId, enqueuedBy) = columns
        priority = Int(columns.4)
    }

    /// The job the row asks for, with the row's id: checked as the HTTP front checks a submission (its type in
    /// `catalog`, the envelope's rules). `phoenix_enqueue_job` already applied the caller's rules and namespaced
    /// the idempotency key.
    /// - Throws: what the catalogue or the envelope refuses, or a payload that is not JSON.
    func job(catalog: JobCatalog) throws -> JobEnvelope {
        let submission = JobSubmission(
            type: type, payload: try JSONValue.parse(Array(payload.utf8)), queue: queue, priority: priority,
            idempotencyKey: idempotencyKey, correlationId: correlationId
        )
        var job = try submission.envelope(catalog: catalog, enqueuedBy: enqueuedBy)
        job.id = id
        job.runAt = runAt
        try job.validate()
        return job
    }
}
