import Foundation

/// The kinds of worker a Phoenix process can be started as (`WORKER_TYPE`), each serving its own queue and
/// running the job types declared in that queue (``PhoenixJobs``).
public enum WorkerType: String, Sendable, CaseIterable {
    case eventBridge = "event_bridge"
    case userProfile = "user_profile"
    case letters
    case cv
    case diagnostics

    /// The queue this worker type serves.
    public var queue: String {
        switch self {
        case .eventBridge: "events"
        case .userProfile: "profiles"
        case .letters: "letters"
        case .cv: "cv"
        case .diagnostics: "diagnostics"
        }
    }

    /// Whether this type's queue is fair by default (``PhoenixQueue/FlowSettings``): the queues of paid AI
    /// calls and Chromium renders, where one user's backlog must not hold up everybody else's jobs. An
    /// operator's choice, on or off, outlasts the default.
    public var fairShareByDefault: Bool { self == .letters || self == .cv }

    /// Every queue some worker type serves, in the order of the worker types: the only queues a submission
    /// may name, and those `serve`, `stats` and the dashboard always list.
    public static let servedQueues = allCases.map(\.queue)

    /// The name a worker started as `types` registers under (`letters` or `letters,cv`).
    public static func name(of types: [WorkerType]) -> String {
        types.map(\.rawValue).joined(separator: ",")
    }

    /// Parses `WORKER_TYPE`: one type, a comma-separated list, or `all`.
    /// - Throws: ``WorkerTypeError`` naming the unknown value and the accepted ones.
    public static func parse(_ text: String) throws(WorkerTypeError) -> [WorkerType] {
        let names = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !names.isEmpty else { throw WorkerTypeError(value: text) }
        if names == ["all"] { return allCases }
        var types: [WorkerType] = []
        for name in names {
            guard let type = WorkerType(rawValue: name) else { throw WorkerTypeError(value: name) }
            if !types.contains(type) { types.append(type) }
        }
        return types
    }
}

/// A `WORKER_TYPE` value that names no worker type.
public struct WorkerTypeError: Error, CustomStringConvertible {
    /// The offending value.
    public var value: String

    public var description: String {
        "unknown worker type '\(value)'; expected one of \(WorkerType.allCases.map(\.rawValue).joined(separator: ", ")), a comma-separated list, or all"
    }
}
