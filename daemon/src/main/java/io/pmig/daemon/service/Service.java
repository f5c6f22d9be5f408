package io.pmig.daemon.service;

import io.pmig.checkpoint.cgroup.ServiceCgroup;
import io.pmig.checkpoint.proc.ProcFs;
import io.pmig.daemon.control.ControlRefusedException;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * One service of the registry: a name for a running process, given by its pid or by the cgroup it
 * runs in ({@code cgroup}, a path below the cgroup v2 root; null for one given by pid), with its VIPs
 * ("IP/PREFIX") and its DNS name (null for none). The entry lives on the node that runs the service.
 * {@code startTime} is its process's start time (proc(5) stat field 22; 0 in entries written before it was kept):
 * a process that took the pid after the service's ended is not the service.
 */
public record Service(String name, int pid, String cgroup, List<String> vips, String dns, long startTime) {
    /** stat(5) field 22: the time the process started after boot, in clock ticks. */
    private static final int STAT_START_TIME = 22;
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,62}");

    public Service {
        vips = vips == null ? List.of() : List.copyOf(vips);
    }

    /** The service run by process {@code pid}, as it is now (its start time read from /proc). */
    public static Service of(String name, int pid, String cgroup, List<String> vips, String dns) {
        try {
            return new Service(name, pid, cgroup, vips, dns, startTimeOf(pid));
        } catch (UncheckedIOException gone) {
            throw new ControlRefusedException("process " + pid + " does not exist: name a running process for service " + name);
        }
    }

    /** Refuses a name that is not a file name of letters, digits, dot, dash and underscore (at most 63). */
    public static String requireValidName(String name) {
        if (name == null || !NAME.matcher(name).matches()) {
            throw new ControlRefusedException("'" + name + "' is not a service name: letters, digits, '.', '-' and '_', beginning"
                + " with a letter or digit, at most 63 characters");
        }
        return name;
    }

    /**
     * The process that is the service now: its pid, or its cgroup's one top process (whose parent is outside the cgroup).
     * A cgroup's other processes are that one's descendants, which a migration moves with it (the tree rooted there).
     */
    public int process() {
        if (cgroup == null) {
            if (!matchesItsProcess()) {
                throw new ControlRefusedException("process " + pid + " of service " + name + " is gone; pmig service remove " + name
                    + " forgets it");
            }
            return pid;
        }
        List<Integer> procs = processesOf(cgroup);
        List<Integer> tops = new ArrayList<>();
        for (int p : procs) {
            if (!procs.contains(parentOf(p))) {
                tops.add(p);
            }
        }
        if (tops.size() != 1) {
            throw new ControlRefusedException("cgroup " + cgroup + " of service " + name + " holds " + (procs.isEmpty()
                ? "no process: the service is not running" : tops.size() + " separate process trees (their roots " + tops
                + "), and a migration moves one tree: run the service under one parent"));
        }
        return tops.get(0);
    }

    /** A VIP of a service: address and prefix length. */
    public record Vip(InetAddress address, int prefix) {
    }

    /** The VIPs, parsed ("IP/PREFIX" with a literal IP, as {@code service.add} checked them). */
    public List<Vip> parsedVips() {
        List<Vip> out = new ArrayList<>();
        for (String vip : vips) {
            int slash = vip.indexOf('/');
            try {
                out.add(new Vip(InetAddress.getByName(vip.substring(0, slash)), Integer.parseInt(vip.substring(slash + 1))));
            } catch (UnknownHostException | RuntimeException e) {
                throw new ControlRefusedException("VIP " + vip + " of service " + name + " is not IP/PREFIX");
            }
        }
        return out;
    }

    /** Whether process {@code pid} is still the one the entry was made for (the same start time; not "is...": no JSON property). */
    public boolean matchesItsProcess() {
        try {
            return startTime == 0 ? new ProcFs(pid).exists() : startTimeOf(pid) == startTime;
        } catch (UncheckedIOException gone) {
            return false;
        }
    }

    /** Whether the service's process (or a process of its cgroup) is there, and not a zombie. */
    public boolean running() {
        List<Integer> pids = cgroup == null ? (matchesItsProcess() ? List.of(pid) : List.of()) : processesOf(cgroup);
        return pids.stream().anyMatch(p -> {
            try {
                return !new ProcFs(p).status().getOrDefault("State", "Z").startsWith("Z");
            } catch (UncheckedIOException gone) {
                return false;
            }
        });
    }

    /** The same service, run by process {@code newPid} (on the node it moved to), in that process's cgroup if it is given by one. */
    public Service runBy(int newPid) {
        return of(name, newPid, cgroup == null ? null : cgroupOf(newPid), vips, dns);
    }

    /** The cgroup v2 hierarchy's mount point, or a refusal: a service by cgroup needs one. */
    static Path cgroupRoot() {
        return ServiceCgroup.unifiedRoot().orElseThrow(() -> new ControlRefusedException("this host has no cgroup v2 hierarchy"
            + " (neither /sys/fs/cgroup nor /sys/fs/cgroup/unified): name the service by its pid"));
    }

    /** The processes in {@code cgroup} (below the v2 root), or a refusal naming it. */
    static List<Integer> processesOf(String cgroup) {
        Path procs = cgroupRoot().resolve(cgroup.substring(1)).resolve("cgroup.procs");
        try {
            return Files.readAllLines(procs).stream().filter(l -> !l.isBlank()).map(Integer::parseInt).toList();
        } catch (IOException e) {
            throw new ControlRefusedException("cannot read the processes of cgroup " + cgroup + " (" + procs + "): " + e.getMessage()
                + "; name a cgroup of this host's v2 hierarchy, e.g. /system.slice/NAME.scope (systemd-run --scope --unit NAME)");
        }
    }

    /** Process {@code pid}'s cgroup in the v2 hierarchy ("0::/PATH" of /proc/PID/cgroup). */
    static String cgroupOf(int pid) {
        try {
            return Files.readAllLines(Path.of("/proc", Integer.toString(pid), "cgroup")).stream()
                .filter(l -> l.startsWith("0::")).map(l -> l.substring(3)).findFirst()
                .orElseThrow(() -> new ControlRefusedException("process " + pid + " has no cgroup v2 (no 0:: line in /proc/" + pid
                    + "/cgroup)"));
        } catch (IOException e) {
            throw new ControlRefusedException("cannot read the cgroup of process " + pid + ": " + e.getMessage());
        }
    }

    private static long startTimeOf(int pid) {
        return Long.parseLong(new ProcFs(pid).stat()[STAT_START_TIME]);
    }

    private static int parentOf(int pid) {
        try {
            return Integer.parseInt(new ProcFs(pid).stat()[4]);    // stat(5): pid, comm, state, ppid
        } catch (UncheckedIOException gone) {
            return 0;
        }
    }
}
