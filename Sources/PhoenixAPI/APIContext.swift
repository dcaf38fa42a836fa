public import Hummingbird
public import NIOCore

/// The request context of the API: Hummingbird's core storage plus the caller, once authenticated.
public struct APIContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The verified caller; set by ``AuthMiddleware`` on every `/v1` route.
    public var identity: Identity?
    /// The peer of the connection (sign-in attempts are throttled per address).
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        identity = nil
        remoteAddress = source.channel.remoteAddress
    }

    /// The caller, for handlers behind ``AuthMiddleware``.
    func caller() throws(APIError) -> Identity {
        guard let identity else { throw .unauthorized("this route needs a Bearer token") }
        return identity
    }

    /// The caller, who must be a service (`service_role`).
    func service() throws(APIError) -> Identity {
        let identity = try caller()
        guard identity.role == .serviceRole else { throw .forbidden("this route needs a service_role token") }
        return identity
    }
}
