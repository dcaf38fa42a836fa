import Foundation
import LocalServers
import Testing

/// `ChildProcess`, which the tests and `phoenix dev` stop and wait for from several tasks at once.
@Suite struct ChildProcessTests {
    /// Each waiter runs on a thread of its own (`exited()`); they must all get the child's one status. Before
    /// the status was guarded, two `waitpid`s raced: the loser got `ECHILD`, and with it a status of 0.
    @Test func waitersOnSeveralThreadsAllGetTheExitStatus() async throws {
        for _ in 0..<5 {
            let child = try ChildProcess("/bin/sh", ["-c", "sleep 0.2; exit 3"])
            let codes = await withTaskGroup(of: Int32?.self) { group in
                for _ in 0..<4 { group.addTask { ChildProcess.exitCode(ofStatus: await child.exited()) } }
                return await group.reduce(into: []) { $0.append($1) }
            }
            #expect(codes == [3, 3, 3, 3])
        }
    }
}

/// A plain `swift test`, without the servers `make test` starts (issue 17: every test failed with the same
/// thrown error instead).
@Suite struct TestBundlePreflightTests {
    @Test func withoutTheTestServersTheBundleStopsWithOneLineSayingHowToRunTheTests() async throws {
        let bundle = CommandLine.arguments[0]
        let (status, output) = try await ChildProcess.run("/usr/bin/env", [
            "-u", "PHOENIX_TEST_REDIS_URL", "-u", "PHOENIX_TEST_DATABASE_URL", bundle, "--testing-library", "swift-testing",
        ])
        #expect(status == 1)
        let lines = output.split(separator: "\n")
        #expect(lines.count == 1, "\(output)")
        #expect(lines.first?.contains("run the tests with `make test`") == true, "\(output)")
    }
}
