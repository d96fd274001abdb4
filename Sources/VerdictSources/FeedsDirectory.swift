import Foundation
import VerdictCore

/// The local feeds in `VERDICT_FEEDS_DIR`, as far as suppression needs them:
///
/// - `warninglists/`: MISP warninglists, as `NAME.json` files or MISP's own `lists/NAME/list.json` layout
///   (any `.json` file below the folder is read); NAME identifies the list. They add to the lists Verdict
///   ships, and a list named like a shipped one replaces it.
/// - `warninglist-policies.json`: `{"list name": "suppress" | "annotate" | "ignore"}`, for shipped and added
///   lists alike.
/// - `allowlist.txt`: the user's own addresses, CIDR blocks, domains (with subdomains) and other values,
///   one a line, `#` for comments. They are never looked up.
/// - `internal-suffixes.txt`: domain suffixes of the user's own networks (`corp.example.com`, `lan`).
public struct FeedsDirectory: Sendable {
    public let directory: URL
    public let warninglists: [Warninglist]
    public let allowList: AllowList
    public let internalSuffixes: [String]

    /// The suppression these feeds set up.
    public var suppressor: Suppressor {
        Suppressor(warninglists: warninglists, allowList: allowList, internalSuffixes: internalSuffixes)
    }

    /// What the files read here are now: each one's path, size and modification time. A process that keeps
    /// the suppression these feeds set up compares it to tell when to read the directory again.
    public static func fingerprint(of directory: URL) -> String {
        var paths = ["warninglist-policies.json", "allowlist.txt", "internal-suffixes.txt"].map {
            directory.appendingPathComponent($0).path
        }
        let listFolder = directory.appendingPathComponent("warninglists").path
        if let enumerator = FileManager.default.enumerator(atPath: listFolder) {
            for case let name as String in enumerator where name.lowercased().hasSuffix(".json") {
                paths.append(listFolder + "/" + name)
            }
        }
        return paths.sorted().map(stamp(ofFile:)).joined(separator: "\n")
    }

    /// A file as fingerprints see it: its path, size (-1 when missing) and modification time.
    static func stamp(ofFile path: String) -> String {
        var info = stat()
        let seen = stat(path, &info) == 0
        return "\(path) \(seen ? info.st_size : -1) \(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)"
    }

    /// Reads the directory; a missing directory or file just means "nothing added".
    ///
    /// - Throws: `FeedsError` naming the file and what is wrong with it.
    public init(directory: URL, builtInWarninglists: [Warninglist] = Warninglist.defaults) throws(FeedsError) {
        self.directory = directory
        let files = FileManager.default
        let policies = try FeedsDirectory.readPolicies(directory.appendingPathComponent("warninglist-policies.json"))

        var lists = builtInWarninglists
        let listFolder = directory.appendingPathComponent("warninglists")
        if let enumerator = files.enumerator(at: listFolder, includingPropertiesForKeys: nil) {
            var paths: [URL] = []
            for case let url as URL in enumerator where url.pathExtension.lowercased() == "json" {
                paths.append(url)
            }
            for url in paths.sorted(by: { $0.path < $1.path }) {
                let data: Data
                do {
                    data = try Data(contentsOf: url)
                } catch {
                    throw FeedsError("cannot read warninglist \(url.path): \(error.localizedDescription)")
                }
                // MISP's repository keeps each list as lists/NAME/list.json; elsewhere the file is NAME.json.
                let stem = url.deletingPathExtension().lastPathComponent
                let name = stem == "list" ? url.deletingLastPathComponent().lastPathComponent : stem
                do {
                    let list = try Warninglist(json: data, name: name)
                    lists.removeAll { $0.name == list.name }  // a user's copy replaces the shipped one
                    lists.append(list)
                } catch {
                    throw FeedsError(
                        "warninglist \(url.path) is not a MISP warninglist (\(error)); fix or remove the file"
                    )
                }
            }
        }
        for index in lists.indices {
            if let policy = policies[lists[index].name] { lists[index].policy = policy }
        }
        let unknown = Set(policies.keys).subtracting(lists.map(\.name))
        if let name = unknown.sorted().first {
            throw FeedsError(
                "warninglist-policies.json names \"\(name)\", but no warninglist has that name; known lists: "
                    + lists.map(\.name).sorted().joined(separator: ", ")
            )
        }
        self.warninglists = lists
        self.allowList = AllowList(text: try FeedsDirectory.readText(directory.appendingPathComponent("allowlist.txt")))
        self.internalSuffixes = try FeedsDirectory.readText(directory.appendingPathComponent("internal-suffixes.txt"))
            .split(whereSeparator: \.isNewline)
            .map { $0.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0] }
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
    }

    static func readText(_ url: URL) throws(FeedsError) -> String {
        guard FileManager.default.fileExists(atPath: url.path) else { return "" }
        do {
            return try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw FeedsError("cannot read \(url.path) as UTF-8 text: \(error.localizedDescription)")
        }
    }

    static func readPolicies(_ url: URL) throws(FeedsError) -> [String: WarninglistPolicy] {
        let text = try readText(url)
        guard !text.isEmpty else { return [:] }
        let document: JSONValue
        do {
            document = try JSONValue(parsing: text)
        } catch {
            throw FeedsError("\(url.path) is not valid JSON (\(error))")
        }
        guard case .object(let members) = document else {
            throw FeedsError("\(url.path) must be a JSON object: {\"list name\": \"suppress\"|\"annotate\"|\"ignore\"}")
        }
        var policies: [String: WarninglistPolicy] = [:]
        for member in members {
            guard let text = member.value.scalarText, let policy = WarninglistPolicy(rawValue: text) else {
                throw FeedsError(
                    "\(url.path): the policy of \"\(member.key)\" must be \"suppress\", \"annotate\" or \"ignore\""
                )
            }
            policies[member.key] = policy
        }
        return policies
    }
}

/// A feeds directory that could not be used, and how to fix it.
public struct FeedsError: Error, Sendable, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
