import Foundation
public import Logging
public import PhoenixQueue
public import PhoenixSupabase
public import ServiceLifecycle
import Synchronization

/// Fans the queues' event streams out to the API's subscribers (server-sent events, long polls): one reader
/// per stream some subscriber asked for, however many follow it, each waiting on Redis (`XREAD BLOCK`), never
/// polling. A stream's reader starts with its first subscriber and runs until shutdown.
///
/// Run it in the server's `ServiceGroup` after the application: services stop in reverse order, so at
/// shutdown the hub ends every subscription first (their responses end) and the server's connections drain.
public final class JobEventHub: Service, Sendable {
    /// Events a subscriber may have waiting; one more ends its subscription (the client resumes from its last
    /// event, reading the stream).
    static let bufferLimit = 10_000
    /// How long one read waits on Redis before it asks again.
    static let readWait = Duration.seconds(5)
    /// How often every subscription is handed a keep-alive (`nil`), which a server-sent event stream writes as a
    /// comment so that proxies and clients see a quiet stream is alive: one timer for all, not one per stream.
    static let keepAliveInterval = Duration.seconds(15)

    let queue: JobQueue
    /// The result summaries of completed jobs (`PhoenixStore.results(jobIDs:)`), attached to their events.
    let results: @Sendable ([UUID]) async throws -> [UUID: String]
    let logger: Logger
    /// Streams whose reader should start (``run()`` starts them).
    private let readsWanted: AsyncStream<JobEventStream>
    private let wantRead: AsyncStream<JobEventStream>.Continuation
    /// The subscribers of each stream, the last entry dispatched of each stream being read, and whether the
    /// hub has closed.
    private let state = Mutex(State())

    private struct State {
        var subscribers: [JobEventStream: Subscribers] = [:]
        var cursors: [JobEventStream: StreamEntryID] = [:]
        var nextID = 0
        var closed = false
    }

    /// The subscribers of one stream, indexed by what they follow, so that an event reaches its subscribers
    /// without a look at the others (a thousand streams of one job each cost one look-up per event).
    private struct Subscribers {
        var byJob: [String: [Int: AsyncStream<JobEvent?>.Continuation]] = [:]
        var byUser: [String: [Int: AsyncStream<JobEvent?>.Continuation]] = [:]
        var all: [Int: AsyncStream<JobEvent?>.Continuation] = [:]

        /// The subscribers `event` is for.
        func receivers(of event: JobEvent) -> [AsyncStream<JobEvent?>.Continuation] {
            var found = Array(all.values)
            if let subscribers = byJob[event.jobID] { found += subscribers.values }
            if let user = event.user?.lowercased(), let subscribers = byUser[user] { found += subscribers.values }
            return found
        }

        subscript(_ filter: JobEventFilter, id id: Int) -> AsyncStream<JobEvent?>.Continuation? {
            get {
                switch filter {
                case .job(let job): byJob[job]?[id]
                case .user(let user): byUser[user]?[id]
                case .all: all[id]
                }
            }
            set {
                switch filter {
                case .job(let job):
                    byJob[job, default: [:]][id] = newValue
                    if byJob[job]?.isEmpty == true { byJob[job] = nil }
                case .user(let user):
                    byUser[user, default: [:]][id] = newValue
                    if byUser[user]?.isEmpty == true { byUser[user] = nil }
                case .all:
                    all[id] = newValue
                }
            }
        }

        var continuations: [AsyncStream<JobEvent?>.Continuation] {
            Array(all.values) + byJob.values.flatMap(\.values) + byUser.values.flatMap(\.values)
        }
    }

    /// A hub over `queue`'s streams; completed jobs' result summaries come from `store`, read once for each
    /// batch of events read.
    public init(queue: JobQueue, store: PhoenixStore, logger: Logger) {
        self.queue = queue
        self.results = store.results(jobIDs:)
        self.logger = logger
        (readsWanted, wantRead) = AsyncStream.makeStream(of: JobEventStream.self)
    }

    /// Follows `streams`, delivering the events `filter` takes as they are appended. The subscription's
    /// positions are where delivery begins in each stream: what came up to them is read from the stream
    /// itself (``JobQueue/events(in:after:upTo:limit:)``), so a client resuming from an earlier entry misses
    /// nothing and sees nothing twice. Throws when Redis cannot say where a stream ends.
    public func subscribe(to streams: [JobEventStream], following filter: JobEventFilter) async throws(QueueError) -> JobEventSubscription {
        // A stream not read yet starts at its current end, looked up before the subscription takes its place.
        var ends: [JobEventStream: StreamEntryID] = [:]
        for stream in streams where state.withLock({ $0.cursors[stream] == nil }) {
            ends[stream] = try await queue.lastEventEntry(in: stream)
        }
        let (events, continuation) = AsyncStream.makeStream(of: JobEvent?.self, bufferingPolicy: .bufferingOldest(Self.bufferLimit))
        let id = state.withLock { state in
            defer { state.nextID += 1 }
            return state.nextID
        }
        continuation.onTermination = { [weak self] _ in self?.unsubscribe(id, following: filter, from: streams) }
        let (positions, started) = state.withLock { state -> ([JobEventStream: StreamEntryID], [JobEventStream]) in
            guard !state.closed else { return ([:], []) }
            var positions: [JobEventStream: StreamEntryID] = [:]
            var started: [JobEventStream] = []
            for stream in streams {
                if state.cursors[stream] == nil, let end = ends[stream] {
                    state.cursors[stream] = end
                    started.append(stream)
                }
                positions[stream] = state.cursors[stream]
                state.subscribers[stream, default: Subscribers()][filter, id: id] = continuation
            }
            return (positions, started)
        }
        if positions.isEmpty { continuation.finish() }
        for stream in started { wantRead.yield(stream) }
        return JobEventSubscription(events: events, positions: positions, continuation: continuation)
    }

