import Foundation

/// A stored envelope that is not a valid envelope; the reason names the field.
public struct EnvelopeError: Error, CustomStringConvertible {
    public let description: String
}

extension JobEnvelope {
    /// The envelope as a JSON value: the same document as `makeEncoder()` writes, built without `JSONEncoder`.
    public var jsonValue: JSONValue {
        var members: [String: JSONValue] = [
            "id": .string(idString), "type": .string(type), "queue": .string(queue), "payload": payload,
            "attempt": .number(Double(attempt)), "maxAttempts": .number(Double(maxAttempts)),
            "enqueuedAt": .string(enqueuedAt.formatted(Self.iso8601)), "priority": .number(Double(priority)),
        ]
        if let runAt { members["runAt"] = .string(runAt.formatted(Self.iso8601)) }
        if let idempotencyKey { members["idempotencyKey"] = .string(idempotencyKey) }
        if let correlationId { members["correlationId"] = .string(correlationId) }
        if let enqueuedBy { members["enqueuedBy"] = .string(enqueuedBy) }
        return .object(members)
    }

    /// Reads an envelope from JSON text in one pass (the fetch path).
    /// - Throws: ``EnvelopeError`` naming the field that is missing or of the wrong type.
    public init(json bytes: some Collection<UInt8>) throws(EnvelopeError) {
        let value: JSONValue
        do { value = try JSONValue.parse(bytes) } catch { throw EnvelopeError(description: "the document: \(error)") }
        guard case .object(let fields) = value else { throw EnvelopeError(description: "the document: expected a JSON object") }

        func string(_ key: String) throws(EnvelopeError) -> String {
            guard case .string(let text)? = fields[key] else { throw EnvelopeError(description: "field '\(key)': expected a string") }
            return text
        }
        func optionalString(_ key: String) throws(EnvelopeError) -> String? {
            switch fields[key] {
            case nil, .null?: return nil
            case .string(let text)?: return text
            default: throw EnvelopeError(description: "field '\(key)': expected a string")
            }
        }
        func integer(_ key: String) throws(EnvelopeError) -> Int {
            guard case .number(let number)? = fields[key], number == number.rounded(), abs(number) < 1e15 else {
                throw EnvelopeError(description: "field '\(key)': expected a whole number")
            }
            return Int(number)
        }
        func date(_ text: String, _ key: String) throws(EnvelopeError) -> Date {
            guard let date = (try? Self.iso8601.parse(text)) ?? (try? Date.ISO8601FormatStyle().parse(text)) else {
                throw EnvelopeError(description: "field '\(key)': '\(text)' is not an ISO 8601 date")
            }
            return date
        }

        guard let id = UUID(uuidString: try string("id")) else { throw EnvelopeError(description: "field 'id': not a UUID") }
        guard let payload = fields["payload"] else { throw EnvelopeError(description: "missing field 'payload'") }
        self.init(
            id: id, type: try string("type"), queue: try string("queue"), payload: payload,
            maxAttempts: try integer("maxAttempts"), runAt: try optionalString("runAt").map { text throws(EnvelopeError) in try date(text, "runAt") },
            priority: try integer("priority"), idempotencyKey: try optionalString("idempotencyKey"),
            correlationId: try optionalString("correlationId"), enqueuedBy: try optionalString("enqueuedBy"),
            enqueuedAt: try date(try string("enqueuedAt"), "enqueuedAt")
        )
        self.attempt = try integer("attempt")
    }
}
