package io.pmig.checkpoint.fd;

import io.pmig.checkpoint.nativeio.PmigTcpState;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** What a kind may need to know about the other descriptors of the process while dumping. */
public final class DumpContext {
    private final Map<Integer, OpenFile> files;
    private final List<OpenFile> treeFiles;
    private final UnixSockets unixSockets;
    private final List<SocketInRepair> inRepair = new ArrayList<>();
    private final int pid;
    /** pmig.ko's reading of the process's TCP sockets, once, at the first; empty without the module */
    private Map<Integer, PmigTcpState.Socket> tcpState;
    private long tcpStateReadAtMillis;

    /**
     * A TCP socket of the process put into repair mode, and whether it had SO_REUSEADDR: repair mode
     * forces address reuse on, and leaving it turns reuse off (net/ipv4/tcp.c), so it is set again after.
     */
    public record SocketInRepair(int fd, boolean reuseAddress) {
    }

    DumpContext(int pid, Map<Integer, OpenFile> files, List<OpenFile> treeFiles, UnixSockets unixSockets) {
        this.pid = pid;
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

    /**
     * TCP socket {@code file}'s state as pmig.ko read it, with all the process's others in the same call, or
     * null without the module (the caller reads it with the getsockopts).
     */
    PmigTcpState.Socket tcpStateFromModule(OpenFile file) {
        if (tcpState == null) {
            // before the call: a timestamp clock restored from it runs, if anything, ahead
            tcpStateReadAtMillis = System.currentTimeMillis();
            Map<Integer, PmigTcpState.Socket> read = PmigTcpState.read(pid);
            tcpState = read == null ? Map.of() : read;
        }
        PmigTcpState.Socket s = tcpState.get(file.fd());
        return s != null && s.inode() == file.linkInode() ? s : null;
    }

    /**
     * When pmig.ko read the sockets (wall clock): the moment their timestamp clocks were read. The sockets
     * not yet in repair mode meanwhile may have sent more (the timestamp clock went on; nothing else the
     * restore uses changes while inbound packets are held and the process is stopped, but for data the
     * reading still counts as not sent, which the copy then sends again under the same sequence numbers).
     */
    long tcpStateReadAtMillis() {
        return tcpStateReadAtMillis;
    }

    /** Records that descriptor {@code fd} of the process is a TCP socket now in repair mode. */
    public void enteredRepair(int fd, boolean reuseAddress) {
        inRepair.add(new SocketInRepair(fd, reuseAddress));
    }

    List<SocketInRepair> inRepair() {
        return inRepair;
    }
}
