import Crypto
import Foundation

/// The dashboard's sign-in: a cookie holding an expiry and its HMAC, and a per-session token that every
/// form must carry (cross-site request forgery protection, beside a `SameSite=Lax` cookie and an Origin check).
///
/// The key is derived from `DASHBOARD_PASSWORD` (or, without one, the JWT secret, or a random value), so
/// every API process of a deployment accepts the same cookies, and changing the password signs everyone out.
struct DashboardSession: Sendable {
    static let cookieName = "phoenix_dashboard"
    /// How long a sign-in lasts.
    static let lifetime: TimeInterval = 12 * 3600
    private let key: SymmetricKey

    init(secret: String?) {
        let material = secret ?? UUID().uuidString + UUID().uuidString
        key = SymmetricKey(data: SHA256.hash(data: Array("phoenix-dashboard:\(material)".utf8)))
    }

    /// A new session's cookie value.
    func issue(now: Date = Date()) -> String {
        let expiry = String(Int(now.timeIntervalSince1970 + Self.lifetime))
        return "\(expiry).\(mac(expiry))"
    }

    /// The session in `cookie`, when it is authentic and not expired.
    func validate(_ cookie: String?, now: Date = Date()) -> String? {
        guard let cookie, let dot = cookie.firstIndex(of: ".") else { return nil }
        let expiry = String(cookie[..<dot])
        guard let seconds = TimeInterval(expiry), seconds > now.timeIntervalSince1970,
              ConstantTime.equal(String(cookie[cookie.index(after: dot)...]), mac(expiry)) else { return nil }
        return cookie
    }

    /// The form token of a session.
    func csrfToken(for session: String) -> String { mac("csrf:\(session)") }

    /// Whether `token` is the form token of `session`.
    func checkCSRF(_ token: String?, session: String) -> Bool {
        guard let token else { return false }
        return ConstantTime.equal(token, csrfToken(for: session))
    }

    private func mac(_ text: String) -> String {
        HMAC<SHA256>.authenticationCode(for: Array(text.utf8), using: key).map { String(format: "%02x", $0) }.joined()
    }
}
