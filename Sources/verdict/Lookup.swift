import ArgumentParser
import Foundation
import VerdictCore
import VerdictEngine
import VerdictSources
import VerdictStore

struct Lookup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Look indicators up across the configured sources (embedded engine, cache in VERDICT_DATA_DIR).",
        discussion: """
            Values may be defanged (185.220.101[.]4, hxxp://…); their type is detected. Sources are on when \
            their key is set (VERDICT_<SOURCE>_API_KEY, VERDICT_ABUSECH_API_KEY for the three abuse.ch sources; \
            InternetDB needs none) — see --explain.
            """
    )

    @Argument(help: "Indicators: addresses, domains, URLs, emails, MD5/SHA-1/SHA-256 hashes.")
    var values: [String] = []

    @Flag(help: "Print the API's results array as JSON.")
    var json = false

    @Option(help: ArgumentHelp("Only these sources, comma-separated.", valueName: "a,b"))
    var sources: String?

    @Flag(help: "Ask the sources again even when the cache has a fresh answer.")
    var refresh = false

    @Flag(help: "Show which sources are on, which are off and why, before the results.")
    var explain = false

    @Option(help: CommandContext.databaseHelp)
    var database: String?

    @Option(help: ArgumentHelp("The YAML settings file (default: VERDICT_CONFIG).", valueName: "file"))
    var config: String?

    /// Checked while parsing, so that the usage printed with the message is this command's.
    func validate() throws {
        if values.isEmpty && !explain { throw ValidationError("give at least one indicator to look up (or --explain)") }
    }

    func run() async throws {
        let configuration: EngineConfiguration
        do {
            configuration = try await EngineConfiguration.load(
                environment: CommandContext.environment,
                configFile: config
            )
        } catch let error as SettingError {
            throw CommandFailure(error.description)
        }
        var items: [(indicator: Indicator, input: String?)] = []
        var problems: [String] = []
        for value in values {
            do {
                items.append((try IndicatorParser.parse(value), value))
            } catch {
                problems.append(error.description)
            }
        }
        guard problems.isEmpty else { throw CommandFailure("not an indicator: " + problems.joined(separator: "; ")) }

        var chosen: Set<String>?
        if let sources {
            let names = Set(sources.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() })
            for name in names.sorted() {
                guard let source = configuration.sources.first(where: { $0.name == name }) else {
                    throw CommandFailure(
                        "unknown source \"\(name)\"; the sources are "
                            + EngineConfiguration.sourceNames.joined(separator: ", ")
                    )
                }
                if let reason = source.offReason { throw CommandFailure("source \(name) is off: \(reason)") }
            }
            chosen = names
        }

        // The store is opened once the input is known good: --explain reads the shared budgets from it.
        let stores = try await CommandContext.openStores(database, configuration: configuration)
        let runtime = try await CommandContext.engineRuntime(configuration, on: stores)
        if explain { CommandContext.writeOut(await Self.explanation(of: configuration, engine: runtime.engine)) }
        guard !items.isEmpty else {
            await runtime.shutdown()
            await stores.close()
            return
        }
        let reports = await runtime.engine.lookUp(items, sources: chosen, refresh: refresh)
        let warnings = runtime.engine.coverageWarnings(for: reports, sources: chosen)
        await runtime.shutdown()
        await stores.close()
        // On standard error, so that --json stays the results array alone.
        for warning in warnings { FileHandle.standardError.write(Data("verdict: warning: \(warning)\n".utf8)) }
        if json {
            var writer = JSONWriter()
            writer.value(.array(reports.map(\.jsonValue)))
            CommandContext.writeOut(writer.text + "\n")
        } else {
            CommandContext.writeOut(reports.map(Self.table).joined(separator: "\n"))
        }
    }

    /// Which sources are on and why the others are off, and each one's shared budget now (the same for every
    /// process on the data directory).
    static func explanation(of configuration: EngineConfiguration, engine: EnrichmentEngine) async -> String {
        var budgets: [String: String] = [:]
        for governor in engine.governors where governor.source.isExternal {
            budgets[governor.source.name] = await governor.budgetStatus()?.description ?? "budget unreadable"
        }
        var lines = ["sources:"]
        for source in configuration.sources {
            let name = source.name.padding(toLength: 14, withPad: " ", startingAt: 0)
            if let reason = source.offReason {
                lines.append("  \(name) off  \(reason)")
            } else {
                let windows = source.policy.windows.map(\.description).joined(separator: ", ")
                let target = source.name == "local" ? (configuration.feedsDirectory ?? "") : (source.baseURL ?? "")
                lines.append(
                    "  \(name) on   \(target), deadline \(source.policy.deadline.milliseconds) ms"
                        + (windows.isEmpty ? "" : ", \(windows)")
                )
                if let budget = budgets[source.name] { lines.append("                 now: \(budget)") }
            }
        }
        lines.append("cache: \(configuration.dataDirectory)/verdict.sqlite")
        return lines.joined(separator: "\n") + "\n\n"
    }

    static func table(_ report: IndicatorReport) -> String {
        var head =
            "\(report.indicator.value) (\(report.indicator.type.rawValue))  \(report.verdict.rawValue.uppercased())"
        if report.verdict != .suppressed {
            head += "  score \(report.score)  confidence \(report.confidence.rawValue)"
            if report.cached { head += "  cached \(report.ageSeconds) s ago" }
        }
        var lines = [head, "  \(report.summary)"]
        if !report.warninglists.isEmpty {
            lines.append("  on warninglists: \(report.warninglists.joined(separator: ", "))")
        }
        for source in report.sources {
            let name = source.source.padding(toLength: 14, withPad: " ", startingAt: 0)
            let status = source.status.rawValue.padding(toLength: 16, withPad: " ", startingAt: 0)
            if source.status == .ok {
                let verdict = (source.verdict?.rawValue ?? "").padding(toLength: 11, withPad: " ", startingAt: 0)
                let evidence = source.evidence.map { "  \($0)" } ?? ""
                lines.append(
                    "  \(name)\(status)\(verdict)\(String(source.score ?? 0).padding(toLength: 5, withPad: " ", startingAt: 0))\(evidence)\(source.link.map { "  \($0)" } ?? "")"
                )
            } else {
                lines.append("  \(name)\(status)\(source.error ?? "")")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
