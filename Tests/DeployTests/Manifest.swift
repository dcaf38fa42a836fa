import Foundation
import PhoenixJobsCore
import PhoenixQueue
import TestSupport
import Yams

/// A parsed YAML or JSON document of the repository, as a JSON value (YAML anchors and merge keys resolved).
enum Manifest {
    /// The one document of the YAML file at `path`.
    static func yaml(_ path: String) throws -> JSONValue {
        guard let document = try Yams.load(yaml: try RepositoryFiles.text(path)) else { throw ManifestError(path: path, problem: "is empty") }
        return try json(document, path: path)
    }

    /// Every document of the YAML file at `path` (`---` separated).
    static func yamlDocuments(_ path: String) throws -> [JSONValue] {
        try Yams.load_all(yaml: try RepositoryFiles.text(path)).map { try json($0, path: path) }
    }

    /// The JSON file at `path`.
    static func json(_ path: String) throws -> JSONValue {
        try JSONValue.parse(Array(try RepositoryFiles.text(path).utf8))
    }

    private static func json(_ value: Any, path: String) throws -> JSONValue {
        switch value {
        case let mapping as [AnyHashable: Any]:
            var members: [String: JSONValue] = [:]
            for (key, member) in mapping { members["\(key.base)"] = try json(member, path: path) }
            return .object(members)
        case let sequence as [Any]: return .array(try sequence.map { try json($0, path: path) })
        case let text as String: return .string(text)
        case let flag as Bool: return .bool(flag)
        case let number as Int: return .number(Double(number))
        case let number as Double: return .number(number)
        case is NSNull: return .null
        default: throw ManifestError(path: path, problem: "holds a \(type(of: value)), which a deploy file has no use for")
        }
    }
}

/// A deploy file that cannot be read as expected.
struct ManifestError: Error, CustomStringConvertible {
    let path: String
    let problem: String
    var description: String { "\(path) \(problem)" }
}

extension JSONValue {
    /// The member `key` of an object; nil for anything else.
    subscript(_ key: String) -> JSONValue? { objectValue?[key] }

    /// The text of a string, or of a number written without a fraction (YAML `40`).
    var text: String? {
        switch self {
        case .string(let value): value
        case .number(let value) where value == value.rounded(): String(Int(value))
        default: nil
        }
    }

    /// The number, or a string holding one.
    var number: Double? {
        switch self {
        case .number(let value): value
        case .string(let value): Double(value)
        default: nil
        }
    }

    /// The elements of an array; empty for anything else.
    var elements: [JSONValue] {
        if case .array(let values) = self { values } else { [] }
    }
}
