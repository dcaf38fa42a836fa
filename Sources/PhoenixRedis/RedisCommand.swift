public import Foundation

/// One command and its arguments, each a binary-safe byte string.
public struct RedisCommand: Sendable, Equatable, CustomStringConvertible {
    /// The command name followed by its arguments.
    public var arguments: [[UInt8]]

    /// A command from its name and arguments, e.g. `RedisCommand("SET", "k", 1)`.
    public init(_ name: String, _ arguments: any RedisArgumentConvertible...) {
        self.init(name, arguments: arguments)
    }

    /// A command from its name and an array of arguments.
    public init(_ name: String, arguments: [any RedisArgumentConvertible]) {
        self.arguments = [Array(name.utf8)] + arguments.map(\.redisArgument)
    }

    /// The command name only: arguments may hold personal data or secrets and never go to logs.
    public var description: String {
        arguments.first.map { String(decoding: $0, as: UTF8.self) } ?? "<empty>"
    }
}

/// A value that can be sent as one command argument.
public protocol RedisArgumentConvertible: Sendable {
    /// The bytes sent to Redis.
    var redisArgument: [UInt8] { get }
}

extension String: RedisArgumentConvertible {
    public var redisArgument: [UInt8] { Array(utf8) }
}

extension Substring: RedisArgumentConvertible {
    public var redisArgument: [UInt8] { Array(utf8) }
}

extension Int: RedisArgumentConvertible {
    public var redisArgument: [UInt8] { Array(String(self).utf8) }
}

extension Int64: RedisArgumentConvertible {
    public var redisArgument: [UInt8] { Array(String(self).utf8) }
}

extension Double: RedisArgumentConvertible {
    public var redisArgument: [UInt8] { Array(String(self).utf8) }
}

extension Array: RedisArgumentConvertible where Element == UInt8 {
    public var redisArgument: [UInt8] { self }
}

extension Data: RedisArgumentConvertible {
    public var redisArgument: [UInt8] { Array(self) }
}
