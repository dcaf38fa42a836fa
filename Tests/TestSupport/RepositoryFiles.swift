public import Foundation

/// Files of this repository (deploy files, scripts, docs), read by tests that check them against the code.
public enum RepositoryFiles {
    /// The repository's top folder.
    public static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The file or folder at `path`, relative to the top folder.
    public static func url(_ path: String) -> URL {
        root.appendingPathComponent(path)
    }

    /// The text of the file at `path`.
    public static func text(_ path: String) throws -> String {
        try String(contentsOf: url(path), encoding: .utf8)
    }

    /// The files of `folder` whose names end with `suffix`, sorted by name, as paths relative to the top folder.
    public static func files(in folder: String, endingWith suffix: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: url(folder).path).filter { $0.hasSuffix(suffix) }.sorted().map { "\(folder)/\($0)" }
    }
}
