package io.pmig.daemon.service;

import io.pmig.daemon.log.DaemonLog;
import io.pmig.vip.VipException;
import io.pmig.vip.source.SourceAddress;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * A service's outbound connections and UDP leave from its VIP (its first one): its cgroup is pinned to it
 * ({@link SourceAddress}), so that a connection it opens is the service's and moves with it. Only a cgroup that is the
 * service's alone is pinned — its own (pmig run's {@code pmig/NAME}, or the one {@code --cgroup} names), or a pid's
 * that holds no other process but its parent (pmig's init of its PID namespace, for pmig run); never the hierarchy's
 * root. A migration carries the pin to the copy's cgroup.
 */
final class ServiceSourcePin {
    private ServiceSourcePin() {
    }

    /** Pins the service's cgroup to its VIP; the VIP it pinned to, or empty (no VIP, a shared cgroup, no cgroup BPF). */
    static Optional<String> pin(Service s) {
        Optional<Path> cgroup = ownCgroup(s);
        if (s.vips().isEmpty() || cgroup.isEmpty()) {
            return Optional.empty();
        }
        Service.Vip vip = s.parsedVips().get(0);
        try {
            SourceAddress.pin(cgroup.get(), vip.address());
            return Optional.of(vip.address().getHostAddress());
        } catch (VipException e) {
            // the service runs on; its new outbound connections leave from the node's own address, as the answer says
            DaemonLog.warn("service-source-pin-failed", "name", s.name(), "cgroup", cgroup.get(), "detail", e.getMessage());
            return Optional.empty();
        }
    }

    /** Removes the pin of the service's own cgroup, if it has one. */
    static void unpin(Service s) {
        ownCgroup(s).filter(Files::isDirectory).ifPresent(cgroup -> {
            try {
                SourceAddress.unpin(cgroup);
            } catch (VipException e) {
                DaemonLog.warn("service-source-unpin-failed", "name", s.name(), "cgroup", cgroup, "detail", e.getMessage());
            }
        });
    }

    private static Optional<Path> ownCgroup(Service s) {
        if (SourceAddress.unifiedRoot().isEmpty() || !s.running()) {
            return Optional.empty();
        }
        Path cgroup = SourceAddress.cgroupOf(s.pid());
        if (cgroup.equals(SourceAddress.unifiedRoot().get())) {
            return Optional.empty();
        }
        if (s.cgroup() == null && othersIn(cgroup, s.pid())) {
            return Optional.empty();
        }
        return Optional.of(cgroup);
    }

    /** Whether {@code cgroup} holds a process besides {@code pid} and its parent. */
    private static boolean othersIn(Path cgroup, int pid) {
        long parent = ProcessHandle.of(pid).flatMap(ProcessHandle::parent).map(ProcessHandle::pid).orElse(-1L);
        try {
            return Files.readAllLines(cgroup.resolve("cgroup.procs")).stream().filter(l -> !l.isBlank()).map(Long::parseLong)
                .anyMatch(p -> p != pid && p != parent);
        } catch (IOException e) {
            return true;                                    // unknown: not the service's alone
        }
    }
}
