package io.pmig.checkpoint.fd;

import io.pmig.checkpoint.carried.RecreatedFiles;
import io.pmig.checkpoint.nativeio.Linux;
import io.pmig.checkpoint.proc.ProcFs;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Descriptors this process holds while a restore builds the files, until the restored process is
 * resumed or killed; objects with two ends (a pipe, a socket pair) are created once and shared by
 * both ends' states. TCP connections rebuilt in repair mode are listed to go live together. Addresses several files
 * are bound to are counted before any is opened, and what must wait until all are is run then.
 */
public final class RestoreContext implements AutoCloseable {
    private final Map<String, int[]> shared = new HashMap<>();
    private final List<Integer> held = new ArrayList<>();
    private final java.util.Set<String> done = new java.util.HashSet<>();
    private final List<TcpSockets.Repaired> repaired = new ArrayList<>();
    /** The engine's descriptor of each open file the restore made, by its id in the image (one id space for a tree). */
    private final Map<Integer, Integer> openedFiles = new HashMap<>();
    private final Map<String, Integer> bindings = new HashMap<>();
    private final List<Runnable> afterOpening = new ArrayList<>();
    private final RecreatedFiles recreatedFiles = new RecreatedFiles();
    /** A restored process of the image's (host pid), when they were restored in a PID namespace of their own; else 0. */
    private int inNewPidNamespace;

    /** The pair known as {@code key}, created by {@code create} the first time. */
    public int[] pair(String key, Supplier<int[]> create) {
        return shared.computeIfAbsent(key, k -> {
            int[] fds = create.get();
            for (int fd : fds) {
                hold(fd);
            }
            return fds;
        });
    }

    /** Records the engine's descriptor {@code fd} of the file the image calls {@code id}, for every process that holds it. */
    void opened(int id, int fd) {
        openedFiles.put(id, fd);
    }

    /** The engine's descriptor of file {@code id}, opened for this process or another of its tree; {@code user} names who asks. */
    int openedFile(int id, Supplier<String> user) {
        Integer fd = openedFiles.get(id);
        if (fd == null) {
            throw new io.pmig.checkpoint.FailedException(user.get() + " refers to open file " + id
                + ", which no process of the image restored before it; the image is inconsistent");
        }
        return fd;
    }

    /** Notes that the processes are restored in a new PID namespace, {@code restored} (host pid) being one of them. */
    void restoredInNewPidNamespace(int restored) {
        inNewPidNamespace = restored;
    }

    /**
     * The pid this host knows process {@code pid} of the image by: the same, or, in a new PID namespace, the process
     * of that namespace that is {@code pid} inside it (the last NSpid of its status); -1 if there is none.
     */
    int hostPid(int pid) {
        if (inNewPidNamespace == 0) {
            return pid;
        }
        ProcFs restored = new ProcFs(inNewPidNamespace);
        String namespace = restored.readLink("ns/pid");
        for (int candidate : ProcFs.allPids()) {
            try {
                ProcFs proc = new ProcFs(candidate);
                String[] nsPids = proc.status().get("NSpid").split("\\s+");
                if (proc.readLink("ns/pid").equals(namespace) && Integer.parseInt(nsPids[nsPids.length - 1]) == pid) {
                    return candidate;
                }
            } catch (RuntimeException gone) {
                // ended meanwhile, or not ours to read
            }
        }
        return -1;
    }

    /** The files the images of the tree carry, recreated once for all its processes. */
    public RecreatedFiles recreatedFiles() {
        return recreatedFiles;
    }

    /** True the first time it is asked about {@code key}: for work done once per shared object. */
    public boolean once(String key) {
        return done.add(key);
    }

    /** One more file of the image bound to {@code address} (a key of the kind's own: protocol and port). */
    void addBinding(String address) {
        bindings.merge(address, 1, Integer::sum);
    }

    /** How many files of the image are bound to {@code address}. */
    int bindings(String address) {
        return bindings.getOrDefault(address, 0);
    }

    /** Work to do once every file of the image is opened. */
    void afterOpening(Runnable work) {
        afterOpening.add(work);
    }

    /** Every file of the image is opened: does what waited for that. */
    void allOpened() {
        afterOpening.forEach(Runnable::run);
        afterOpening.clear();
    }

    /** Keeps {@code fd} open until the restore has installed its copies, then closes it. */
    public int hold(int fd) {
        held.add(fd);
        return fd;
    }

    /** A TCP connection rebuilt in repair mode; it goes live only when the restore says so. */
    void repaired(TcpSockets.Repaired connection) {
        repaired.add(connection);
    }

    /** The TCP connections still in repair mode, in the order they were rebuilt. */
    public List<TcpSockets.Repaired> repairedConnections() {
        return List.copyOf(repaired);
    }

    @Override
    public void close() {
        for (int fd : held) {
            Linux.close(fd);
        }
        held.clear();
        recreatedFiles.close();
    }
}
