import Foundation
import PhoenixJobsCore
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
