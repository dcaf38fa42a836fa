import Foundation
import PhoenixJobsCore

/// What the dashboard shows of a job's payload: its shape, and the values of fields known to hold no personal
/// data; every other value is masked.
///
/// Masking is the default, so a field a new job type adds is hidden until it is declared here: payloads carry
/// offers, CV texts, names, emails and free-form event data, which an operator has no need to read. Ids
/// (`user_id`, `event_id`, …) stay visible when they are UUIDs, since operators search by them.
enum PayloadMask {
    /// Fields whose values are shown: choices from short fixed lists, sizes, flags and times.
    static let visibleFields: Set<String> = [
        "type", "event_type", "app_source", "app_name", "tier", "status", "language", "tone", "template",
        "generation_type", "batch_size", "job_runs_retention_days", "ms", "permanent", "timestamp",
    ]

    /// `payload` with every value outside ``visibleFields`` and the UUID ids masked; keys and structure kept.
    static func masked(_ payload: JSONValue) -> JSONValue {
        mask(payload, field: nil)
    }

    /// The masked payload as indented JSON text.
    static func maskedText(_ payload: JSONValue) -> String {
        let value = masked(payload)
        let data = (try? JSONEncoder.pretty.encode(value)) ?? Data(value.serialized)
        return String(decoding: data, as: UTF8.self)
    }

    private static func mask(_ value: JSONValue, field: String?) -> JSONValue {
        switch value {
        case .object(let members):
            return .object(members.reduce(into: [:]) { $0[$1.key] = mask($1.value, field: $1.key) })
        case .array(let elements):
            return .array(elements.map { mask($0, field: field) })
        case .null:
            return .null
        case .bool, .number, .string:
            return isVisible(value, field: field) ? value : .string(placeholder(for: value))
        }
    }

    private static func isVisible(_ value: JSONValue, field: String?) -> Bool {
        guard let field = field?.lowercased() else { return false }
        if visibleFields.contains(field) { return true }
        guard field == "id" || field.hasSuffix("_id"), case .string(let text) = value else { return false }
        return UUID(uuidString: text) != nil
    }

    /// `‹masked: 24 characters›`: the size helps tell an empty field from a filled one.
    private static func placeholder(for value: JSONValue) -> String {
        switch value {
        case .string(let text): "‹masked: \(text.count) characters›"
        case .number: "‹masked number›"
        default: "‹masked›"
        }
    }
}

extension JSONEncoder {
    /// Indented, keys sorted, slashes as they are: JSON for people to read.
    static var pretty: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}
