import Foundation

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

    /// Gives a file in a shared data folder to the folder's owner and group, with the folder's sharing: group
    /// read-write (0660) when the group may write the folder, as a Wazuh home's `var/verdict` (0770, group `wazuh`)
    /// may, else the owner's alone (0600). Root (verdict-ar under execd, a service started as root) hands the
    /// file over, so a later process as `wazuh` can still use it; another user leaves the owner as it is and
    /// sets the mode only on its own files.
    public static func share(_ descriptor: Int32, likeFolder folder: String) {
        var folderStatus = stat()
        var fileStatus = stat()
        guard stat(folder, &folderStatus) == 0, fstat(descriptor, &fileStatus) == 0 else { return }
        if geteuid() == 0, fileStatus.st_uid != folderStatus.st_uid || fileStatus.st_gid != folderStatus.st_gid {
            guard fchown(descriptor, folderStatus.st_uid, folderStatus.st_gid) == 0 else { return }
        } else if fileStatus.st_uid != geteuid() {
            return
        }
        let mode: mode_t = folderStatus.st_mode & S_IWGRP != 0 ? 0o660 : 0o600
        if fileStatus.st_mode & 0o777 != mode { fchmod(descriptor, mode) }
    }

    /// Creates `path` as a folder (if absent) belonging to its parent folder's owner and group, with the
    /// parent's mode: `verdict tail`'s state folder inside the data directory.
    public static func makeSharedFolder(_ path: String) -> Bool {
        let parent = (path as NSString).deletingLastPathComponent
        var parentStatus = stat()
        guard stat(parent.isEmpty ? "." : parent, &parentStatus) == 0 else { return false }
        let mode = parentStatus.st_mode & 0o770
        if mkdir(path, mode) != 0 && errno != EEXIST { return false }
        var status = stat()
        guard lstat(path, &status) == 0, (status.st_mode & S_IFMT) == S_IFDIR else { return false }
        if geteuid() == 0, status.st_uid != parentStatus.st_uid || status.st_gid != parentStatus.st_gid {
            _ = chown(path, parentStatus.st_uid, parentStatus.st_gid)
        }
        return true
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
