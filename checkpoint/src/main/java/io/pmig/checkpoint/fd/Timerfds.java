package io.pmig.checkpoint.fd;

import io.pmig.checkpoint.image.ImageKind;
import io.pmig.checkpoint.nativeio.Linux;
import io.pmig.nativeio.NativeMemory;
import io.pmig.checkpoint.nativeio.Nr;
import io.pmig.nativeio.Syscall;

/**
 * timerfd: clock, remaining time and interval, expirations not yet read and the settime flags
 * (fs/timerfd.c fdinfo). The timer continues from its remaining time, as the process would have seen it.
 * A periodic timer that expired stops in the kernel until it is read or asked for its time, which
 * counts the expirations since and starts it again: fdinfo alone would show one expiration and no time
 * left, so the dump asks (timerfd_gettime, which takes nothing from the process) first. An absolute
 * timer (TFD_TIMER_ABSTIME, with TFD_TIMER_CANCEL_ON_SET) is set again at now + what was left, on its clock.
 * The time between the dump and the restore counts: the timer runs on as the clock did, by the wall clock
 * (which hosts keep in step; their monotonic clocks differ), with the expirations it missed meanwhile.
 */
public final class Timerfds implements FileKind<Timerfds.State> {
    private static final long TFD_IOC_SET_TICKS = 0x40085400L;
    private static final int TFD_TIMER_ABSTIME = 1;
    private static final long NANOS = 1_000_000_000L;

    @ImageKind("file.timerfd")
    public record State(int id, int clock, long ticks, long valueSec, long valueNsec, long intervalSec, long intervalNsec,
                        int flags, int settimeFlags, long readAtNanos) implements FileState {
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
        Syscall.call("timerfd_gettime", Nr.TIMERFD_GETTIME, file.local(), NativeMemory.allocate(32).address());
        long[] value = pair(file.fdinfo("it_value"));
        long[] interval = pair(file.fdinfo("it_interval"));
        return new State(id, Integer.parseInt(file.fdinfo("clockid")), Long.parseLong(file.fdinfo("ticks")),
            value[0], value[1], interval[0], interval[1], file.statusFlags(), Integer.parseInt(file.fdinfo("settime flags"), 8),
            wallClockNanos());
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
        long value = state.valueSec() * NANOS + state.valueNsec();
        long interval = state.intervalSec() * NANOS + state.intervalNsec();
        long ticks = state.ticks();
        long elapsed = state.readAtNanos() == 0 ? 0 : Math.max(0, wallClockNanos() - state.readAtNanos());
        if (value != 0 && elapsed >= value) {
            long late = elapsed - value;
            ticks += interval == 0 ? 1 : 1 + late / interval;
            value = interval == 0 ? 0 : interval - late % interval;
        } else if (value != 0) {
            value -= elapsed;
        }
        if (value != 0) {
            if ((state.settimeFlags() & TFD_TIMER_ABSTIME) != 0) {
                NativeMemory now = NativeMemory.allocate(16);
                Syscall.call("clock_gettime(" + state.clock() + ")", Nr.CLOCK_GETTIME, state.clock(), now.address());
                value += now.getLong(0) * NANOS + now.getLong(8);
            }
            NativeMemory spec = NativeMemory.allocate(32);
            spec.putLong(0, state.intervalSec());
            spec.putLong(8, state.intervalNsec());
            spec.putLong(16, value / NANOS);
            spec.putLong(24, value % NANOS);
            Syscall.call("timerfd_settime", Nr.TIMERFD_SETTIME, fd, state.settimeFlags(), spec.address(), 0);
        }
        if (ticks > 0) {
            NativeMemory count = NativeMemory.allocate(8);
            count.putLong(0, ticks);
            Syscall.call("ioctl(TFD_IOC_SET_TICKS)", Nr.IOCTL, fd, TFD_IOC_SET_TICKS, count.address());
        }
        return fd;
    }

    private static long wallClockNanos() {
        java.time.Instant now = java.time.Instant.now();
        return now.getEpochSecond() * NANOS + now.getNano();
    }
}
