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

    /// The events of a stream entry from its fields (pairs of names and values): one for an entry naming its
    /// `job`, one per id for an entry listing the `jobs` that changed together (in the listed order); none for
    /// an entry the scripts do not write.
    static func events(stream: JobEventStream, entry: StreamEntryID, fields: [RedisValue]) -> [JobEvent] {
        var values: [String: String] = [:]
        var index = 0
        while index + 1 < fields.count {
            if let name = fields[index].string, let value = fields[index + 1].string { values[name] = value }
            index += 2
        }
        guard let kind = values["event"].flatMap(Kind.init(rawValue:)) else { return [] }
        let ids = values["job"].map { [$0] } ?? values["jobs"].map { $0.split(separator: ",").map(String.init) } ?? []
        return ids.indices.map { index in
            JobEvent(
                position: JobEventPosition(stream: stream, entry: entry, index: index, endsEntry: index == ids.count - 1),
                jobID: ids[index], kind: kind, values: values
            )
        }
    }

    private init(position: JobEventPosition, jobID: String, kind: Kind, values: [String: String]) {
        self.position = position
        self.jobID = jobID
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

/// Where an event is: its stream, its entry, and which of the entry's events it is (an entry holds the events
/// of several jobs that changed together in one script call).
public struct JobEventPosition: Hashable, Sendable {
    public var stream: JobEventStream
    public var entry: StreamEntryID
    /// Which of the entry's events, from 0.
    public var index: Int
    /// Whether it is the entry's last event.
    public var endsEntry: Bool

    public init(stream: JobEventStream, entry: StreamEntryID, index: Int = 0, endsEntry: Bool = true) {
        self.stream = stream
        self.entry = entry
        self.index = index
        self.endsEntry = endsEntry
    }

    /// How far into its stream a reader that has read this event is.
    public var mark: StreamEventMark { StreamEventMark(entry: entry, through: endsEntry ? nil : index) }
}

/// How far a reader is into an event stream: through a whole entry and every one before it, or through the
/// first events of an entry (`through`, counted from 0) when it stopped inside one. Written `<entry>` or
/// `<entry>.<index>`.
public struct StreamEventMark: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let entry: StreamEntryID
    /// The last event of `entry` read, `nil` for all of them.
    public let through: Int?

    public init(entry: StreamEntryID, through: Int? = nil) {
        self.entry = entry
        self.through = through
    }

    /// Before every event.
    public static let start = StreamEventMark(entry: .start)

    /// The mark written `<entry>` or `<entry>.<index>` (as ``description`` writes it); `nil` for anything else.
    public init?(_ text: Substring) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let entry = StreamEntryID(parts[0]) else { return nil }
        guard parts.count == 2 else {
            self.init(entry: entry)
            return
        }
        guard let index = Int(parts[1]), index >= 0, "\(index)" == parts[1] else { return nil }
        self.init(entry: entry, through: index)
    }

    public var description: String { through.map { "\(entry).\($0)" } ?? "\(entry)" }

    /// Whether a reader at this mark has read the event at `position` (of the same stream).
    public func covers(_ position: JobEventPosition) -> Bool {
        position.entry < entry || (position.entry == entry && through.map { position.index <= $0 } ?? true)
    }

    public static func < (lhs: Self, rhs: Self) -> Bool {
        (lhs.entry, lhs.through ?? Int.max) < (rhs.entry, rhs.through ?? Int.max)
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

    /// The events of up to `limit` entries of `stream` after `entry`, oldest first (those the stream still keeps).
    public func events(in stream: JobEventStream, after entry: StreamEntryID, upTo last: StreamEntryID? = nil, limit: Int = 1000) async throws(QueueError) -> [JobEvent] {
        try await events(in: stream, from: "(\(entry)", to: last.map(\.description) ?? "+", limit: limit)
    }

    /// The events of one entry of `stream` (none when the stream no longer keeps it).
    private func events(in stream: JobEventStream, entry: StreamEntryID) async throws(QueueError) -> [JobEvent] {
        try await events(in: stream, from: entry.description, to: entry.description, limit: 1)
    }

    /// The events of up to `limit` entries of `stream` between the `XRANGE` bounds `start` and `end`.
    private func events(in stream: JobEventStream, from start: String, to end: String, limit: Int) async throws(QueueError) -> [JobEvent] {
        do {
            return try Self.events(of: stream, entries: try await redis.send("XRANGE", key(of: stream), start, end, "COUNT", limit))
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

    /// The events of `stream` past `mark` up to the entry `last` (the stream's end when `nil`) that `matching`
    /// takes, oldest first, reading at most about `scanning` events (the streams keep about 10,000 entries each).
    public func events(in stream: JobEventStream, after mark: StreamEventMark, upTo last: StreamEntryID? = nil, matching: (JobEvent) -> Bool, scanning limit: Int = 10_000) async throws(QueueError) -> [JobEvent] {
        if let last, last < mark.entry || (last == mark.entry && mark.through == nil) { return [] }
        var found: [JobEvent] = []
        var read = 0
        if mark.through != nil {
            // The rest of the entry the reader stopped inside.
            let rest = try await events(in: stream, entry: mark.entry)
            found += rest.filter { !mark.covers($0.position) && matching($0) }
            read += rest.count
        }
        var from = mark.entry
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
            events += JobEvent.events(stream: stream, entry: id, fields: parts[1].array ?? [])
        }
        return events
    }
}
