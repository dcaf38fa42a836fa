import Foundation
import Logging
import PhoenixQueue
import PhoenixRedis
import ServiceLifecycle
import TestSupport
import PhoenixWorker

/// A worker running in this process under a ServiceGroup, on a queue engine of its own prefix.
struct RunningWorker {
    let worker: Worker
    let group: ServiceGroup
    let task: Task<Void, any Error>

    static func start(_ queue: JobQueue, registry: JobRegistry, configuration: WorkerConfiguration, periodicJobs: [PeriodicJob] = [], runLedger: (any RunLedger)? = nil) -> RunningWorker {
        var logger = Logger(label: "test.worker")
        logger.logLevel = .warning
        let worker = Worker(queue: queue, registry: registry, configuration: configuration, periodicJobs: periodicJobs, runLedger: runLedger, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [worker], logger: logger))
        return RunningWorker(worker: worker, group: group, task: Task { try await group.run() })
    }

    /// Triggers a graceful shutdown (what SIGTERM does) and waits for the worker to return.
    func stop() async throws {
        await group.triggerGracefulShutdown()
        try await task.value
    }
}

/// A fast configuration for tests: short leases, heartbeats and idle waits; the runtime's own diagnostic
/// jobs' queue by default.
func testConfiguration(
    queues: [String] = [DiagnosticJobs.Noop.queue], concurrency: Int = 4, grace: Duration = .seconds(5), lease: Duration = .seconds(5),
    unknownTypeWait: Duration = .zero
) -> WorkerConfiguration {
    WorkerConfiguration(
        name: "test", queues: queues, concurrency: concurrency, lease: lease, heartbeatInterval: .milliseconds(200),
        staleAfter: .seconds(2), gracePeriod: grace, idleWait: .milliseconds(300), unknownTypeWait: unknownTypeWait
    )
}

func makeTestQueue() throws -> JobQueue {
    JobQueue(redis: try TestRedis.client(), keys: QueueKeys(prefix: TestRedis.uniquePrefix("phx")))
}


func registryWithDiagnostics() -> JobRegistry {
    var registry = JobRegistry()
    DiagnosticJobs.register(in: &registry)
    return registry
}
