@testable import PhoenixAPI
import Foundation
import Testing

/// A verified token is admitted again without a check only while it is valid, and the memory of them is bounded.
@Suite struct VerifiedTokensTests {
    let caller = Identity(role: .authenticated, userID: UUID())
    let start = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func aTokenIsRememberedUntilItExpiresAndForAMinuteAtMost() {
        let tokens = VerifiedTokens()
        tokens.remember(caller, token: "short", validUntil: start.addingTimeInterval(10), at: start)
        tokens.remember(caller, token: "long", validUntil: start.addingTimeInterval(3600), at: start)
        #expect(tokens.identity(of: "short", at: start.addingTimeInterval(9)) == caller)
        #expect(tokens.identity(of: "short", at: start.addingTimeInterval(10)) == nil)
        #expect(tokens.identity(of: "long", at: start.addingTimeInterval(VerifiedTokens.lifetime - 1)) == caller)
        // Past the lifetime the token is verified again (a key taken out of the JWKS stops admitting it).
        #expect(tokens.identity(of: "long", at: start.addingTimeInterval(VerifiedTokens.lifetime)) == nil)
        #expect(tokens.identity(of: "never seen", at: start) == nil)
        // An expired token is not remembered at all.
        tokens.remember(caller, token: "expired", validUntil: start, at: start)
        #expect(tokens.identity(of: "expired", at: start.addingTimeInterval(-1)) == nil)
    }

    @Test func aFloodOfDistinctTokensNeverHoldsMoreThanTheCapacity() {
        let tokens = VerifiedTokens()
        var most = 0
        for index in 0..<(VerifiedTokens.capacity * 2 + 10) {
            tokens.remember(caller, token: "token-\(index)", validUntil: start.addingTimeInterval(30), at: start)
            most = max(most, tokens.count)
        }
        #expect(most == VerifiedTokens.capacity)
        // The newest is still admitted.
        #expect(tokens.identity(of: "token-\(VerifiedTokens.capacity * 2 + 9)", at: start) == caller)
    }
}
