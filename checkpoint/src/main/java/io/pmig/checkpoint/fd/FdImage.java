package io.pmig.checkpoint.fd;

import io.pmig.checkpoint.image.ImageKind;

/** Descriptor {@code fd} refers to open file description {@code fileId}; dup'ed descriptors share one. */
@ImageKind("fd")
public record FdImage(int fd, boolean closeOnExec, int fileId) {
}
