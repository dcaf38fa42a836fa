import EnvironmentVariables
import Foundation
import PhoenixPlatform
import PhoenixQueue
import TestSupport
import Testing
import PhoenixWorker
import PhoenixJobsCore

/// The deploy files (Dockerfile.worker, Deploy/render.yaml, Deploy/compose.yaml, Deploy/k8s) read and
/// checked against the code: the worker types, the Redis keys, the environment variables, the grace period.
/// No Docker engine or cluster runs here; these checks are what can be known without one.
@Suite struct DeployFileTests {
    static let platforms: [(name: String, processes: @Sendable () throws -> [DeployedProcess])] = [
        ("Render", Deployments.render), ("compose", Deployments.compose), ("Kubernetes", Deployments.kubernetes),
    ]

    /// Seconds a stopping worker lets its jobs finish (`phoenix work --grace` default).
    static let grace = Double(WorkerConfiguration.defaultGracePeriod.components.seconds)

    @Test func everyWorkerTypeRunsOnEveryPlatform() throws {
        for (platform, processes) in Self.platforms {
            let workers = try processes().filter(\.isWorker)
            var served: Set<WorkerType> = []
            for worker in workers {
                let text = try #require(worker.workerTypeText, "\(worker.origin) runs phoenix work without WORKER_TYPE")
                served.formUnion(try WorkerType.parse(text))
            }
            #expect(served == Set(WorkerType.allCases), "\(platform) runs no worker for \(Set(WorkerType.allCases).subtracting(served).map(\.rawValue))")
        }
    }

    /// The manifest says which job types write to PostgreSQL; every worker running one gets the database.
    @Test func workersWhoseJobTypesWriteToPostgreSQLGetTheDatabaseOnEveryPlatform() throws {
        for (platform, processes) in Self.platforms {
            for worker in try processes().filter(\.isWorker) {
                let types = try WorkerType.parse(try #require(worker.workerTypeText))
                let writers = PhoenixJobs.declarations(servedBy: types.map(\.queue)).filter(\.usesDatabase).map(\.name)
                guard !writers.isEmpty else { continue }
                #expect(worker.environment["DATABASE_URL"] != nil || worker.environment["SUPABASE_DB_URL"] != nil,
                        "\(platform): \(worker.origin) runs \(writers) without DATABASE_URL")
            }
        }
    }

