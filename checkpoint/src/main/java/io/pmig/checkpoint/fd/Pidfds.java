package io.pmig.checkpoint.fd;

import io.pmig.checkpoint.FailedException;
import io.pmig.checkpoint.RefusedException;
import io.pmig.checkpoint.image.ImageKind;
import io.pmig.checkpoint.nativeio.Linux;

import java.util.Set;
import java.util.stream.Collectors;

/**
 * pidfds (pidfd_open, clone's CLONE_PIDFD) of the process itself or of another process checkpointed with it: opened again
 * for the same process, which keeps its pid, with PIDFD_NONBLOCK and PIDFD_THREAD as they were (fdinfo "Pid", flags;
 * linux/pidfd.h). Refused: a pidfd of a process that is not moved with it (the copy could not refer to it), of a
 * process that has ended (fdinfo Pid -1: no process to open it for), and of a thread other than a main thread (the
 * threads are created after the descriptors).
 */
public final class Pidfds implements FileKind<Pidfds.State> {
    /** PIDFD_NONBLOCK and PIDFD_THREAD, the flags pidfd_open takes, as they show in the file's flags. */
    private static final int OPEN_FLAGS = Linux.O_NONBLOCK | Linux.O_EXCL;

    /** {@code pid}: the process (or, with PIDFD_THREAD, the thread) it refers to, as the checkpoint saw it. */
    @ImageKind("file.pidfd")
    public record State(int id, int pid, int flags) implements FileState {
    }

    @Override
    public Class<State> stateType() {
        return State.class;
    }

    @Override
    public boolean matches(OpenFile file) {
        return file.link().equals("anon_inode:[pidfd]") || file.link().startsWith("pidfd:");
    }

    @Override
    public State dump(OpenFile file, int id, DumpContext context) {
        int pid = Integer.parseInt(file.fdinfo("Pid"));
        if (pid <= 0) {
            throw new RefusedException(file.describe() + ": this pidfd refers to a process that has ended, for which a copy "
                + "cannot be opened");
        }
        Set<Integer> moved = context.treeFiles().stream().map(OpenFile::pid).collect(Collectors.toSet());
        moved.add(file.pid());
        if (!moved.contains(pid)) {
            throw new RefusedException(file.describe() + ": this pidfd refers to process " + pid + ", which is not being "
                + (isThreadOfMoved(pid, moved) ? "moved as a process (it is a thread, created after the descriptors)"
                    : "moved; checkpoint them together"));
        }
        return new State(id, pid, file.statusFlags() & OPEN_FLAGS);
    }

    private static boolean isThreadOfMoved(int tid, Set<Integer> moved) {
        return moved.stream().anyMatch(pid -> java.nio.file.Files.exists(java.nio.file.Path.of("/proc", Integer.toString(pid), "task",
            Integer.toString(tid))));
    }

    @Override
    public int open(State state, RestoreContext context) {
        int pid = context.hostPid(state.pid());
        if (pid < 0) {
            throw new FailedException("a pidfd of process " + state.pid() + ": no restored process has that pid");
        }
        return context.hold(Linux.pidfdOpen(pid, state.flags()));
    }
}
