import EnvironmentVariables
import Foundation
import PhoenixJobsCore
import PhoenixPlatform
import PhoenixSupabase
import PostgresNIO
import Testing
import TestSupport
import PhoenixWorker

/// The manifest of Phoenix job types (issue 17): each type declared once, its queue served by a worker type,
/// and each worker building only the handlers of its own types, from its own settings.
@Suite struct ManifestTests {
    /// A store whose client never runs: building handlers does not connect.
    static let store = PhoenixStore(client: PostgresClient(configuration: .init(host: "127.0.0.1", port: 1, username: "nobody", password: nil, database: nil, tls: .disable)))

    @Test func everyDeclaredJobTypesQueueIsServedByAWorkerType() {
        for declaration in PhoenixJobs.declarations {
            #expect(WorkerType.servedQueues.contains(declaration.queue), "\(declaration.name) goes to queue '\(declaration.queue)', which no worker type serves: its jobs would wait forever")
        }
        for type in WorkerType.allCases {
            #expect(PhoenixJobs.declarations.contains { $0.queue == type.queue }, "worker type \(type.rawValue) serves '\(type.queue)', where no job type is declared")
        }
    }

    @Test func eachJobTypeIsDeclaredOnceAndTheCatalogueIsTheManifest() {
        let names = PhoenixJobs.declarations.map(\.name)
        #expect(Set(names).count == names.count, "a job type is declared twice: \(names)")
        let catalog = PhoenixJobs.catalog()
        #expect(catalog.names == names.sorted())
        #expect(catalog.servedQueues == WorkerType.servedQueues)
        for declaration in PhoenixJobs.declarations {
            let entry = catalog.entry(declaration.name)
            #expect(entry?.queue == declaration.queue && entry?.userField == declaration.userField, "\(declaration.name)")
        }
        #expect(catalog.entry(PhoenixJobs.eventType)?.userField == "stream_id", "events are published by users for their own stream")
    }

    /// The database's copy of the user job types (what `phoenix_enqueue_job` lets a user ask for, and which
    /// payload field must be their id) is the manifest's.
    @Test func theOutboxsUserJobTypesAreTheManifests() async throws {
        let declared = Dictionary(uniqueKeysWithValues: PhoenixJobs.declarations.compactMap { declaration in
            declaration.userField.map { (declaration.name, $0) }
        })
        let stored = try await TestPostgres.withMigratedDatabase { client in
            var rows: [String: String] = [:]
            for try await (type, field) in try await client.query("SELECT job_type, user_field FROM public.phoenix_user_job_types").decode((String, String).self) {
                rows[type] = field
            }
            return rows
        }
        #expect(stored == declared)
    }

