package io.pmig.checkpoint.it;

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
 * What an outside observer sees of a process in /proc, normalized so that an exact restore compares
 * equal: memory map (vdso/vvar excluded, adjacent compatible mappings merged, no inode numbers),
 * descriptors (kind, flags, offset), threads (TIDs, names, nice), credentials, signal dispositions,
 * umask, limits, personality, process group and session, cwd/root/exe, cmdline and environ.
 *
 * <p>Taken of an idle test program (waiting for go). Deliberately left out because they legitimately
 * change from moment to moment: pending signals, blocked masks (a handler may be running), times.
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
            switch (key) {
                case "Umask", "Uid", "Gid", "Groups", "SigIgn", "SigCgt", "CapInh", "CapPrm", "CapEff", "CapBnd",
                        "CapAmb", "NoNewPrivs", "Seccomp", "Threads", "Tgid" -> s.fields.put("status." + key,
                        line.substring(key.length() + 1).trim());
                default -> {
                }
            }
        }
        s.fields.put("maps", String.join("\n", normalizedMaps(proc.resolve("maps"))));
        s.fields.put("fds", String.join("\n", descriptors(proc)));
        s.fields.put("tasks", String.join("\n", tasks(proc)));
        return s;
    }

    private static String link(Path p) {
        try {
            return Files.readSymbolicLink(p).toString();
        } catch (IOException e) {
            return "(" + e.getClass().getSimpleName() + ")";
        }
    }

    /** One line per task: tid, comm, nice. */
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
            out.add(tid + " comm=" + comm + " nice=" + f[19 - 3] + " policy=" + f[41 - 3]);
        }
        return out;
    }

    /** One line per descriptor: number, kind (inode numbers dropped), flags without O_LARGEFILE, offset. */
    private static List<String> descriptors(Path proc) throws IOException {
        TreeMap<Integer, String> out = new TreeMap<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(proc.resolve("fd"))) {
            for (Path fd : ds) {
                int n = Integer.parseInt(fd.getFileName().toString());
                String kind = link(fd).replaceAll("^(pipe|socket):\\[\\d+]$", "$1:");
                String flags = "?", pos = "?";
                try {
                    for (String line : Files.readAllLines(proc.resolve("fdinfo").resolve(Integer.toString(n)))) {
                        if (line.startsWith("flags:")) {
                            long fl = Long.parseLong(line.substring(6).trim(), 8) & ~0100000L;
                            flags = Long.toOctalString(fl);
                        } else if (line.startsWith("pos:")) {
                            pos = line.substring(4).trim();
                        }
                    }
                } catch (NoSuchFileException e) {
                    continue; // closed meanwhile
                }
                out.put(n, n + " " + kind + " flags=" + flags + " pos=" + pos);
            }
        }
        return new ArrayList<>(out.values());
    }

    private record Vma(long start, long end, String perms, long offset, String name, boolean anon) {
    }

    /** Memory map without vdso/vvar and inode numbers; adjacent mappings the kernel may or may not merge are merged. */
    static List<String> normalizedMaps(Path maps) throws IOException {
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
            Vma v = new Vma(start, end, f[1], anon ? 0 : offset, name, anon);
            if (!vmas.isEmpty()) {
                Vma p = vmas.get(vmas.size() - 1);
                if (p.end == v.start && p.perms.equals(v.perms) && p.name.equals(v.name) && p.anon == v.anon
                        && (v.anon || p.offset + (p.end - p.start) == v.offset)) {
                    vmas.set(vmas.size() - 1, new Vma(p.start, v.end, p.perms, p.offset, p.name, p.anon));
                    continue;
                }
            }
            vmas.add(v);
        }
        List<String> out = new ArrayList<>();
        for (Vma v : vmas) {
            out.add(String.format("%x-%x %s %x %s", v.start, v.end, v.perms, v.offset, v.name));
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
