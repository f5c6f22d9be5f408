package io.pmig.daemon.service;

import io.pmig.daemon.log.DaemonLog;

import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.locks.LockSupport;

/**
 * Ends a service on this node, as a cluster manager's stop does: SIGTERM to its processes, SIGKILL to those still
 * there after the grace period; then its VIPs leave this node's interface. (Its registry entry and DNS name are the
 * caller's to remove.) A service started by pmig run takes pmig's init of its PID namespace with it: that init ends
 * when its one child has.
 */
final class ServiceStop {
    private static final long POLL_NANOS = 10_000_000L;
    private static final Duration KILL_WAIT = Duration.ofSeconds(5);

    private ServiceStop() {
    }

    /** Stops {@code s}; returns whether it needed SIGKILL. */
    static boolean stop(Service s, Duration grace, String vipInterface) {
        List<ProcessHandle> processes = processesOf(s);
        processes.forEach(ProcessHandle::destroy);
        boolean killed = false;
        if (!awaitGone(processes, grace)) {
            processes.forEach(ProcessHandle::destroyForcibly);
            killed = true;
            if (!awaitGone(processes, KILL_WAIT)) {
                throw new IllegalStateException("service " + s.name() + " did not end on SIGKILL within " + KILL_WAIT.toSeconds() + " s");
            }
        }
        ServiceVips.takeDown(s.parsedVips(), vipInterface);
        DaemonLog.info("service-stopped", "name", s.name(), "pid", s.pid(), "killed", killed);
        return killed;
    }

    private static List<ProcessHandle> processesOf(Service s) {
        if (s.cgroup() == null && !s.matchesItsProcess()) {
            return List.of();                               // ended; its pid may be another process's now
        }
        List<Integer> pids = s.cgroup() == null ? List.of(s.pid()) : Service.processesOf(s.cgroup());
        return pids.stream().map(ProcessHandle::of).flatMap(Optional::stream).toList();
    }

    private static boolean awaitGone(List<ProcessHandle> processes, Duration within) {
        long deadline = System.nanoTime() + within.toNanos();
        while (processes.stream().anyMatch(ProcessHandle::isAlive)) {
            if (System.nanoTime() > deadline) {
                return false;
            }
            LockSupport.parkNanos(POLL_NANOS);
        }
        return true;
    }
}
