import Crypto
import Foundation
import PhoenixJobsCore
import PhoenixRedis
import Synchronization

/// Short-lived tokens that open their caller's event streams. Browsers' `EventSource` cannot send an
/// Authorization header, so `POST /v1/events/token` (with the caller's JWT) gives one to pass as
/// `?access_token=` to the stream routes, and only to them. A token names its caller (role and user) and its
/// expiry, signed with HMAC-SHA256 under a key every API process shares: 32 random bytes kept in Redis
/// (`<prefix>:stream-token-key`), made by the first process that needs it, read once per process.
final class StreamTokens: Sendable {
    /// How long a token opens streams (a stream opened in time stays open).
    static let lifetime: TimeInterval = 600

    let redis: RedisClient
    let keyName: String
    /// The signing key, once read from Redis.
    private let signingKey = Mutex<SymmetricKey?>(nil)

    init(redis: RedisClient, prefix: String) {
        self.redis = redis
        keyName = "\(prefix):stream-token-key"
    }

    /// A token for `caller`, and when it expires.
    func issue(for caller: Identity, now: Date = Date()) async throws(RedisError) -> (token: String, expires: Date) {
        let expires = (now + Self.lifetime).timeIntervalSince1970.rounded(.down)
        let claims = "\(caller.role.rawValue).\(caller.userID?.lowercasedString ?? "-").\(Int(expires))"
        return ("\(claims).\(try await mac(claims))", Date(timeIntervalSince1970: expires))
    }

    /// The caller a token names, when it is authentic and not expired; else a 401 saying which.
    func identity(_ token: String, now: Date = Date()) async throws -> Identity {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, let role = Identity.Role(rawValue: String(parts[0])), let expiry = Int(parts[2]) else {
            throw APIError.unauthorized("access_token is not a stream token (get one from POST /v1/events/token)")
        }
        let user = parts[1] == "-" ? nil : UUID(uuidString: String(parts[1]))
        guard (role == .authenticated) == (user != nil) else {
            throw APIError.unauthorized("access_token is not a stream token (get one from POST /v1/events/token)")
        }
        guard ConstantTime.equal(String(parts[3]), try await mac(parts[0...2].joined(separator: "."))) else {
            throw APIError.unauthorized("access_token's signature does not match")
        }
        guard TimeInterval(expiry) > now.timeIntervalSince1970 else {
            throw APIError.unauthorized("access_token expired; get a new one from POST /v1/events/token")
        }
        return Identity(role: role, userID: user)
    }

    private func mac(_ claims: String) async throws(RedisError) -> String {
        let key = try await key()
        return HMAC<SHA256>.authenticationCode(for: Array("stream:\(claims)".utf8), using: key).map { String(format: "%02x", $0) }.joined()
    }

    /// The shared key: read from Redis, after making it when no process has yet (`SET NX`: the first one
    /// written wins, and every process reads that one).
    private func key() async throws(RedisError) -> SymmetricKey {
        if let key = signingKey.withLock({ $0 }) { return key }
        let fresh = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0).base64EncodedString() }
        _ = try await redis.send("SET", keyName, fresh, "NX")
        guard let text = try await redis.send("GET", keyName).string, let data = Data(base64Encoded: text), data.count >= 32 else {
            throw RedisError.unexpectedReply("\(keyName) does not hold a stream token key; delete it and a new one is made")
        }
        let key = SymmetricKey(data: data)
        signingKey.withLock { $0 = key }
        return key
    }
}
