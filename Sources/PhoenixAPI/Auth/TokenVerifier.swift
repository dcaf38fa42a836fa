public import AsyncHTTPClient
import Foundation
import JWTKit
import NIOCore
import NIOHTTP1
import HTTPTypes

/// Checks `Authorization: Bearer <jwt>` headers against Supabase's keys and returns who is calling.
///
/// The token's `alg` chooses the key set before any signature is checked: `HS256` only with
/// `JWT_SECRET_KEY`, `ES256`/`RS256` only with a JWKS, anything else (`none` included) refused. Then the
/// signature, `exp` and `nbf` (with a small leeway), the audience, the role (`authenticated` or
/// `service_role`) and, for users, a UUID `sub`. A token that passed is admitted again without these checks
/// until it expires, for a minute at most (``VerifiedTokens``).
public actor TokenVerifier {
    private let settings: AuthSettings
    private let hmacKeys: JWTKeyCollection?
    private var jwksKeys: JWTKeyCollection?
    private var jwksFetchedAt: ContinuousClock.Instant?
    /// After a failed JWKS fetch: no new fetch before this instant, however many requests come.
    private var jwksRetryAt: ContinuousClock.Instant?
    private var jwksBackoff: Duration = TokenVerifier.jwksFirstBackoff
    private let http: HTTPClient
    /// Callers of the tokens verified lately.
    private let verified = VerifiedTokens()

    /// How long a fetched JWKS is used before it is fetched again.
    static let jwksLifetime: Duration = .seconds(600)
    /// The wait after a first failed JWKS fetch; it doubles on each failure up to ``jwksMaxBackoff``.
    static let jwksFirstBackoff: Duration = .seconds(1)
    static let jwksMaxBackoff: Duration = .seconds(60)
    /// The issuer Supabase writes in its legacy `service_role` API key.
    static let legacyServiceIssuer = "supabase"

    public init(settings: AuthSettings, http: HTTPClient = .shared) async throws(AuthSettingError) {
        self.settings = settings
        self.http = http
        if let secret = settings.hmacSecret {
            let keys = JWTKeyCollection()
            await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
            hmacKeys = keys
        } else {
            hmacKeys = nil
        }
        if let json = settings.jwksJSON {
            let keys = JWTKeyCollection()
            do {
                try await keys.add(jwksJSON: json)
            } catch {
                throw AuthSettingError(variable: "SUPABASE_JWKS", problem: "is not a usable JWKS: \(error)")
            }
            jwksKeys = keys
        }
    }

    /// The caller of a request whose `Authorization` header is `header`. A token verified lately is taken
    /// from ``VerifiedTokens`` without a hop to this actor; any other is verified here.
    /// - Throws: ``APIError`` 401 saying why the token is refused.
    public nonisolated func identity(authorization header: String?) async throws(APIError) -> Identity {
        guard let header, !header.isEmpty else { throw .unauthorized("missing Authorization header: send Authorization: Bearer <Supabase JWT>") }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { throw .unauthorized("the Authorization header must be Bearer <token>") }
        // Trimmed without Foundation's NSString bridge, which cost more than the rest of a known token's check.
        let value = parts[1]
        let start = value.firstIndex { !$0.isWhitespace } ?? value.endIndex
        let end = value.lastIndex { !$0.isWhitespace }.map(value.index(after:)) ?? start
        let token = String(value[start..<end])
        if let known = verified.identity(of: token) { return known }
        return try await verify(token)
    }

    /// Checks a token not verified lately (its algorithm, signature and claims) and remembers its caller
    /// until it expires.
    private func verify(_ token: String) async throws(APIError) -> Identity {
        let algorithm = try Self.algorithm(of: token)
        let keys: JWTKeyCollection
        switch algorithm {
        case "HS256":
            guard let hmacKeys else { throw .unauthorized("HS256 tokens are not accepted here (no JWT_SECRET_KEY); use a token signed with the project's asymmetric key") }
            keys = hmacKeys
        case "ES256", "RS256":
            keys = try await asymmetricKeys()
        default:
            throw .unauthorized("token algorithm '\(algorithm)' is not accepted; expected HS256, ES256 or RS256")
        }
        let claims: SupabaseClaims
        do {
            claims = try await keys.verify(token, as: SupabaseClaims.self)
        } catch {
            throw .unauthorized("token rejected: \(Self.reason(error))")
        }
        let identity = try check(claims)
        if let expiry = claims.exp?.value { verified.remember(identity, token: token, validUntil: expiry.addingTimeInterval(settings.leeway)) }
        return identity
    }

    private func check(_ claims: SupabaseClaims) throws(APIError) -> Identity {
        let now = Date()
        guard let expiry = claims.exp?.value else { throw .unauthorized("token has no expiry (exp)") }
        guard expiry.addingTimeInterval(settings.leeway) > now else { throw .unauthorized("token expired at \(expiry.formatted(.iso8601))") }
        if let notBefore = claims.nbf?.value, notBefore.addingTimeInterval(-settings.leeway) > now {
            throw .unauthorized("token not valid before \(notBefore.formatted(.iso8601))")
        }
        guard let roleName = claims.role, let role = Identity.Role(rawValue: roleName) else {
            throw .forbidden("role '\(claims.role ?? "none")' may not use this API; expected authenticated or service_role")
        }
        let audiences = claims.aud?.value ?? []
        if role == .authenticated || !audiences.isEmpty, !audiences.contains(settings.audience) {
            throw .unauthorized("token audience \(audiences) does not include '\(settings.audience)'")
        }
        var user: UUID?
        if let subject = claims.sub?.value {
            guard let id = UUID(uuidString: subject) else { throw .unauthorized("token subject (sub) is not a user id") }
            user = id
        }
        if role == .authenticated, user == nil { throw .unauthorized("user token without a subject (sub)") }
        if let issuer = settings.issuer {
            // User tokens come from the project's auth server; a service key may also be Supabase's legacy one.
            let accepted = role == .authenticated ? [issuer] : [issuer, Self.legacyServiceIssuer]
            guard let claimed = claims.iss?.value, accepted.contains(claimed) else {
                throw .unauthorized("token issuer (iss) '\((claims.iss?.value ?? "none").prefix(200))' is not \(issuer)")
            }
        }
        return Identity(role: role, userID: user)
    }

    /// The JWKS keys: from `SUPABASE_JWKS`, or fetched from `SUPABASE_URL` and kept for ``jwksLifetime``.
    private func asymmetricKeys() async throws(APIError) -> JWTKeyCollection {
        if settings.jwksJSON != nil, let jwksKeys { return jwksKeys }
        guard let url = settings.jwksURL else {
            throw .unauthorized("ES256/RS256 tokens are not accepted here (no SUPABASE_JWKS or SUPABASE_URL)")
        }
        if let jwksKeys, let jwksFetchedAt, ContinuousClock.now - jwksFetchedAt < Self.jwksLifetime { return jwksKeys }
        if let jwksRetryAt, ContinuousClock.now < jwksRetryAt {
            if let jwksKeys { return jwksKeys }
            throw APIError(.serviceUnavailable, "jwks_unavailable", "the JWKS could not be fetched from \(url); next try in \(Self.seconds(jwksRetryAt - .now)) s")
        }
        do {
            var request = HTTPClientRequest(url: url)
            request.method = .GET
            let response = try await http.execute(request, timeout: .seconds(5))
            guard response.status == .ok else { throw APIError(.serviceUnavailable, "jwks_unavailable", "fetching the JWKS answered HTTP \(response.status.code)") }
            let body = try await response.body.collect(upTo: 1 << 20)
            let keys = JWTKeyCollection()
            try await keys.add(jwksJSON: String(buffer: body))
            jwksKeys = keys
            jwksFetchedAt = .now
            noteFetch(succeeded: true)
            return keys
        } catch let error as APIError {
            noteFetch(succeeded: false)
            if let jwksKeys { return jwksKeys }
            throw error
        } catch {
            noteFetch(succeeded: false)
            if let jwksKeys { return jwksKeys }
            throw APIError(.serviceUnavailable, "jwks_unavailable", "cannot fetch the JWKS from \(url): \(error)")
        }
    }

    /// Schedules the next JWKS fetch after one: at once when it worked, else after a doubling backoff.
    private func noteFetch(succeeded: Bool) {
        if succeeded {
            jwksRetryAt = nil
            jwksBackoff = Self.jwksFirstBackoff
        } else {
            jwksRetryAt = .now + jwksBackoff
            jwksBackoff = min(jwksBackoff * 2, Self.jwksMaxBackoff)
        }
    }

    /// Whole seconds of `duration`, rounded up, at least 1.
    private static func seconds(_ duration: Duration) -> Int { max(1, Int((duration / .seconds(1)).rounded(.up))) }

    /// The `alg` of a token's header, read without trusting anything else in it.
    static func algorithm(of token: String) throws(APIError) -> String {
        let segments = token.split(separator: ".", omittingEmptySubsequences: false)
        guard segments.count == 3 else { throw .unauthorized("malformed token: a JWT has three dot-separated parts") }
        var base64 = segments[0].replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        struct Header: Decodable { let alg: String? }
        guard let data = Data(base64Encoded: base64), let header = try? JSONDecoder().decode(Header.self, from: data), let alg = header.alg else {
            throw .unauthorized("malformed token: its header is not JSON with an alg")
        }
        return alg
    }

    private static func reason(_ error: any Error) -> String {
        let text = "\(error)"
        if text.localizedCaseInsensitiveContains("signature") { return "invalid signature" }
        return text.count > 160 ? String(text.prefix(160)) + "…" : text
    }
}

/// The claims of a Supabase access token that the API uses.
struct SupabaseClaims: JWTPayload {
    var sub: SubjectClaim?
    var exp: ExpirationClaim?
    var nbf: NotBeforeClaim?
    var aud: AudienceClaim?
    var iss: IssuerClaim?
    var role: String?

    /// Claims are checked by ``TokenVerifier`` with its leeway and audience, after the signature.
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}
