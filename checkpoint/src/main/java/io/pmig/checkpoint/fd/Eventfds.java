package io.pmig.checkpoint.fd;

import io.pmig.checkpoint.image.ImageKind;
import io.pmig.checkpoint.nativeio.Linux;
import io.pmig.nativeio.NativeMemory;
import io.pmig.checkpoint.nativeio.Nr;
import io.pmig.nativeio.Syscall;
import io.pmig.checkpoint.proc.ProcFs;

/** eventfd: its counter and whether it counts as a semaphore (fs/eventfd.c fdinfo). */
public final class Eventfds implements FileKind<Eventfds.State> {
    private static final int EFD_SEMAPHORE = 1;

    @ImageKind("file.eventfd")
    public record State(int id, long count, boolean semaphore, int flags) implements FileState {
    }

    @Override
    public Class<State> stateType() {
        return State.class;
    }

    @Override
    public boolean matches(OpenFile file) {
        return file.link().equals("anon_inode:[eventfd]");
    }

    @Override
    public State dump(OpenFile file, int id, DumpContext context) {
        long count = Long.parseUnsignedLong(file.fdinfo("eventfd-count"), 16);
        boolean semaphore = "1".equals(ProcFs.keyValues(file.fdinfoText()).get("eventfd-semaphore"));
        return new State(id, count, semaphore, file.statusFlags());
    }

    @Override
    public int open(State state, RestoreContext context) {
        int flags = (state.flags() & Linux.O_NONBLOCK) | (state.semaphore() ? EFD_SEMAPHORE : 0) | Linux.O_CLOEXEC;
        int fd = context.hold((int) Syscall.call("eventfd2", Nr.EVENTFD2, 0, flags));
        if (state.count() != 0) {
            NativeMemory m = NativeMemory.allocate(8);
            m.putLong(0, state.count());
            Linux.write(fd, m.address(), 8);
        }
        return fd;
    }
}
