import ArgumentParser
import Foundation
import VerdictCore
import VerdictEngine
import VerdictRelay
import VerdictStore
import VerdictWazuh

struct Wazuh: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Set Verdict up on a Wazuh manager.",
        subcommands: [Install.self, Uninstall.self, Lists.self]
    )

    /// The manager `install` and `uninstall` work on, and whether they only say what they would do.
    struct ManagerOptions: ParsableArguments {
        @Option(
            help: ArgumentHelp("The Wazuh directory (default: VERDICT_WAZUH_HOME, else /var/ossec).", valueName: "dir")
        )
        var wazuhHome: String?

        @Flag(help: "Only print what would be done.")
        var dryRun = false

        var home: String { CommandContext.wazuhHome(wazuhHome) }
    }

    /// Prints each step as done (or planned) or NOT DONE with what to do; returns how many were not done.
    static func print(_ steps: [WazuhInstaller.Step], dryRun: Bool) -> Int {
        var failed = 0
        for step in steps {
            if let problem = step.problem {
                failed += 1
                CommandContext.writeOut("NOT DONE  \(step.description): \(problem)\n")
            } else {
                CommandContext.writeOut("\(dryRun ? "would" : "done") \(dryRun ? "" : " ") \(step.description)\n")
            }
        }
        return failed
    }

    struct Install: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Install custom-verdict, verdict-ar, the rules and a settings file; print the ossec.conf blocks.",
            discussion: """
                Copies custom-verdict and verdict-ar, built next to this one, into integrations/ and \
                active-response/bin/, each with this executable beside it (the warm engine they hand alerts to), as \
                root:wazuh 0750, writes etc/rules/verdict_rules.xml, creates etc/verdict.yaml (kept if present) \
                and var/verdict/. Says exactly what it could not do (run it as root on the manager).
                """
        )

        @OptionGroup var manager: ManagerOptions

        func run() async throws {
            let home = manager.home
            let binaries = URL(fileURLWithPath: currentExecutablePath()).deletingLastPathComponent().path
            let steps = WazuhInstaller(home: home, binaries: binaries, dryRun: manager.dryRun).run()
            let failed = Wazuh.print(steps, dryRun: manager.dryRun)
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

    struct Uninstall: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove custom-verdict, verdict-ar and the rules from a Wazuh manager; keep settings and data.",
            discussion: """
                Removes integrations/custom-verdict, active-response/bin/verdict-ar and etc/rules/verdict_rules.xml. \
                Keeps etc/verdict.yaml (keys), var/verdict/ (cache, retry queue) and etc/lists/verdict/. Names the \
                ossec.conf blocks that still call Verdict: take them out and restart the manager. The Debian \
                package runs this when it is removed (not when it is upgraded).
                """
        )

        @OptionGroup var manager: ManagerOptions

        func run() async throws {
            let home = manager.home
            let installer = WazuhInstaller(home: home, binaries: "", dryRun: manager.dryRun)
            let failed = Wazuh.print(installer.uninstall(), dryRun: manager.dryRun)
            for kept in installer.keptFiles where FileManager.default.fileExists(atPath: kept) {
                CommandContext.writeOut("kept  \(kept)\n")
            }
            let blocks = installer.blocksStillNamingVerdict()
            if !blocks.isEmpty {
                CommandContext.writeOut(
                    "\n\(home)/etc/ossec.conf still has: \(blocks.joined(separator: ", ")). Take them out, then restart the manager (systemctl restart wazuh-manager).\n"
                )
            }
            if failed > 0 { throw CommandFailure("\(failed) step(s) not done; see NOT DONE above") }
        }
    }

    struct Lists: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Write Wazuh CDB lists of what is known bad now, for rules 100620-100639; optionally reload analysisd.",
            discussion: """
                Writes etc/lists/verdict/{malicious-ip,malicious-domains,malicious-urls,malware-hashes}: the synced \
                feeds' and VERDICT_FEEDS_DIR's malicious entries, malicious overrides and cached malicious verdicts \
                within their TTL, less harmless overrides and suppressed values. Each file is replaced at once \
                (a temporary file and a rename). --reload then asks analysisd to reload its ruleset (Wazuh 4.14: \
                queue/sockets/analysis) and prints its answer; without it, the lists load at the next restart.
                """
        )

        @Option(
            help: ArgumentHelp("The Wazuh directory (default: VERDICT_WAZUH_HOME, else /var/ossec).", valueName: "dir")
        )
        var wazuhHome: String?

        @Flag(help: "Ask analysisd to reload its ruleset (rules, decoders and lists) without a restart.")
        var reload = false

        @Flag(help: "Fill Wazuh's own etc/lists/malicious-ioc/ lists (rules 99900-99999), keeping their entries.")
        var intoWazuhIocLists = false

        @OptionGroup var store: StoreOptions

        func run() async throws {
            let home = CommandContext.wazuhHome(wazuhHome)
            let configuration = try await store.configuration()
            let stores = try await store.stores(configuration)
            let runtime = try await CommandContext.engineRuntime(configuration, on: stores)
            var lists: WazuhLists
            do {
                lists = try await WazuhLists.collect(
                    feeds: stores.feeds,
                    overrides: try await stores.overrides.active(at: Date().timeIntervalSince1970),
                    cache: stores.cache,
                    engine: runtime.engine
                )
            } catch {
                await runtime.shutdown()
                throw CommandFailure("cannot read what is known bad from the store: \(error)")
            }
            await runtime.shutdown()
            let written: [(path: String, count: Int)]
            do {
                if intoWazuhIocLists {
                    lists = lists.mergedIntoWazuhIOCLists(home: home)
                    written = try lists.write(
                        into: home + "/etc/lists/malicious-ioc",
                        fileName: { $0.wazuhIOCFileName }
                    )
                } else {
                    written = try lists.write(into: home + "/etc/lists/verdict")
                }
            } catch {
                throw CommandFailure(
                    "cannot write the lists under \(home)/etc/lists: \(error); run as root or as the wazuh user"
                )
            }
            for file in written { CommandContext.writeOut("wrote \(file.path): \(file.count) keys\n") }
            if lists.networksLeftOut > 0 {
                CommandContext.writeOut(
                    "left out \(lists.networksLeftOut) networks a CDB list cannot hold (IPv6 ranges, IPv4 wider than /8); the local source still matches them\n"
                )
            }
            guard reload else {
                CommandContext.writeOut("analysisd loads them at its next start, or run again with --reload\n")
                return
            }
            let answer: AnalysisdReload.Answer
            do {
                answer = try await runBlocking { try AnalysisdReload.reload(home: home) }
            } catch {
                throw CommandFailure("\(error)")
            }
            let ours = answer.verdictWarnings
            for warning in ours { CommandContext.writeOut("analysisd: \(warning)\n") }
            guard answer.error == 0 else {
                throw CommandFailure(
                    "analysisd refused the new ruleset (error \(answer.error): \(answer.message)); it keeps the old one. Check \(home)/logs/ossec.log"
                )
            }
            let others = answer.warnings.count - ours.count
            CommandContext.writeOut(
                "analysisd reloaded its ruleset: \(answer.message)"
                    + (others > 0 ? " (and \(others) warnings about other rules; wazuh-analysisd -t lists them)" : "")
                    + "\n"
            )
        }
    }
}
