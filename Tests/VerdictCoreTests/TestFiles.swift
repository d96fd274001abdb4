import Foundation

/// Files the tests read: the shared public fixtures beside the repository, and this target's own.
enum TestFiles {
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `../shared/fixtures/NAME`, which CI and every developer checkout have beside the repository.
    static func sharedFixture(_ name: String) throws -> Data {
        try Data(
            contentsOf: repositoryRoot.deletingLastPathComponent().appendingPathComponent("shared/fixtures/\(name)")
        )
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
