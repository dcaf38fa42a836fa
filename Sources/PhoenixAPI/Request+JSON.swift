import Foundation
import Hummingbird
import NIOCore
import PhoenixJobsCore

extension Request {
    /// Query parameter `name` as a whole number in `range`; `nil` when absent.
    /// - Throws: ``APIError`` 400 `invalid_query` when it is given twice, or is not such a number.
    func integerParameter(_ name: String, in range: ClosedRange<Int>) throws(APIError) -> Int? {
        guard let text = try queryParameter(name) else { return nil }
        guard let number = Int(text), range.contains(number) else {
            throw .badRequest("invalid_query", "query parameter \(name) must be a whole number in \(range.lowerBound)...\(range.upperBound)")
        }
        return number
    }

    /// Query parameter `name`; `nil` when absent.
    /// - Throws: ``APIError`` 400 `invalid_query` when it is given more than once.
    func queryParameter(_ name: String) throws(APIError) -> String? {
        let texts = uri.queryParameters[values: Substring(name)]
        guard texts.count <= 1 else { throw .badRequest("invalid_query", "query parameter \(name) may be given once") }
        return texts.first.map(String.init)
    }

    /// The body parsed as JSON, at most `limit` bytes.
    /// - Throws: ``APIError`` 413 when larger, 400 `invalid_json` saying where the JSON breaks.
    mutating func json(limit: Int) async throws -> JSONValue {
        let buffer: ByteBuffer
        do {
            buffer = try await body.collect(upTo: limit)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw APIError(.contentTooLarge, "payload_too_large", "the request body is larger than \(limit) bytes")
        }
        guard buffer.readableBytes > 0 else { throw APIError.badRequest("invalid_json", "the request body is empty; send a JSON object") }
        do {
            return try JSONValue.parse(buffer.readableBytesView)
        } catch {
            throw APIError.badRequest("invalid_json", "the request body is not valid JSON: \(error)")
        }
    }
}

extension Response {
    /// A JSON response of `value`.
    static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: value.serialized)))
    }

    /// A JSON response of an `Encodable` value (dates as ISO 8601).
    static func json(encoding value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
    }
}
