package io.pmig.checkpoint.fd;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** What a kind may need to know about the other descriptors of the process while dumping. */
public final class DumpContext {
    private final Map<Integer, OpenFile> files;
    private final List<OpenFile> treeFiles;
    private final UnixSockets unixSockets;
    private final List<SocketInRepair> inRepair = new ArrayList<>();

    /**
     * A TCP socket of the process put into repair mode, and whether it had SO_REUSEADDR: repair mode
     * forces address reuse on, and leaving it turns reuse off (net/ipv4/tcp.c), so it is set again after.
     */
    public record SocketInRepair(int fd, boolean reuseAddress) {
    }

    DumpContext(Map<Integer, OpenFile> files, List<OpenFile> treeFiles, UnixSockets unixSockets) {
        this.files = files;
        this.treeFiles = treeFiles;
        this.unixSockets = unixSockets;
    }

    /** Every descriptor of the process, by number. */
    public Map<Integer, OpenFile> files() {
        return files;
    }

    /**
     * Every descriptor of every process checkpointed together (this one's included): where the other end of a pipe
     * or socket may be without being left behind.
     */
    public List<OpenFile> treeFiles() {
        return treeFiles;
    }

    public UnixSockets unixSockets() {
        return unixSockets;
    }

    /** Records that descriptor {@code fd} of the process is a TCP socket now in repair mode. */
    public void enteredRepair(int fd, boolean reuseAddress) {
        inRepair.add(new SocketInRepair(fd, reuseAddress));
    }

    List<SocketInRepair> inRepair() {
        return inRepair;
    }
}
