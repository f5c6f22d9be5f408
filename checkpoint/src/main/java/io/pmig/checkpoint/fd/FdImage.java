package io.pmig.checkpoint.fd;

import io.pmig.checkpoint.image.ImageKind;

/**
 * Descriptor {@code fd} refers to open file description {@code fileId}; dup'ed descriptors share one.
 * {@code owner}: uid and gid of a pipe or socket (whose inode the restore creates anew, owned by the restorer,
 * where the original's belonged to the process that made it: fstat shows it, and a socket's owner decides who
 * may share its port with SO_REUSEPORT); null for other files.
 */
@ImageKind("fd")
public record FdImage(int fd, boolean closeOnExec, int fileId, int[] owner) {
}
