import Foundation
public import Queue

/// What a signed-in user (`authenticated`) may submit: the user job types, each for the user named by one
/// payload field, which must be the caller's own id. Everything else needs `service_role`.
public struct UserJobRules: Sendable {
    /// Job type → the payload field holding the user it is about.
    public let userField: [String: String]

    /// The Phoenix user job types.
    public static let phoenix = UserJobRules(userField: [
        "event.publish": "stream_id", "letter.generate": "user_id", "cv.render": "user_id",
        "profile.sync": "user_id", "user.export": "user_id", "user.erase": "user_id",
    ])

    public init(userField: [String: String]) {
        self.userField = userField
    }

    /// Whether `identity` may submit or see a job of `type` with `payload`.
    func allows(_ identity: Identity, type: String, payload: JSONValue) -> Bool {
        if identity.role == .serviceRole { return true }
        guard let field = userField[type], let user = identity.userID,
              case .string(let owner)? = payload.objectValue?[field] else { return false }
        return owner.lowercased() == user.uuidString.lowercased()
    }

    /// Why `identity` may not submit a job of `type`.
    func refusal(_ identity: Identity, type: String) -> APIError {
        guard let field = userField[type] else {
            return .forbidden("job type '\(type)' needs a service_role token; users may submit \(userField.keys.sorted().joined(separator: ", "))")
        }
        return .forbidden("users may submit \(type) only for themselves: payload.\(field) must be your user id")
    }
}
