package io.pmig.checkpoint.ptrace;

/** System calls made by another, ptrace-stopped thread, as if it had called them itself. */
public interface RemoteSyscalls {
    /** Runs the syscall in the thread and returns its raw result (-errno on failure). */
    long call(int nr, long... args);
}
