import EnvironmentVariables
import Foundation
import PhoenixSupabase

/// `ENVIRONMENT`: where this process runs. `production` turns settings that are fine on a laptop into
/// start-up errors, each one line naming the variable.
enum DeploymentEnvironment: String {
    case development, staging, production
}

extension Settings {
    /// `ENVIRONMENT` (default `development`).
    func deploymentEnvironment() throws -> DeploymentEnvironment {
        guard let text = environment.nonEmpty(.environment) else { return .development }
        guard let value = DeploymentEnvironment(rawValue: text.lowercased()) else {
            throw SettingError(variable: "ENVIRONMENT", problem: "expected development, staging or production, got '\(text.prefix(40))'")
        }
        return value
    }

    /// Whether `ENVIRONMENT` is `production`.
    func isProduction() throws -> Bool { try deploymentEnvironment() == .production }

    /// In production, refuses what a deployment must not run with: a database connection whose certificate
    /// is not verified; for the HTTP front also a plain-HTTP `SUPABASE_URL` (its JWKS could be swapped), no
    /// CORS list, and a missing or short `DASHBOARD_PASSWORD`.
    func checkProductionSettings(serving: Bool) throws {
        guard try isProduction() else { return }
        let database: EnvironmentVariable = environment[.databaseURL] == nil ? .supabaseDatabaseURL : .databaseURL
        if let url = environment.nonEmpty(database), !PostgresURL.verifiesCertificate(url) {
            throw SettingError(variable: database.name, problem: "in production the database connection must verify the server's certificate: add sslmode=verify-full")
        }
        guard serving else { return }
        if let url = environment.nonEmpty(.supabaseURL), URL(string: url)?.scheme?.lowercased() != "https" {
            throw SettingError(variable: "SUPABASE_URL", problem: "in production it must be an https:// URL (the JWKS that checks tokens is fetched from it)")
        }
        if try allowedOrigins().isEmpty {
            throw SettingError(variable: "ALLOWED_ORIGINS", problem: "in production list the origins of the Phoenix apps (comma-separated https://… origins)")
        }
        guard let password = environment.nonEmpty(.dashboardPassword), password.count >= Self.minimumDashboardPassword else {
            throw SettingError(variable: "DASHBOARD_PASSWORD", problem: "in production set a password of at least \(Self.minimumDashboardPassword) characters from your secret store")
        }
    }

    /// Shortest `DASHBOARD_PASSWORD` production accepts.
    static let minimumDashboardPassword = 16
}
