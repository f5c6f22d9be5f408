package io.pmig.checkpoint.fd;

import io.pmig.checkpoint.image.ImageKind;
import io.pmig.checkpoint.nativeio.Linux;
import io.pmig.nativeio.NativeMemory;
import io.pmig.checkpoint.nativeio.Nr;
import io.pmig.nativeio.Syscall;

/** signalfd: the set of signals it reads (fs/signalfd.c fdinfo "sigmask"). */
public final class Signalfds implements FileKind<Signalfds.State> {
    @ImageKind("file.signalfd")
    public record State(int id, long mask, int flags) implements FileState {
    }

    @Override
    public Class<State> stateType() {
        return State.class;
    }

    @Override
    public boolean matches(OpenFile file) {
        return file.link().equals("anon_inode:[signalfd]");
    }

    @Override
    public State dump(OpenFile file, int id, DumpContext context) {
        return new State(id, Long.parseUnsignedLong(file.fdinfo("sigmask"), 16), file.statusFlags());
    }

    @Override
    public int open(State state, RestoreContext context) {
        NativeMemory mask = NativeMemory.allocate(8);
        mask.putLong(0, state.mask());
        return context.hold((int) Syscall.call("signalfd4", Nr.SIGNALFD4, -1, mask.address(), 8,
            (state.flags() & Linux.O_NONBLOCK) | Linux.O_CLOEXEC));
    }
}
