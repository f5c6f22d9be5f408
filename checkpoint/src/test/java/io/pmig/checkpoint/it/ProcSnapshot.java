package io.pmig.checkpoint.it;

import io.pmig.checkpoint.nativeio.Linux;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * What an outside observer sees of a process, normalized so that an exact restore compares equal, and
 * generic so that a flag a restore loses is caught for every kind of state, present and future:
 * <ul>
 * <li>every line of /proc/PID/status but those in {@link #STATUS_CHANGING}, and the per-process files
 * in {@link #PROC_FILES} (oom_score_adj, coredump_filter, timerslack...), the owner of /proc/PID (a
 * process that is not dumpable shows root there: no ptrace, core or /proc access for its owner);</li>
 * <li>the memory map with each mapping's VmFlags from smaps (madvise flags, THP, locking...);</li>
 * <li>every descriptor: its kind, the owner of its file, every fdinfo line but those in {@link #FDINFO_CHANGING} (flags, pos,
 * eventfd-count, timerfd ticks and clock, epoll and inotify watches, signalfd masks, file locks), and
 * for a socket every option of {@link SocketOptions} read through a copy (pidfd_getfd) and its poll
 * state;</li>
 * <li>signals pending for the process and for each thread but those timers raise ({@link #TIMER_SIGNALS});</li>
 * <li>threads (TIDs, names, nice, policy), process group and session, cwd/root/exe, cmdline, environ,
 * limits, personality.</li>
 * </ul>
 *
 * <p>Taken of an idle test program (waiting for go). What legitimately differs between an original and
 * its exact copy is left out, each with its reason, in the lists named above and in {@link #FDINFO_CHANGING}.
 */
public final class ProcSnapshot {
    private final int pid;
    private final Map<String, String> fields = new TreeMap<>();

    private ProcSnapshot(int pid) {
        this.pid = pid;
    }

    public static ProcSnapshot of(int pid) throws IOException {
        ProcSnapshot s = new ProcSnapshot(pid);
        Path proc = Paths.get("/proc", Integer.toString(pid));
        s.fields.put("exe", link(proc.resolve("exe")));
        s.fields.put("cwd", link(proc.resolve("cwd")));
        s.fields.put("root", link(proc.resolve("root")));
        s.fields.put("cmdline", Base64.getEncoder().encodeToString(Files.readAllBytes(proc.resolve("cmdline"))));
        s.fields.put("environ", Base64.getEncoder().encodeToString(Files.readAllBytes(proc.resolve("environ"))));
        s.fields.put("personality", Files.readString(proc.resolve("personality")).trim());
        s.fields.put("limits", Files.readString(proc.resolve("limits")));
        String stat = Files.readString(proc.resolve("stat"));
        String[] sf = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        // sf[0] is field 3 (state): process group is field 5, session field 6
        s.fields.put("pgrp", sf[5 - 3]);
        s.fields.put("session", sf[6 - 3]);
        for (String line : Files.readAllLines(proc.resolve("status"))) {
            String key = line.contains(":") ? line.substring(0, line.indexOf(':')) : line;
            String value = line.substring(Math.min(line.length(), key.length() + 1)).trim();
            if (TIMER_MASKS.contains(key)) {
                s.fields.put("status." + key, steadyMask(value));
            } else if (!STATUS_CHANGING.contains(key)) {
                s.fields.put("status." + key, value);
            }
        }
        for (String file : PROC_FILES) {
            s.fields.put(file, readOrError(proc.resolve(file)));
        }
        // a copy runs in a cgroup of its own in the v2 and systemd hierarchies (ServiceCgroupTest): the v1 controllers' stay
        s.fields.put("cgroup (v1 controllers)", readOrError(proc.resolve("cgroup")).lines()
            .filter(l -> !l.startsWith("0::") && !l.contains(":name=systemd:")).collect(java.util.stream.Collectors.joining("\n")));
        s.fields.put("owner", Files.getAttribute(proc, "unix:uid") + ":" + Files.getAttribute(proc, "unix:gid"));
        s.fields.put("maps", String.join("\n", normalizedMaps(proc.resolve("maps"), vmFlags(proc.resolve("smaps")))));
        s.fields.put("fds", String.join("\n", descriptors(pid, proc)));
        s.fields.put("tasks", String.join("\n", tasks(proc)));
        return s;
    }

    /**
     * /proc/PID/status lines that legitimately differ between a process and its exact copy:
     * State, voluntary/nonvoluntary_ctxt_switches (moment to moment); VmPeak, VmHWM, VmRSS, RssAnon,
     * RssFile, RssShmem, VmPTE, VmSwap (which pages are resident: a restore makes present only the pages
     * the image stores, and the original's peak includes the checkpoint's own work); PPid and TracerPid
     * (the copy's parent is whoever restored it; process trees are the tree package's matter); FDSize
     * (the size the descriptor table grew to, which follows the numbers ever used: the restore parks
     * descriptors above the highest one); SigQ (the per-user count of queued signals, shared by every
     * process of the user); Name is /proc/PID/comm per thread, compared in "tasks". SigPnd, ShdPnd and SigBlk are
     * compared without {@link #TIMER_SIGNALS}.
     */
    static final java.util.Set<String> STATUS_CHANGING = java.util.Set.of("State", "voluntary_ctxt_switches",
        "nonvoluntary_ctxt_switches", "VmPeak", "VmHWM", "VmRSS", "RssAnon", "RssFile", "RssShmem", "VmPTE", "VmSwap",
        "PPid", "TracerPid", "FDSize", "SigQ", "Name");

    /**
     * The status lines of signal masks that timers change from moment to moment: the pending signals, of the thread (SigPnd)
     * and of the process (ShdPnd), and the blocked ones (SigBlk), which hold a timer's signal while its handler runs (a copy
     * resumed with timer signals pending runs their handlers at once).
     */
    private static final java.util.Set<String> TIMER_MASKS = java.util.Set.of("SigPnd", "ShdPnd", "SigBlk");

    /**
     * Signals a running timer makes pending from moment to moment, so not compared: SIGALRM, SIGVTALRM and
     * SIGPROF (itimers) and every real-time signal (POSIX timers signal them; signals.c and timers.c check their
     * queued signals themselves).
     */
    static final long TIMER_SIGNALS = 1L << 14 - 1 | 1L << 26 - 1 | 1L << 27 - 1 | -1L << 31;

    /** A signal mask as /proc shows it, without {@link #TIMER_SIGNALS}. */
    private static String steadyMask(String hex) {
        return Long.toHexString(Long.parseUnsignedLong(hex, 16) & ~TIMER_SIGNALS);
    }

    /** Per-process settings /proc shows one file each. */
    static final List<String> PROC_FILES = List.of("oom_score_adj", "coredump_filter", "timerslack_ns", "comm",
        "attr/current", "setgroups", "uid_map", "gid_map", "loginuid", "sessionid");

    /**
     * fdinfo lines that legitimately differ: "ino" of a file that is not a path (a pipe, socket or
     * anonymous inode is a new object, as is its inode number; a path's inode is in the link's identity
     * check), "eventfd-id" (a global counter of eventfd objects), and in each "tfd:" (epoll) line the
     * watched file's "ino" and "sdev" (the same reason); a "lock:" line's ordinal in /proc/locks. A
     * timerfd's "it_value" counts down: compared as armed or not; a periodic one's "ticks" and "it_value"
     * change with time, and the kernel counts the expirations of an expired one only when asked (the
     * checkpoint asks): not compared (exact_fds.c and timers.c check them).
     */
    static final java.util.Set<String> FDINFO_CHANGING = java.util.Set.of("ino", "eventfd-id");

    private static String readOrError(Path p) {
        try {
            return Files.readString(p).trim();
        } catch (IOException e) {
            return "(" + e.getClass().getSimpleName() + ")";
        }
    }

    private static String link(Path p) {
        try {
            return Files.readSymbolicLink(p).toString();
        } catch (IOException e) {
            return "(" + e.getClass().getSimpleName() + ")";
        }
    }

    /** One line per task: tid, comm, nice, policy, pending signals (without {@link #TIMER_SIGNALS}). */
    private static List<String> tasks(Path proc) throws IOException {
        TreeSet<Integer> tids = new TreeSet<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(proc.resolve("task"))) {
            for (Path t : ds) {
                tids.add(Integer.parseInt(t.getFileName().toString()));
            }
        }
        List<String> out = new ArrayList<>();
        for (int tid : tids) {
            Path t = proc.resolve("task").resolve(Integer.toString(tid));
            String comm = Files.readString(t.resolve("comm")).trim();
            String stat = Files.readString(t.resolve("stat"));
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            // f[0] is field 3 (state); nice is field 19, policy field 41
            String pending = Files.readAllLines(t.resolve("status")).stream().filter(l -> l.startsWith("SigPnd:"))
                .map(l -> steadyMask(l.substring("SigPnd:".length()).trim())).findFirst().orElse("?");
            out.add(tid + " comm=" + comm + " nice=" + f[19 - 3] + " policy=" + f[41 - 3] + " pending=" + pending);
        }
        return out;
    }

    /**
     * One line per descriptor: number, kind (inode numbers dropped), every fdinfo line but those of
     * {@link #FDINFO_CHANGING} (flags without O_LARGEFILE), and a socket's options.
     */
    private static List<String> descriptors(int pid, Path proc) throws IOException {
        TreeMap<Integer, String> out = new TreeMap<>();
        int pidfd = Linux.pidfdOpen(pid);
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(proc.resolve("fd"))) {
            for (Path fd : ds) {
                int n = Integer.parseInt(fd.getFileName().toString());
                String target = link(fd);
                String kind = target.replaceAll("^(pipe|socket):\\[\\d+]$", "$1:");
                StringBuilder line = new StringBuilder(n + " " + kind);
                try {
                    // sorted: the order of an epoll's or inotify's watches is the kernel's tree order
                    List<String> info = Files.readAllLines(proc.resolve("fdinfo").resolve(Integer.toString(n))).stream()
                        .map(l -> normalizedFdinfo(l, target.startsWith("/"))).filter(Objects::nonNull).sorted().toList();
                    boolean periodic = info.stream().anyMatch(l -> l.startsWith("it_interval:") && !l.endsWith("(0, 0)"));
                    info.stream().filter(l -> !periodic || !(l.startsWith("ticks:") || l.startsWith("it_value:")))
                        .forEach(l -> line.append(" | ").append(l));
                } catch (NoSuchFileException e) {
                    continue; // closed meanwhile
                }
                try {
                    line.append(" | owner ").append(Files.getAttribute(fd, "unix:uid")).append(':').append(Files.getAttribute(fd, "unix:gid"));
                } catch (NoSuchFileException e) {
                    continue; // closed meanwhile
                }
                String options = target.startsWith("socket:") ? SocketOptions.of(pidfd, n) : null;
                if (options != null) {
                    line.append(" | ").append(options);
                }
                out.put(n, line.toString());
            }
        } finally {
            Linux.close(pidfd);
        }
        return new ArrayList<>(out.values());
    }

    private static String normalizedFdinfo(String line, boolean path) {
        int colon = line.indexOf(':');
        String key = colon < 0 ? line : line.substring(0, colon);
        String value = colon < 0 ? "" : line.substring(colon + 1).trim();
        return switch (key) {
            case "flags" -> "flags: " + Long.toOctalString(Long.parseLong(value, 8) & ~0100000L);
            case "ino" -> path ? line : null;
            case "eventfd-id" -> null;
            case "it_value" -> "it_value: " + (value.equals("(0, 0)") ? "disarmed" : "armed");
            case "tfd" -> line.replaceAll("\\s+ino:\\s*\\S+", "").replaceAll("\\s+sdev:\\s*\\S+", "");
            case "lock" -> "lock: " + value.replaceFirst("^\\d+:\\s*", "");
            default -> line.trim();
        };
    }

    /**
     * VmFlags of each mapping from smaps, by start address, without "ac" (VM_ACCOUNT: whether the
     * mapping is counted in the commit charge, which follows from its protection at mmap time; a restore
     * maps every region writable to fill it, which only vm.overcommit_memory=2 would tell apart).
     */
    private static Map<Long, String> vmFlags(Path smaps) throws IOException {
        Map<Long, String> out = new TreeMap<>();
        long start = -1;
        for (String line : Files.readAllLines(smaps, StandardCharsets.UTF_8)) {
            if (line.matches("^[0-9a-f]+-[0-9a-f]+ .*")) {
                start = Long.parseUnsignedLong(line.substring(0, line.indexOf('-')), 16);
            } else if (line.startsWith("VmFlags:")) {
                out.put(start, (" " + line.substring(8).trim() + " ").replace(" ac ", " ").trim());
            }
        }
        return out;
    }

    private record Vma(long start, long end, String perms, long offset, String name, boolean anon, String flags) {
    }

    static List<String> normalizedMaps(Path maps) throws IOException {
        return normalizedMaps(maps, Map.of());
    }

    /**
     * Memory map without vdso/vvar and inode numbers, with each mapping's VmFlags ({@code flags} by start
     * address; none when empty); adjacent mappings the kernel may or may not merge are merged.
     */
    static List<String> normalizedMaps(Path maps, Map<Long, String> flags) throws IOException {
        List<Vma> vmas = new ArrayList<>();
        for (String line : Files.readAllLines(maps, StandardCharsets.UTF_8)) {
            String[] f = line.trim().split("\\s+", 6);
            String name = f.length > 5 ? f[5].trim() : "";
            if (name.equals("[vdso]") || name.equals("[vvar]") || name.equals("[vvar_vclock]")) {
                continue;
            }
            String[] range = f[0].split("-");
            long start = Long.parseUnsignedLong(range[0], 16), end = Long.parseUnsignedLong(range[1], 16);
            long offset = Long.parseUnsignedLong(f[2], 16);
            boolean anon = "0".equals(f[4]) && !name.startsWith("/");
            Vma v = new Vma(start, end, f[1], anon ? 0 : offset, name, anon, flags.getOrDefault(start, ""));
            if (!vmas.isEmpty()) {
                Vma p = vmas.get(vmas.size() - 1);
                if (p.end == v.start && p.perms.equals(v.perms) && p.name.equals(v.name) && p.anon == v.anon
                        && p.flags.equals(v.flags) && (v.anon || p.offset + (p.end - p.start) == v.offset)) {
                    vmas.set(vmas.size() - 1, new Vma(p.start, v.end, p.perms, p.offset, p.name, p.anon, p.flags));
                    continue;
                }
            }
            vmas.add(v);
        }
        List<String> out = new ArrayList<>();
        for (Vma v : vmas) {
            out.add(String.format("%x-%x %s %x %s%s", v.start, v.end, v.perms, v.offset, v.name,
                v.flags.isEmpty() ? "" : " [" + v.flags + "]"));
        }
        return out;
    }

    public int pid() {
        return pid;
    }

    /** Human-readable differences, empty if none. */
    public List<String> diff(ProcSnapshot other) {
        List<String> d = new ArrayList<>();
        TreeSet<String> keys = new TreeSet<>(fields.keySet());
        keys.addAll(other.fields.keySet());
        for (String k : keys) {
            String a = fields.get(k), b = other.fields.get(k);
            if (Objects.equals(a, b)) {
                continue;
            }
            if (a != null && b != null && (a.contains("\n") || b.contains("\n"))) {
                List<String> la = List.of(a.split("\n")), lb = List.of(b.split("\n"));
                StringBuilder sb = new StringBuilder(k + " differs:");
                for (String l : la) {
                    if (!lb.contains(l)) {
                        sb.append("\n    - ").append(l);
                    }
                }
                for (String l : lb) {
                    if (!la.contains(l)) {
                        sb.append("\n    + ").append(l);
                    }
                }
                d.add(sb.toString());
            } else {
                d.add(k + ": " + abbreviate(a) + " -> " + abbreviate(b));
            }
        }
        return d;
    }

    private static String abbreviate(String s) {
        if (s == null) {
            return "(missing)";
        }
        return s.length() > 200 ? s.substring(0, 200) + "..." : s;
    }
}
