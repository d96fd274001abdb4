import Foundation
import Testing
import VerdictCore

/// The 352 public extraction cases of another project (`ioc-public.jsonl`), judged by the rules of its
/// `ioc-public.md`: `expect` reported, `detect` reported or suppressed, `suppress` suppressed for the right
/// kind of reason, `must_not` never reported, and with `complete` nothing else reported but the host of a
/// reported URL or email.
struct PublicFixtureCase: CustomTestStringConvertible, Sendable {
    let id: String
    let text: String
    let expect: [String: [[String]]]
    let detect: [String: [[String]]]
    let either: [String: [[String]]]
    let suppress: [String: [String]]
    let suppressKind: [String: String]
    let mustNot: [String: [String]]
    let complete: Bool

    var testDescription: String { id }

    /// The cases are other projects' test data and stay out of this repository: they are read from the folder
    /// named by `VERDICT_PUBLIC_FIXTURES`, which `.ci/run` sets when the team's shared fixtures are beside the
    /// clone. Without it these tests do not run, and say why.
    static let folderVariable = "VERDICT_PUBLIC_FIXTURES"
    static let file: String? = ProcessInfo.processInfo.environment[folderVariable].flatMap { folder in
        folder.isEmpty ? nil : URL(fileURLWithPath: folder).appendingPathComponent("ioc-public.jsonl").path
    }
    static let notGiven: Comment =
        "\(folderVariable) is not set: the public extraction cases are not in this repository"

    /// Every case of the file, or an error naming the file; lines that are not a JSON object count as unread.
    static let loaded: Result<[PublicFixtureCase], TestFiles.Missing> = {
        guard let file else { return .success([]) }
        guard let data = FileManager.default.contents(atPath: file) else {
            return .failure(TestFiles.Missing(path: file))
        }
        return .success(
            TestFiles.lines(data).compactMap { line in
                guard let document = try? JSONValue(parsing: String(line)) else { return nil }
                return PublicFixtureCase(document)
            }
        )
    }()

    static var all: [PublicFixtureCase] { (try? loaded.get()) ?? [] }

    init(_ document: JSONValue) {
        func alternatives(_ key: String) -> [String: [[String]]] {
            guard case .object(let members)? = document[key] else { return [:] }
            var result: [String: [[String]]] = [:]
            for member in members {
                guard case .array(let values) = member.value else { continue }
                result[member.key] = values.map { value in
                    if case .array(let options) = value { return options.compactMap(\.scalarText) }
                    return [value.scalarText ?? ""]
                }
            }
            return result
        }
        func plain(_ key: String) -> [String: [String]] { alternatives(key).mapValues { $0.flatMap { $0 } } }
        id = document["id"]?.scalarText ?? "?"
        text = document["text"]?.scalarText ?? ""
        expect = alternatives("expect")
        detect = alternatives("detect")
        either = alternatives("either")
        suppress = plain("suppress")
        mustNot = plain("must_not")
        var kinds: [String: String] = [:]
        if case .object(let members)? = document["suppress_kind"] {
            for member in members { kinds[member.key] = member.value.scalarText }
        }
        suppressKind = kinds
        complete = document["complete"] != .bool(false)
    }
}

struct PublicFixtureTests {
    @Test(.enabled(if: PublicFixtureCase.file != nil, PublicFixtureCase.notGiven))
    func theWholeFixtureFileIsRead() throws {
        let file = PublicFixtureCase.file ?? ""
        let cases = try PublicFixtureCase.loaded.get()
        #expect(cases.count == 352, "read \(cases.count) of the 352 cases from \(file)")
    }

    static func key(_ type: String, _ value: String) -> String {
        "\(type):\(type == "email" ? value.lowercased() : value)"
    }

    /// The fixture's kinds are coarser than Verdict's reasons: `reserved:documentation` is `reserved`.
    static func kind(ofReason reason: String) -> String {
        if reason.hasPrefix("warninglist:") { return "warninglist" }
        if reason.hasPrefix("special-name:") { return "special-name" }
        if reason == "private" { return "private" }
        return reason.hasPrefix("reserved:") ? "reserved" : reason
    }

    @Test(.enabled(if: PublicFixtureCase.file != nil, PublicFixtureCase.notGiven), arguments: PublicFixtureCase.all)
    func fixtureCase(_ fixture: PublicFixtureCase) {
        let result = IndicatorExtractor().extract(text: fixture.text)
        let reported = Set(result.indicators.map { Self.key($0.indicator.type.rawValue, $0.indicator.value) })
        var suppressed: [String: String] = [:]
        for item in result.suppressed {
            suppressed[Self.key(item.indicator.type.rawValue, item.indicator.value)] = item.reason
        }

        var allowed = Set<String>()
        for group in [fixture.expect, fixture.detect, fixture.either] {
            for (type, values) in group {
                for options in values { for value in options { allowed.insert(Self.key(type, value)) } }
            }
        }
        for (type, values) in fixture.expect {
            for options in values {
                #expect(
                    options.contains { reported.contains(Self.key(type, $0)) },
                    "\(fixture.id): \(type) \(options) not reported"
                )
            }
        }
        for (type, values) in fixture.detect {
            for options in values {
                let found = options.contains {
                    reported.contains(Self.key(type, $0)) || suppressed[Self.key(type, $0)] != nil
                }
                #expect(found, "\(fixture.id): \(type) \(options) neither reported nor suppressed")
            }
        }
        for (type, values) in fixture.suppress {
            for value in values {
                let reason = suppressed[Self.key(type, value)]
                #expect(reason != nil, "\(fixture.id): \(type) \(value) not suppressed")
                if let reason, let kind = fixture.suppressKind["\(type):\(value)"] {
                    #expect(
                        Self.kind(ofReason: reason) == kind,
                        "\(fixture.id): \(value) suppressed as \(reason), not \(kind)"
                    )
                }
                allowed.insert(Self.key(type, value))
            }
        }
        for (type, values) in fixture.mustNot {
            for value in values {
                #expect(
                    !reported.contains(Self.key(type, value)),
                    "\(fixture.id): \(type) \(value) must not be reported"
                )
            }
        }
        if fixture.complete {
            let hosts = Set(
                result.indicators.compactMap { found in
                    found.indicator.host.map { Self.key($0.type.rawValue, $0.value) }
                }
            )
            for value in reported where !allowed.contains(value) && !hosts.contains(value) {
                Issue.record("\(fixture.id): unexpected \(value)")
            }
        }
    }
}
