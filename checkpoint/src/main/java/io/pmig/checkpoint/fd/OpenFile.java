package io.pmig.checkpoint.fd;

import io.pmig.checkpoint.nativeio.Linux;
import io.pmig.checkpoint.proc.ProcFs;

import java.util.Map;

/**
 * A descriptor of the checkpointed process as the dump sees it: its /proc link target and
 * fdinfo, and on demand a duplicate in this process (pidfd_getfd) for reading its state.
 */
public final class OpenFile implements AutoCloseable {
    private final int pid;
    private final int fd;
    private final int pidfd;
    private final ProcFs proc;
    private final String link;
    private String fdinfoText;
    private Map<String, String> fdinfo;
    private int local = -1;

    OpenFile(ProcFs proc, int pidfd, int fd) {
        this.pid = proc.pid();
        this.fd = fd;
        this.pidfd = pidfd;
        this.proc = proc;
        this.link = proc.readLink("fd/" + fd);
    }

    /** fdinfo is read when first asked for: a pre-check of many sockets never needs it. */
    private void readFdinfo() {
        if (fdinfoText == null) {
            fdinfoText = proc.read("fdinfo/" + fd);
            fdinfo = ProcFs.keyValues(fdinfoText);
        }
    }

    public int pid() {
        return pid;
    }

    public int fd() {
        return fd;
    }

    /** What /proc/PID/fd/N points at: a path, "pipe:[ino]", "socket:[ino]", "anon_inode:[eventfd]"... */
    public String link() {
        return link;
    }

    public String fdinfo(String key) {
        readFdinfo();
        String v = fdinfo.get(key);
        if (v == null) {
            throw new IllegalStateException("fd " + fd + " of process " + pid + ": fdinfo has no '" + key + "'");
        }
        return v;
    }

    public String fdinfoText() {
        readFdinfo();
        return fdinfoText;
    }

    /** The open file status flags (O_ACCMODE, O_APPEND, O_NONBLOCK...), without the descriptor's O_CLOEXEC. */
    public int statusFlags() {
        return Integer.parseInt(fdinfo("flags"), 8) & ~Linux.O_CLOEXEC;
    }

    public boolean closeOnExec() {
        return (Integer.parseInt(fdinfo("flags"), 8) & Linux.O_CLOEXEC) != 0;
    }

    /** The inode number inside a link such as "pipe:[1234]". */
    public long linkInode() {
        return Long.parseLong(link.substring(link.indexOf('[') + 1, link.indexOf(']')));
    }

    /** A descriptor in this process for the same open file description. */
    public int local() {
        if (local < 0) {
            local = Linux.pidfdGetfd(pidfd, fd);
        }
        return local;
    }

    public String describe() {
        return "fd " + fd + " of process " + pid + " (" + link + ")";
    }

    @Override
    public void close() {
        if (local >= 0) {
            Linux.close(local);
            local = -1;
        }
    }
}
