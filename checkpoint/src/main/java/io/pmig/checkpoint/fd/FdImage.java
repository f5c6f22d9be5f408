package io.pmig.checkpoint.fd;

import io.pmig.checkpoint.image.ImageKind;

import java.util.List;

/**
 * Descriptor {@code fd} refers to open file description {@code fileId}; dup'ed descriptors share one.
 * {@code owner}: uid and gid of a pipe or socket (whose inode the restore creates anew, owned by the restorer,
 * where the original's belonged to the process that made it: fstat shows it, and a socket's owner decides who
 * may share its port with SO_REUSEPORT); null for other files. {@code posixLocks}: the POSIX record locks this process
 * holds through a regular file whose open file description another process of its tree saved (the description's own
 * state has only that process's, a POSIX lock belonging to a process, not to a description); null when none.
 */
@ImageKind("fd")
public record FdImage(int fd, boolean closeOnExec, int fileId, int[] owner, List<FileLocks.Lock> posixLocks) {
}
