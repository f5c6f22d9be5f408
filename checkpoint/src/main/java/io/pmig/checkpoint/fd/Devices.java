package io.pmig.checkpoint.fd;

import io.pmig.checkpoint.image.ImageKind;
import io.pmig.checkpoint.nativeio.Linux;

import java.util.Set;

/** Stateless character devices (the memory devices of major 1): re-opened by path. */
public final class Devices implements FileKind<Devices.State> {
    private static final Set<String> STATELESS = Set.of("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom");

    @ImageKind("file.device")
    public record State(int id, String path, int flags) implements FileState {
    }

    @Override
    public Class<State> stateType() {
        return State.class;
    }

    @Override
    public boolean matches(OpenFile file) {
        return STATELESS.contains(file.link());
    }

    @Override
    public State dump(OpenFile file, int id, DumpContext context) {
        return new State(id, file.link(), file.statusFlags());
    }

    @Override
    public int open(State state, RestoreContext context) {
        return context.hold(Linux.open(state.path(), state.flags() | Linux.O_CLOEXEC, 0));
    }
}
