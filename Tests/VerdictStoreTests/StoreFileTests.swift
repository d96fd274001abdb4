import Foundation
import GRDB
import Testing
import VerdictSQLite
import VerdictStore

#if canImport(Glibc)
import Glibc
#endif

/// The store holds key prefixes and every lookup: only its user (and, in a Wazuh home, the `wazuh` group)
/// may read it, and it is never opened through a link.
struct StoreFileTests {
    static func mode(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions]) as? Int) ?? -1
    }

    @Test func aNewDataDirectoryAndItsFilesAreTheUsersAlone() async throws {
        let directory = SQLiteLookupCacheTests.temporaryDirectory() + "/nested/data"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let database = try VerdictDatabase(directory: directory)
        try await database.writer.write { db in try db.execute(sql: "CREATE TABLE probe (x)") }
        #expect(Self.mode(directory) == 0o700)
        for file in ["verdict.sqlite", "verdict.sqlite-wal", "verdict.sqlite-shm", "verdict.sqlite.lock"] {
            #expect(Self.mode(directory + "/" + file) == 0o600, "\(file)")
        }
    }

    @Test func aGroupFolderGivesTheGroupItsFilesAndLooseModesAreTightened() throws {
        let directory = SQLiteLookupCacheTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        chmod(directory, 0o770)  // as `verdict wazuh install` makes <home>/var/verdict
        #expect(FileManager.default.createFile(atPath: directory + "/verdict.sqlite", contents: nil))
        chmod(directory + "/verdict.sqlite", 0o644)
        _ = try VerdictDatabase(directory: directory)
        #expect(Self.mode(directory + "/verdict.sqlite") == 0o660)
        #expect(Self.mode(directory + "/verdict.sqlite.lock") == 0o660)
    }

    @Test func aLinkInPlaceOfTheDatabaseIsRefusedWithTheFix() throws {
        let directory = SQLiteLookupCacheTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let target = directory + "/elsewhere.sqlite"
        symlink(target, directory + "/verdict.sqlite")
        #expect {
            try VerdictDatabase(directory: directory)
        } throws: { error in
            String(describing: error).contains("is a symbolic link") && String(describing: error).contains("Remove it")
        }
        #expect(!FileManager.default.fileExists(atPath: target))
    }
}
