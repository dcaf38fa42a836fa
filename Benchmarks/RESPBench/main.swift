// resp-bench: hiredis's reply reader (what PhoenixRedis uses, `RedisReplyParser`) against a RESP2 parser in
// Swift (`SwiftRESPParser` below, written for this comparison), both turning the same bytes into the same
// `RedisValue`s, fed in 16 KiB pieces as a socket delivers them. Three workloads shaped like the queue's
// traffic; each parser runs each workload alternately, ROUNDS times; the median time of each is printed with
// the ratio. Usage: swift run -c release resp-bench [ROUNDS=7]
import Foundation
import PhoenixRedis

/// RESP2 in Swift: the bytes fed so far, and where the next reply starts.
final class SwiftRESPParser {
    private var buffer: [UInt8] = []
    private var start = 0

    func feed(_ bytes: UnsafeRawBufferPointer) {
        if start > 0, start >= buffer.count / 2 {
            buffer.removeFirst(start)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete reply, `nil` when the bytes so far hold none.
    func next() throws -> Result<RedisValue, RedisError>? {
        try buffer.withUnsafeBufferPointer { bytes in
            var index = start
            guard let reply = try Self.parse(bytes, &index) else { return nil }
            start = index
            return reply
        }
    }

    struct NotRESP: Error {}

    /// One reply at `index`, moving `index` past it; `nil` (with `index` left anywhere) when incomplete.
    private static func parse(_ bytes: UnsafeBufferPointer<UInt8>, _ index: inout Int) throws -> Result<RedisValue, RedisError>? {
        guard index < bytes.count else { return nil }
        let kind = bytes[index]
        index += 1
        guard let lineEnd = lineEnd(bytes, from: index) else { return nil }
        switch kind {
        case UInt8(ascii: "+"):
            let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[index..<lineEnd]), as: UTF8.self)
            index = lineEnd + 2
            return .success(.status(text))
        case UInt8(ascii: "-"):
            let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[index..<lineEnd]), as: UTF8.self)
            index = lineEnd + 2
            return .failure(RedisError.server(code: String(text.prefix { $0 != " " }), message: String(text.drop { $0 != " " }.dropFirst())))
        case UInt8(ascii: ":"):
            let value = try integer(bytes, index, lineEnd)
            index = lineEnd + 2
            return .success(.integer(Int64(value)))
        case UInt8(ascii: "$"):
            let length = try integer(bytes, index, lineEnd)
            index = lineEnd + 2
            guard length >= 0 else { return .success(.null) }
            guard index + length + 2 <= bytes.count else { return nil }
            let value = Array(UnsafeBufferPointer(rebasing: bytes[index..<(index + length)]))
            index += length + 2
            return .success(.bulk(value))
        case UInt8(ascii: "*"):
            let count = try integer(bytes, index, lineEnd)
            index = lineEnd + 2
            guard count >= 0 else { return .success(.null) }
            var elements: [RedisValue] = []
            elements.reserveCapacity(count)
            var failure: RedisError?
            for _ in 0..<count {
                guard let element = try parse(bytes, &index) else { return nil }
                switch element {
                case .success(let value): elements.append(value)
                case .failure(let error): failure = failure ?? error
                }
            }
            return failure.map { .failure($0) } ?? .success(.array(elements))
        default:
            throw NotRESP()
        }
    }

    private static func lineEnd(_ bytes: UnsafeBufferPointer<UInt8>, from index: Int) -> Int? {
        var cursor = index
        while cursor + 1 < bytes.count {
            if bytes[cursor] == 13, bytes[cursor + 1] == 10 { return cursor }
            cursor += 1
        }
        return nil
    }

    private static func integer(_ bytes: UnsafeBufferPointer<UInt8>, _ from: Int, _ to: Int) throws -> Int {
        var value = 0, cursor = from, negative = false
        if cursor < to, bytes[cursor] == UInt8(ascii: "-") { negative = true; cursor += 1 }
        guard cursor < to else { throw NotRESP() }
        while cursor < to {
            let digit = Int(bytes[cursor]) - 48
            guard (0...9).contains(digit) else { throw NotRESP() }
            value = value * 10 + digit
            cursor += 1
        }
        return negative ? -value : value
    }
}

