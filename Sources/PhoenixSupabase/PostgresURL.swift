public import PostgresNIO
import Foundation

/// Reads a `postgres://user:password@host:port/database?sslmode=…` URL (what Supabase and Render hand out).
public enum PostgresURL {
    /// Whether `url` asks for a verified server certificate (`sslmode=verify-ca` or `verify-full`), as
    /// production requires.
    public static func verifiesCertificate(_ url: String) -> Bool {
        let mode = URLComponents(string: url)?.queryItems?.first { $0.name == "sslmode" }?.value
        return mode == "verify-ca" || mode == "verify-full"
    }

    /// The client configuration for `url`.
    ///
    /// `sslmode`: `disable`, `prefer` (the default) or `require` (also `verify-ca`/`verify-full`, which verify
    /// the certificate).
    /// - Throws: ``StoreError/invalidURL(_:)`` naming the part that is wrong (never echoing the password).
    public static func configuration(_ url: String) throws(StoreError) -> PostgresClient.Configuration {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased() else {
            throw .invalidURL("not a URL; expected postgres://user:password@host:port/database")
        }
        guard scheme == "postgres" || scheme == "postgresql" else { throw .invalidURL("scheme '\(scheme)' is not postgres://") }
        guard let host = components.host, !host.isEmpty else { throw .invalidURL("no host") }
        guard let user = components.user, !user.isEmpty else { throw .invalidURL("no user name") }
        let database = components.path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        guard !database.isEmpty else { throw .invalidURL("no database name after the host") }
        let mode = components.queryItems?.first { $0.name == "sslmode" }?.value ?? "prefer"
        let tls: PostgresClient.Configuration.TLS
        switch mode {
        case "disable": tls = .disable
        case "prefer", "allow":
            var insecure = TLSConfiguration.makeClientConfiguration()
            insecure.certificateVerification = .none
            tls = .prefer(insecure)
        case "require":
            var insecure = TLSConfiguration.makeClientConfiguration()
            insecure.certificateVerification = .none
            tls = .require(insecure)
        case "verify-ca", "verify-full": tls = .require(.makeClientConfiguration())
        default: throw .invalidURL("sslmode '\(mode)' is not one of disable, prefer, require, verify-ca, verify-full")
        }
        var configuration = PostgresClient.Configuration(
            host: host, port: components.port ?? 5432, username: user,
            password: components.password, database: database, tls: tls
        )
        configuration.options.maximumConnections = 10
        return configuration
    }
}

/// Why a store operation failed.
public enum StoreError: Error, CustomStringConvertible {
    /// The database URL cannot be used; the text says which part.
    case invalidURL(String)
    /// A migration file could not be read or applied.
    case migration(file: String, reason: String)
    /// A value did not fit the schema (the text names it).
    case invalidValue(String)

    public var description: String {
        switch self {
        case .invalidURL(let reason): "invalid database URL: \(reason)"
        case .migration(let file, let reason): "migration \(file) failed: \(reason)"
        case .invalidValue(let reason): reason
        }
    }
}
