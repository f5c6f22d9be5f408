package io.pmig.checkpoint.fd;

import io.pmig.checkpoint.image.ImageKind;
import io.pmig.checkpoint.nativeio.Linux;
import io.pmig.nativeio.NativeMemory;
import io.pmig.checkpoint.nativeio.Nr;
import io.pmig.nativeio.Syscall;

/**
 * timerfd: clock, remaining time and interval, and expirations not yet read (fs/timerfd.c
 * fdinfo). The timer continues from its remaining time, as the process would have seen it.
 */
public final class Timerfds implements FileKind<Timerfds.State> {
    private static final long TFD_IOC_SET_TICKS = 0x40085400L;

    @ImageKind("file.timerfd")
    public record State(int id, int clock, long ticks, long valueSec, long valueNsec, long intervalSec, long intervalNsec,
                        int flags) implements FileState {
    }

    @Override
    public Class<State> stateType() {
        return State.class;
    }

    @Override
    public boolean matches(OpenFile file) {
        return file.link().equals("anon_inode:[timerfd]");
    }

    @Override
    public State dump(OpenFile file, int id, DumpContext context) {
        long[] value = pair(file.fdinfo("it_value"));
        long[] interval = pair(file.fdinfo("it_interval"));
        return new State(id, Integer.parseInt(file.fdinfo("clockid")), Long.parseLong(file.fdinfo("ticks")),
            value[0], value[1], interval[0], interval[1], file.statusFlags());
    }

    /** "(4, 999723456)" */
    private static long[] pair(String text) {
        String[] parts = text.replace("(", "").replace(")", "").split(",");
        return new long[] {Long.parseLong(parts[0].trim()), Long.parseLong(parts[1].trim())};
    }

    @Override
    public int open(State state, RestoreContext context) {
        int fd = context.hold((int) Syscall.call("timerfd_create", Nr.TIMERFD_CREATE, state.clock(),
            (state.flags() & Linux.O_NONBLOCK) | Linux.O_CLOEXEC));
        if (state.valueSec() != 0 || state.valueNsec() != 0) {
            NativeMemory spec = NativeMemory.allocate(32);
            spec.putLong(0, state.intervalSec());
            spec.putLong(8, state.intervalNsec());
            spec.putLong(16, state.valueSec());
            spec.putLong(24, state.valueNsec());
            Syscall.call("timerfd_settime", Nr.TIMERFD_SETTIME, fd, 0, spec.address(), 0);
        }
        if (state.ticks() > 0) {
            NativeMemory ticks = NativeMemory.allocate(8);
            ticks.putLong(0, state.ticks());
            Syscall.call("ioctl(TFD_IOC_SET_TICKS)", Nr.IOCTL, fd, TFD_IOC_SET_TICKS, ticks.address());
        }
        return fd;
    }
}
