public import Foundation

/// A type that reads itself straight from a parsed ``JSONValue`` (the hot path of high-volume job types),
/// instead of going through `JSONDecoder`.
public protocol JSONValueDecodable {
    /// Reads the value; throws ``JSONFieldError`` naming the field that is missing or of the wrong type.
    init(jsonValue: JSONValue) throws
}

/// A field of a JSON object that is missing or of the wrong type.
public struct JSONFieldError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Typed access to the members of a JSON object, with errors that name the field.
public struct JSONFields {
    private enum Members {
        case dictionary([String: JSONValue])
        /// In the order written; looked up from the end, so the last of a repeated name counts, as in a
        /// dictionary parsed from the same text.
        case list([(name: String, value: JSONValue)])
    }

    private let members: Members

    /// The members of `value`, which must be an object.
    public init(_ value: JSONValue) throws(JSONFieldError) {
        guard case .object(let members) = value else { throw JSONFieldError("the document: expected a JSON object") }
        self.members = .dictionary(members)
    }

    /// The members of an object read by ``JSONValue/parseMembers(_:)``: a few, looked up by a scan.
    init(members: [(name: String, value: JSONValue)]) {
        self.members = .list(members)
    }

    private func member(_ key: String) -> JSONValue? {
        switch members {
        case .dictionary(let members): members[key]
        case .list(let members): members.last { $0.name == key }?.value
        }
    }

    /// A required member (any JSON value, null included).
    public func value(_ key: String) throws(JSONFieldError) -> JSONValue {
        guard let value = member(key) else { throw JSONFieldError("missing field '\(key)'") }
        return value
    }

    /// A member that may be absent or null.
    public func optional(_ key: String) -> JSONValue? {
        if case .null? = member(key) { return nil }
        return member(key)
    }

    /// A required string.
    public func string(_ key: String) throws(JSONFieldError) -> String {
        guard let text = try optionalString(key) else { throw JSONFieldError("missing field '\(key)'") }
        return text
    }

    /// A string that may be absent or null.
    public func optionalString(_ key: String) throws(JSONFieldError) -> String? {
        switch optional(key) {
        case nil: return nil
        case .string(let text)?: return text
        default: throw JSONFieldError("field '\(key)': expected a string")
        }
    }

    /// A required UUID.
    public func uuid(_ key: String) throws(JSONFieldError) -> UUID {
        guard let id = try optionalUUID(key) else { throw JSONFieldError("missing field '\(key)'") }
        return id
    }

    /// A UUID that may be absent or null.
    public func optionalUUID(_ key: String) throws(JSONFieldError) -> UUID? {
        guard let text = try optionalString(key) else { return nil }
        guard let id = UUIDText.parse(text) else { throw JSONFieldError("field '\(key)': '\(text.prefix(40))' is not a UUID") }
        return id
    }

    /// A required whole number.
    public func integer(_ key: String) throws(JSONFieldError) -> Int {
        guard case .number(let number)? = member(key), number == number.rounded(), abs(number) < 1e15 else {
            throw JSONFieldError(member(key) == nil ? "missing field '\(key)'" : "field '\(key)': expected a whole number")
        }
        return Int(number)
    }

    /// A required ISO 8601 date.
    public func date(_ key: String) throws(JSONFieldError) -> Date {
        guard let date = try optionalDate(key) else { throw JSONFieldError("missing field '\(key)'") }
        return date
    }

    /// An ISO 8601 date that may be absent or null.
    public func optionalDate(_ key: String) throws(JSONFieldError) -> Date? {
        guard let text = try optionalString(key) else { return nil }
        guard let date = ISO8601Timestamp.parse(text) else {
            throw JSONFieldError("field '\(key)': '\(text.prefix(40))' is not an ISO 8601 date")
        }
        return date
    }
}
