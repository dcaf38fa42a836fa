import PhoenixAPI
import Foundation
import NIOHTTP1
import PhoenixJobsCore
import PhoenixQueue
import Testing
import TestSupport

/// The auth matrix against a live server: each bad token or forbidden act gets its 401 or 403 and a JSON error.
@Suite struct AuthTests {
    let noop = #"{"type": "diagnostic.noop", "payload": {}}"#

    @Test func badTokensAreRefusedWith401() async throws {
        try await LiveAPI.run { api in
            let minter = api.minter
            let missing = try await api.call(.POST, "/v1/jobs", body: noop)
            #expect(missing.status == 401 && missing.errorCode == "unauthorized")
            #expect(missing.headers.first(name: "WWW-Authenticate")?.hasPrefix("Bearer") == true)

            let forged = try await api.call(.POST, "/v1/jobs", token: try await minter.service(.stranger), body: noop)
            #expect(forged.status == 401)
            #expect(forged["error"]?.objectValue?["message"] == .string("token rejected: invalid signature"))

            let expired = try await api.call(.POST, "/v1/jobs", token: try await minter.token(expiresIn: -120), body: noop)
            #expect(expired.status == 401)
            #expect(Self.message(expired).contains("token expired"))

            let audience = try await api.call(.POST, "/v1/jobs", token: try await minter.token(audience: "anon"), body: noop)
            #expect(audience.status == 401)
            #expect(Self.message(audience).contains("audience"))

            let header = Data(#"{"alg":"none","typ":"JWT"}"#.utf8).base64URL
            let claims = Data(#"{"role":"service_role","exp":4102444800}"#.utf8).base64URL
            let unsigned = try await api.call(.POST, "/v1/jobs", token: "\(header).\(claims).", body: noop)
            #expect(unsigned.status == 401)
            #expect(Self.message(unsigned) == "token algorithm 'none' is not accepted; expected HS256, ES256 or RS256")

            let garbage = try await api.call(.GET, "/v1/queues", token: "not-a-jwt")
            #expect(garbage.status == 401 && Self.message(garbage).contains("three dot-separated parts"))

            let anon = try await api.call(.GET, "/v1/queues", token: try await minter.token(role: "anon"))
            #expect(anon.status == 403)

            // The same server accepts a well-signed token of each kind.
            #expect(try await api.call(.GET, "/v1/queues", token: try await minter.service(.hmac)).status == 200)
            #expect(try await api.call(.GET, "/v1/queues", token: try await minter.service(.ecdsa)).status == 200)
        }
    }

    @Test func aTokenAdmittedBeforeIsRefusedOnceItExpires() async throws {
        try await LiveAPI.run(auth: { AuthSettings(hmacSecret: TokenMinter.secret, jwksJSON: $0.jwksJSON, leeway: 0) }) { api in
            // Valid for 8 s: room for two requests on a loaded machine (2 s was not, in a full run).
            let expiry = Date().addingTimeInterval(8)
            let token = try await api.minter.service(expiresIn: 8)
            // Admitted, then remembered as verified (``VerifiedTokens``), which must not outlive the token.
            #expect(try await api.call(.GET, "/v1/queues", token: token).status == 200)
            #expect(try await api.call(.GET, "/v1/queues", token: token).status == 200)
            try await Task.sleep(for: .seconds(max(0, expiry.timeIntervalSinceNow) + 1))
            let late = try await api.call(.GET, "/v1/queues", token: token)
            #expect(late.status == 401)
            #expect(Self.message(late).contains("token expired"))
        }
    }

    @Test func hs256IsRefusedWhenOnlyAJWKSIsConfigured() async throws {
        try await LiveAPI.run(auth: { AuthSettings(jwksJSON: $0.jwksJSON) }) { api in
            let hs256 = try await api.call(.GET, "/v1/queues", token: try await api.minter.service(.hmac))
            #expect(hs256.status == 401)
            #expect(Self.message(hs256).hasPrefix("HS256 tokens are not accepted here"))
            #expect(try await api.call(.GET, "/v1/queues", token: try await api.minter.service(.ecdsa)).status == 200)
        }
    }

    @Test func usersActOnlyForThemselvesAndNeverAdminister() async throws {
        try await LiveAPI.run { api in
            let alice = UUID(), bob = UUID()
            let aliceToken = try await api.minter.token(.ecdsa, user: alice)
            let forBob = try await api.call(.POST, "/v1/jobs", token: aliceToken, body: #"{"type": "diagnostic.noop", "payload": {"user_id": "\#(bob)"}}"#)
            #expect(forBob.status == 403)
            #expect(Self.message(forBob) == "users may submit diagnostic.noop only for themselves: payload.user_id must be your user id")

            let serviceOnly = try await api.call(.POST, "/v1/jobs", token: aliceToken, body: #"{"type": "diagnostic.fail", "payload": {"message": "x"}}"#)
            #expect(serviceOnly.status == 403)

            let own = try await api.call(.POST, "/v1/jobs", token: aliceToken, body: #"{"type": "diagnostic.noop", "payload": {"user_id": "\#(alice)"}}"#)
            #expect(own.status == 202)
            guard case .string(let id)? = own["id"] else { Issue.record("no id in \(own.json)"); return }
            #expect(try await api.call(.GET, "/v1/jobs/\(id)", token: aliceToken).status == 200)
            let bobReads = try await api.call(.GET, "/v1/jobs/\(id)", token: try await api.minter.token(user: bob))
            #expect(bobReads.status == 404)

            for (method, path) in [(HTTPMethod.GET, "/v1/queues"), (.GET, "/v1/workers"), (.GET, "/v1/queues/diagnostics/dead"), (.POST, "/v1/queues/diagnostics/pause"),
                                  (.GET, "/v1/queues/letters/flow"), (.PUT, "/v1/queues/letters/flow")] {
                let reply = try await api.call(method, path, token: aliceToken)
                #expect(reply.status == 403, "\(path) answered \(reply.status) to a user")
                #expect(reply.errorCode == "forbidden")
            }
        }
    }

    static func message(_ reply: Reply) -> String {
        guard case .string(let text)? = reply.json.objectValue?["error"]?.objectValue?["message"] else { return "" }
        return text
    }
}

extension Data {
    /// Base64url without padding, as JWTs use.
    var base64URL: String {
        base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }
}
