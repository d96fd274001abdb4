import ArgumentParser
import Foundation
import VerdictWazuh

struct Wazuh: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Set Verdict up on a Wazuh manager.",
        subcommands: [Install.self]
    )

    struct Install: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Install custom-verdict, verdict-ar, the rules and a settings file; print the ossec.conf blocks.",
            discussion: """
                Copies the executables built next to this one into integrations/ and active-response/bin/ as \
                root:wazuh 0750, writes etc/rules/verdict_rules.xml, creates etc/verdict.yaml (kept if present) \
                and var/verdict/. Says exactly what it could not do (run it as root on the manager).
                """
        )

        @Option(
            help: ArgumentHelp("The Wazuh directory (default: VERDICT_WAZUH_HOME, else /var/ossec).", valueName: "dir")
        )
        var wazuhHome: String?

        @Flag(help: "Only print what would be done.")
        var dryRun = false

        func run() async throws {
            let home = CommandContext.wazuhHome(wazuhHome)
            let binaries = URL(fileURLWithPath: currentExecutablePath()).deletingLastPathComponent().path
            let steps = WazuhInstaller(home: home, binaries: binaries, dryRun: dryRun).run()
            var failed = 0
            for step in steps {
                if let problem = step.problem {
                    failed += 1
                    CommandContext.writeOut("NOT DONE  \(step.description): \(problem)\n")
                } else {
                    CommandContext.writeOut("\(dryRun ? "would" : "done") \(dryRun ? "" : " ") \(step.description)\n")
                }
            }
            CommandContext.writeOut(
                """

                Add these blocks to \(home)/etc/ossec.conf (one <integration>: embedded or client mode), then
                restart the manager (systemctl restart wazuh-manager):

                \(WazuhFiles.ossecConfExample.replacingOccurrences(of: "/var/ossec", with: home))

                """
            )
            if failed > 0 { throw CommandFailure("\(failed) step(s) not done; see NOT DONE above") }
        }
    }
}
