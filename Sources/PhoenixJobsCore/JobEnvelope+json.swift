import Foundation

extension JobEnvelope {
    /// The envelope as a JSON value: the same document as `makeEncoder()` writes, built without `JSONEncoder`.
    public var jsonValue: JSONValue {
        var members: [String: JSONValue] = [
            "id": .string(idString), "type": .string(type), "queue": .string(queue), "payload": payload,
            "attempt": .number(Double(attempt)), "maxAttempts": .number(Double(maxAttempts)),
            "enqueuedAt": .string(ISO8601Timestamp.format(enqueuedAt)), "priority": .number(Double(priority)),
        ]
        if let runAt { members["runAt"] = .string(ISO8601Timestamp.format(runAt)) }
        if let idempotencyKey { members["idempotencyKey"] = .string(idempotencyKey) }
        if let correlationId { members["correlationId"] = .string(correlationId) }
        if let enqueuedBy { members["enqueuedBy"] = .string(enqueuedBy) }
        return .object(members)
    }

    /// The envelope as JSON text: the document ``jsonValue`` serializes to, written straight from the fields
    /// (the enqueue path, where building the members' dictionary first cost more than the writing).
    public var serializedJSON: [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(256)
        var first = true
        func member(_ name: StaticString, _ write: (inout [UInt8]) -> Void) {
            output.append(UInt8(ascii: first ? "{" : ","))
            first = false
            output.append(UInt8(ascii: "\""))
            output.append(contentsOf: UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
            output.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: ":")])
            write(&output)
        }
        func text(_ name: StaticString, _ value: String?) {
            if let value { member(name) { JSONValue.writeString(value, to: &$0) } }
        }
        func number(_ name: StaticString, _ value: Int) {
            member(name) { JSONValue.number(Double(value)).write(to: &$0) }
        }
        // Members in sorted order, as `JSONValue.serialized` writes an object's.
        number("attempt", attempt)
        text("correlationId", correlationId)
        text("enqueuedAt", ISO8601Timestamp.format(enqueuedAt))
        text("enqueuedBy", enqueuedBy)
        text("id", idString)
        text("idempotencyKey", idempotencyKey)
        number("maxAttempts", maxAttempts)
        member("payload") { payload.write(to: &$0) }
        number("priority", priority)
        text("queue", queue)
        text("runAt", runAt.map(ISO8601Timestamp.format))
        text("type", type)
        output.append(UInt8(ascii: "}"))
        return output
    }

    /// Reads an envelope from JSON text in one pass (the fetch path).
    /// - Throws: ``JSONFieldError`` naming the field that is missing or of the wrong type.
    public init(json bytes: some Collection<UInt8>) throws(JSONFieldError) {
        let members: [(name: String, value: JSONValue)]?
        do { members = try JSONValue.parseMembers(bytes) } catch { throw JSONFieldError("the document: \(error)") }
        guard let members else { throw JSONFieldError("the document: expected a JSON object") }
        let fields = JSONFields(members: members)
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
