package io.pmig.checkpoint.task;

import io.pmig.checkpoint.image.ImageKind;

import java.util.List;
import java.util.Map;

/**
 * Process-wide state: everything that is not a thread, a mapping or a descriptor. {@code pid} (and each
 * thread's tid) is the number the process sees for itself; {@code ownPidNamespace} says it lived in a PID
 * namespace of its own, which every restore then makes again. {@code cgroupLimits}: the limits of its
 * cgroup (cgroup v2 file name to value, only those set), given to the cgroup of its own it is restored in.
 * {@code userNamespace} is null in images made before it was kept (their processes ran in pmig's own).
 * {@code dumpable}: PR_GET_DUMPABLE (null in images made before it was kept); {@code membarrierRegistrations}: the
 * membarrier REGISTER_* commands the process made, or'ed. {@code clocks}: its monotonic and boot clocks at the
 * freeze, which the restore continues (null in images made before they were kept: restored on the host's clocks).
 * {@code childSubreaper}: PR_SET_CHILD_SUBREAPER, the process adopts its orphaned descendants (false in images made
 * before it was kept).
 */
@ImageKind("process")
public record ProcessImage(
        int pid,
        String exe,
        String cwd,
        String root,
        int umask,
        int personality,
        int[] uids,
        int[] gids,
        int[] groups,
        boolean noNewPrivs,
        Capabilities capabilities,
        long[][] rlimits,
        List<SignalAction> signalActions,
        List<byte[]> pendingSignals,
        long[][] itimers,
        List<PosixTimer> posixTimers,
        MmLayout mm,
        int oomScoreAdj,
        boolean thpDisabled,
        Integer dumpable,
        int membarrierRegistrations,
        boolean ownPidNamespace,
        Map<String, String> cgroupLimits,
        UserNamespace userNamespace,
        Clocks clocks,
        boolean childSubreaper) {

    public ProcessImage {
        cgroupLimits = cgroupLimits == null ? Map.of() : Map.copyOf(cgroupLimits);     // null in images made before they were kept
    }

    /**
     * The capability sets, as /proc/PID/status shows them (bit N: capability N of linux/capability.h).
     * Null in images made before they were kept: the restore then leaves what setresuid leaves.
     */
    public record Capabilities(long bounding, long ambient, long inheritable, long permitted, long effective) {
        /** The sets of a process from its /proc/PID/status fields. */
        public static Capabilities of(Map<String, String> status) {
            return new Capabilities(hex(status, "CapBnd"), hex(status, "CapAmb"), hex(status, "CapInh"), hex(status, "CapPrm"),
                hex(status, "CapEff"));
        }

        private static long hex(Map<String, String> status, String field) {
            return Long.parseUnsignedLong(status.getOrDefault(field, "0"), 16);
        }
    }

    /**
     * CLOCK_MONOTONIC and CLOCK_BOOTTIME in ns as the process read them at the freeze (the host's clocks plus the
     * offsets of its time namespace), CLOCK_REALTIME then (from which the restore counts the downtime), and whether it
     * lived in a time namespace other than the host's.
     */
    public record Clocks(long monotonicNs, long boottimeNs, long realtimeNs, boolean ownTimeNamespace) {
    }

    /** struct kernel_sigaction of one signal (asm/signal.h). */
    public record SignalAction(int signal, long handler, long flags, long restorer, long mask) {
    }

    /** A POSIX timer with its id, how it notifies, and what was left of it (struct itimerspec). */
    public record PosixTimer(int id, int clock, int notification, int signal, long sigval, int threadId,
                             long intervalSec, long intervalNsec, long valueSec, long valueNsec) {
    }

    /** The fields of struct prctl_mm_map (linux/prctl.h), the current brk and the auxiliary vector. */
    public record MmLayout(long startCode, long endCode, long startData, long endData, long startBrk, long brk,
                           long startStack, long argStart, long argEnd, long envStart, long envEnd, long[] auxv) {
    }
}
