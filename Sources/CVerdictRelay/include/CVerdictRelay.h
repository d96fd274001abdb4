#ifndef CVERDICTRELAY_H
#define CVERDICTRELAY_H

#include <sys/types.h>

/// The user at the other end of a connected Unix socket (SO_PEERCRED); 0 on success, -1 with errno set.
int verdict_peer_user(int socket, uid_t *user);

/// Starts `path` in a session of its own, with standard input, output and error on /dev/null, no other
/// descriptor of the caller's and default signal handling; does not wait for it. 0 on success, else an errno.
int verdict_spawn_detached(const char *path, char *const arguments[], char *const environment[]);

/// The birth time of the file at `path` (statx), which a new file has new even where its inode number is one
/// used before; 0 on success, -1 when the file or its file system cannot say.
int verdict_file_birth(const char *path, long long *seconds, unsigned int *nanoseconds);

/// Makes the user and group lookups (getpwnam, getgrnam, getpwuid) read /etc/passwd and /etc/group only. A fully
/// static executable can load no other user database: glibc would load that module, built for the dynamic libc,
/// into a process without one, and crash.
void verdict_use_local_user_database(void);

#endif
