public import Foundation
import PhoenixJobsCore
import PhoenixRedis

/// One change of a job, as the queue scripts append it to its queue's event stream
/// (`phx:queue:{<q>}:events`, one per partition, about the last 10,000 events).
public struct JobEvent: Sendable, Equatable {
    /// What happened to the job.
    public enum Kind: String, Sendable, CaseIterable {
        /// Enqueued (with `runAt` when it waits for a time), handed back unstarted, or retried from the dead set.
        case queued
        /// Fetched by a worker: `attempt` is the attempt it runs.
        case started
        /// Its handler reported progress (`progress` from 0 to 1, `message`).
        case progress
        case completed
        /// An attempt failed and another follows at `runAt`; `error` says why.
        case failed
        /// It gave up (out of attempts, failed permanently, or malformed); `error` says why.
        case dead
        case cancelled

        /// Whether the job ends with this event (nothing follows but an operator's retry of a dead job).
        public var isFinal: Bool { self == .completed || self == .dead || self == .cancelled }
    }

    /// Where the event is: its stream and its entry there.
    public var position: JobEventPosition
    /// The job's id (lowercase UUID).
    public var jobID: String
    public var kind: Kind
    /// The job's fairness key: its user, for the job types users submit; `nil` for others.
    public var user: String?
    /// The job's type (`queued` events only).
    public var type: String?
    public var attempt: Int?
    public var progress: Double?
    public var message: String?
    public var error: String?
    /// When the job is due (`queued` with a delay, `failed`).
    public var runAt: Date?
    /// A completed job's result summary (JSON text), when the reader attached it: the stream does not hold it
    /// (the API's hub reads it from `phoenix_job_runs`).
    public var result: String?

    /// When it happened (the Redis server's clock, from the entry id).
    public var at: Date { Date(timeIntervalSince1970: Double(position.entry.milliseconds) / 1000) }

    /// An event from a stream entry's fields (pairs of names and values); `nil` when the entry is not one the
    /// scripts write.
    init?(stream: JobEventStream, entry: StreamEntryID, fields: [RedisValue]) {
        var values: [String: String] = [:]
        var index = 0
        while index + 1 < fields.count {
            if let name = fields[index].string, let value = fields[index + 1].string { values[name] = value }
            index += 2
        }
        guard let job = values["job"], let kind = values["event"].flatMap(Kind.init(rawValue:)) else { return nil }
        position = JobEventPosition(stream: stream, entry: entry)
        jobID = job
        self.kind = kind
        user = values["user"].flatMap { $0.isEmpty ? nil : $0 }
        type = values["type"]
        attempt = values["attempt"].flatMap { Int($0) }
        progress = values["progress"].flatMap { Double($0) }
        message = values["message"]
        error = values["error"]
        runAt = values["runAt"].flatMap { Double($0) }.map { Date(timeIntervalSince1970: $0 / 1000) }
    }
}

/// The event stream of one partition of a queue. Its name is the queue's (`letters`) for partition 0 and
/// `<queue>.<partition>` (`letters.2`) for the others.
public struct JobEventStream: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let queue: String
    public let partition: Int

    public init(queue: String, partition: Int = 0) {
        self.queue = queue
        self.partition = partition
    }

    /// The stream named `name` (as ``description`` writes it); `nil` for anything else.
    public init?(name: Substring) {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), JobEnvelope.isQueueName(parts[0]) else { return nil }
        let partition = parts.count == 2 ? Int(parts[1]) : 0
        guard let partition, partition >= 0, partition < 1024 else { return nil }
        self.init(queue: String(parts[0]), partition: partition)
    }

    public var description: String { partition == 0 ? queue : "\(queue).\(partition)" }

    public static func < (lhs: Self, rhs: Self) -> Bool { (lhs.queue, lhs.partition) < (rhs.queue, rhs.partition) }
}

/// A Redis stream entry id, `<milliseconds>-<sequence>`: entries of one stream are in increasing order.
public struct StreamEntryID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let milliseconds: UInt64
    public let sequence: UInt64

    /// Before every entry.
    public static let start = StreamEntryID(milliseconds: 0, sequence: 0)

    public init(milliseconds: UInt64, sequence: UInt64) {
        self.milliseconds = milliseconds
        self.sequence = sequence
    }

    /// The id written `<ms>-<seq>`; `nil` for anything else.
    public init?(_ text: Substring) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, let milliseconds = UInt64(parts[0]), let sequence = UInt64(parts[1]) else { return nil }
        self.init(milliseconds: milliseconds, sequence: sequence)
    }

    public var description: String { "\(milliseconds)-\(sequence)" }

    public static func < (lhs: Self, rhs: Self) -> Bool { (lhs.milliseconds, lhs.sequence) < (rhs.milliseconds, rhs.sequence) }
}

/// An entry of an event stream.
public struct JobEventPosition: Hashable, Sendable {
    public var stream: JobEventStream
    public var entry: StreamEntryID

    public init(stream: JobEventStream, entry: StreamEntryID) {
        self.stream = stream
        self.entry = entry
    }
}

extension JobQueue {
    /// The event streams of `queue`, one per partition.
    public func eventStreams(ofQueue queue: String) -> [JobEventStream] {
        partitions(of: queue).map { JobEventStream(queue: $0.queue, partition: $0.index) }
    }

