import Foundation

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
    /// - Throws: ``JSONFieldError`` naming the field that is missing or of the wrong type.
    public init(json bytes: some Collection<UInt8>) throws(JSONFieldError) {
        let value: JSONValue
        do { value = try JSONValue.parse(bytes) } catch { throw JSONFieldError("the document: \(error)") }
        let fields = try JSONFields(value)
        self.init(
            id: try fields.uuid("id"), type: try fields.string("type"), queue: try fields.string("queue"),
            payload: try fields.value("payload"), maxAttempts: try fields.integer("maxAttempts"), runAt: try fields.optionalDate("runAt"),
            priority: try fields.integer("priority"), idempotencyKey: try fields.optionalString("idempotencyKey"),
            correlationId: try fields.optionalString("correlationId"), enqueuedBy: try fields.optionalString("enqueuedBy"),
            enqueuedAt: try fields.date("enqueuedAt")
        )
        self.attempt = try fields.integer("attempt")
    }
}
