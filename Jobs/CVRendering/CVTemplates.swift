public import Foundation
import Mustache

/// The CV templates: Mustache files a designer edits (`Templates/<name>.mustache`), listed with the tier
/// they need in `Templates/catalog.json`, plus `ats.mustache` for the plain-text version.
public struct CVTemplates: Sendable {
    /// A template of the catalogue.
    public struct Entry: Codable, Sendable, Equatable {
        /// The subscription tier the template needs: `free`, `premium` or `pro`.
        public var tier: String
        public var description: String?
    }

    /// Every HTML template, by name.
    public let catalog: [String: Entry]
    private let library: MustacheLibrary

    /// The template every user may use, and the default.
    public static let defaultTemplate = "classic"

    /// The templates shipped with this module.
    public static func bundled() async throws(CVTemplateError) -> CVTemplates {
        guard let folder = Bundle.module.url(forResource: "Templates", withExtension: nil) else {
            throw CVTemplateError("the Templates folder is missing from the CVRendering resources")
        }
        return try await CVTemplates(folder: folder)
    }

    /// The templates of `folder` (its `catalog.json` and `.mustache` files).
    public init(folder: URL) async throws(CVTemplateError) {
        let catalogFile = folder.appendingPathComponent("catalog.json")
        do {
            catalog = try JSONDecoder().decode([String: Entry].self, from: Data(contentsOf: catalogFile))
        } catch {
            throw CVTemplateError("cannot read \(catalogFile.path): \(error)")
        }
        do {
            library = try await MustacheLibrary(directory: folder.path)
        } catch {
            throw CVTemplateError("cannot load the templates of \(folder.path): \(error)")
        }
        for name in Array(catalog.keys) + ["ats"] where library.getTemplate(named: name) == nil {
            throw CVTemplateError("\(folder.path) has no \(name).mustache")
        }
        for (name, entry) in catalog where Tier(rawValue: entry.tier) == nil {
            throw CVTemplateError("catalog.json: template \(name) needs tier '\(entry.tier)', which is not free, premium or pro")
        }
    }

    /// Renders `view` with the template `name` (HTML templates escape every value).
    func render(_ view: [String: Any], template name: String) -> String? {
        library.render(view, withTemplate: name)
    }

    /// Subscription tiers, lowest first.
    enum Tier: String, Comparable {
        case free, premium, pro

        static func < (lhs: Tier, rhs: Tier) -> Bool {
            let order: [Tier] = [.free, .premium, .pro]
            return order.firstIndex(of: lhs) ?? 0 < order.firstIndex(of: rhs) ?? 0
        }
    }
}

/// The templates could not be loaded.
public struct CVTemplateError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
