import Crypto
import Foundation

/// Checks a `Stripe-Signature` header (`t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">[,v1=…]`) against
/// the endpoint's signing secret, as Stripe's libraries do: any `v1` may match (secrets roll over), and
/// the timestamp must be within the tolerance of now (against replays).
struct StripeSignature {
    let secret: String
    /// How far the signed timestamp may be from now.
    let tolerance: TimeInterval

    /// Why a signature is refused.
    enum Failure: Error, CustomStringConvertible {
        case malformedHeader
        case outsideTolerance(seconds: UInt)
        case noMatch

        var description: String {
            switch self {
            case .malformedHeader: "the Stripe-Signature header must hold t=<timestamp> and at least one v1=<signature>"
            case .outsideTolerance(let seconds):
                seconds == UInt.max ? "the signature's timestamp is out of any sensible range (tolerance 300 s): refused"
                    : "the signature's timestamp is \(seconds) s away from now (tolerance 300 s): refused as a possible replay"
            case .noMatch: "no v1 signature matches the payload signed with STRIPE_WEBHOOK_SECRET"
            }
        }
    }

    /// Checks `header` for `body`. Every number in the header is read without a trap: a timestamp that is not
    /// a whole number of seconds within Int's range, or that appears twice, makes the header malformed.
    func verify(header: String, body: [UInt8], now: Date = Date()) throws(Failure) {
        var timestamp: Int?
        var signatures: [String] = []
        for part in header.split(separator: ",") {
            let pair = part.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2 else { continue }
            switch pair[0] {
            case "t":
                guard timestamp == nil, let value = Int(pair[1]) else { throw .malformedHeader }
                timestamp = value
            case "v1": signatures.append(pair[1].lowercased())
            default: continue
            }
        }
        guard let timestamp, !signatures.isEmpty else { throw .malformedHeader }
        let (skew, overflow) = Int(now.timeIntervalSince1970).subtractingReportingOverflow(timestamp)
        guard !overflow, skew.magnitude <= UInt(tolerance) else {
            throw .outsideTolerance(seconds: overflow ? UInt.max : skew.magnitude)
        }
        let expected = Self.signature(secret: secret, timestamp: timestamp, body: body)
        guard signatures.contains(where: { ConstantTime.equal($0, expected) }) else { throw .noMatch }
    }

    /// The hex `v1` signature of `body` at `timestamp`.
    static func signature(secret: String, timestamp: Int, body: [UInt8]) -> String {
        var message = Array("\(timestamp).".utf8)
        message.append(contentsOf: body)
        let code = HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: Array(secret.utf8)))
        return code.map { String(format: "%02x", $0) }.joined()
    }
}
