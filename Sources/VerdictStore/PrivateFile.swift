#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Opening a file in a folder another user can write (the Wazuh `logs/` and `var/verdict/` folders are the
/// `wazuh` group's): never through a symbolic link, and only a regular file, so that a planted link or a
/// device cannot turn a write into a write elsewhere.
public enum PrivateFile {
    /// A descriptor for `path` (`O_NOFOLLOW | O_CLOEXEC` added), or -1 with `errno` set: `ELOOP` for a symbolic
    /// link, `EINVAL` for something that is not a regular file.
    public static func open(_ path: String, _ flags: Int32, mode: mode_t = 0o660) -> Int32 {
        let descriptor = Glibc.open(path, flags | O_NOFOLLOW | O_CLOEXEC, mode)
        guard descriptor >= 0 else { return -1 }
        var status = stat()
        guard fstat(descriptor, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG else {
            close(descriptor)
            errno = EINVAL
            return -1
        }
        return descriptor
    }

    /// Whether `path` is absent or a regular file (not a link, folder or device): for files another library
    /// opens itself, as SQLite does its database, WAL and shared-memory files.
    public static func isAbsentOrRegular(_ path: String) -> Bool {
        var status = stat()
        guard lstat(path, &status) == 0 else { return errno == ENOENT }
        return (status.st_mode & S_IFMT) == S_IFREG
    }

    /// Why an open failed, in words.
    public static func reason(_ code: Int32) -> String {
        switch code {
        case ELOOP: "it is a symbolic link, which Verdict never follows here"
        case EINVAL: "it is not a regular file"
        default: String(cString: strerror(code)) + " (errno \(code))"
        }
    }
}
