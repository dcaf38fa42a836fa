#if canImport(Glibc)
import Glibc
#endif
import Foundation
import TestSupport

/// A `.dockerignore` read as Docker reads it: one pattern a line (comments and blank lines skipped), leading
/// and trailing `/` dropped, `*` and `?` within one path component, `**` across components, `!` re-including;
/// a path is left out of the context when the last pattern matching it or one of its parent folders excludes it.
struct DockerIgnore {
    private let rules: [(components: [String], excludes: Bool)]

    init(path: String) throws {
        rules = try RepositoryFiles.text(path).split(separator: "\n").compactMap { line in
            var pattern = line.trimmingCharacters(in: .whitespaces)
            guard !pattern.isEmpty, !pattern.hasPrefix("#") else { return nil }
            let excludes = !pattern.hasPrefix("!")
            if !excludes { pattern.removeFirst() }
            let components = pattern.split(separator: "/").map(String.init)
            return components.isEmpty ? nil : (components, excludes)
        }
    }

    /// Whether `path` (relative to the context, `/`-separated) stays out of the build context.
    func excludes(_ path: String) -> Bool {
        let components = path.split(separator: "/").map(String.init)
        var excluded = false
        for rule in rules where (1...components.count).contains(where: { Self.matches(rule.components[...], components[..<$0]) }) {
            excluded = rule.excludes
        }
        return excluded
    }

    private static func matches(_ pattern: ArraySlice<String>, _ path: ArraySlice<String>) -> Bool {
        guard let first = pattern.first else { return path.isEmpty }
        if first == "**" {
            return (path.startIndex...path.endIndex).contains { matches(pattern.dropFirst(), path[$0...]) }
        }
        guard let name = path.first, fnmatch(first, name, 0) == 0 else { return false }
        return matches(pattern.dropFirst(), path.dropFirst())
    }
}
