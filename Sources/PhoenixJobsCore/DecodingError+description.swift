import Foundation

extension DecodingError {
    /// A one-line explanation naming the offending field, e.g. `field 'user.id': expected String, found number`.
    public var fieldDescription: String {
        func path(_ context: Context) -> String {
            let path = context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
            return path.isEmpty ? "the document" : "field '\(path)'"
        }
        switch self {
        case .typeMismatch(let type, let context):
            return "\(path(context)): expected \(type) (\(context.debugDescription))"
        case .valueNotFound(let type, let context):
            return "\(path(context)): expected \(type), found null"
        case .keyNotFound(let key, let context):
            let parent = context.codingPath.isEmpty ? "" : " in \(path(context))"
            return "missing field '\(key.stringValue)'\(parent)"
        case .dataCorrupted(let context):
            return "\(path(context)): \(context.underlyingError.map { "\($0)" } ?? context.debugDescription)"
        @unknown default:
            return "\(self)"
        }
    }
}
