import ArgumentParser
import Foundation
import VerdictCore
import VerdictRelay
import VerdictWazuh

@main
struct Verdict: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Threat-intelligence enrichment for Wazuh.",
        version: verdictVersion,
        subcommands: [
            Extract.self, Lookup.self, Serve.self, Keys.self, Usage.self, Wazuh.self, Tail.self, Replay.self,
            Retry.self, Bench.self, Feeds.self, Override.self,
        ]
    )

    /// Runs the chosen subcommand; a `CommandFailure` is printed as one line and exits with status 2.
    static func main() async {
        // The relays' two entry points (VerdictRelay's `Relay`), taken before the parser: integratord's arguments
        // (empty strings, a literal `> /dev/null 2>&1`) are not options, and they are not for people to type.
        let arguments = Array(CommandLine.arguments.dropFirst())
        if arguments == Relay.engineCommand {
            Foundation.exit(
                await WarmEngine.serve(idle: WarmEngine.idleTime(environment: ProcessInfo.processInfo.environment))
            )
        }
        let coldRun = arguments.dropFirst(Relay.coldRunCommand.count)
        if arguments.starts(with: Relay.coldRunCommand), coldRun.count >= 2,
            let program = RelayedProgram(rawValue: coldRun[coldRun.startIndex])
        {
            let relayPath = coldRun[coldRun.startIndex + 1]
            Foundation.exit(
                await RelayedRun.cold(program, relayPath: relayPath, arguments: Array(coldRun.dropFirst(2)))
            )
        }
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let failure as CommandFailure {
            FileHandle.standardError.write(Data("verdict: \(failure)\n".utf8))
            Foundation.exit(2)
        } catch {
            exit(withError: error)
        }
    }
}
