import Foundation

/// Files the tests read, all inside the repository (a fixture from elsewhere comes through a variable).
enum TestFiles {
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// A fixture file that was named but cannot be read.
    struct Missing: Error, CustomStringConvertible {
        let path: String
        var description: String { "cannot read \(path); point the variable at the folder that holds it" }
    }

    static func fixture(_ name: String) throws -> Data {
        try Data(contentsOf: repositoryRoot.appendingPathComponent("Tests/VerdictCoreTests/Fixtures/\(name)"))
    }

    static func repositoryFile(_ path: String) throws -> Data {
        try Data(contentsOf: repositoryRoot.appendingPathComponent(path))
    }

    static func lines(_ data: Data) -> [Substring] {
        String(decoding: data, as: UTF8.self).split(separator: "\n")
    }
}
