import EnvironmentVariables
public import Foundation

/// How bearer tokens are checked: `JWT_SECRET_KEY` (HS256, the Supabase project's JWT secret), and a JWKS
/// for ES256/RS256 keys, given as JSON (`SUPABASE_JWKS`) or fetched from `SUPABASE_URL` and cached.
public struct AuthSettings: Sendable {
    /// The HS256 secret; HS256 tokens are refused without it.
    public var hmacSecret: String?
    /// A JWKS document, as JSON.
    public var jwksJSON: String?
    /// Where to fetch the JWKS (`<SUPABASE_URL>/auth/v1/.well-known/jwks.json`) when no JSON is given.
    public var jwksURL: String?
    /// The audience user tokens must carry (`aud`); Supabase issues `authenticated`.
    public var audience: String
    /// Clock skew allowed on `exp` and `nbf`.
    public var leeway: TimeInterval
    /// The issuer user tokens must name (`iss`: `<SUPABASE_URL>/auth/v1`), when `SUPABASE_URL` is set.
    public var issuer: String?

    public init(hmacSecret: String? = nil, jwksJSON: String? = nil, jwksURL: String? = nil, issuer: String? = nil, audience: String = "authenticated", leeway: TimeInterval = 30) {
        self.hmacSecret = hmacSecret
        self.jwksJSON = jwksJSON
        self.jwksURL = jwksURL
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway
    }

    /// Reads `JWT_SECRET_KEY`, `SUPABASE_JWKS`, `SUPABASE_URL` and `JWT_AUDIENCE`.
    /// - Throws: ``AuthSettingError`` naming the variable when none of the key sources is set or one is malformed.
    public init(environment: [String: String]) throws(AuthSettingError) {
        func value(_ variable: EnvironmentVariable) -> String? { environment.nonEmpty(variable) }
        hmacSecret = value(.jwtSecretKey)
        jwksJSON = value(.supabaseJWKS)
        if let base = value(.supabaseURL) {
            guard let url = URL(string: base), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
                throw AuthSettingError(variable: "SUPABASE_URL", problem: "must be the project's http(s) URL, got '\(base)'")
            }
            let project = base.hasSuffix("/") ? String(base.dropLast()) : base
            jwksURL = project + "/auth/v1/.well-known/jwks.json"
            issuer = project + "/auth/v1"
        }
        if let secret = hmacSecret, secret.utf8.count < 32 {
            throw AuthSettingError(variable: "JWT_SECRET_KEY", problem: "must be at least 32 bytes (the Supabase project's JWT secret)")
        }
        guard hmacSecret != nil || jwksJSON != nil || jwksURL != nil else {
            throw AuthSettingError(variable: "JWT_SECRET_KEY", problem: "is not set, nor SUPABASE_JWKS or SUPABASE_URL: the API cannot check tokens")
        }
        audience = value(.jwtAudience) ?? "authenticated"
        leeway = 30
    }
}

/// A missing or malformed authentication setting.
public struct AuthSettingError: Error, CustomStringConvertible {
    public var variable: String
    public var problem: String
    public var description: String { "\(variable) \(problem)" }
}
