import ArgumentParser
import Foundation
import VerdictCore

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