// MARK: - Workloads

func bulk(_ bytes: [UInt8]) -> [UInt8] { Array("$\(bytes.count)\r\n".utf8) + bytes + [13, 10] }
let envelope = Array(#"{"attempt":0,"enqueuedAt":"2026-11-18T11:06:40.500Z","id":"6f1c1a52-3c39-4b1e-9a55-3c2f0f7e8d10","maxAttempts":4,"payload":{"user_id":"8d0e7c1a-2b3c-4d5e-8f90-a1b2c3d4e5f6","bench":true},"priority":0,"queue":"events","type":"event.publish"}"#.utf8)
let fetchReply: [UInt8] = Array("*401\r\n+ok\r\n".utf8) + (0..<100).flatMap { _ in
    bulk(Array("6f1c1a52-3c39-4b1e-9a55-3c2f0f7e8d10".utf8)) + bulk(envelope) + Array(":1\r\n:1\r\n".utf8)
}
let ackReply: [UInt8] = Array("*100\r\n".utf8) + (0..<100).flatMap { _ in Array(":1\r\n".utf8) }
let workloads: [(name: String, stream: [UInt8], replies: Int)] = [
    ("fetch of 100 jobs (32 KB)", Array((0..<300).map { _ in fetchReply }.joined()), 300),
    ("ack of 100 jobs", Array((0..<20_000).map { _ in ackReply }.joined()), 20_000),
    ("+OK and :1", Array((0..<200_000).map { $0 % 2 == 0 ? Array("+OK\r\n".utf8) : Array(":1\r\n".utf8) }.joined()), 200_000),
]

/// Feeds `stream` in 16 KiB pieces and drains replies after each; returns the seconds taken and the replies.
func time(_ stream: [UInt8], feed: (UnsafeRawBufferPointer) throws -> Void, next: () throws -> Result<RedisValue, RedisError>?) throws -> (Double, [Result<RedisValue, RedisError>]) {
    var replies: [Result<RedisValue, RedisError>] = []
    replies.reserveCapacity(200_000)
    let started = ContinuousClock.now
    try stream.withUnsafeBytes { all in
        var offset = 0
        while offset < all.count {
            let end = min(offset + 16_384, all.count)
            try feed(UnsafeRawBufferPointer(rebasing: all[offset..<end]))
            while let reply = try next() { replies.append(reply) }
            offset = end
        }
    }
    let elapsed = ContinuousClock.now - started
    return (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18, replies)
}

let rounds = CommandLine.arguments.count > 1 ? max(1, Int(CommandLine.arguments[1]) ?? 7) : 7
print("workload                     replies        hiredis (ms)   Swift (ms)   Swift / hiredis")
for workload in workloads {
    var hiredisTimes: [Double] = [], swiftTimes: [Double] = []
    for _ in 0..<rounds {
        let hiredis = RedisReplyParser()
        let (hiredisTime, hiredisReplies) = try time(workload.stream, feed: { try hiredis.feed($0) }, next: { try hiredis.next() })
        let swift = SwiftRESPParser()
        let (swiftTime, swiftReplies) = try time(workload.stream, feed: { swift.feed($0) }, next: { try swift.next() })
        precondition(hiredisReplies.count == workload.replies && swiftReplies.count == workload.replies, "reply counts differ")
        precondition(zip(hiredisReplies, swiftReplies).allSatisfy { $0 == $1 }, "the parsers disagree")
        hiredisTimes.append(hiredisTime)
        swiftTimes.append(swiftTime)
    }
    let median = { (values: [Double]) in values.sorted()[values.count / 2] * 1000 }
    print(workload.name.padding(toLength: 28, withPad: " ", startingAt: 0)
        + String(format: "%8d %15.2f %12.2f %14.2fx", workload.replies, median(hiredisTimes), median(swiftTimes), median(swiftTimes) / median(hiredisTimes)))
}
