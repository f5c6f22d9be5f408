package io.pmig.checkpoint.tree;

import io.pmig.checkpoint.RefusedException;
import io.pmig.checkpoint.nativeio.Nr;
import io.pmig.checkpoint.proc.ProcFs;
import io.pmig.checkpoint.task.ProcessImage;
import io.pmig.nativeio.NativeMemory;
import io.pmig.nativeio.Syscall;

import java.util.Set;

/**
 * The clocks a process sees: CLOCK_MONOTONIC and CLOCK_BOOTTIME count from each host's boot, so a process moved
 * to another host would see them jump. Every restore therefore puts the process into a time namespace of pmig's own
 * (made by pmig-restorer) whose offsets continue the clocks from where they stood at the freeze; a later move reads
 * them back (host clock plus the namespace's offsets) and carries them on.
 */
public final class TimeNamespaces {
    /** linux/time.h */
    private static final int CLOCK_REALTIME = 0;
    private static final int CLOCK_MONOTONIC = 1;
    private static final int CLOCK_BOOTTIME = 7;
    private static final long NANOS = 1_000_000_000L;
    /** How long a pre-copy restore waits for the process's clocks to pass the freeze (see awaitClocksPast). */
    private static final long MAX_WAIT_NANOS = 10 * NANOS;
    /**
     * Test only: restore on the host's clocks (no time namespace), as pmig did before; with {@link #DEBUG_DESTINATION_SKEW}
     * this shows what a process would see on a host whose clocks count from another boot.
     */
    public static final String DEBUG_HOST_CLOCKS = "pmig.debug.restore.hostClocks";
    /** Test only: seconds this host's monotonic and boot clocks are taken to be ahead (negative: behind) of what they read. */
    public static final String DEBUG_DESTINATION_SKEW = "pmig.debug.restore.clockSkewSeconds";

    private TimeNamespaces() {
    }

    /** The clocks of process {@code pid} now (at the freeze), as it reads them. */
    public static ProcessImage.Clocks clocksOf(int pid) {
        ProcFs proc = new ProcFs(pid);
        String own = proc.readLink("ns/time");
        if (!own.equals(proc.readLink("ns/time_for_children"))) {
            throw new RefusedException(SharingCheck.describe(pid) + " made a time namespace (" + proc.readLink("ns/time_for_children")
                + ") for children it has not created yet, which pmig cannot recreate; let the service create them first");
        }
        long[] offsets = offsets(proc);
        long[] engine = Engine.OFFSETS;
        return new ProcessImage.Clocks(clockNs(CLOCK_MONOTONIC) - engine[0] + offsets[0],
            clockNs(CLOCK_BOOTTIME) - engine[1] + offsets[1], clockNs(CLOCK_REALTIME), !own.equals(Engine.NAMESPACE));
    }

    /**
     * pmig-restorer's argument that makes the restored process's clocks go on from {@code clocks}: the values they read
     * at the freeze, in the frame of the restorer's own clocks (this engine's, for its children), and the wall-clock
     * time of the freeze, so that the restorer adds the downtime just before the clone (the process's timers ran on
     * through it by the wall clock, see Timerfds); null for an image made before clocks were kept, which is restored on
     * the host's clocks.
     */
    public static String restorerArgument(ProcessImage.Clocks clocks) {
        long skew = Long.getLong(DEBUG_DESTINATION_SKEW, 0L) * NANOS;
        long[] engine = Engine.OFFSETS;
        long monotonic;
        long boottime;
        long frozenAt = 0;
        if (Boolean.getBoolean(DEBUG_HOST_CLOCKS)) {
            if (skew == 0) {
                return null;
            }
            monotonic = clockNs(CLOCK_MONOTONIC) + skew;     // the (simulated) host's clocks, nothing carried over
            boottime = clockNs(CLOCK_BOOTTIME) + skew;
        } else if (clocks == null) {
            return null;
        } else {
            monotonic = clocks.monotonicNs() + engine[0];
            boottime = clocks.boottimeNs() + engine[1];
            frozenAt = clocks.realtimeNs();
        }
        return "time=" + monotonic + "," + boottime + "," + frozenAt;
    }

