import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import PhoenixJobsCore
import PhoenixQueue

/// How far a client has read the event streams it follows, as the id of the events it was sent:
/// `<stream>=<mark>` for each stream, sorted by stream and joined by commas (`letters=1733300000000-0,
/// letters.1=1733300000123-4.2`), where a mark is an entry, read whole, or `<entry>.<k>`, read through its
/// event k (an entry holds the events of several jobs that changed together: ``StreamEventMark``). The
/// browser sends the last one back as `Last-Event-ID` when it reconnects.
struct EventCursor: Sendable, Equatable {
    /// Longest `Last-Event-ID` taken.
    static let maxLength = 4096

    var entries: [JobEventStream: StreamEventMark]

    init(_ entries: [JobEventStream: StreamEventMark]) {
        self.entries = entries
    }

    /// A cursor at the end of each stream's entry `positions` names, read whole.
    init(_ positions: [JobEventStream: StreamEntryID]) {
        self.entries = positions.mapValues { StreamEventMark(entry: $0) }
    }

    /// Moves the cursor past `event`.
    mutating func advance(past event: JobEvent) {
        entries[event.position.stream] = event.position.mark
    }

    /// Whether `event` was read already.
    func covers(_ event: JobEvent) -> Bool {
        entries[event.position.stream]?.covers(event.position) ?? false
    }

    /// The cursor a client sent back.
    /// - Throws: ``APIError`` 400 `invalid_last_event_id` for anything this server did not write.
    init(lastEventID text: String) throws(APIError) {
        let invalid = APIError.badRequest("invalid_last_event_id", "Last-Event-ID must be an event id this stream sent (stream=entry pairs)")
        guard !text.isEmpty, text.utf8.count <= Self.maxLength else { throw invalid }
        var entries: [JobEventStream: StreamEventMark] = [:]
        for pair in text.split(separator: ",", omittingEmptySubsequences: false) {
            let parts = pair.split(separator: "=", omittingEmptySubsequences: false)
            guard parts.count == 2, let stream = JobEventStream(name: parts[0]), let mark = StreamEventMark(parts[1]),
                  entries.updateValue(mark, forKey: stream) == nil else { throw invalid }
        }
        self.entries = entries
    }

    var text: String {
        entries.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
    }
}

/// One server-sent event, written as the `text/event-stream` format has it.
struct ServerSentEvent: Sendable {
    var id: String?
    var name: String
    var data: JSONValue

    /// The event's bytes: `id:`, `event:` and one `data:` line (the JSON has no line breaks), then a blank line.
    var bytes: ByteBuffer {
        var text = ""
        if let id { text += "id: \(id)\n" }
        text += "event: \(name)\ndata: "
        var buffer = ByteBuffer(string: text)
        buffer.writeBytes(data.serialized)
        buffer.writeString("\n\n")
        return buffer
    }

    /// A comment line, which clients ignore: it keeps proxies from closing a quiet stream.
    static let keepAlive = ByteBuffer(string: ": keep-alive\n\n")

    /// Tells nginx-style proxies not to buffer the stream.
    private static let accelBuffering = HTTPField.Name("X-Accel-Buffering")!

    /// A `text/event-stream` response: `opening`, then each event of `subscription` not sent yet (past `cursor`),
    /// as `encode` writes it (moving the cursor), and a keep-alive comment at each of the hub's keep-alives, until
    /// one `ends` it, the subscription ends, or the client goes away (a write fails). The subscription is
    /// cancelled when the response ends.
    static func response(
        opening: [ServerSentEvent], cursor: EventCursor, following subscription: JobEventSubscription?,
        endsWith ends: @escaping @Sendable (JobEvent) -> Bool,
        encode: @escaping @Sendable (JobEvent, inout EventCursor) async throws -> ServerSentEvent
    ) -> Response {
        let body = ResponseBody { writer in
            defer { subscription?.cancel() }
            for event in opening { try await writer.write(event.bytes) }
            if let subscription {
                var cursor = cursor
                for await item in subscription.events {
                    guard let event = item else {
                        try await writer.write(keepAlive)
                        continue
                    }
                    // Already sent from the stream's backlog.
                    if cursor.covers(event) { continue }
                    try await writer.write(try await encode(event, &cursor).bytes)
                    if ends(event) { break }
                }
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache", accelBuffering: "no"], body: body)
    }
}

extension JobEvent {
    /// Event times to the millisecond (`2026-12-04T12:00:00.123Z`).
    static let timestamp = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    /// The event as the API sends it; `result` is the job's result, for `completed`.
    func json(result: JSONValue? = nil) -> JSONValue {
        var body: [String: JSONValue] = [
            "id": .string(jobID), "event": .string(kind.rawValue), "queue": .string(position.stream.queue),
            "at": .string(at.formatted(Self.timestamp)),
        ]
        if let type { body["type"] = .string(type) }
        if let attempt { body["attempt"] = .number(Double(attempt)) }
        if let progress { body["progress"] = .number(progress) }
        if let message { body["message"] = .string(message) }
        if let error { body["error"] = .string(error) }
        if let runAt { body["run_at"] = .string(runAt.formatted(Self.timestamp)) }
        if let result { body["result"] = result }
        return .object(body)
    }
}
