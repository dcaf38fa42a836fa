public import PhoenixJobsCore

/// Small built-in job types for smoke tests, benchmarks and diagnostics, in the `diagnostics` queue.
public enum DiagnosticJobs {
    /// Registers every diagnostic job type.
    public static func register(in registry: inout JobRegistry) {
        registry.register(Noop())
        registry.register(Sleep())
        registry.register(Fail())
    }

    /// Does nothing: measures the queue itself.
    public struct Noop: JobType {
        public struct Payload: Codable, Sendable {
            public init() {}
        }
        public static let name = "diagnostic.noop"
        public static let queue = "diagnostics"
        public init() {}
        public func run(_ payload: Payload, context: JobContext) async throws {}
    }

    /// Sleeps for `ms` milliseconds (cancellable), reporting progress half-way.
    public struct Sleep: JobType {
        public struct Payload: Codable, Sendable {
            public var ms: Int
            public init(ms: Int) { self.ms = ms }
        }
        public static let name = "diagnostic.sleep"
        public static let queue = "diagnostics"
        public init() {}
        public func run(_ payload: Payload, context: JobContext) async throws {
            guard payload.ms >= 0 else { throw PermanentFailure("ms must not be negative") }
            try await Task.sleep(for: .milliseconds(payload.ms / 2))
            try await context.reportProgress(0.5, "half-way")
            try await Task.sleep(for: .milliseconds(payload.ms - payload.ms / 2))
        }
    }

    /// Fails with `message`: permanently when `permanent` is true, else retryably.
    public struct Fail: JobType {
        public struct Payload: Codable, Sendable {
            public var message: String
            public var permanent: Bool?
            public init(message: String, permanent: Bool? = nil) {
                self.message = message
                self.permanent = permanent
            }
        }
        public struct Failure: Error, CustomStringConvertible {
            public var description: String
        }
        public static let name = "diagnostic.fail"
        public static let queue = "diagnostics"
        public static var retryPolicy: RetryPolicy { RetryPolicy(baseDelay: .milliseconds(100), maxDelay: .seconds(1)) }
        public init() {}
        public func run(_ payload: Payload, context: JobContext) async throws {
            if payload.permanent == true { throw PermanentFailure(payload.message) }
            throw Failure(description: payload.message)
        }
    }
}
