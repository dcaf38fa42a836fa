/// A condition a test waited for in vain.
public struct TimedOut: Error, CustomStringConvertible {
    public let description: String
}

/// Polls `condition` every `interval` until it holds; throws ``TimedOut`` naming `description` after `timeout`.
public func eventually(
    _ description: String,
    timeout: Duration = .seconds(30),
    interval: Duration = .milliseconds(50),
    _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: interval)
    }
    throw TimedOut(description: "timed out waiting until \(description)")
}
