import Foundation
import PostgresNIO

/// Adds a user to auth.users (the sign-up trigger then creates the profile and free subscriptions).
func createUser(_ client: PostgresClient, name: String = "Camille Martin") async throws -> UUID {
    let id = UUID()
    let email = "\(id.uuidString.prefix(8).lowercased())@example.org"
    let meta = #"{"full_name": "\#(name)"}"#
    try await client.query("INSERT INTO auth.users (id, email, raw_user_meta_data) VALUES (\(id), \(email), \(meta)::jsonb)")
    return id
}

/// The single integer a query returns.
func count(_ client: PostgresClient, _ query: PostgresQuery) async throws -> Int {
    for try await value in try await client.query(query).decode(Int.self) { return value }
    return 0
}
