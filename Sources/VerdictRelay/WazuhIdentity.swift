import CVerdictRelay

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// wazuh-execd runs active responses as root. Nothing `verdict-ar` does needs root, and every folder it writes
/// (`logs/`, `var/verdict/`) is the `wazuh` group's, so a root process there could be made to write where a
/// `wazuh` user chooses. It becomes the Wazuh user and group before it opens any file.
public enum WazuhIdentity {
    public struct Target: Equatable, Sendable {
        public var user: uid_t
        public var group: gid_t
    }

    /// Who to become: the owner of `<home>/var/verdict` when that is not root (its group too, when not root's),
    /// else the `wazuh` user and group; nil when neither names anyone but root. Names are looked up only when the
    /// folder does not say (as installed, it does), and in `/etc/passwd` and `/etc/group` only: the relay is a
    /// fully static executable, which cannot load another user database's module.
    public static func target(home: String) -> Target? {
        verdict_use_local_user_database()
        var status = stat()
        let folder = home + "/var/verdict"
        let wazuhGroup = { getgrnam("wazuh")?.pointee.gr_gid }
        if lstat(folder, &status) == 0, (status.st_mode & S_IFMT) == S_IFDIR, status.st_uid != 0 {
            let group = status.st_gid != 0 ? status.st_gid : (wazuhGroup() ?? getpwuid(status.st_uid)?.pointee.pw_gid)
            return Target(user: status.st_uid, group: group ?? status.st_gid)
        }
        guard let wazuhUser = getpwnam("wazuh")?.pointee, wazuhUser.pw_uid != 0 else { return nil }
        return Target(user: wazuhUser.pw_uid, group: wazuhGroup() ?? wazuhUser.pw_gid)
    }

    /// Why root could not be given up; the run stops with `exitCode` (10, as for bad settings).
    public struct Refusal: Error, Sendable, CustomStringConvertible {
        public let description: String
        public var exitCode: Int32 { 10 }
    }

    /// Gives up root for `target(home:)`, for good (the saved IDs too). Does nothing for a process that is not
    /// root. Throws, and the caller must stop, when root cannot be given up.
    public static func dropRoot(home: String) throws(Refusal) {
        guard geteuid() == 0 || getuid() == 0 else { return }
        guard let target = target(home: home) else {
            throw Refusal(
                description:
                    "running as root (wazuh-execd keeps uid 0) and found no user to run as: \(home)/var/verdict is missing or owned by root and there is no user wazuh. Run `verdict wazuh install`, or `chown wazuh:wazuh \(home)/var/verdict`"
            )
        }
        // As root, setgid and setuid set the real, effective and saved IDs at once.
        var groups = [target.group]
        guard setgroups(1, &groups) == 0, setgid(target.group) == 0, setuid(target.user) == 0 else {
            throw Refusal(
                description:
                    "running as root and cannot become user \(target.user), group \(target.group): \(String(cString: strerror(errno)))"
            )
        }
        // A process that could get root back has not given it up.
        guard setuid(0) != 0, geteuid() == target.user else {
            throw Refusal(description: "running as root and could not give it up for good")
        }
    }
}
