public import Foundation
import PhoenixJobsCore

/// Who is calling, from a verified Supabase JWT.
public struct Identity: Sendable, Equatable {
    /// The Supabase roles the API accepts.
    public enum Role: String, Sendable {
        /// A signed-in user: user job types, for themselves only.
        case authenticated
        /// A back-end service: everything, administration included.
        case serviceRole = "service_role"
    }

    public var role: Role
    /// The user (`sub`); always present for `authenticated`.
    public var userID: UUID?

    public init(role: Role, userID: UUID?) {
        self.role = role
        self.userID = userID
    }

    /// Who the caller is as jobs record it (`enqueuedBy`), and the key rate limits and idempotency keys
    /// are counted under: `user:<id>`, or `service`.
    var subject: String { userID.map(Enqueuer.user) ?? Enqueuer.service }
}
