import CVerdictRelay

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The Wazuh directory (docs/contracts.md §5): `VERDICT_WAZUH_HOME`, else the parent of the folder holding the
/// executable as Wazuh's own scripts find it (`<home>/integrations/custom-verdict`, and for the active
/// response `<home>/active-response/bin/verdict-ar`), else the working directory when it is a Wazuh home
/// (integratord and execd run there), else `/var/ossec`.
public func wazuhHome(environment: [String: String], executablePath: String) -> String {
    if let home = environment["VERDICT_WAZUH_HOME"], !home.isEmpty { return home }
    func isWazuhHome(_ path: String) -> Bool { PlainPath.isDirectory(path + "/queue") }
    let folder = PlainPath.parent(of: PlainPath.resolved(executablePath) ?? executablePath)
    let parent = PlainPath.parent(of: folder)
    if PlainPath.lastComponent(of: folder) == "integrations" { return parent }
    if PlainPath.lastComponent(of: folder) == "bin" && PlainPath.lastComponent(of: parent) == "active-response" {
        return PlainPath.parent(of: parent)
    }
    if isWazuhHome(parent) { return parent }
    if let workingDirectory = PlainPath.workingDirectory(), isWazuhHome(workingDirectory) { return workingDirectory }
    return "/var/ossec"
}

/// This process's executable, symlinks resolved (argv[0] is only `integrations` under integratord).
public func currentExecutablePath() -> String {
    PlainPath.resolved("/proc/self/exe") ?? "/proc/self/exe"
}

/// Path helpers on plain strings, for code that does without Foundation.
public enum PlainPath {
    /// The path with symlinks, `.` and `..` resolved; nil when it does not exist.
    public static func resolved(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// The folder holding `path` (`/` for `/` and for a name at the root).
    public static func parent(of path: String) -> String {
        var trimmed = Substring(path)
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return "." }
        let parent = trimmed[..<slash]
        return parent.isEmpty ? "/" : String(parent)
    }

    public static func lastComponent(of path: String) -> String {
        var trimmed = Substring(path)
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return String(trimmed) }
        return String(trimmed[trimmed.index(after: slash)...])
    }

    public static func isDirectory(_ path: String) -> Bool {
        var status = stat()
        return stat(path, &status) == 0 && (status.st_mode & S_IFMT) == S_IFDIR
    }

    /// Which file `path` names: device, inode and birth time (an inode number is used again for a file made
    /// later, its birth time is not); "missing PATH" when there is none.
    public static func fileIdentity(_ path: String) -> String {
        var status = stat()
        guard stat(path, &status) == 0 else { return "missing " + path }
        var seconds: Int64 = 0
        var nanoseconds: UInt32 = 0
        let born = verdict_file_birth(path, &seconds, &nanoseconds) == 0 ? " \(seconds).\(nanoseconds)" : ""
        return "\(path) \(status.st_dev) \(status.st_ino)" + born
    }

    public static func workingDirectory() -> String? {
        guard let folder = getcwd(nil, 0) else { return nil }
        defer { free(folder) }
        return String(cString: folder)
    }
}
