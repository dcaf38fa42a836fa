/// Splits a SQL file into its statements, as `supabase db push` records them: on semicolons outside string
/// literals, quoted identifiers, comments and dollar-quoted bodies (`$$ … $$`, `$fn$ … $fn$`).
enum SQLScript {
    /// The statements of `sql`, trimmed, without empty ones or comment-only ones.
    static func statements(_ sql: String) -> [String] {
        let text = Array(sql.unicodeScalars)
        var statements: [String] = []
        var current = String.UnicodeScalarView()
        var hasCode = false
        var index = 0

        func take(_ count: Int) {
            current.append(contentsOf: text[index..<min(index + count, text.count)])
            index += count
        }
        func flush() {
            let statement = String(current).trimmingWhitespace()
            if hasCode && !statement.isEmpty { statements.append(statement) }
            current = String.UnicodeScalarView()
            hasCode = false
        }
        func peek(_ offset: Int) -> Unicode.Scalar? { index + offset < text.count ? text[index + offset] : nil }

        while index < text.count {
            let scalar = text[index]
            switch scalar {
            case "-" where peek(1) == "-":
                while index < text.count && text[index] != "\n" { take(1) }
            case "/" where peek(1) == "*":
                take(2)
                while index < text.count && !(text[index] == "*" && peek(1) == "/") { take(1) }
                take(2)
            case "'", "\"":
                hasCode = true
                take(1)
                while index < text.count {
                    if text[index] == scalar {
                        if peek(1) == scalar { take(2); continue }  // doubled quote inside the literal
                        take(1)
                        break
                    }
                    take(1)
                }
            case "$":
                hasCode = true
                if let tag = dollarTag(text, at: index) {
                    take(tag.count)
                    while index < text.count && !matches(text, tag, at: index) { take(1) }
                    take(tag.count)
                } else {
                    take(1)
                }
            case ";":
                take(1)
                flush()
            default:
                if !scalar.properties.isWhitespace { hasCode = true }
                take(1)
            }
        }
        flush()
        return statements
    }

    /// The dollar-quote tag (`$$` or `$name$`) starting at `index`, if any.
    private static func dollarTag(_ text: [Unicode.Scalar], at index: Int) -> [Unicode.Scalar]? {
        var end = index + 1
        while end < text.count, text[end] == "_" || text[end].properties.isAlphabetic || (end > index + 1 && ("0"..."9").contains(text[end])) {
            end += 1
        }
        guard end < text.count, text[end] == "$" else { return nil }
        return Array(text[index...end])
    }

    private static func matches(_ text: [Unicode.Scalar], _ tag: [Unicode.Scalar], at index: Int) -> Bool {
        index + tag.count <= text.count && Array(text[index..<(index + tag.count)]) == tag
    }
}

extension String {
    func trimmingWhitespace() -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
              let last = scalars.lastIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        return String(scalars[first...last])
    }
}