    @Test func aWorkerBuildsOnlyTheHandlersOfTheJobTypesOfItsQueues() async throws {
        for type in WorkerType.allCases {
            let registry = try await PhoenixJobs.registry(servedBy: [type.queue], dependencies: HandlerDependencies(store: Self.store, environment: [:]))
            #expect(registry.names == PhoenixJobs.declarations.filter { $0.queue == type.queue }.map(\.name).sorted(), "\(type.rawValue)")
        }
        // Diagnostics need no database; the others say which variable is missing.
        let diagnostics = try await PhoenixJobs.registry(servedBy: [WorkerType.diagnostics.queue], dependencies: HandlerDependencies(store: nil, environment: [:]))
        #expect(diagnostics.names == ["diagnostic.fail", "diagnostic.letter_provider", "diagnostic.noop", "diagnostic.sleep"])
        await #expect { try await PhoenixJobs.registry(servedBy: [WorkerType.eventBridge.queue], dependencies: HandlerDependencies(store: nil, environment: [:])) } throws: { error in
            (error as? SettingError)?.variable == "DATABASE_URL"
        }
    }

    /// Before, every worker built every business handler: an event bridge refused to start on a malformed
    /// letter or CV setting it never uses.
    @Test func aBadSettingOfOneJobTypeStopsOnlyTheWorkersThatRunIt() async throws {
        let environment = ["MAX_RESPONSE_TIME": "soon", "PHOENIX_TEMPLATES_DIR": "/nonexistent/templates", "JOB_RUNS_RETENTION_DAYS": "forever"]
        let dependencies = HandlerDependencies(store: Self.store, environment: environment)
        for type in [WorkerType.eventBridge, .diagnostics] {
            _ = try await PhoenixJobs.registry(servedBy: [type.queue], dependencies: dependencies)
            #expect(try PhoenixJobs.periodicJobs(servedBy: [type.queue], environment: environment).isEmpty)
        }
        for (type, variable) in [(WorkerType.letters, "MAX_RESPONSE_TIME"), (.cv, "PHOENIX_TEMPLATES_DIR")] {
            await #expect("\(type.rawValue)") { try await PhoenixJobs.registry(servedBy: [type.queue], dependencies: dependencies) } throws: { error in
                (error as? SettingError)?.variable == variable
            }
        }
        #expect { try PhoenixJobs.periodicJobs(servedBy: [WorkerType.userProfile.queue], environment: environment) } throws: { error in
            (error as? SettingError)?.variable == "JOB_RUNS_RETENTION_DAYS"
        }
    }

    /// docs/ARCHITECTURE.md's table of worker types says what the manifest says: each type's queue and job types.
    @Test func theArchitectureTableOfWorkerTypesIsTheManifest() throws {
        let documentation = try RepositoryFiles.text("docs/ARCHITECTURE.md")
        var rows: [String: (queue: String, types: Set<String>)] = [:]
        for line in documentation.split(separator: "\n") where line.hasPrefix("| `") {
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count == 3, let name = cells[0].firstMatch(of: /^`(\w+)`$/)?.1 else { continue }
            let types = Set(cells[2].matches(of: /`([a-z_]+\.[a-z_]+)`/).map { String($0.1) })
            rows[String(name)] = (cells[1].replacingOccurrences(of: "`", with: ""), types)
        }
        for type in WorkerType.allCases {
            let row = try #require(rows[type.rawValue], "docs/ARCHITECTURE.md has no row for worker type \(type.rawValue)")
            #expect(row.queue == type.queue, "\(type.rawValue)")
            #expect(row.types == Set(PhoenixJobs.declarations(servedBy: [type.queue]).map(\.name)), "\(type.rawValue)")
        }
    }

    @Test func aJobGoesOnlyToTheQueueWhoseWorkersHaveItsHandler() throws {
        let catalog = PhoenixJobs.catalog()
        #expect(try catalog.makeJob(type: "diagnostic.noop", payload: .object([:])).queue == "diagnostics")
        #expect(try catalog.makeJob(type: "diagnostic.noop", payload: .object([:]), queue: "diagnostics").queue == "diagnostics")
        #expect(throws: JobCatalogError.otherQueue("letters", type: "diagnostic.noop", typeQueue: "diagnostics")) {
            try catalog.makeJob(type: "diagnostic.noop", payload: .object([:]), queue: "letters")
        }
        #expect(throws: JobCatalogError.unknownType("no.such", known: catalog.names)) { try catalog.makeJob(type: "no.such", payload: .object([:])) }
    }

    @Test func subscriptionsWeighInTheFairQueuesByTierAndStatus() {
        #expect(SubscriptionShare.weight(tier: "free", status: "active") == 1)
        #expect(SubscriptionShare.weight(tier: "premium", status: "active") == 2)
        #expect(SubscriptionShare.weight(tier: "pro", status: "trialing") == 4)
        #expect(SubscriptionShare.weight(tier: "pro", status: "past_due") == 1)
        #expect(SubscriptionShare.queues(app: "letters") == ["letters"])
        #expect(SubscriptionShare.queues(app: "ecosystem") == ["letters", "cv"])
        #expect(SubscriptionShare.queues(app: "rise").isEmpty)
        #expect(WorkerType.allCases.filter(\.fairShareByDefault).map(\.queue) == ["letters", "cv"])
    }
}
