@testable import PhoenixQueue
import Testing

/// How a batch larger than one enqueue call is cut into calls: the first small, so that Redis waits little for
/// it, each next one twice the one before, up to the call size; every job in one call, in input order.
@Suite struct EnqueueCallSizeTests {
    @Test func aBatchsCallsStartSmallAndDoubleUpToTheCallSize() {
        let (first, size) = (JobQueue.firstEnqueueCallSize, JobQueue.enqueueCallSize)
        #expect(first < size)
        for count in [0, 1, first, first + 1, size, size + 1, 3 * size + 7, 1_000, 10_000] {
            let calls = Array(0..<count).chunked(growingFrom: first, to: size)
            #expect(calls.flatMap { $0 } == Array(0..<count), "\(count) jobs")
            #expect(calls.allSatisfy { !$0.isEmpty }, "\(count) jobs")
            var expected = first
            for (index, call) in calls.enumerated() {
                // Only the last call may be short.
                if index < calls.count - 1 { #expect(call.count == expected, "\(count) jobs: call \(index) has \(call.count)") }
                else { #expect(call.count <= expected, "\(count) jobs: the last call has \(call.count)") }
                expected = min(2 * expected, size)
            }
        }
        #expect(Array(0..<300).chunked(growingFrom: 8, to: 100).map(\.count) == [8, 16, 32, 64, 100, 80])
    }
}
