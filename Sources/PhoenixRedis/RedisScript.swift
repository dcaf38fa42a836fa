import Crypto

/// A Lua script run with `EVALSHA` by its SHA-1, loaded with `SCRIPT LOAD` the first time a server answers
/// `NOSCRIPT` (after a restart or `SCRIPT FLUSH`, too).
public struct RedisScript: Sendable, Hashable {
    /// A short name for logs and errors.
    public let name: String
    /// The Lua source.
    public let source: String
    /// The SHA-1 of the source, as Redis computes it.
    public let sha1: String

    /// A script from its name and Lua source.
    public init(name: String, source: String) {
        self.name = name
        self.source = source
        self.sha1 = Insecure.SHA1.hash(data: Array(source.utf8)).map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }

    /// A call of the script with these keys and arguments, written out now (``RedisClient/run(_:)`` sends it).
    public func call(keys: [String], arguments: [any RedisArgumentConvertible]) -> RedisScriptCall {
        RedisScriptCall(script: self, command: RedisCommand("EVALSHA", arguments: [sha1, keys.count] + keys + arguments))
    }
}

/// One call of a script: its `EVALSHA`, written out when the call was made, so that a caller can prepare its
/// next call while Redis runs the one before.
public struct RedisScriptCall: Sendable {
    /// The script called.
    public let script: RedisScript
    /// The `EVALSHA` command.
    let command: RedisCommand
}
