import Foundation
public import Hummingbird

/// `GET /openapi.yaml`: the OpenAPI 3 document of the API (`Sources/PhoenixAPI/Resources/openapi.yaml`).
public struct OpenAPIRoute: Sendable {
    /// The document, read once from the module's resources.
    static let document: [UInt8]? = Bundle.module.url(forResource: "openapi", withExtension: "yaml").flatMap { try? Array(Data(contentsOf: $0)) }

    public init() {}

    public func add(to router: Router<APIContext>) {
        router.get("openapi.yaml") { _, _ in
            guard let document = Self.document else {
                throw APIError(.internalServerError, "internal_error", "the OpenAPI document is missing from this build's resources")
            }
            return Response(status: .ok, headers: [.contentType: "application/yaml"], body: .init(byteBuffer: ByteBuffer(bytes: document)))
        }
    }
}
