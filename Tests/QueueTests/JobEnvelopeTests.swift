import Foundation
import PhoenixJobsCore
import PhoenixQueue
import Testing

@Suite struct JobEnvelopeTests {
    @Test func encodesTheDocumentedJSON() throws {
        let id = try #require(UUID(uuidString: "6f1c1a52-3c39-4b1e-9a55-3c2f0f7e8d10"))
        let envelope = JobEnvelope(
            id: id, type: "letter.generate", queue: "letters", payload: .object(["user_id": .string("u1")]),
            maxAttempts: 4, priority: 1, idempotencyKey: "k", correlationId: "c", enqueuedBy: "svc",
            enqueuedAt: Date(timeIntervalSince1970: 1_795_000_000.5)
        )
        let json = String(decoding: try JobEnvelope.makeEncoder().encode(envelope), as: UTF8.self)
        #expect(json == #"{"attempt":0,"correlationId":"c","enqueuedAt":"2026-11-18T11:06:40.500Z","enqueuedBy":"svc","id":"6f1c1a52-3c39-4b1e-9a55-3c2f0f7e8d10","idempotencyKey":"k","maxAttempts":4,"payload":{"user_id":"u1"},"priority":1,"queue":"letters","type":"letter.generate"}"#)
        #expect(try JobEnvelope.makeDecoder().decode(JobEnvelope.self, from: Data(json.utf8)) == envelope)
    }

    @Test func decodesAnEnvelopeWrittenByAnotherLanguage() throws {
        let json = #"{"id":"6F1C1A52-3C39-4B1E-9A55-3C2F0F7E8D10","type":"cv.render","queue":"cv","payload":{"template":"classic"},"attempt":0,"maxAttempts":3,"enqueuedAt":"2026-11-25T10:00:00Z","runAt":"2026-11-25T10:05:00.250Z","priority":0}"#
        let envelope = try JobEnvelope.makeDecoder().decode(JobEnvelope.self, from: Data(json.utf8))
        #expect(envelope.idString == "6f1c1a52-3c39-4b1e-9a55-3c2f0f7e8d10")
        #expect(envelope.payload == .object(["template": .string("classic")]))
        #expect(envelope.runAt == Date(timeIntervalSince1970: 1_795_601_100.25))
        #expect(envelope.idempotencyKey == nil)
    }

    /// The envelope readers take the queue's own timestamp form on a fast path; every text must read as
    /// Foundation's ISO 8601 parser reads it (same instant, or refused by both).
    @Test func timestampsReadAsFoundationReadsThem() throws {
        var generator = SystemRandomNumberGenerator()
        let withFraction = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        var texts = (0..<500).map { _ in Date(timeIntervalSince1970: Double.random(in: -2e9...5e9, using: &generator)).formatted(withFraction) }
        texts += [
            "2024-02-29T23:59:59.999Z", "2000-02-29T00:00:00Z", "1970-01-01T00:00:00.000Z", "2026-11-25T12:00:00.5Z",
            "2026-11-25T12:00:00.123456Z", "2026-11-25T14:00:00.250+02:00", "2026-11-25T14:00:00+02:00",
            "2023-02-29T00:00:00Z", "2100-02-29T00:00:00.000Z", "2026-13-01T00:00:00Z", "2026-11-31T00:00:00Z",
            "2026-11-25T24:00:00Z", "2026-11-25T12:60:00Z", "2026-11-25T12:00:00.Z", "2026-11-25T12:00:0xZ", "yesterday",
        ]
        for text in texts {
            let json = #"{"id":"6f1c1a52-3c39-4b1e-9a55-3c2f0f7e8d10","type":"a.b","queue":"q","payload":{},"attempt":0,"maxAttempts":3,"priority":0,"enqueuedAt":"\#(text)"}"#
            let read = try? JobEnvelope(json: Array(json.utf8)).enqueuedAt
            let decoded = try? JobEnvelope.makeDecoder().decode(JobEnvelope.self, from: Data(json.utf8)).enqueuedAt
            let foundation = (try? withFraction.parse(text)) ?? (try? Date.ISO8601FormatStyle().parse(text))
            #expect(read == decoded, "\(text)")
            if let foundation, let read {
                #expect(abs(read.timeIntervalSince(foundation)) < 1e-6, "\(text): \(read) against \(foundation)")
            } else {
                #expect(read == nil && foundation == nil, "\(text): \(String(describing: read)) against \(String(describing: foundation))")
            }
        }
    }

