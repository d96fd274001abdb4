import ArgumentParser
import Foundation
import VerdictStore

struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage API keys: create (shown once), list, revoke.",
        subcommands: [Create.self, List.self, Revoke.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a key; it is printed once, alone on the last line, and stored only as a hash."
        )

        @Option(help: "A name for the key (the customer or the system that uses it).")
        var name: String

        @Option(help: "free (100 credits a month), starter (500), professional (2,500) or enterprise (unlimited).")
        var plan: String

        @Option(help: "Credits a month instead of the plan's.")
        var credits: Int?

        @OptionGroup var store: StoreOptions

        func run() async throws {
            guard let chosen = Plan(rawValue: plan.lowercased()) else {
                throw CommandFailure(
                    "unknown plan \"\(plan)\"; the plans are " + Plan.allCases.map(\.rawValue).joined(separator: ", ")
                )
            }
            let created: CreatedKey
            do {
                created = try await store.accounts().createKey(name: name, plan: chosen, monthlyCredits: credits)
            } catch let error as StoreError {
                throw CommandFailure(error.description)
            }
            let allowance = created.key.monthlyCredits.map { "\($0) credits a month" } ?? "no credit limit"
            CommandContext.writeOut(
                """
                Created key "\(created.key.name)" (\(chosen.rawValue) plan, \(allowance)) in that database; a server \
                knows it when it uses the same database (--database, VERDICT_DATABASE_URL or VERDICT_DATA_DIR).
                It is shown only this once:
                \(created.secret)

                """
            )
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List keys (never their secrets) and this month's use."
        )

        @OptionGroup var store: StoreOptions

        func run() async throws {
            let accounts = try await store.accounts()
            let keys: [APIKey]
            do {
                keys = try await accounts.keys()
            } catch let error as StoreError {
                throw CommandFailure(error.description)
            }
            guard !keys.isEmpty else {
                CommandContext.writeOut("no keys; create one with verdict keys create --name N --plan P\n")
                return
            }
            var rows = [["NAME", "PREFIX", "PLAN", "CREDITS/MONTH", "USED", "LEFT", "CREATED", "STATUS"]]
            let now = Date()
            for key in keys {
                let usage = try await accounts.usage(keyID: key.id, at: now)
                rows.append([
                    key.name, "vk_" + key.prefix + "…", key.plan.rawValue,
                    key.monthlyCredits.map(String.init) ?? "unlimited", String(usage.creditsUsed),
                    usage.creditsLeft.map(String.init) ?? "-", CommandContext.day(key.createdAt),
                    key.revokedAt.map { "revoked " + CommandContext.day($0) } ?? "active",
                ])
            }
            CommandContext.writeOut(CommandContext.table(rows))
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke the active key with this name; servers refuse it within a second."
        )

        @Argument(help: "The key's name.")
        var name: String

        @OptionGroup var store: StoreOptions

        func run() async throws {
            guard try await store.accounts().revokeKey(named: name) else {
                throw CommandFailure("no active key named \"\(name)\"; see verdict keys list")
            }
            CommandContext.writeOut("revoked key \"\(name)\"\n")
        }
    }
}

struct Usage: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show this month's credits and counts per key (the figures GET /v1/usage gives each key)."
    )

    @Option(help: "Only this key.")
    var name: String?

    @OptionGroup var store: StoreOptions

    func run() async throws {
        let accounts = try await store.accounts()
        let keys = try await accounts.keys().filter { !$0.isRevoked && (name == nil || $0.name == name) }
        if let name, keys.isEmpty { throw CommandFailure("no active key named \"\(name)\"; see verdict keys list") }
        var rows = [["NAME", "MONTH", "CREDITS USED", "LEFT", "REQUESTS", "LOOKUPS", "CACHE HITS", "UPSTREAM"]]
        let now = Date()
        for key in keys {
            let usage = try await accounts.usage(keyID: key.id, at: now)
            rows.append([
                key.name, usage.month, String(usage.creditsUsed), usage.creditsLeft.map(String.init) ?? "unlimited",
                String(usage.counters.requests), String(usage.counters.lookups), String(usage.counters.cacheHits),
                String(usage.counters.upstreamLookups),
            ])
        }
        CommandContext.writeOut(CommandContext.table(rows))
    }
}
