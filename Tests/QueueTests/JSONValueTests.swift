import Foundation
@testable import PhoenixJobsCore
import PhoenixQueue
import Testing

@Suite struct JSONValueTests {
    @Test func parsesAndSerializesEveryKindOfValue() throws {
        let text = #"{"a": [1, -2.5, 3e2, true, false, null], "s": "é \"q\" \\ \n \u00e9 \ud83d\ude00 /", "o": {}, "e": []}"#
        let value = try JSONValue.parse(Array(text.utf8))
        #expect(value == .object([
            "a": .array([.number(1), .number(-2.5), .number(300), .bool(true), .bool(false), .null]),
            "s": .string("é \"q\" \\ \n é 😀 /"), "o": .object([:]), "e": .array([]),
        ]))
        let serialized = value.jsonString
        #expect(serialized == #"{"a":[1,-2.5,300,true,false,null],"e":[],"o":{},"s":"é \"q\" \\ \n é 😀 /"}"#)
        #expect(try JSONValue.parse(Array(serialized.utf8)) == value)
        // The same value as Foundation's decoder reads it.
        #expect(try JSONDecoder().decode(JSONValue.self, from: Data(serialized.utf8)) == value)
        // Control characters are escaped; a string that needs no escape is copied as it is.
        #expect(JSONValue.string("a\u{01}\tb\r").jsonString == #""a\u0001\tb\r""#)
        #expect(JSONValue.string("plain é 😀 / text").jsonString == #""plain é 😀 / text""#)
    }

    @Test(arguments: [
        ("{\"a\": 1", "unexpected end of input"),
        ("[1, 2,]", "unexpected character ']'"),
        ("{\"a\" 1}", "expected ':' after member name"),
        ("\"tab\there\"", "control character in a string"),
        ("tru", "unexpected end of input"),
        ("1 2", "unexpected data after the value"),
        ("\"\\ud800\"", "unpaired surrogate"),
    ])
    func rejectsMalformedJSONSayingWhere(text: String, reason: String) {
        #expect {
            try JSONValue.parse(Array(text.utf8))
        } throws: { error in
            "\(error)".contains(reason)
        }
    }

    /// The enqueue path writes the envelope straight from its fields: the same bytes as its JSON value's
    /// serialization, with and without the optional fields, and with strings that need escapes.
    @Test func theEnvelopeWrittenFromItsFieldsIsItsJSONValueSerialized() {
        let full = JobEnvelope(
            type: "letter.generate", queue: "letters",
            payload: .object(["user_id": .string("u1"), "text": .string("a \"quote\"\n\u{1}é/"), "list": .array([.number(1.5), .null, .bool(true)])]),
            maxAttempts: 4, delay: .seconds(30), priority: 2, idempotencyKey: "k\\", correlationId: "c", enqueuedBy: "svc"
        )
        let bare = JobEnvelope(type: "test.noop", queue: "q", payload: .object([:]))
        for envelope in [full, bare] {
            #expect(envelope.serializedJSON == envelope.jsonValue.serialized, "\(envelope.jsonValue.jsonString)")
        }
    }

    /// Timestamps are written in the queue's form, truncated to the millisecond, and read back to the same
    /// text; Foundation reads them as the same instant.
    @Test func timestampsAreWrittenToTheMillisecondAndReadBackToTheSameText() throws {
        let known: [(Double, String)] = [
            (0, "1970-01-01T00:00:00.000Z"), (1.0019, "1970-01-01T00:00:01.001Z"), (951_782_400, "2000-02-29T00:00:00.000Z"),
            (1_709_251_199.999, "2024-02-29T23:59:59.999Z"), (-1.5, "1969-12-31T23:59:58.500Z"), (4_102_444_800, "2100-01-01T00:00:00.000Z"),
        ]
        for (seconds, text) in known {
            #expect(ISO8601Timestamp.format(Date(timeIntervalSince1970: seconds)) == text)
        }
        var generator = SystemRandomNumberGenerator()
        let foundation = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        for _ in 0..<2_000 {
            let date = Date(timeIntervalSince1970: Double.random(in: -2e9...5e9, using: &generator))
            let text = ISO8601Timestamp.format(date)
            let read = try #require(ISO8601Timestamp.parse(text), "\(text)")
            #expect(ISO8601Timestamp.format(read) == text)
            #expect(date.timeIntervalSince(read) > -1e-6 && date.timeIntervalSince(read) < 0.001, "\(date.timeIntervalSince1970) → \(text)")
            #expect(abs(try foundation.parse(text).timeIntervalSince(read)) < 1e-6, "\(text)")
        }
    }

    @Test func envelopeFastPathMatchesCodable() throws {
        let envelope = JobEnvelope(
            type: "letter.generate", queue: "letters", payload: .object(["user_id": .string("u1"), "n": .number(3)]),
            maxAttempts: 4, delay: .seconds(30), priority: 2, idempotencyKey: "k", correlationId: "c", enqueuedBy: "svc"
        )
        let fast = envelope.jsonValue.serialized
        let codable = try JobEnvelope.makeEncoder().encode(envelope)
        #expect(try JSONValue.parse(fast) == JSONValue.parse(Array(codable)))
        let roundTrip = try JobEnvelope(json: fast)
        #expect(roundTrip.idString == envelope.idString)
        #expect(roundTrip.payload == envelope.payload)
        #expect(abs((roundTrip.runAt ?? .distantPast).timeIntervalSince(envelope.runAt ?? .distantFuture)) < 0.001)
        #expect(try JobEnvelope.makeDecoder().decode(JobEnvelope.self, from: Data(fast)).idString == envelope.idString)
    }
}