    /**
     * Waits, if need be, until the clocks of restored process {@code pid} have passed {@code frozenAt}: a pre-copy's
     * process is created at the first round, from that round's clocks counted on by this host's wall clock, which may be
     * behind the source's by the skew the peers allow. Null {@code frozenAt}: nothing kept, nothing to wait for.
     */
    public static void awaitClocksPast(int pid, ProcessImage.Clocks frozenAt) {
        if (frozenAt == null || Boolean.getBoolean(DEBUG_HOST_CLOCKS)) {
            return;
        }
        ProcessImage.Clocks now = clocksOf(pid);
        long behind = Math.max(frozenAt.monotonicNs() - now.monotonicNs(), frozenAt.boottimeNs() - now.boottimeNs());
        if (behind <= 0) {
            return;
        }
        if (behind > MAX_WAIT_NANOS) {
            throw new RefusedException("the restored process's clocks would go back by " + behind / 1_000_000 + " ms: this"
                + " host's wall clock is behind the source's; synchronize both with NTP");
        }
        try {
            Thread.sleep(behind / 1_000_000, (int) (behind % 1_000_000));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while the restored process's clocks caught up", e);
        }
    }

    /**
     * Refuses a process of {@code moved} in a time namespace other than the host's that a process outside {@code moved}
     * (other than pmig's minimal init of a PID namespace) also lives in: its clocks would be split.
     */
    static void requireOwnedByMovedAlone(Set<Integer> moved) {
        String host = Engine.NAMESPACE;
        for (int pid : moved) {
            String namespace = new ProcFs(pid).readLink("ns/time");
            if (namespace.equals(host)) {
                continue;
            }
            for (int other : ProcFs.allPids()) {
                if (!moved.contains(other) && namespace.equals(PidNamespaces.namespaceOf(other, "time")) && !PidNamespaces.isPmigInit(other)) {
                    throw new RefusedException(SharingCheck.describe(pid) + " shares its time namespace (" + namespace + ") with "
                        + SharingCheck.describe(other) + ", which is not being moved; moving one without the other would split"
                        + " the service's clocks");
                }
            }
        }
    }

    /**
     * This engine's time namespace (the host's) and its offsets, read once: a process's own time namespace is fixed from
     * its start, and pmig makes the restored processes' namespaces in pmig-restorer, never in this one.
     */
    private static final class Engine {
        private static final ProcFs SELF = new ProcFs((int) ProcessHandle.current().pid());
        static final String NAMESPACE = SELF.readLink("ns/time");
        static final long[] OFFSETS = offsets(SELF);
    }

    /** The monotonic and boot offsets, in ns, of the time namespace the children of {@code proc} are created in. */
    private static long[] offsets(ProcFs proc) {
        long[] offsets = new long[2];
        for (String line : proc.read("timens_offsets").split("\n")) {
            String[] w = line.trim().split("\\s+");
            if (w.length == 3) {
                long ns = Long.parseLong(w[1]) * NANOS + Long.parseLong(w[2]);
                if (w[0].equals("monotonic") || w[0].equals(Integer.toString(CLOCK_MONOTONIC))) {
                    offsets[0] = ns;
                } else if (w[0].equals("boottime") || w[0].equals(Integer.toString(CLOCK_BOOTTIME))) {
                    offsets[1] = ns;
                }
            }
        }
        return offsets;
    }

    private static long clockNs(int clock) {
        NativeMemory now = NativeMemory.allocate(16);
        Syscall.call("clock_gettime(" + clock + ")", Nr.CLOCK_GETTIME, clock, now.address());
        return now.getLong(0) * NANOS + now.getLong(8);
    }
}
