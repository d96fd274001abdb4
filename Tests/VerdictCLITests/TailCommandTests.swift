import Foundation
import Testing

/// `verdict tail` flags that are wrong stop the start with a sentence that says what to give instead.
struct TailCommandTests {
    @Test func aRuleIDThatIsNotANumberIsRefused() async throws {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("ossec-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: home) }
        let run = try await ExtractCommandTests.run(
            ["tail", "--wazuh-home", home.path, "--rule-id", "5712,sshd"],
            environment: ["VERDICT_CONFIG": "", "VERDICT_DATA_DIR": home.path + "/data"]
        )
        #expect(run.status == 2)
        #expect(run.errors.contains(#"--rule-id: "sshd" is not a rule ID"#), "\(run.errors)")
    }
}
