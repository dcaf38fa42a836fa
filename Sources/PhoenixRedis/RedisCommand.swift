public import Foundation

/// One command and its arguments, each a binary-safe byte string, held as the bytes Redis reads it in (a
/// RESP array of bulk strings), written once when the command is made: a caller that builds its next command
/// while the one before runs has done all the work of sending it but the write to the socket.
public struct RedisCommand: Sendable, Equatable, CustomStringConvertible {
    /// The command in RESP, as it goes on the wire.
    let wire: [UInt8]
    /// The command name and up to three arguments after it: what routing a command to its slot reads
    /// (``firstKey``) and what a log may show (the name).
    let head: [[UInt8]]

    /// How many leading arguments (the name included) ``head`` keeps.
    private static let headCount = 4

    /// A command from its name and arguments, e.g. `RedisCommand("SET", "k", 1)`.
    public init(_ name: String, _ arguments: any RedisArgumentConvertible...) {
        self.init(name, arguments: arguments)
    }

    /// A command from its name and an array of arguments.
    public init(_ name: String, arguments: [any RedisArgumentConvertible]) {
        var wire: [UInt8] = []
        wire.reserveCapacity(16 + name.utf8.count + arguments.count * 24)
        wire.append(UInt8(ascii: "*"))
        RedisWireText.appendDecimal(arguments.count + 1, to: &wire)
        name.appendRedisBulkString(to: &wire)
        var head = [Array(name.utf8)]
        for argument in arguments {
            if head.count < Self.headCount {
                let bytes = argument.redisArgument
                head.append(bytes)
                bytes.appendRedisBulkString(to: &wire)
            } else {
                argument.appendRedisBulkString(to: &wire)
            }
        }
        self.wire = wire
        self.head = head
    }

    /// The command name only: arguments may hold personal data or secrets and never go to logs.
    public var description: String {
        head.first.map { String(decoding: $0, as: UTF8.self) } ?? "<empty>"
    }
}

/// A value that can be sent as one command argument.
public protocol RedisArgumentConvertible: Sendable {
    /// The bytes sent to Redis.
    var redisArgument: [UInt8] { get }
    /// Appends the argument as a RESP bulk string (`$<length>\r\n<bytes>\r\n`) to `wire`; by default from
    /// ``redisArgument``, which a type may skip by writing its bytes straight in.
    func appendRedisBulkString(to wire: inout [UInt8])
}

extension RedisArgumentConvertible {
    public func appendRedisBulkString(to wire: inout [UInt8]) {
        redisArgument.appendRedisBulkString(to: &wire)
    }
}

extension String: RedisArgumentConvertible {
    public var redisArgument: [UInt8] { Array(utf8) }

    public func appendRedisBulkString(to wire: inout [UInt8]) {
        wire.append(UInt8(ascii: "$"))
        RedisWireText.appendDecimal(utf8.count, to: &wire)
        wire.append(contentsOf: utf8)
        wire.append(contentsOf: RedisWireText.lineEnd)
    }
}

extension Substring: RedisArgumentConvertible {
    public var redisArgument: [UInt8] { Array(utf8) }
}

extension Int: RedisArgumentConvertible {
    public var redisArgument: [UInt8] { Array(String(self).utf8) }

    public func appendRedisBulkString(to wire: inout [UInt8]) {
        String(self).appendRedisBulkString(to: &wire)
    }
}

extension Int64: RedisArgumentConvertible {
    public var redisArgument: [UInt8] { Array(String(self).utf8) }

    public func appendRedisBulkString(to wire: inout [UInt8]) {
        String(self).appendRedisBulkString(to: &wire)
    }
}

extension Double: RedisArgumentConvertible {
    public var redisArgument: [UInt8] { Array(String(self).utf8) }
}

extension Array: RedisArgumentConvertible where Element == UInt8 {
    public var redisArgument: [UInt8] { self }

    public func appendRedisBulkString(to wire: inout [UInt8]) {
        wire.append(UInt8(ascii: "$"))
        RedisWireText.appendDecimal(count, to: &wire)
        wire.append(contentsOf: self)
        wire.append(contentsOf: RedisWireText.lineEnd)
    }
}

extension Data: RedisArgumentConvertible {
    public var redisArgument: [UInt8] { Array(self) }
}

/// The pieces of RESP text commands are written with.
enum RedisWireText {
    static let lineEnd: [UInt8] = [UInt8(ascii: "\r"), UInt8(ascii: "\n")]

    /// Appends `value` (not negative) in decimal, then CRLF.
    static func appendDecimal(_ value: Int, to wire: inout [UInt8]) {
        if value < 10 {
            wire.append(UInt8(ascii: "0") + UInt8(value))
        } else {
            wire.append(contentsOf: String(value).utf8)
        }
        wire.append(contentsOf: lineEnd)
    }
}
