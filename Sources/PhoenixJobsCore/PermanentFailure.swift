/// An error that retrying cannot fix (a bad payload, an exhausted quota): the job goes to the dead set at once.
public struct PermanentFailure: Error, CustomStringConvertible {
    /// What is wrong, for the dead set and the logs (never payload contents).
    public var message: String

    /// A permanent failure saying `message`.
    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
