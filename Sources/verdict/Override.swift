import ArgumentParser
import Foundation
import VerdictCore
import VerdictEngine
import VerdictStore

struct Override: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "An analyst's verdict on a value, which wins over every source: add, list, remove.",
        subcommands: [Add.self, List.self, Remove.self]
    )

    static func indicator(_ value: String) throws -> Indicator {
        do {
            return try IndicatorParser.parse(value).withoutCredentials
        } catch {
            throw CommandFailure("\(error); give an address, domain, URL, email or hash")
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Set a value's verdict (replacing an earlier override on it); costs nothing, named in the summary."
        )

        @Argument(help: "The value: an address, domain (covers its subdomains), URL, email or hash.")
        var value: String

        @Option(help: "malicious or harmless.")
        var verdict: String

        @Option(help: "Why, as the summary will say it (\"analyst: <reason>\").")
        var reason: String?

        @Option(help: "When it ends: 30d, 12h, 90m (default: never).")
        var expires: String?

        @OptionGroup var store: StoreOptions

        func run() async throws {
            let indicator = try Override.indicator(value)
            guard let chosen = VerdictCore.Verdict(rawValue: verdict.lowercased()),
                chosen == .malicious || chosen == .harmless
            else {
                throw CommandFailure("--verdict must be malicious or harmless, not \"\(verdict)\"")
            }
            let now = Date().timeIntervalSince1970
            var expiresAt: Double?
            if let expires {
                guard let seconds = DurationText.seconds(expires) else {
                    throw CommandFailure("--expires \"\(expires)\" is not a duration such as 30d, 12h or 90m")
                }
                expiresAt = now + seconds
            }
            let override = AnalystOverride(
                indicator: indicator,
                verdict: chosen,
                reason: reason?.trimmingCharacters(in: .whitespacesAndNewlines).nonEmpty,
                author: "cli:" + (ProcessInfo.processInfo.environment["USER"] ?? "\(getuid())"),
                createdAt: now,
                expiresAt: expiresAt
            )
            do {
                try await store.overrides().put(override)
            } catch let error as CommandFailure {
                throw error
            } catch {
                throw CommandFailure("cannot keep the override: \(error)")
            }
            let until =
                expiresAt.map { " until " + ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: $0)) } ?? ""
            CommandContext.writeOut(
                "\(indicator.type.rawValue) \(indicator.value) is \(chosen.rawValue)\(until): \(override.summary)\n"
            )
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The overrides in force (expired ones are gone).")

        @Flag(help: "Print JSON instead of a table.")
        var json = false

        @OptionGroup var store: StoreOptions

        func run() async throws {
            let overrides: [AnalystOverride]
            do {
                overrides = try await store.overrides().active(at: Date().timeIntervalSince1970)
            } catch let error as CommandFailure {
                throw error
            } catch {
                throw CommandFailure("cannot read the overrides: \(error)")
            }
            if json {
                var writer = JSONWriter()
                writer.value(.array(overrides.map(OverrideJSON.object)))
                CommandContext.writeOut(writer.text + "\n")
                return
            }
            var table = [["TYPE", "VALUE", "VERDICT", "EXPIRES", "BY", "REASON"]]
            for override in overrides {
                table.append([
                    override.indicator.type.rawValue, override.indicator.value, override.verdict.rawValue,
                    override.expiresAt.map { CommandContext.day(Date(timeIntervalSince1970: $0)) } ?? "never",
                    override.author, override.reason ?? "",
                ])
            }
            CommandContext.writeOut(CommandContext.table(table))
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Take a value's override away.")

        @Argument(help: "The value, as it was added.")
        var value: String

        @OptionGroup var store: StoreOptions

        func run() async throws {
            let indicator = try Override.indicator(value)
            let removed: Bool
            do {
                removed = try await store.overrides().remove(indicator)
            } catch let error as CommandFailure {
                throw error
            } catch {
                throw CommandFailure("cannot remove the override: \(error)")
            }
            guard removed else { throw CommandFailure("no override on \(indicator.type.rawValue) \(indicator.value)") }
            CommandContext.writeOut("removed the override on \(indicator.type.rawValue) \(indicator.value)\n")
        }
    }
}

extension StoreOptions {
    func overrides() async throws -> any OverrideStore {
        try await stores(configuration()).overrides
    }
}