    /// Envelope ids are read on a fast path too: ids in either case read as Foundation reads them, and text
    /// that is no UUID is refused (Foundation's `sscanf` would take a sign: `-f1c1a52-…`).
    @Test func idsReadAsFoundationReadsThemAndMalformedOnesAreRefused() {
        func read(_ text: String) -> UUID? {
            let json = #"{"id":"\#(text)","type":"a.b","queue":"q","payload":{},"attempt":0,"maxAttempts":3,"priority":0,"enqueuedAt":"2026-11-25T12:00:00.000Z"}"#
            return try? JobEnvelope(json: Array(json.utf8)).id
        }
        let valid = (0..<200).map { index in index.isMultiple(of: 2) ? UUID().uuidString : UUID().uuidString.lowercased() } + ["6F1C1A52-3c39-4B1E-9a55-3c2f0f7e8d10"]
        for text in valid {
            #expect(read(text) != nil && read(text) == UUID(uuidString: text), "\(text)")
        }
        let malformed = [
            "6f1c1a52-3c39-4b1e-9a55-3c2f0f7e8d1g", "6f1c1a52-3c39-4b1e-9a55_3c2f0f7e8d10", "6f1c1a523c394b1e9a553c2f0f7e8d10",
            "6f1c1a52-3c39-4b1e-9a55-3c2f0f7e8d1", "-f1c1a52-3c39-4b1e-9a55-3c2f0f7e8d10", "+f1c1a52-3c39-4b1e-9a55-3c2f0f7e8d10", "",
        ]
        for text in malformed {
            #expect(read(text) == nil, "\(text)")
        }
    }

    /// Queue and type names are checked byte by byte on the enqueue path; they must be accepted exactly as the
    /// rule reads: 1 to 64 (queue) or 100 (type) characters of a-z, 0-9, '_', '-' (and '.' in a type).
    @Test func namesAreAcceptedExactlyAsTheRuleReads() {
        var generator = SystemRandomNumberGenerator()
        let alphabet: [String] = ["a", "z", "0", "9", "_", "-", ".", "A", " ", ":", "é", "e\u{301}", "ß", "\u{0}", "/", "{"]
        func follows(_ name: String, longest: Int, allowing extra: Set<Unicode.Scalar>) -> Bool {
            (1...longest).contains(name.unicodeScalars.count)
                && name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || extra.contains($0) }
        }
        var names = ["", String(repeating: "a", count: 64), String(repeating: "a", count: 65), String(repeating: "b", count: 100), String(repeating: "b", count: 101)]
        for _ in 0..<2_000 {
            let length = Int.random(in: 0...105, using: &generator)
            // Mostly allowed characters, so that long valid names are drawn too.
            names.append(String((0..<length).map { _ in
                Character(Bool.random(using: &generator) ? "q" : alphabet.randomElement(using: &generator) ?? "a")
            }))
        }
        for name in names {
            #expect(JobEnvelope.isQueueName(name) == follows(name, longest: 64, allowing: ["_", "-"]), "queue \(name.debugDescription)")
            #expect(JobEnvelope.isTypeName(name) == follows(name, longest: 100, allowing: ["_", "-", "."]), "type \(name.debugDescription)")
        }
    }

    @Test func decodingErrorsNameTheField() {
        let json = #"{"id":"6f1c1a52-3c39-4b1e-9a55-3c2f0f7e8d10","type":"cv.render","queue":"cv","payload":{},"attempt":"one"}"#
        #expect {
            try JobEnvelope.makeDecoder().decode(JobEnvelope.self, from: Data(json.utf8))
        } throws: { error in
            (error as? DecodingError)?.fieldDescription.hasPrefix("field 'attempt'") == true
        }
    }

    @Test func delaySetsRunAtRelativeToEnqueuedAt() {
        let now = Date(timeIntervalSince1970: 1000)
        let envelope = JobEnvelope(type: "a.b", queue: "q", delay: .milliseconds(1500), enqueuedAt: now)
        #expect(envelope.runAt == Date(timeIntervalSince1970: 1001.5))
    }

    @Test func retryDelaysGrowExponentiallyWithFullJitterUpToTheCap() {
        let policy = RetryPolicy(baseDelay: .seconds(1), maxDelay: .seconds(10))
        #expect((1...6).map { policy.ceiling(afterAttempt: $0) } == [.seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(10), .seconds(10)])
        var generator = SystemRandomNumberGenerator()
        let delays = (0..<200).map { _ in policy.delay(afterAttempt: 3, using: &generator) }
        #expect(delays.allSatisfy { $0 >= .zero && $0 <= .seconds(4) })
        #expect(Set(delays).count > 100)
    }
}
