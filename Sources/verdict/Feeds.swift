import ArgumentParser
import Foundation
import VerdictCore
import VerdictEngine
import VerdictSources
import VerdictStore

struct Feeds: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Download the bulk feeds of the settings into the store's index; list them.",
        subcommands: [Sync.self, List.self]
    )

    struct Sync: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Download each feed of `feeds:` (or one) and index it; a failed download keeps the last good copy.",
            discussion: """
                Conditional requests (ETag, Last-Modified) make an unchanged feed cost one round trip. Feeds no \
                longer in the settings are taken out of the index (unless --feed names one). Exit status 1 when a \
                feed failed; each failure names the feed and why.
                """
        )

        @Option(help: "Only this feed (its name in the settings).")
        var feed: String?

        @OptionGroup var store: StoreOptions

        func run() async throws {
            let configuration = try await store.configuration()
            var feeds = configuration.feeds
            if let feed {
                feeds = feeds.filter { $0.name == feed }
                guard !feeds.isEmpty else {
                    throw CommandFailure(
                        "no feed named \"\(feed)\" in the settings; the feeds are: "
                            + (configuration.feeds.map(\.name).joined(separator: ", ").nonEmpty
                                ?? "none (add feeds: to verdict.yaml)")
                    )
                }
            }
            let stores = try await store.stores(configuration)
            let syncer = FeedSyncer(store: stores.feeds)
            let reports: [FeedSyncReport]
            do {
                reports = try await syncer.sync(feeds, removingOthers: feed == nil)
            } catch {
                await syncer.shutdown()
                throw CommandFailure("cannot write the feed index: \(error)")
            }
            await syncer.shutdown()
            if configuration.feeds.isEmpty {
                CommandContext.writeOut("no feeds in the settings (feeds: in verdict.yaml); nothing to download\n")
            }
            for report in reports { CommandContext.writeOut(report.line + "\n") }
            let failed = reports.filter { if case .failed = $0.outcome { true } else { false } }
            if !failed.isEmpty { throw ExitCode(1) }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Each feed in the index: entries, age of its last good copy, last error."
        )

        @Flag(help: "Print JSON instead of a table.")
        var json = false

        @OptionGroup var store: StoreOptions

        func run() async throws {
            let configuration = try await store.configuration()
            let stores = try await store.stores(configuration)
            let states: [FeedState]
            do {
                states = try await stores.feeds.states()
            } catch {
                throw CommandFailure("cannot read the feed index: \(error)")
            }
            let now = Date().timeIntervalSince1970
            let configured = Set(configuration.feeds.map(\.name))
            // Feeds in the settings but never synced are listed too: "why is my feed empty?".
            var rows = states
            for feed in configuration.feeds where !states.contains(where: { $0.name == feed.name }) {
                rows.append(
                    FeedState(
                        name: feed.name,
                        origin: .download,
                        location: feed.url,
                        format: feed.format.rawValue,
                        verdict: feed.verdict
                    )
                )
            }
            rows.sort { $0.name < $1.name }
            if json {
                var writer = JSONWriter()
                writer.value(.array(rows.map { FeedStatus($0, now: now, configured: configured).json }))
                CommandContext.writeOut(writer.text + "\n")
                return
            }
            var table = [["FEED", "ORIGIN", "FORMAT", "VERDICT", "ENTRIES", "AGE", "LAST ERROR"]]
            for state in rows {
                let status = FeedStatus(state, now: now, configured: configured)
                table.append([
                    state.name, state.origin.rawValue, state.format, state.verdict.rawValue, String(state.entryCount),
                    status.age, state.lastError ?? (status.isStale ? "not in the settings any more" : "-"),
                ])
            }
            CommandContext.writeOut(CommandContext.table(table))
        }
    }
}

/// One feed's line in `verdict feeds list`.
struct FeedStatus {
    let state: FeedState
    let now: Double
    let configured: Set<String>

    init(_ state: FeedState, now: Double, configured: Set<String>) {
        self.state = state
        self.now = now
        self.configured = configured
    }

    var isStale: Bool { state.origin == .download && !configured.contains(state.name) }

    var age: String {
        guard let synced = state.syncedAt else { return "never synced" }
        let seconds = max(0, Int(now - synced))
        if seconds < 120 { return "\(seconds)s" }
        if seconds < 7_200 { return "\(seconds / 60)m" }
        if seconds < 172_800 { return "\(seconds / 3_600)h" }
        return "\(seconds / 86_400)d"
    }

    var json: JSONValue {
        var fields: [(key: String, value: JSONValue)] = [
            ("name", .string(state.name)), ("origin", .string(state.origin.rawValue)),
            ("location", .string(state.location)), ("format", .string(state.format)),
            ("verdict", .string(state.verdict.rawValue)), ("entries", .number(String(state.entryCount))),
        ]
        fields.append(("synced_at", state.syncedAt.map { .number(String(Int($0))) } ?? .null))
        fields.append(("age_s", state.syncedAt.map { .number(String(max(0, Int(now - $0)))) } ?? .null))
        fields.append(("checked_at", state.checkedAt.map { .number(String(Int($0))) } ?? .null))
        fields.append(("last_error", state.lastError.map(JSONValue.string) ?? .null))
        return .object(fields)
    }
}

extension String {
    var nonEmpty: String? { isEmpty ? nil : self }
}
