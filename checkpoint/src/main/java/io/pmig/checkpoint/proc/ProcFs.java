package io.pmig.checkpoint.proc;

import io.pmig.checkpoint.nativeio.Linux;
import io.pmig.nativeio.Errno;
import io.pmig.nativeio.SyscallException;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Stream;

/** Reads what /proc says about one process (proc(5)). */
public final class ProcFs {
    /** /proc/PID/limits prints each limit's name in 25 columns and a space (fs/proc/base.c, proc_pid_limits). */
    private static final int LIMIT_NAME_COLUMNS = 26;

    private final int pid;
    private final Path dir;

    public ProcFs(int pid) {
        this.pid = pid;
        this.dir = Path.of("/proc", Integer.toString(pid));
    }

    public int pid() {
        return pid;
    }

    public Path path(String name) {
        return dir.resolve(name);
    }

    /** The file the process maps at {@code start}-{@code end}, even deleted or a memfd (opening it needs CAP_SYS_ADMIN). */
    public Path mapFile(long start, long end) {
        return dir.resolve("map_files/" + Long.toHexString(start) + "-" + Long.toHexString(end));
    }

    public boolean exists() {
        return Files.isDirectory(dir);
    }

    public String read(String name) {
        return new String(readBytes(name), StandardCharsets.ISO_8859_1);
    }

    public byte[] readBytes(String name) {
        Path file = dir.resolve(name);
        try {
            return Linux.readFile(file.toString());
        } catch (SyscallException e) {
            if (e.errno() == Errno.ENOENT || e.errno() == Errno.ESRCH) {
                throw new UncheckedIOException("process " + pid + " is gone (" + file + ")", new NoSuchFileException(file.toString()));
            }
            throw new UncheckedIOException("cannot read " + file + ": " + Errno.describe(e.errno()), new IOException(e.getMessage(), e));
        }
    }

    public String readLink(String name) {
        try {
            return Files.readSymbolicLink(dir.resolve(name)).toString();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read link " + dir.resolve(name), e);
        }
    }

    public List<MapsEntry> maps() {
        List<MapsEntry> out = new ArrayList<>();
        for (String line : read("maps").split("\n")) {
            if (!line.isEmpty()) {
                out.add(MapsEntry.parse(line));
            }
        }
        return out;
    }

    /** Thread ids, ascending. */
    public TreeSet<Integer> tasks() {
        return numericEntries("task");
    }

    /** Open descriptor numbers, ascending. */
    public TreeSet<Integer> fds() {
        return numericEntries("fd");
    }

    /** The parent's pid (the PPid of status), as this pid namespace sees it. */
    public int parent() {
        return Integer.parseInt(status().get("PPid").trim());
    }

    /** The process's children (made by any of its threads), from each thread's {@code task/TID/children}. */
    public TreeSet<Integer> children() {
        TreeSet<Integer> out = new TreeSet<>();
        for (int tid : tasks()) {
            String text;
            try {
                text = Files.readString(dir.resolve("task/" + tid + "/children"), StandardCharsets.ISO_8859_1).trim();
            } catch (NoSuchFileException e) {
                continue;                               // the thread has just ended
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read " + dir.resolve("task/" + tid + "/children"), e);
            }
            for (String child : text.isEmpty() ? new String[0] : text.split(" ")) {
                out.add(Integer.parseInt(child));
            }
        }
        return out;
    }

    /** Every process on this host (as this /proc shows them), ascending. */
    public static TreeSet<Integer> allPids() {
        TreeSet<Integer> out = new TreeSet<>();
        try (Stream<Path> s = Files.list(Path.of("/proc"))) {
            s.map(p -> p.getFileName().toString()).filter(n -> n.chars().allMatch(Character::isDigit))
                .forEach(n -> out.add(Integer.parseInt(n)));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list /proc", e);
        }
        return out;
    }

    private TreeSet<Integer> numericEntries(String name) {
        TreeSet<Integer> out = new TreeSet<>();
        try (Stream<Path> s = Files.list(dir.resolve(name))) {
            s.forEach(p -> out.add(Integer.parseInt(p.getFileName().toString())));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + dir.resolve(name), e);
        }
        return out;
    }

    /** "Key:\tvalue" files such as status and fdinfo; the first occurrence of a key wins. */
    public static Map<String, String> keyValues(String text) {
        Map<String, String> out = new LinkedHashMap<>();
        for (String line : text.split("\n")) {
            int colon = line.indexOf(':');
            if (colon > 0) {
                out.putIfAbsent(line.substring(0, colon).trim(), line.substring(colon + 1).trim());
            }
        }
        return out;
    }

    public Map<String, String> status() {
        return keyValues(read("status"));
    }

    /** Each thread's task/TID/status, by tid, ascending; a thread that ends while they are read is left out. */
    public Map<Integer, Map<String, String>> threadStatuses() {
        Map<Integer, Map<String, String>> out = new TreeMap<>();
        for (int tid : tasks()) {
            Path status = dir.resolve("task/" + tid + "/status");
            try {
                out.put(tid, keyValues(Files.readString(status, StandardCharsets.ISO_8859_1)));
            } catch (IOException e) {
                // a thread ending under the read fails it with ENOENT, or ESRCH once its file is open
                if (Files.exists(status.getParent())) {
                    throw new UncheckedIOException("cannot read " + status, e);
                }
            }
        }
        return out;
    }

    /**
     * The fields of /proc/PID/stat, numbered as in proc(5) (field 1 is the pid, 2 the comm).
     * The comm may hold spaces and parentheses, so the split starts after its last ')'.
     */
    public String[] stat() {
        String text = read("stat").trim();
        int close = text.lastIndexOf(')');
        String[] rest = text.substring(close + 2).split(" ");
        String[] fields = new String[rest.length + 3];
        fields[1] = text.substring(0, text.indexOf(' '));
        fields[2] = text.substring(text.indexOf('(') + 1, close);
        System.arraycopy(rest, 0, fields, 3, rest.length);
        return fields;
    }

    /**
     * The resource limits {soft, hard} from /proc/PID/limits, in the kernel's RLIMIT_* order (the file's
     * line order, linux/resource.h), "unlimited" as RLIM_INFINITY (-1). Read from /proc rather than with
     * prlimit64, which needs CAP_SYS_RESOURCE for a process of another user.
     */
    public long[][] limits() {
        List<long[]> out = new ArrayList<>();
        for (String line : read("limits").split("\n")) {
            if (line.startsWith("Max ")) {
                // "Max open files            1024                 1048576              files": the name fills 26 columns
                String[] values = line.substring(LIMIT_NAME_COLUMNS).trim().split("\\s+");
                out.add(new long[] {limit(values[0]), limit(values[1])});
            }
        }
        return out.toArray(long[][]::new);
    }

    private static long limit(String value) {
        return value.equals("unlimited") ? -1 : Long.parseUnsignedLong(value);
    }
}
