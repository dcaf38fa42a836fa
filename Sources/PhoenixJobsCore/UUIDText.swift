package import Foundation

/// Reads and writes UUIDs in their 36-character text form (`6f1c1a52-3c39-4b1e-9a55-3c2f0f7e8d10`) without
/// Foundation's parser and formatter, which go through `sscanf` and `snprintf` and showed in the worker's and
/// the API's profiles: every fetched job has an id to read, every submitted one several to write.
package enum UUIDText {
    private static let digits = Array("0123456789abcdef".utf8)

    /// `uuid` as lowercase text, the form ids take in Redis keys, JSON and URLs.
    package static func lowercase(_ uuid: UUID) -> String {
        withUnsafeBytes(of: uuid.uuid) { bytes in
            String(unsafeUninitializedCapacity: 36) { output in
                var index = 0
                for (position, byte) in bytes.enumerated() {
                    if position == 4 || position == 6 || position == 8 || position == 10 {
                        output[index] = UInt8(ascii: "-")
                        index += 1
                    }
                    output[index] = digits[Int(byte >> 4)]
                    output[index + 1] = digits[Int(byte & 0x0F)]
                    index += 2
                }
                return index
            }
        }
    }

    /// The UUID, or nil when `text` is not one. Stricter than Foundation on 36 characters (no sign before a hex
    /// pair, which `sscanf` would take); Foundation decides for any other length.
    package static func parse(_ text: String) -> UUID? {
        var text = text
        guard text.utf8.count == 36 else { return UUID(uuidString: text) }
        return text.withUTF8 { bytes -> UUID? in
            var uuid: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
            let valid = withUnsafeMutableBytes(of: &uuid) { output -> Bool in
                var index = 0
                for position in 0..<16 {
                    if index == 8 || index == 13 || index == 18 || index == 23 {
                        guard bytes[index] == UInt8(ascii: "-") else { return false }
                        index += 1
                    }
                    guard let high = hexValue(bytes[index]), let low = hexValue(bytes[index + 1]) else { return false }
                    output[position] = high << 4 | low
                    index += 2
                }
                return true
            }
            return valid ? UUID(uuid: uuid) : nil
        }
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

extension UUID {
    /// The UUID as lowercase text (``UUIDText/lowercase(_:)``).
    package var lowercasedString: String { UUIDText.lowercase(self) }
}