    @Test func eachScaledObjectWatchesTheReadyListsOfItsDeploymentsQueues() throws {
        let documents = try Deployments.kubernetesDocuments().map(\.document)
        let scaledObjects = documents.filter { $0["kind"]?.text == "ScaledObject" }
        let workers = try Deployments.kubernetes().filter(\.isWorker)
        #expect(!workers.isEmpty)
        for worker in workers {
            let name = try #require(worker.spec["metadata"]?["name"]?.text)
            let types = try WorkerType.parse(try #require(worker.workerTypeText))
            let prefix = worker.environment["PHOENIX_KEY_PREFIX"].flatMap { if case .literal(let text) = $0 { text } else { nil } } ?? QueueKeys().prefix
            let keys = QueueKeys(prefix: prefix)
            let scaler = try #require(scaledObjects.first { $0["spec"]?["scaleTargetRef"]?["name"]?.text == name }, "no ScaledObject scales \(name)")
            let triggers = scaler["spec"]?["triggers"]?.elements ?? []
            #expect(triggers.allSatisfy { $0["type"]?.text == "redis" }, "\(name): a trigger is not KEDA's Redis-lists scaler")
            #expect(triggers.allSatisfy { ($0["metadata"]?["listLength"]?.number ?? 0) > 0 }, "\(name): a trigger has no listLength target")
            let watched = Set(triggers.compactMap { $0["metadata"]?["listName"]?.text })
            #expect(watched == Set(types.map { keys.ready($0.queue) }), "\(name) serves \(types.map(\.queue)) but its ScaledObject watches \(watched.sorted())")
        }
        let scaledNames = Set(scaledObjects.compactMap { $0["spec"]?["scaleTargetRef"]?["name"]?.text })
        #expect(scaledNames == Set(workers.compactMap { $0.spec["metadata"]?["name"]?.text }), "a ScaledObject scales something that is not a worker Deployment")
    }

    @Test func deployFilesSetOnlyVariablesTheConfigurationReads() throws {
        let known = Set(EnvironmentVariable.allCases.map(\.name))
        var set: [(origin: String, name: String)] = []
        for (_, processes) in Self.platforms {
            for process in try processes() { set += process.environment.keys.map { (process.origin, $0) } }
        }
        let dockerfile = try Dockerfile(path: "Dockerfile.worker")
        for stage in dockerfile.stages.suffix(1) {
            for arguments in stage.all("ENV") {
                for assignment in arguments.split(separator: " ") { set.append(("Dockerfile.worker", String(assignment.split(separator: "=")[0]))) }
            }
        }
        #expect(set.count > 40)
        for (origin, name) in set {
            #expect(known.contains(name), "\(origin) sets \(name), which Phoenix Jobs does not read (EnvironmentVariable)")
        }
    }

    @Test func literalSettingsAreOnesTheConfigurationAccepts() throws {
        for (_, processes) in Self.platforms {
            for process in try processes() {
                if let text = process.workerTypeText { #expect(throws: Never.self, "\(process.origin)") { try WorkerType.parse(text) } }
                if case .literal(let text)? = process.environment["WORKER_CONCURRENCY"] {
                    #expect(Int(text).map { (1...10_000).contains($0) } == true, "\(process.origin): WORKER_CONCURRENCY '\(text)'")
                }
                if case .literal(let text)? = process.environment["LOG_LEVEL"], !text.hasPrefix("${") {
                    #expect(["trace", "debug", "info", "notice", "warning", "error", "critical"].contains(text), "\(process.origin): LOG_LEVEL '\(text)'")
                }
            }
        }
    }

    @Test func secretsComeFromASecretStoreOnRenderAndKubernetes() throws {
        for process in try Deployments.render() + Deployments.kubernetes() {
            for (name, source) in process.environment where EnvironmentVariable(rawValue: name)?.isSecret == true {
                if case .literal = source { Issue.record("\(process.origin) writes the secret \(name) in the file") }
            }
        }
    }

    @Test func stoppingWorkersGetMoreThanTheGracePeriod() throws {
        for worker in try Deployments.render().filter(\.isWorker) {
            #expect((worker.spec["maxShutdownDelaySeconds"]?.number ?? 0) > Self.grace, "\(worker.origin): maxShutdownDelaySeconds")
        }
        for worker in try Deployments.kubernetes().filter(\.isWorker) {
            #expect((worker.spec["spec"]?["template"]?["spec"]?["terminationGracePeriodSeconds"]?.number ?? 0) > Self.grace, "\(worker.origin): terminationGracePeriodSeconds")
        }
        for worker in try Deployments.compose().filter(\.isWorker) {
            let period = worker.spec["stop_grace_period"]?.text ?? ""
            #expect(period.hasSuffix("s") && (Double(period.dropLast()) ?? 0) > Self.grace, "\(worker.origin): stop_grace_period '\(period)'")
        }
    }

    @Test func renderRunsTheAPIBehindAHealthCheckAndTheQueuesOnANoEvictionKeyValue() throws {
        let services = try Manifest.yaml(Deployments.renderPath)["services"]?.elements ?? []
        let api = try #require(services.first { $0["type"]?.text == "web" })
        #expect(api["dockerCommand"]?.text == "phoenix serve")
        #expect(api["healthCheckPath"]?.text == "/health")
        // The seed's scaling triggers: CPU 80 %, memory 90 % (Render accepts 1 to 90 for each).
        #expect(api["scaling"]?["targetCPUPercent"]?.number == 80)
        #expect(api["scaling"]?["targetMemoryPercent"]?.number == 90)
        let (least, most) = (api["scaling"]?["minInstances"]?.number ?? 0, api["scaling"]?["maxInstances"]?.number ?? 0)
        #expect(least >= 1 && most > least, "scaling between \(least) and \(most) instances")
        #expect(services.filter { $0["type"]?.text == "worker" }.allSatisfy { $0["dockerCommand"]?.text == "phoenix work" })
        let keyValue = try #require(services.first { $0["type"]?.text == "keyvalue" })
        #expect(keyValue["maxmemoryPolicy"]?.text == "noeviction")
        #expect(keyValue["ipAllowList"].map { if case .array = $0 { true } else { false } } == true, "ipAllowList must be a list")
        for process in try Deployments.render() {
            // Render sets PORT for web services; writing it down would fight the platform.
            #expect(process.environment["PORT"] == nil, "\(process.origin) sets PORT")
            #expect(process.environment["REDIS_URL"] == .service(name: keyValue["name"]?.text ?? "", property: "connectionString"), "\(process.origin): REDIS_URL")
        }
    }

    @Test func composeRunsAppendOnlyRedisAOneShotMigrationAndHealthCheckedWorkers() throws {
        let compose = try Manifest.yaml(Deployments.composePath)
        let redisCommand = compose["services"]?["redis"]?["command"]?.elements.compactMap(\.text) ?? []
        #expect(redisCommand.firstIndex(of: "--appendonly").map { redisCommand[$0 + 1] } == "yes")
        #expect(redisCommand.firstIndex(of: "--maxmemory-policy").map { redisCommand[$0 + 1] } == "noeviction")
        let processes = try Deployments.compose()
        let migrate = try #require(processes.first { $0.arguments == ["migrate"] })
        #expect(migrate.spec["restart"]?.text == "no")
        for process in processes where process.arguments != ["migrate"] {
            #expect(process.spec["depends_on"]?["migrate"]?["condition"]?.text == "service_completed_successfully", "\(process.origin) may start before the migrations")
            #expect(process.spec["healthcheck"]?["test"]?.elements.isEmpty == false, "\(process.origin) has no health check")
        }
        for worker in processes.filter(\.isWorker) {
            #expect((worker.spec["deploy"]?["replicas"]?.number ?? 0) >= 1, "\(worker.origin): replicas")
            // The health check asks the worker's own /health, so it needs the metrics port it names.
            #expect(worker.environment["METRICS_PORT"] == .literal("9090"), "\(worker.origin) serves no /health")
        }
    }

    @Test func kubernetesRunsAMigrationJobAnAPIServiceAndADisruptionBudgetForTheAPI() throws {
        let documents = try Deployments.kubernetesDocuments().map(\.document)
        let processes = try Deployments.kubernetes()
        #expect(processes.contains { $0.spec["kind"]?.text == "Job" && $0.arguments == ["migrate"] })
        let api = try #require(processes.first { $0.arguments == ["serve"] })
        let labels = try #require(api.spec["spec"]?["template"]?["metadata"]?["labels"]?.objectValue)
        #expect(documents.contains { $0["kind"]?.text == "Service" && $0["spec"]?["selector"]?.objectValue == labels }, "no Service selects the API pods")
        let budget = try #require(documents.first { $0["kind"]?.text == "PodDisruptionBudget" }, "no PodDisruptionBudget")
        #expect(budget["spec"]?["selector"]?["matchLabels"]?.objectValue == labels, "the PodDisruptionBudget does not select the API pods")
        let replicas = api.spec["spec"]?["replicas"]?.number ?? 1
        let minAvailable = try #require(budget["spec"]?["minAvailable"]?.number, "the budget names no minAvailable count")
        #expect(minAvailable >= 1 && minAvailable < replicas, "minAvailable \(minAvailable) of \(replicas) replicas: a drain must be able to move one")
    }

    /// The kubelet refuses `runAsNonRoot` with an image whose USER is a name ("image has non-numeric user"):
    /// every pod would stay in CreateContainerConfigError.
    @Test func everyPodRunsAsTheImagesNumericUserWithoutPrivilegeAndWritesOnlyTmp() throws {
        let runtime = try #require(try Dockerfile(path: "Dockerfile.worker").stages.last)
        let user = try #require(runtime.all("USER").last, "the final stage has no USER: it runs as root")
        let ids = user.split(separator: ":").map { Int($0) }
        #expect(ids.count == 2 && ids.allSatisfy { ($0 ?? 0) > 0 }, "the image's USER '\(user)' is not a numeric uid:gid other than root")
        let (uid, gid) = (Double(ids.first.flatMap { $0 } ?? -1), Double(ids.last.flatMap { $0 } ?? -1))
        let processes = try Deployments.kubernetes()
        #expect(processes.count >= 7)
        for process in processes {
            let pod = process.spec["spec"]?["template"]?["spec"] ?? .null
            let context = pod["securityContext"] ?? .null
            #expect(context["runAsNonRoot"] == .bool(true), "\(process.origin) may run as root")
            #expect(context["runAsUser"]?.number == uid, "\(process.origin): runAsUser is not the image's \(uid)")
            #expect(context["runAsGroup"]?.number == gid, "\(process.origin): runAsGroup is not the image's \(gid)")
            #expect(context["seccompProfile"]?["type"]?.text == "RuntimeDefault", "\(process.origin): no RuntimeDefault seccomp profile")
            let emptyDirs = Set((pod["volumes"]?.elements ?? []).filter { $0["emptyDir"] != nil }.compactMap { $0["name"]?.text })
            for container in pod["containers"]?.elements ?? [] {
                let security = container["securityContext"] ?? .null
                #expect(security["allowPrivilegeEscalation"] == .bool(false), "\(process.origin): privilege escalation allowed")
                #expect(security["readOnlyRootFilesystem"] == .bool(true), "\(process.origin): writable root filesystem")
                #expect(security["capabilities"]?["drop"]?.elements.compactMap(\.text) == ["ALL"], "\(process.origin): capabilities not all dropped")
                let tmp = (container["volumeMounts"]?.elements ?? []).first { $0["mountPath"]?.text == "/tmp" }
                #expect(tmp.flatMap { $0["name"]?.text }.map(emptyDirs.contains) == true, "\(process.origin): /tmp is not a writable emptyDir")
            }
        }
    }

    @Test func theImageRunsPhoenixUnderAnInitAsANonRootUserAndBuildsWithTheRunCommandsScript() throws {
        let dockerfile = try Dockerfile(path: "Dockerfile.worker")
        #expect(dockerfile.stages.count >= 2, "expected a builder stage and a runtime stage")
        let builder = try #require(dockerfile.stages.first)
        let runtime = try #require(dockerfile.stages.last)
        // The last USER of the final stage decides who runs the container.
        let user = try #require(runtime.all("USER").last, "the final stage has no USER: it runs as root")
        let uid = String(user.split(separator: ":")[0])
        #expect(!["root", "0"].contains(uid), "the final stage runs as \(user)")
        #expect(runtime.all("RUN").contains { $0.contains("useradd") && $0.contains("--uid \(uid)") }, "the final stage creates no user with uid \(uid)")
        // The entrypoint is only the init process (PID 1 reaps Chromium's orphans and forwards signals): a platform
        // that replaces CMD with `phoenix serve` and one that replaces both run the same program.
        #expect(runtime.all("ENTRYPOINT") == [#"["/usr/bin/tini", "--"]"#])
        #expect(runtime.all("RUN").contains { $0.contains(" tini") }, "the final stage does not install tini")
        #expect(runtime.all("CMD") == [#"["phoenix", "work"]"#])
        let healthCheck = try #require(runtime.all("HEALTHCHECK").last, "the image has no HEALTHCHECK")
        #expect(healthCheck.contains("${PORT:-8080}/health") && healthCheck.contains("${METRICS_PORT:-9090}/health"))
        #expect(runtime.all("ENV").contains { $0.contains("METRICS_PORT=9090") }, "workers of the image serve no /health for its HEALTHCHECK")
        #expect(runtime.all("ARG").contains { $0.hasPrefix("WORKER_TYPE") })
        #expect(runtime.all("ENV").contains { $0.contains("WORKER_TYPE=${WORKER_TYPE}") })
        #expect(runtime.all("RUN").contains { $0.contains("libhiredis") })
        let builderName = try #require(builder.name)
        #expect(runtime.all("COPY").contains { $0.contains("--from=\(builderName)") })
        // The image builds with the script `make dev` builds with, so the build CI runs is the image's build.
        #expect(builder.all("RUN") == ["scripts/build.sh release /staging"])
        #expect(try RepositoryFiles.text("scripts/dev.sh").contains("\nscripts/build.sh\n"))
        #expect(try RepositoryFiles.text("Makefile").contains("dev:\n\tscripts/dev.sh"))
    }

    /// `COPY . .` sends the whole context: without a .dockerignore, the build folder (gigabytes), local data
    /// and the history go with it.
    @Test func theBuildContextLeavesOutBuildsDataAndHistoryButKeepsWhatTheBuildNeeds() throws {
        let ignore = try DockerIgnore(path: ".dockerignore")
        for path in [".build/debug/phoenix", ".build-release/x", ".data/redis/dump.rdb", ".git/HEAD", ".swiftpm/config", "dump.rdb"] {
            #expect(ignore.excludes(path), ".dockerignore sends \(path)")
        }
        var needed = ["Package.swift", "scripts/build.sh", "scripts/lib/services.sh", "Deploy/supabase/migrations/20261125000000_auth_shim.sql"]
        // SwiftPM checks that every target's folder exists, the test targets' too.
        let package = try RepositoryFiles.text("Package.swift")
        for match in package.matches(of: try Regex(#"path: "([^"]+)""#)) {
            if let folder = match.output[1].substring { needed.append("\(folder)/x.swift") }
        }
        needed += ["Sources/phoenix/Phoenix.swift", "Tests/DeployTests/DeployFileTests.swift", "Jobs/CVRendering/PDFRenderer.swift"]
        #expect(needed.count > 6)
        for path in needed { #expect(!ignore.excludes(path), ".dockerignore leaves out \(path), which the build needs") }
    }

    @Test func nothingReadsTheEnvironmentAroundTheCatalogue() throws {
        // A variable read by its name as a string would escape EnvironmentVariable, and these checks with it.
        let pattern = try Regex(#"environment\[\s*""#)
        for folder in ["Sources", "Jobs"] {
            let enumerator = try #require(FileManager.default.enumerator(atPath: RepositoryFiles.url(folder).path))
            for case let file as String in enumerator where file.hasSuffix(".swift") {
                let text = try RepositoryFiles.text("\(folder)/\(file)")
                #expect(!text.contains(pattern), "\(folder)/\(file) reads the environment by name")
                #expect(!text.contains("getenv("), "\(folder)/\(file) calls getenv")
            }
        }
    }

    @Test func theReadmeDocumentsEveryVariable() throws {
        let readme = try RepositoryFiles.text("README.md")
        for variable in EnvironmentVariable.allCases {
            #expect(readme.contains("`\(variable.name)`"), "README.md does not mention \(variable.name)")
        }
    }
}