    /// The event stream job `id`'s events go to, `nil` when no queue holds the job.
    public func eventStream(ofJob id: String) async throws(QueueError) -> JobEventStream? {
        try await partition(ofJob: id).map { JobEventStream(queue: $0.queue, partition: $0.index) }
    }

    /// The id of the last entry of `stream` (``StreamEntryID/start`` when it is empty): reading after it
    /// gives the events to come.
    public func lastEventEntry(in stream: JobEventStream) async throws(QueueError) -> StreamEntryID {
        let reply: RedisValue
        do {
            reply = try await redis.send("XREVRANGE", key(of: stream), "+", "-", "COUNT", 1)
        } catch {
            throw .redis(error)
        }
        guard let entry = reply.array?.first else { return .start }
        guard let text = entry.array?.first?.string, let id = StreamEntryID(Substring(text)) else {
            throw .unexpectedReply(script: "XREVRANGE", detail: "\(entry)")
        }
        return id
    }

    /// Up to `limit` events of `stream` after `entry`, oldest first (those the stream still keeps).
    public func events(in stream: JobEventStream, after entry: StreamEntryID, upTo last: StreamEntryID? = nil, limit: Int = 1000) async throws(QueueError) -> [JobEvent] {
        do {
            let reply = try await redis.send("XRANGE", key(of: stream), "(\(entry)", last.map(\.description) ?? "+", "COUNT", limit)
            return try Self.events(of: stream, entries: reply)
        } catch let error as RedisError {
            throw .redis(error)
        } catch let error as QueueError {
            throw error
        } catch {
            throw .unexpectedReply(script: "XRANGE", detail: "\(error)")
        }
    }

    /// Waits up to `block` for events of `stream` after `entry` and returns up to `limit` of them (none when
    /// the wait ended first). The call holds a connection of its own while it waits.
    public func waitForEvents(in stream: JobEventStream, after entry: StreamEntryID, limit: Int = 1000, block: Duration) async throws(QueueError) -> [JobEvent] {
        let reply: RedisValue
        do {
            reply = try await redis.sendBlocking(
                RedisCommand("XREAD", arguments: ["COUNT", limit, "BLOCK", block.wholeMilliseconds, "STREAMS", key(of: stream), entry.description]),
                timeout: block
            )
        } catch {
            throw .redis(error)
        }
        // XREAD answers [[key, entries]], or nil when the wait ended with nothing.
        guard let streams = reply.array, let first = streams.first?.array, first.count == 2 else { return [] }
        return try Self.events(of: stream, entries: first[1])
    }

    private func key(of stream: JobEventStream) -> String {
        keys.events(stream.queue, partition: stream.partition)
    }

    /// The events of `stream` after `entry` up to `last` (the stream's end when `nil`) that `matching` takes,
    /// oldest first, reading at most `scanning` entries (the streams keep about 10,000 each).
    public func events(in stream: JobEventStream, after entry: StreamEntryID, upTo last: StreamEntryID? = nil, matching: (JobEvent) -> Bool, scanning limit: Int = 10_000) async throws(QueueError) -> [JobEvent] {
        if let last, last <= entry { return [] }
        var found: [JobEvent] = []
        var from = entry
        var read = 0
        while read < limit {
            let page = try await events(in: stream, after: from, upTo: last, limit: min(1000, limit - read))
            guard let end = page.last else { break }
            found += page.filter(matching)
            read += page.count
            from = end.position.entry
        }
        return found
    }

    /// The latest event of each job with the newest events in `stream`, newest first, up to `limit` jobs, reading
    /// at most `scanning` entries from the end; only jobs of `user` when one is given. The stream is the queue's
    /// index of its recent jobs: every change of a job appends to it.
    public func latestEvents(in stream: JobEventStream, user: String? = nil, limit: Int, scanning: Int = 10_000) async throws(QueueError) -> [JobEvent] {
        var latest: [JobEvent] = []
        var seen: Set<String> = []
        var before = "+"
        var read = 0
        while read < scanning, latest.count < limit {
            let page: [JobEvent]
            do {
                let reply = try await redis.send("XREVRANGE", key(of: stream), before, "-", "COUNT", min(1000, scanning - read))
                page = try Self.events(of: stream, entries: reply)
                read += reply.array?.count ?? 0
                guard let oldest = reply.array?.last?.array?.first?.string else { break }
                before = "(\(oldest)"
            } catch let error as RedisError {
                throw .redis(error)
            } catch let error as QueueError {
                throw error
            } catch {
                throw .unexpectedReply(script: "XREVRANGE", detail: "\(error)")
            }
            for event in page where latest.count < limit && (user == nil || event.user?.lowercased() == user) && seen.insert(event.jobID).inserted {
                latest.append(event)
            }
        }
        return latest
    }

    /// The events of a reply listing stream entries (`[[id, [field, value, …]], …]`); entries the scripts did not
    /// write are passed over.
    private static func events(of stream: JobEventStream, entries: RedisValue) throws(QueueError) -> [JobEvent] {
        var events: [JobEvent] = []
        for entry in entries.array ?? [] {
            guard let parts = entry.array, parts.count == 2, let text = parts[0].string, let id = StreamEntryID(Substring(text)) else {
                throw .unexpectedReply(script: "XRANGE", detail: "\(entry)")
            }
            if let event = JobEvent(stream: stream, entry: id, fields: parts[1].array ?? []) { events.append(event) }
        }
        return events
    }
}
