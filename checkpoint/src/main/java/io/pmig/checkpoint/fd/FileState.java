package io.pmig.checkpoint.fd;

/** The saved state of one open file description; each kind of file has its own record. */
public interface FileState {
    /** Shared by every descriptor that refers to this open file description. */
    int id();
}
