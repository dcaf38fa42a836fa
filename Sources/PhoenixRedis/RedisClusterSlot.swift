/// Redis Cluster's key-to-slot mapping: CRC16 (XMODEM) of the key, or of its hash tag, modulo 16384.
public enum RedisClusterSlot {
    /// The number of slots a cluster divides keys into.
    public static let count = 16384

    /// The slot of `key`. When the key holds a non-empty `{…}`, only the part between the first `{` and the
    /// `}` after it counts (the hash tag), so keys sharing a tag share a slot.
    public static func of(_ key: some Collection<UInt8>) -> Int {
        let bytes = Array(key)
        var hashed = bytes[...]
        if let open = bytes.firstIndex(of: UInt8(ascii: "{")),
           let close = bytes[(open + 1)...].firstIndex(of: UInt8(ascii: "}")), close > open + 1 {
            hashed = bytes[(open + 1)..<close]
        }
        return Int(crc16(hashed)) & (count - 1)
    }

    /// The slot of a key given as text.
    public static func of(_ key: String) -> Int { of(Array(key.utf8)) }

    static func crc16(_ bytes: some Sequence<UInt8>) -> UInt16 {
        var crc: UInt16 = 0
        for byte in bytes {
            crc = (crc << 8) ^ table[Int(UInt8(truncatingIfNeeded: crc >> 8) ^ byte)]
        }
        return crc
    }

    /// CRC16-CCITT (XMODEM: polynomial 0x1021, initial value 0), a byte at a time.
    private static let table: [UInt16] = (0..<256).map { index in
        var crc = UInt16(index) << 8
        for _ in 0..<8 { crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1 }
        return crc
    }
}

extension RedisCommand {
    /// Commands that name no key: a cluster client may send them to any node.
    private static let keyless: Set<String> = [
        "ASKING", "AUTH", "BGSAVE", "CLIENT", "CLUSTER", "COMMAND", "CONFIG", "DBSIZE", "DEBUG", "ECHO", "FLUSHALL",
        "FLUSHDB", "FUNCTION", "HELLO", "INFO", "KEYS", "LASTSAVE", "LATENCY", "MULTI", "EXEC", "DISCARD", "PING",
        "PUBLISH", "READONLY", "READWRITE", "ROLE", "SAVE", "SCAN", "SCRIPT", "SELECT", "SENTINEL", "SLOWLOG", "TIME", "WAIT",
    ]

    /// The first key the command names, by the command's syntax: the script's first key for `EVAL`/`EVALSHA`
    /// (none when it declares none), the argument after the subcommand for `OBJECT` and `MEMORY`, nothing for
    /// server commands, else the first argument.
    public var firstKey: [UInt8]? {
        guard let name = head.first.map({ String(decoding: $0, as: UTF8.self).uppercased() }) else { return nil }
        switch name {
        case "EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL", "FCALL_RO":
            guard head.count > 3, let declared = Int(String(decoding: head[2], as: UTF8.self)), declared > 0 else { return nil }
            return head[3]
        case "OBJECT", "MEMORY":
            return head.count > 2 ? head[2] : nil
        case _ where Self.keyless.contains(name):
            return nil
        default:
            return head.count > 1 ? head[1] : nil
        }
    }

    /// The cluster slot of ``firstKey``; `nil` for a command that names no key.
    public var slot: Int? { firstKey.map(RedisClusterSlot.of) }
}
