import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `verdict wazuh install` on a temporary manager directory.
struct WazuhInstallCommandTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    func manager() throws -> String {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("ossec-\(UUID().uuidString.prefix(8))")
            .path
        try FileManager.default.createDirectory(atPath: home + "/etc", withIntermediateDirectories: true)
        return home
    }

    @Test func dryRunChangesNothingAndPrintsTheBlocks() async throws {
        let home = try manager()
        defer { try? FileManager.default.removeItem(atPath: home) }
        let run = try await ExtractCommandTests.run(["wazuh", "install", "--wazuh-home", home, "--dry-run"])
        #expect(run.status == 0, "\(run.errors)")
        #expect(run.output.contains("would  copy"))
        #expect(run.output.contains("set \(home)/integrations/custom-verdict to root:wazuh 750"))
        #expect(run.output.contains("<name>custom-verdict</name>"))
        #expect(run.output.contains("<command>verdict-ar</command>"))
        #expect(run.output.contains("\(home)/etc/verdict.yaml"), "the blocks name the given home")
        #expect(!run.output.contains("/var/ossec"), "no path of another home")
        #expect(!FileManager.default.fileExists(atPath: home + "/integrations"))
    }

    @Test func installCopiesWithWazuhsModesAndSaysWhatItCouldNotDo() async throws {
        let home = try manager()
        defer { try? FileManager.default.removeItem(atPath: home) }
        try "virustotal:\n  api_key: mine\n".write(
            toFile: home + "/etc/verdict.yaml",
            atomically: true,
            encoding: .utf8
        )
        let run = try await ExtractCommandTests.run(["wazuh", "install", "--wazuh-home", home])
        let executables = [
            "/integrations/custom-verdict", "/active-response/bin/verdict-ar",
            "/integrations/verdict", "/active-response/bin/verdict",
        ]
        for path in executables {
            let attributes = try FileManager.default.attributesOfItem(atPath: home + path)
            #expect((attributes[.posixPermissions] as? Int) == 0o750, "\(path)")
            #expect(FileManager.default.isExecutableFile(atPath: home + path))
        }
        // The relays' engine is one file in both folders, so one warm engine serves integratord and execd.
        let integrationEngine = try FileManager.default.attributesOfItem(atPath: home + "/integrations/verdict")
        let activeResponseEngine = try FileManager.default.attributesOfItem(
            atPath: home + "/active-response/bin/verdict"
        )
        #expect(integrationEngine[.systemFileNumber] as? Int == activeResponseEngine[.systemFileNumber] as? Int)
        #expect(integrationEngine[.referenceCount] as? Int == 2)
        let rules = try String(contentsOfFile: home + "/etc/rules/verdict_rules.xml", encoding: .utf8)
        #expect(rules.contains(#"<rule id="100600" level="0">"#))
        let shipped = try String(contentsOfFile: Self.repository + "/wazuh/rules/verdict_rules.xml", encoding: .utf8)
        #expect(rules == shipped, "the installed rules are the shipped file, final newline included")
        #expect(try String(contentsOfFile: home + "/etc/verdict.yaml", encoding: .utf8).contains("api_key: mine"))
        #expect(run.output.contains("keep the existing \(home)/etc/verdict.yaml"))
        #expect(FileManager.default.fileExists(atPath: home + "/var/verdict"))
        // analysisd, as wazuh, writes each list's NAME.cdb beside it: the folder must be the group's to write.
        let lists = try FileManager.default.attributesOfItem(atPath: home + "/etc/lists/verdict")
        #expect((lists[.posixPermissions] as? Int) == 0o770)
        for name in ["malicious-ip", "malicious-domains", "malicious-urls", "malware-hashes"] {
            let list = try FileManager.default.attributesOfItem(atPath: home + "/etc/lists/verdict/" + name)
            #expect((list[.posixPermissions] as? Int) == 0o660, "\(name)")
        }
        if getgrnam("wazuh") == nil {
            #expect(run.status == 2)
            #expect(run.output.contains("NOT DONE  set the owner of \(home)/integrations/custom-verdict to root:wazuh"))
            #expect(run.output.contains("chown root:wazuh \(home)/integrations/custom-verdict"))
            #expect(run.errors.contains("step(s) not done"))
        }

        let nowhere = try await ExtractCommandTests.run(["wazuh", "install", "--wazuh-home", home + "/missing"])
        #expect(nowhere.status == 2)
        #expect(nowhere.output.contains("give the manager's directory with --wazuh-home"))
    }

    @Test func uninstallRemovesTheProgramAndKeepsSettingsDataAndLists() async throws {
        let home = try manager()
        defer { try? FileManager.default.removeItem(atPath: home) }
        try """
        <ossec_config>
          <integration><name>custom-verdict</name><alert_format>json</alert_format></integration>
          <ruleset><list>etc/lists/verdict/malicious-ip</list></ruleset>
        </ossec_config>
        """.write(toFile: home + "/etc/ossec.conf", atomically: true, encoding: .utf8)
        _ = try await ExtractCommandTests.run(["wazuh", "install", "--wazuh-home", home])
        try "virustotal:\n  api_key: mine\n".write(
            toFile: home + "/etc/verdict.yaml",
            atomically: true,
            encoding: .utf8
        )
        try "cached".write(toFile: home + "/var/verdict/verdict.sqlite", atomically: true, encoding: .utf8)

        let planned = try await ExtractCommandTests.run(["wazuh", "uninstall", "--wazuh-home", home, "--dry-run"])
        #expect(planned.status == 0, "\(planned.errors)")
        #expect(planned.output.contains("would  remove \(home)/integrations/custom-verdict"))
        #expect(
            FileManager.default.fileExists(atPath: home + "/integrations/custom-verdict"),
            "a dry run removes nothing"
        )

        let run = try await ExtractCommandTests.run(["wazuh", "uninstall", "--wazuh-home", home])
        #expect(run.status == 0, "\(run.output) \(run.errors)")
        let program = [
            "integrations/custom-verdict", "active-response/bin/verdict-ar", "integrations/verdict",
            "active-response/bin/verdict", "etc/rules/verdict_rules.xml",
        ]
        for gone in program {
            #expect(!FileManager.default.fileExists(atPath: home + "/" + gone), "\(gone)")
            #expect(run.output.contains("done   remove \(home)/\(gone)"))
        }
        #expect(try String(contentsOfFile: home + "/etc/verdict.yaml", encoding: .utf8).contains("api_key: mine"))
        #expect(FileManager.default.fileExists(atPath: home + "/var/verdict/verdict.sqlite"))
        #expect(FileManager.default.fileExists(atPath: home + "/etc/lists/verdict/malicious-ip"))
        #expect(run.output.contains("kept  \(home)/etc/verdict.yaml"))
        #expect(run.output.contains("still has: <integration> custom-verdict"), "the block integratord would still run")

        let again = try await ExtractCommandTests.run(["wazuh", "uninstall", "--wazuh-home", home])
        #expect(again.status == 0, "a second uninstall (the package after a manual one) is no error")
        #expect(again.output.contains("\(home)/integrations/custom-verdict is not there"))
    }

    @Test func versionIsPrintedAsPackagesReadIt() async throws {
        let run = try await ExtractCommandTests.run(["--version"])
        #expect(run.status == 0)
        let version = run.output.trimmingCharacters(in: .whitespacesAndNewlines)
        let parts = version.split(separator: ".")
        #expect(parts.count == 3 && parts.allSatisfy { Int($0) != nil }, "MAJOR.MINOR.PATCH, not \(version)")
    }
}
