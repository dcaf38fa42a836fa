public import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Random (version 4) UUIDs cut from a buffer of the kernel's random bytes, filled 4 KiB at a time.
///
/// Foundation's `UUID()` opens `/dev/urandom`, reads 16 bytes and closes it: three system calls per id, 5 %
/// of a job submission's time in the API's profile. These come from the same source, kept open, with one
/// system call per 256 ids.
public enum RandomUUID {
    private struct Pool {
        var bytes = [UInt8](repeating: 0, count: 4096)
        /// Bytes handed out so far; all of them at first, so that the first id fills the buffer.
        var used = 4096
    }

    /// Guards the random bytes not handed out yet.
    private static let pool = Mutex(Pool())

    /// A new random UUID (version 4, RFC 9562 variant).
    public static func make() -> UUID {
        var uuid: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        pool.withLock { pool in
            if pool.used + 16 > pool.bytes.count {
                refill(&pool.bytes)
                pool.used = 0
            }
            let start = pool.used
            pool.bytes.withUnsafeBytes { source in
                withUnsafeMutableBytes(of: &uuid) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[start..<start + 16])) }
            }
            pool.used += 16
        }
        uuid.6 = (uuid.6 & 0x0F) | 0x40
        uuid.8 = (uuid.8 & 0x3F) | 0x80
        return UUID(uuid: uuid)
    }

    /// `/dev/urandom`, opened once for the process (-1 if it could not be).
    private static let urandom = open("/dev/urandom", O_RDONLY | O_CLOEXEC)

    /// Fills `bytes` from `/dev/urandom`, falling back to the standard library's generator if it fails.
    private static func refill(_ bytes: inout [UInt8]) {
        bytes.withUnsafeMutableBytes { buffer in
            guard let base = buffer.baseAddress else { return }
            var filled = 0
            while urandom >= 0, filled < buffer.count {
                let count = read(urandom, base + filled, buffer.count - filled)
                if count > 0 {
                    filled += count
                } else if count == 0 || errno != EINTR {
                    break
                }
            }
            var generator = SystemRandomNumberGenerator()
            for index in filled..<buffer.count { buffer[index] = generator.next() }
        }
    }
}
