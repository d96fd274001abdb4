import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// `verdict wazuh install`: puts the executables, the rules and a settings file on a Wazuh manager with the
/// owners and modes integratord and execd require (docs/wazuh.md §1: root:wazuh 0750, not writable
/// by wazuh), and reports every step it could not do and how to do it by hand.
public struct WazuhInstaller {
    public struct Step: Sendable, Equatable {
        public var description: String
        /// What went wrong and what to run instead; nil when the step was done (or, in a dry run, planned).
        public var problem: String?
    }

    public var home: String
    /// The folder that holds the built `custom-verdict` and `verdict-ar`.
    public var binaries: String
    public var dryRun: Bool

    public init(home: String, binaries: String, dryRun: Bool) {
        self.home = home
        self.binaries = binaries
        self.dryRun = dryRun
    }

    static let settingsTemplate = """
        # Verdict settings for custom-verdict and verdict-ar in embedded mode (no hook_url).
        # Keys are secrets: keep this file root:wazuh 0640. Environment variables VERDICT_* override it.
        # virustotal:
        #   api_key: "..."
        # abuseipdb:
        #   api_key: "..."
        # abusech:
        #   api_key: "..."          # URLhaus, ThreatFox, MalwareBazaar
        # feeds_dir: /var/ossec/etc/verdict-feeds
        # Bulk feeds, synced by `verdict feeds sync` (or verdict tail / serve at each refresh) into the store:
        # feeds:
        #   feodo: {url: https://feodotracker.abuse.ch/downloads/ipblocklist.csv, format: feodo-csv, refresh: 1h}
        #   drop:  {url: https://www.spamhaus.org/drop/drop.txt, format: spamhaus-drop, refresh: 12h}
        # For verdict-ar in client mode:
        # client:
        #   url: http://verdict.example.internal:8080
        #   api_key: "vk_..."

        """

