import Foundation
import Testing
import VerdictTestSupport
import VerdictWazuh

#if canImport(Glibc)
import Glibc
#endif

/// wazuh-execd runs `verdict-ar` as root in folders the `wazuh` group can write. A `wazuh` user who plants
/// links there and feeds an alert with a newline in its id must get nothing written as root, anywhere.
/// These run as root (CI does), with `nobody` standing in for the `wazuh` user.
@Suite(.enabled(if: getuid() == 0, "needs root, as wazuh-execd runs verdict-ar; CI runs as root"))
struct ActiveResponseHardeningTests {
    typealias Home = IntegrationProcessTests.WazuhHome

    /// The stand-in for the `wazuh` user.
    static let nobodyUser: uid_t = getpwnam("nobody")?.pointee.pw_uid ?? 65534
    static let nobodyGroup: gid_t = getpwnam("nobody")?.pointee.pw_gid ?? 65534

    /// An alert whose id would start a new log line that a shell reading the file runs.
    static func message(alertID: String) -> String {
        let alert = IntegrationProcessTests.sshdAlert.replacingOccurrences(
            of: #""id":"1716200000.12345""#,
            with: #""id":"\#(alertID)""#
        )
        return
            #"{"version":1,"origin":{"name":"node01","module":"wazuh-execd"},"command":"add","parameters":{"extra_args":[],"alert":"#
            + alert + #","program":"active-response/bin/verdict-ar"}}"# + "\n"
    }

    static func run(_ home: Home, _ message: String) async throws -> WazuhProcess.Finished {
        try await home.runActiveResponse(message)
    }

    /// A folder only root can enter, for the files an attack would create.
    static func rootOnlyFolder() throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("root-only-\(UUID())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
        chmod(folder, 0o700)
        return folder
    }

    /// A link as the `wazuh` user would plant it.
    static func plant(_ link: String, to target: String) {
        unlink(link)
        symlink(target, link)
        lchown(link, nobodyUser, nobodyGroup)
    }

    @Test func plantedLinksAndNewlinesWriteNothingAsRoot() async throws {
        let home = try Home()
        let elsewhere = try Self.rootOnlyFolder()
        defer { try? FileManager.default.removeItem(atPath: elsewhere) }
        Self.plant(home.path + "/logs/active-responses.log", to: elsewhere + "/profile.sh")
        Self.plant(home.path + "/var/verdict/verdict.sqlite.lock", to: elsewhere + "/lock")
        Self.plant(home.path + "/var/verdict/verdict.sqlite", to: elsewhere + "/db")

        let attack = try await Self.run(home, Self.message(alertID: #"1.2\nid > /tmp/verdict-pwned #"#))
        #expect(attack.status != 0, "the store cannot be opened through a link: \(attack.output)")
        let created = try FileManager.default.contentsOfDirectory(atPath: elsewhere)
        #expect(created.isEmpty, "nothing is written through a planted link: \(created)")

        // Without the links: it runs as the Wazuh user, and the newline stays inside one escaped line.
        for link in ["logs/active-responses.log", "var/verdict/verdict.sqlite.lock", "var/verdict/verdict.sqlite"] {
            unlink(home.path + "/" + link)
        }
        let clean = try await Self.run(home, Self.message(alertID: #"1.2\nid > /tmp/verdict-pwned #"#))
        #expect(clean.status == 0, "\(clean.output)")
        let log = home.path + "/logs/active-responses.log"
        let text = try String(contentsOfFile: log, encoding: .utf8)
        #expect(text.split(separator: "\n").count == 1, "one run, one line: \(text)")
        #expect(text.contains(#"alert 1.2\nid > /tmp/verdict-pwned #"#), "the newline written out: \(text)")
        for file in [log, home.path + "/var/verdict/verdict.sqlite"] {
            let owner = try FileManager.default.attributesOfItem(atPath: file)[.ownerAccountID] as? Int
            #expect(owner == Int(Self.nobodyUser), "\(file) is written by the Wazuh user, not root")
        }
    }

    @Test(.enabled(if: getpwnam("wazuh") == nil, "a machine with a wazuh user has one to become"))
    func withNoWazuhUserToBecomeItRefusesToRunAsRoot() async throws {
        let home = try Home()
        chown(home.path + "/var/verdict", 0, 0)
        let run = try await Self.run(home, Self.message(alertID: "1.3"))
        #expect(run.status == IntegrationFailure.Kind.badSettings.rawValue)
        #expect(run.output.contains("running as root") && run.output.contains("chown wazuh:wazuh"), "\(run.output)")
        #expect(!FileManager.default.fileExists(atPath: home.path + "/logs/active-responses.log"))
        #expect(home.receiver!.datagrams.isEmpty)
    }
}
