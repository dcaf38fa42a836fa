import Foundation
import Synchronization

/// Callers whose tokens were verified lately, so that a token sent again (a back-end service's key on every
/// request, a user's session token until it expires) is not parsed and its signature checked again.
///
/// An entry is kept until its token expires (`exp` plus the leeway) or for ``lifetime``, whichever comes
/// first: a key taken out of the JWKS stops admitting its tokens within that time. At most ``capacity``
/// entries are kept: when full, the expired ones go, and when none had, all go, so a flood of distinct
/// tokens costs verifications, never memory.
final class VerifiedTokens: Sendable {
    private struct Entry {
        let identity: Identity
        let validUntil: Date
    }

    /// How long a verified token is admitted without another check at most.
    static let lifetime: TimeInterval = 60
    /// Tokens remembered at most.
    static let capacity = 4096

    /// Guards the entries, keyed by the whole token (its signature included).
    private let entries = Mutex<[String: Entry]>([:])

    /// The caller of `token` when it was verified lately and is still valid at `now`.
    func identity(of token: String, at now: Date = Date()) -> Identity? {
        entries.withLock { entries in
            guard let entry = entries[token] else { return nil }
            guard entry.validUntil > now else {
                entries[token] = nil
                return nil
            }
            return entry.identity
        }
    }

    /// Remembers that `token`, valid until `expiry` (its `exp` plus the leeway), was verified at `now` as `identity`.
    func remember(_ identity: Identity, token: String, validUntil expiry: Date, at now: Date = Date()) {
        let validUntil = min(expiry, now.addingTimeInterval(Self.lifetime))
        guard validUntil > now else { return }
        entries.withLock { entries in
            if entries.count >= Self.capacity {
                entries = entries.filter { $0.value.validUntil > now }
                if entries.count >= Self.capacity { entries.removeAll(keepingCapacity: true) }
            }
            entries[token] = Entry(identity: identity, validUntil: validUntil)
        }
    }

    /// How many tokens are remembered.
    var count: Int { entries.withLock { $0.count } }
}