    /// Runs (or, in a dry run, lists) every step.
    public func run() -> [Step] {
        var steps: [Step] = []
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: home + "/etc", isDirectory: &isDirectory), isDirectory.boolValue
        else {
            return [
                Step(
                    description: "find the Wazuh manager in \(home)",
                    problem: "\(home)/etc does not exist: give the manager's directory with --wazuh-home"
                )
            ]
        }
        steps += install(
            file: binaries + "/custom-verdict",
            to: home + "/integrations/custom-verdict",
            mode: 0o750,
            owner: ("root", "wazuh")
        )
        steps += install(
            file: binaries + "/verdict-ar",
            to: home + "/active-response/bin/verdict-ar",
            mode: 0o750,
            owner: ("root", "wazuh")
        )
        // The engine both relays hand their runs to, beside each (Relay in VerdictRelay); one file linked
        // twice, so that one warm engine serves both.
        steps += install(
            file: binaries + "/verdict",
            to: home + "/integrations/verdict",
            mode: 0o750,
            owner: ("root", "wazuh")
        )
        steps += install(
            file: binaries + "/verdict",
            to: home + "/active-response/bin/verdict",
            mode: 0o750,
            owner: ("root", "wazuh"),
            linkingTo: home + "/integrations/verdict"
        )
        steps += write(
            WazuhFiles.rules + "\n",  // the compiled-in text lacks the file's final newline
            to: home + "/etc/rules/verdict_rules.xml",
            mode: 0o660,
            owner: ("wazuh", "wazuh"),
            keepExisting: false
        )
        steps += write(
            Self.settingsTemplate,
            to: home + "/etc/verdict.yaml",
            mode: 0o640,
            owner: ("root", "wazuh"),
            keepExisting: true
        )
        steps += directory(
            home + "/var/verdict",
            purpose: "the embedded-mode cache",
            mode: 0o770,
            owner: ("wazuh", "wazuh")
        )
        // The CDB lists the rules 100620-100639 read: present (empty until `verdict wazuh lists`) and declared,
        // so analysisd loads the rules with them. analysisd, as wazuh, writes each list's NAME.cdb beside it.
        steps += directory(
            home + "/etc/lists/verdict",
            purpose: "Verdict's CDB lists",
            mode: 0o770,
            owner: ("wazuh", "wazuh")
        )
        for kind in WazuhLists.Kind.allCases {
            steps += write(
                "",
                to: home + "/etc/lists/verdict/" + kind.rawValue,
                mode: 0o660,
                owner: ("wazuh", "wazuh"),
                keepExisting: true
            )
        }
        steps.append(declareLists())
        return steps
    }

    /// The files `run()` put in the Wazuh home that are Verdict's program (the executables and the rules), for
    /// `verdict wazuh uninstall`; the settings, the cache and the lists are the user's and stay.
    var programFiles: [String] {
        [
            home + "/integrations/custom-verdict",
            home + "/active-response/bin/verdict-ar",
            home + "/integrations/verdict",
            home + "/active-response/bin/verdict",
            home + "/etc/rules/verdict_rules.xml",
        ]
    }

    /// What `uninstall()` leaves in place, because it is the user's: settings (keys among them), the cache and
    /// retry queue, the CDB lists (still declared in ossec.conf, so analysisd keeps loading them).
    public var keptFiles: [String] {
        [home + "/etc/verdict.yaml", home + "/var/verdict", home + "/etc/lists/verdict"]
    }

    /// Removes (or, in a dry run, lists) Verdict's program files from the Wazuh home. A file already gone is
    /// no problem: the uninstall may run twice (a package removed after a manual uninstall).
    public func uninstall() -> [Step] {
        programFiles.map { path in
            let description = "remove \(path)"
            guard FileManager.default.fileExists(atPath: path) else { return Step(description: "\(path) is not there") }
            if dryRun { return Step(description: description) }
            guard unlink(path) == 0 else {
                return Step(description: description, problem: "\(POSIXFailure("unlink", errno)); run: rm -f \(path)")
            }
            return Step(description: description)
        }
    }

    /// The `<integration>` and `<active-response>` blocks of ossec.conf that still name Verdict's executables
    /// after an uninstall: integratord and execd would log an error for each alert they match.
    public func blocksStillNamingVerdict() -> [String] {
        guard let text = try? String(contentsOfFile: home + "/etc/ossec.conf", encoding: .utf8) else { return [] }
        let withoutComments = IntegrationBlock.withoutComments(text)
        var found: [String] = []
        if withoutComments.contains("<name>custom-verdict</name>") { found.append("<integration> custom-verdict") }
        if withoutComments.contains("<executable>verdict-ar</executable>") { found.append("<command> verdict-ar") }
        return found
    }

    /// The `<list>` lines in ossec.conf's `<ruleset>`, for the lists that are not declared yet; the file is
    /// copied to `ossec.conf.verdict-backup` first and replaced at once.
    func declareLists() -> Step {
        let path = home + "/etc/ossec.conf"
        let description = "declare etc/lists/verdict/* in the <ruleset> of \(path)"
        guard FileManager.default.fileExists(atPath: path) else {
            return Step(description: "no \(path) yet: add the <list> lines printed below to its <ruleset>")
        }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            return Step(
                description: description,
                problem: "cannot read \(path); add the <list> lines printed below by hand"
            )
        }
        let missing = WazuhLists.Kind.allCases.map { "etc/lists/verdict/\($0.rawValue)" }
            .filter { !text.contains("<list>\($0)</list>") }
        guard !missing.isEmpty else { return Step(description: "keep the lists already declared in \(path)") }
        guard let ruleset = text.range(of: "<ruleset>") else {
            return Step(
                description: description,
                problem: "\(path) has no <ruleset> block; add the <list> lines printed below by hand"
            )
        }
        if dryRun { return Step(description: description) }
        let lines = missing.map { "\n    <list>\($0)</list>" }.joined()
        let updated = text.replacingCharacters(in: ruleset, with: "<ruleset>" + lines)
        do {
            let backup = path + ".verdict-backup"
            try? FileManager.default.removeItem(atPath: backup)
            try FileManager.default.copyItem(atPath: path, toPath: backup)
            var info = stat()
            let known = stat(path, &info) == 0
            try Data(updated.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
            // The manager reads ossec.conf as wazuh: keep its owner and mode through the atomic write.
            if known {
                chmod(path, info.st_mode & 0o7777)
                _ = chown(path, info.st_uid, info.st_gid)
            }
        } catch {
            return Step(description: description, problem: "could not update \(path): \(error.localizedDescription)")
        }
        return Step(description: description + " (the old file is ossec.conf.verdict-backup)")
    }

    /// - linkingTo: an installed copy of `source` to hard-link rather than copy again, when the file system allows.
    func install(
        file source: String,
        to target: String,
        mode: mode_t,
        owner: (String, String),
        linkingTo installed: String? = nil
    ) -> [Step] {
        let description = "copy \(source) to \(target)"
        guard FileManager.default.isExecutableFile(atPath: source) else {
            return [
                Step(
                    description: description,
                    problem: "\(source) is missing: build it first with swift build -c release"
                )
            ]
        }
        if dryRun { return [Step(description: description), plannedOwnership(target, mode: mode, owner: owner)] }
        do {
            let folder = (target as NSString).deletingLastPathComponent
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            // Copy to a temporary name and rename: an integratord run in between never sees half a file.
            let temporary = target + ".verdict-new"
            try? FileManager.default.removeItem(atPath: temporary)
            let linked = installed.map { link($0, temporary) == 0 } ?? false
            if !linked { try FileManager.default.copyItem(atPath: source, toPath: temporary) }
            guard rename(temporary, target) == 0 else {
                throw POSIXFailure("rename", errno)
            }
        } catch {
            return [Step(description: description, problem: "could not copy: \(error.localizedDescription)")]
        }
        return [Step(description: description)] + ownership(target, mode: mode, owner: owner)
    }

    func write(_ text: String, to target: String, mode: mode_t, owner: (String, String), keepExisting: Bool) -> [Step] {
        if keepExisting && FileManager.default.fileExists(atPath: target) {
            return [Step(description: "keep the existing \(target)")]
        }
        let description = "write \(target)"
        if dryRun { return [Step(description: description), plannedOwnership(target, mode: mode, owner: owner)] }
        do {
            try FileManager.default.createDirectory(
                atPath: (target as NSString).deletingLastPathComponent,
                withIntermediateDirectories: true
            )
            try Data(text.utf8).write(to: URL(fileURLWithPath: target), options: .atomic)
        } catch {
            return [Step(description: description, problem: "could not write: \(error.localizedDescription)")]
        }
        return [Step(description: description)] + ownership(target, mode: mode, owner: owner)
    }

    func directory(_ path: String, purpose: String, mode: mode_t, owner: (String, String)) -> [Step] {
        let description = "create \(path) (\(purpose))"
        if dryRun { return [Step(description: description), plannedOwnership(path, mode: mode, owner: owner)] }
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            return [Step(description: description, problem: "could not create: \(error.localizedDescription)")]
        }
        return [Step(description: description)] + ownership(path, mode: mode, owner: owner)
    }

    func plannedOwnership(_ path: String, mode: mode_t, owner: (String, String)) -> Step {
        Step(description: "set \(path) to \(owner.0):\(owner.1) \(String(mode, radix: 8))")
    }

    func ownership(_ path: String, mode: mode_t, owner: (String, String)) -> [Step] {
        var steps: [Step] = []
        let modeText = String(mode, radix: 8)
        if chmod(path, mode) == 0 {
            steps.append(Step(description: "set the mode of \(path) to \(modeText)"))
        } else {
            steps.append(
                Step(
                    description: "set the mode of \(path) to \(modeText)",
                    problem: "\(POSIXFailure("chmod", errno)); run: chmod \(modeText) \(path)"
                )
            )
        }
        let description = "set the owner of \(path) to \(owner.0):\(owner.1)"
        let user = getpwnam(owner.0)?.pointee.pw_uid
        let group = getgrnam(owner.1)?.pointee.gr_gid
        guard let user, let group else {
            let missing = user == nil ? "user \(owner.0)" : "group \(owner.1)"
            steps.append(
                Step(
                    description: description,
                    problem:
                        "there is no \(missing) on this machine (is Wazuh installed here?); then run: chown \(owner.0):\(owner.1) \(path)"
                )
            )
            return steps
        }
        if chown(path, user, group) == 0 {
            steps.append(Step(description: description))
        } else {
            steps.append(
                Step(
                    description: description,
                    problem: "\(POSIXFailure("chown", errno)) (run as root); run: chown \(owner.0):\(owner.1) \(path)"
                )
            )
        }
        return steps
    }
}

/// A failed system call, as `chown: Operation not permitted (errno 1)`.
struct POSIXFailure: Error, CustomStringConvertible {
    let call: String
    let code: Int32

    init(_ call: String, _ code: Int32) {
        self.call = call
        self.code = code
    }

    var description: String { "\(call): \(String(cString: strerror(code))) (errno \(code))" }
    var localizedDescription: String { description }
}