    /// Reads the streams subscribers asked for until graceful shutdown, then ends every subscription.
    public func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.keepSubscriptionsAlive() }
            for await stream in readsWanted.cancelOnGracefulShutdown() {
                group.addTask { await self.read(stream) }
            }
            close()
            group.cancelAll()
        }
    }

    /// Hands every subscription a keep-alive each ``keepAliveInterval`` until cancelled.
    private func keepSubscriptionsAlive() async {
        while (try? await Task.sleep(for: Self.keepAliveInterval)) != nil {
            let overflowing = state.withLock { state in
                state.subscribers.values.flatMap(\.continuations).filter { continuation in
                    if case .dropped = continuation.yield(nil) { return true }
                    return false
                }
            }
            for continuation in overflowing { continuation.finish() }
        }
    }

    /// Ends every subscription and takes no more.
    private func close() {
        let continuations = state.withLock { state in
            state.closed = true
            defer { state.subscribers = [:] }
            return state.subscribers.values.flatMap(\.continuations)
        }
        for continuation in continuations { continuation.finish() }
        wantRead.finish()
    }

    private func unsubscribe(_ id: Int, following filter: JobEventFilter, from streams: [JobEventStream]) {
        state.withLock { state in
            for stream in streams { state.subscribers[stream]?[filter, id: id] = nil }
        }
    }

    /// Reads `stream` from its cursor until cancelled, dispatching what comes; a failed read is tried again
    /// with backoff (the subscribers wait meanwhile, and miss nothing: the cursor stays).
    private func read(_ stream: JobEventStream) async {
        var backoff = Duration.milliseconds(100)
        while !Task.isCancelled {
            guard let cursor = state.withLock({ $0.cursors[stream] }) else { return }
            do {
                let events = try await queue.waitForEvents(in: stream, after: cursor, block: Self.readWait)
                dispatch(await withResults(events, of: stream), of: stream)
                backoff = .milliseconds(100)
            } catch {
                guard !Task.isCancelled else { return }
                logger.warning("Reading job events failed; trying again", metadata: ["stream": "\(stream)", "error": "\(error)", "retry_in": "\(backoff)"])
                try? await Task.sleep(for: backoff)
                backoff = min(backoff * 2, .seconds(5))
            }
        }
    }

    /// `events` with the results of the completed jobs someone follows, read in one query; without them when
    /// the query fails (logged: the subscribers get the event, only not its result).
    private func withResults(_ events: [JobEvent], of stream: JobEventStream) async -> [JobEvent] {
        let followed = state.withLock { state -> Set<String> in
            guard let subscribers = state.subscribers[stream] else { return [] }
            return Set(events.filter { $0.kind == .completed && !subscribers.receivers(of: $0).isEmpty }.map(\.jobID))
        }
        guard !followed.isEmpty else { return events }
        let found: [UUID: String]
        do {
            found = try await results(followed.compactMap { UUID(uuidString: $0) })
        } catch {
            logger.warning("Reading completed jobs' results failed; their events go without them", metadata: ["stream": "\(stream)", "error": "\(error)"])
            return events
        }
        return events.map { event in
            var event = event
            if event.kind == .completed, let id = UUID(uuidString: event.jobID) { event.result = found[id] }
            return event
        }
    }

    /// Hands `events` to the subscribers of `stream` that want them, in order, and moves the stream's cursor
    /// past them in the same step (a subscription begun meanwhile starts after them). A subscriber whose buffer
    /// is full is ended.
    private func dispatch(_ events: [JobEvent], of stream: JobEventStream) {
        guard let last = events.last else { return }
        let overflowing = state.withLock { state -> [AsyncStream<JobEvent?>.Continuation] in
            var overflowing: [AsyncStream<JobEvent?>.Continuation] = []
            guard let subscribers = state.subscribers[stream] else {
                state.cursors[stream] = last.position.entry
                return overflowing
            }
            for event in events {
                for continuation in subscribers.receivers(of: event) {
                    if case .dropped = continuation.yield(event) { overflowing.append(continuation) }
                }
            }
            state.cursors[stream] = last.position.entry
            return overflowing
        }
        // Finishing calls the subscription's termination handler, which takes the lock: outside it.
        for continuation in overflowing { continuation.finish() }
    }
}

/// Which events of its streams a subscriber of ``JobEventHub`` follows.
public enum JobEventFilter: Sendable, Hashable {
    /// One job's (its id, lowercase).
    case job(String)
    /// The jobs of one user: those whose fairness key is the user's id (lowercase).
    case user(String)
    /// Every job's.
    case all

    /// Whether `event` is one this filter follows (as the hub's index finds them).
    public func takes(_ event: JobEvent) -> Bool {
        switch self {
        case .job(let job): event.jobID == job
        case .user(let user): event.user?.lowercased() == user
        case .all: true
        }
    }
}

/// What a subscriber of ``JobEventHub`` receives: its events, from its positions on.
public struct JobEventSubscription: Sendable {
    /// The events as they are appended, and a `nil` every ``JobEventHub/keepAliveInterval`` (a stream's cue to
    /// show it is alive); the sequence ends at shutdown, when the subscriber fell too far behind, or once
    /// ``cancel()`` was called.
    public let events: AsyncStream<JobEvent?>
    /// Where delivery began in each stream followed (empty when the hub has closed).
    public let positions: [JobEventStream: StreamEntryID]
    let continuation: AsyncStream<JobEvent?>.Continuation

    /// Ends the subscription.
    public func cancel() {
        continuation.finish()
    }
}
