import NIOCore
import NIOSSL

/// How a `rediss://` connection is secured: the server's certificate is checked against `caFile` (else the
/// system's trusted CAs) and against the host name, or the address when the host is an IP address; the client
/// shows `certificateFile` and `keyFile` when the server asks for a client certificate.
public struct RedisTLS: Sendable, Equatable {
    /// PEM file of the CAs that sign the server's certificate; `nil` for the system's trust store.
    public var caFile: String?
    /// PEM file of the client's certificate (with its chain), for servers that check clients.
    public var certificateFile: String?
    /// PEM file of the client certificate's private key.
    public var keyFile: String?

    /// TLS settings; every file is optional (a certificate needs its key).
    public init(caFile: String? = nil, certificateFile: String? = nil, keyFile: String? = nil) {
        self.caFile = caFile
        self.certificateFile = certificateFile
        self.keyFile = keyFile
    }

    /// Reads the files and builds the TLS context, as a client does before its first connection, so that a
    /// process can refuse to start on unusable settings.
    /// - Throws: ``RedisConfigurationError/invalidTLS(_:)`` naming the file at fault.
    public func check() throws(RedisConfigurationError) {
        _ = try makeContext()
    }

    /// The context every connection of a client shares (BoringSSL reads the files here, once).
    func makeContext() throws(RedisConfigurationError) -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        if let caFile {
            configuration.trustRoots = .certificates(try Self.certificates(in: caFile, role: "CA file"))
        }
        switch (certificateFile, keyFile) {
        case (nil, nil): break
        case (let certificateFile?, let keyFile?):
            configuration.certificateChain = try Self.certificates(in: certificateFile, role: "client certificate").map { .certificate($0) }
            do {
                configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: keyFile, format: .pem))
            } catch {
                throw .invalidTLS("client key \(keyFile) cannot be read as a PEM private key (\(error))")
            }
        case (_?, nil): throw .invalidTLS("a client certificate needs its private key file too")
        case (nil, _?): throw .invalidTLS("a client key needs its certificate file too")
        }
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw .invalidTLS("the TLS context cannot be built: \(error)")
        }
    }

    private static func certificates(in file: String, role: String) throws(RedisConfigurationError) -> [NIOSSLCertificate] {
        let certificates: [NIOSSLCertificate]
        do {
            certificates = try NIOSSLCertificate.fromPEMFile(file)
        } catch {
            throw .invalidTLS("\(role) \(file) cannot be read as PEM certificates (\(error))")
        }
        guard !certificates.isEmpty else { throw .invalidTLS("\(role) \(file) holds no PEM certificate") }
        return certificates
    }
}
