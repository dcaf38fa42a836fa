import PhoenixJobsCore
import PhoenixQueue
import TestSupport

/// Where a deploy file takes a variable's value from.
enum ValueSource: Equatable {
    /// Written in the file.
    case literal(String)
    /// A secret store: Render's `sync: false`, a Kubernetes Secret.
    case secretStore
    /// Another service of the deployment (Render's `fromService`).
    case service(name: String, property: String)
}

/// One `phoenix` process as a deploy file runs it: where, its arguments and its environment.
struct DeployedProcess {
    /// The file and the service, Deployment or Job in it, for messages.
    let origin: String
    /// The arguments after the executable (`["work"]`, `["serve"]`).
    let arguments: [String]
    let environment: [String: ValueSource]
    /// The whole service or pod spec, for checks particular to a platform.
    let spec: JSONValue

    var isWorker: Bool { arguments.first == "work" }

    /// `WORKER_TYPE` as written in the file.
    var workerTypeText: String? {
        if case .literal(let text)? = environment["WORKER_TYPE"] { text } else { nil }
    }
}

/// The `phoenix` processes of each deploy file.
enum Deployments {
    static let renderPath = "Deploy/render.yaml"
    static let composePath = "Deploy/compose.yaml"
    static let kubernetesFolder = "Deploy/k8s"

    /// Render's Docker services (web and workers); the Key Value instance is not a process.
    static func render() throws -> [DeployedProcess] {
        try Manifest.yaml(renderPath)["services"]?.elements.filter { $0["runtime"]?.text == "docker" }.map { service -> DeployedProcess in
            let name = service["name"]?.text ?? "?"
            var environment: [String: ValueSource] = [:]
            for variable in service["envVars"]?.elements ?? [] {
                guard let key = variable["key"]?.text else { throw ManifestError(path: renderPath, problem: "has an envVars entry without key in \(name)") }
                if let value = variable["value"]?.text {
                    environment[key] = .literal(value)
                } else if variable["sync"] == .bool(false) {
                    environment[key] = .secretStore
                } else if let from = variable["fromService"] {
                    environment[key] = .service(name: from["name"]?.text ?? "", property: from["property"]?.text ?? "")
                } else {
                    throw ManifestError(path: renderPath, problem: "gives \(key) of \(name) no value, sync: false or fromService")
                }
            }
            let command = (service["dockerCommand"]?.text ?? "").split(separator: " ").map(String.init)
            return DeployedProcess(origin: "\(renderPath) \(name)", arguments: try phoenixArguments(command, path: renderPath, name: name), environment: environment, spec: service)
        } ?? []
    }

    /// The compose services that run the image of Dockerfile.worker (not Redis or PostgreSQL).
    static func compose() throws -> [DeployedProcess] {
        guard case .object(let services)? = try Manifest.yaml(composePath)["services"] else { throw ManifestError(path: composePath, problem: "has no services") }
        return try services.sorted { $0.key < $1.key }.filter { $0.value["build"]?["dockerfile"]?.text == "Dockerfile.worker" }.map { name, service -> DeployedProcess in
            var environment: [String: ValueSource] = [:]
            for (key, value) in service["environment"]?.objectValue ?? [:] { environment[key] = .literal(value.text ?? "") }
            let command = service["command"]?.elements.compactMap(\.text) ?? []
            return DeployedProcess(origin: "\(composePath) \(name)", arguments: try phoenixArguments(command, path: composePath, name: name), environment: environment, spec: service)
        }
    }

    /// The arguments after `phoenix` of a command a platform runs. The image's entrypoint is only its init
    /// process, so every platform names the program, whether it replaces CMD or ENTRYPOINT and CMD.
    static func phoenixArguments(_ command: [String], path: String, name: String) throws -> [String] {
        guard command.first == "phoenix", command.count > 1 else { throw ManifestError(path: path, problem: "runs \(command) in \(name), not a phoenix command") }
        return Array(command.dropFirst())
    }

    /// Every document of every file in Deploy/k8s.
    static func kubernetesDocuments() throws -> [(path: String, document: JSONValue)] {
        try RepositoryFiles.files(in: kubernetesFolder, endingWith: ".yaml").flatMap { path in
            try Manifest.yamlDocuments(path).map { (path, $0) }
        }
    }

    /// The containers of the Kubernetes Deployments and Jobs, each with its pod spec.
    static func kubernetes() throws -> [DeployedProcess] {
        try kubernetesDocuments().filter { ["Deployment", "Job"].contains($0.document["kind"]?.text) }.flatMap { path, document -> [DeployedProcess] in
            let name = document["metadata"]?["name"]?.text ?? "?"
            let pod = document["spec"]?["template"]?["spec"] ?? .null
            return try pod["containers"]?.elements.map { container -> DeployedProcess in
                var environment: [String: ValueSource] = [:]
                for variable in container["env"]?.elements ?? [] {
                    guard let key = variable["name"]?.text else { throw ManifestError(path: path, problem: "has an env entry without name in \(name)") }
                    if let value = variable["value"]?.text {
                        environment[key] = .literal(value)
                    } else if variable["valueFrom"]?["secretKeyRef"] != nil {
                        environment[key] = .secretStore
                    } else {
                        throw ManifestError(path: path, problem: "gives \(key) of \(name) neither a value nor a secretKeyRef")
                    }
                }
                if container["command"] != nil { throw ManifestError(path: path, problem: "replaces the image's entrypoint (its init process) in \(name): give the command as args") }
                let command = container["args"]?.elements.compactMap(\.text) ?? []
                return DeployedProcess(origin: "\(path) \(name)", arguments: try phoenixArguments(command, path: path, name: name), environment: environment, spec: document)
            } ?? []
        }
    }
}
