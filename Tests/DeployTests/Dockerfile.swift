import Foundation
import TestSupport

/// A Dockerfile read as stages of instructions (continuation lines joined, comments dropped).
struct Dockerfile {
    struct Instruction {
        /// Upper-case keyword: FROM, RUN, COPY, USER, …
        let keyword: String
        let arguments: String
    }

    struct Stage {
        /// The `AS` name, if any.
        let name: String?
        let instructions: [Instruction]

        func all(_ keyword: String) -> [String] {
            instructions.filter { $0.keyword == keyword }.map(\.arguments)
        }
    }

    /// The instructions before the first FROM (global ARGs).
    let preamble: [Instruction]
    let stages: [Stage]

    init(path: String) throws {
        var logical: [String] = []
        var pending = ""
        for line in try RepositoryFiles.text(path).split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("#") { continue }
            if trimmed.hasSuffix("\\") {
                pending += trimmed.dropLast() + " "
            } else {
                pending += trimmed
                if !pending.trimmingCharacters(in: .whitespaces).isEmpty { logical.append(pending) }
                pending = ""
            }
        }
        var preamble: [Instruction] = []
        var stages: [Stage] = []
        var current: (name: String?, instructions: [Instruction])?
        for line in logical {
            let parts = line.split(separator: " ", maxSplits: 1)
            let instruction = Instruction(keyword: parts[0].uppercased(), arguments: parts.count > 1 ? String(parts[1]).trimmingCharacters(in: .whitespaces) : "")
            if instruction.keyword == "FROM" {
                if let current { stages.append(Stage(name: current.name, instructions: current.instructions)) }
                let words = instruction.arguments.split(separator: " ").map(String.init)
                let name = words.count >= 3 && words[words.count - 2].uppercased() == "AS" ? words.last : nil
                current = (name, [instruction])
            } else if current == nil {
                preamble.append(instruction)
            } else {
                current?.instructions.append(instruction)
            }
        }
        if let current { stages.append(Stage(name: current.name, instructions: current.instructions)) }
        self.preamble = preamble
        self.stages = stages
    }
}
