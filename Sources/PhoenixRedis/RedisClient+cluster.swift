/// Redis Cluster: each request goes to the master of its keys' slot, redirections are followed, and the slot
/// map is learnt again when it proves wrong or a node stops answering.
extension RedisClient {
    /// Most redirections one request follows before its replies are handed over as they are.
    private static let maxRedirections = 16

    /// Sends `commands` as one request to the master of the slot of the first command that names a key (any
    /// node when none does). Follows `MOVED` (to the node named, and learns the slot map again), `ASK` (to the
    /// node named, after `ASKING`), and waits out `TRYAGAIN` and `CLUSTERDOWN` with backoff; only the
    /// commands so answered are sent again, or with `resendingAsOne` the whole request. A node that cannot be
    /// reached (a master that died) makes it learn the slot map again and retry with backoff until the
    /// reconnect timeout: the cluster promotes a replica in the meantime.
    func executeInCluster(
        _ commands: [RedisCommand], _ cluster: ClusterConnections, blocking: Bool, timeout: Duration, resendingAsOne: Bool,
        unblockable: UnblockableCall? = nil
    ) async throws(RedisError) -> [Result<RedisValue, RedisError>] {
        let slot = commands.lazy.compactMap(\.slot).first
        var replies = [Result<RedisValue, RedisError>](repeating: .failure(.connectionFailed("not sent")), count: commands.count)
        var pending = Array(commands.indices)
        var asking: RedisAddress?
        var redirections = 0
        var backoff = Backoff(limit: configuration.reconnectTimeout)
        if !cluster.hasMap { try? await learnSlotMap(cluster) }
        while true {
            let address = asking ?? slot.flatMap(cluster.master(of:)) ?? cluster.anyNode()
            let node = try cluster.node(at: address)
            // ASKING lets the next command through on the node importing the slot; one before each.
            let batch = pending.flatMap { asking == nil ? [commands[$0]] : [RedisCommand("ASKING"), commands[$0]] }
            let answered: [Result<RedisValue, RedisError>]
            do {
                answered = blocking
                    ? try await execute(batch, on: node.exclusive, timeout: timeout, resendingAsOne: resendingAsOne, unblockable: unblockable)
                    : try await execute(batch, on: node.shared, timeout: timeout, resendingAsOne: resendingAsOne)
            } catch .connectionFailed(let reason) {
                // The node is gone or not yet reachable: learn where its slots went, then try again.
                guard try await backoff.wait() else { throw .connectionFailed(reason) }
                try? await learnSlotMap(cluster)
                asking = nil
                continue
            }
            let own = asking == nil ? answered : stride(from: 1, to: answered.count, by: 2).map { answered[$0] }
            for (index, reply) in zip(pending, own) { replies[index] = reply }

            var again: [Int] = []
            var moved = false, wait = false
            asking = nil
            for index in pending {
                guard case .failure(.server(let code, let message)) = replies[index] else { continue }
                switch code {
                case "MOVED":
                    guard let (movedSlot, target) = Self.redirection(message) else { continue }
                    cluster.moved(movedSlot, to: target)
                    moved = true
                    again.append(index)
                case "ASK":
                    guard let (_, target) = Self.redirection(message) else { continue }
                    asking = target
                    again.append(index)
                case "TRYAGAIN", "CLUSTERDOWN":
                    wait = true
                    again.append(index)
                default:
                    continue
                }
            }
            guard !again.isEmpty else { return replies }
            redirections += 1
            guard redirections <= Self.maxRedirections else { return replies }
            if wait {
                guard try await backoff.wait() else { return replies }
            }
            if moved { try? await learnSlotMap(cluster) }
            pending = resendingAsOne ? Array(commands.indices) : again
        }
    }

    /// The pipeline of a cluster client: commands grouped by slot, each group one request to its master, all
    /// groups at once; the replies in the commands' order.
    func pipelineInCluster(_ commands: [RedisCommand]) async throws(RedisError) -> [Result<RedisValue, RedisError>] {
        guard case .cluster(let cluster) = route else { preconditionFailure("a cluster pipeline needs a cluster route") }
        var groups: [Int?: [Int]] = [:]
        for (index, command) in commands.enumerated() { groups[command.slot, default: []].append(index) }
        let timeout = configuration.commandTimeout
        let outcomes = await withTaskGroup(of: ([Int], Result<[Result<RedisValue, RedisError>], RedisError>).self) { group in
            for indices in groups.values {
                group.addTask {
                    do throws(RedisError) {
                        let replies = try await self.executeInCluster(indices.map { commands[$0] }, cluster, blocking: false, timeout: timeout, resendingAsOne: false)
                        return (indices, .success(replies))
                    } catch {
                        return (indices, .failure(error))
                    }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        var replies = [Result<RedisValue, RedisError>](repeating: .failure(.connectionFailed("not sent")), count: commands.count)
        for (indices, outcome) in outcomes {
            switch outcome {
            case .success(let answered): for (index, reply) in zip(indices, answered) { replies[index] = reply }
            case .failure(let error): throw error
            }
        }
        return replies
    }

    /// Asks the known masters, then the seed nodes, for the slot map (`CLUSTER SLOTS`) until one answers. Skipped
    /// when the map was learnt less than 100 ms ago: many callers redirected at once learn it once.
    func learnSlotMap(_ cluster: ClusterConnections) async throws(RedisError) {
        if let learnt = cluster.learntAt, ContinuousClock.now - learnt < .milliseconds(100) { return }
        var reasons: [String] = []
        for address in cluster.nodesToAsk() {
            do {
                let node = try cluster.node(at: address)
                let reply = try await execute([RedisCommand("CLUSTER", "SLOTS")], on: node.shared, timeout: configuration.commandTimeout)[0].get()
                if cluster.learn(reply, from: address) { return }
                reasons.append("\(address): CLUSTER SLOTS answered \(reply)")
            } catch .shutdown {
                throw .shutdown
            } catch .cancelled {
                throw .cancelled
            } catch {
                reasons.append("\(address): \(error)")
            }
        }
        throw .connectionFailed("no cluster node gave its slot map: " + reasons.joined(separator: "; "))
    }

    /// The slot and node of a `MOVED`/`ASK` answer's message (`3999 127.0.0.1:6381`).
    static func redirection(_ message: String) -> (Int, RedisAddress)? {
        let parts = message.split(separator: " ")
        guard parts.count == 2, let slot = Int(parts[0]), (0..<RedisClusterSlot.count).contains(slot),
              let address = try? RedisAddress.address(String(parts[1]), defaultPort: 6379)
        else { return nil }
        return (slot, address)
    }
}

/// Exponential backoff (50 ms doubling to 1 s) within a time limit counted from the first wait.
struct Backoff {
    private let limit: Duration
    private var deadline: ContinuousClock.Instant?
    private var delay = Duration.milliseconds(50)

    init(limit: Duration) {
        self.limit = limit
    }

    /// Sleeps for the next delay and returns `true`, or returns `false` at once when that would pass the
    /// limit.
    /// - Throws: ``RedisError/cancelled`` when the task is cancelled while it sleeps.
    mutating func wait() async throws(RedisError) -> Bool {
        let now = ContinuousClock.now
        let giveUp = deadline ?? now + limit
        deadline = giveUp
        guard now + delay < giveUp else { return false }
        do { try await Task.sleep(for: delay) } catch { throw .cancelled }
        delay = min(delay * 2, .seconds(1))
        return true
    }
}
