package io.pmig.checkpoint.fd;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** What a kind may need to know about the other descriptors of the process while dumping. */
public final class DumpContext {
    private final Map<Integer, OpenFile> files;
    private final UnixSockets unixSockets;
    private final List<Integer> inRepair = new ArrayList<>();

    DumpContext(Map<Integer, OpenFile> files, UnixSockets unixSockets) {
        this.files = files;
        this.unixSockets = unixSockets;
    }

    /** Every descriptor of the process, by number. */
    public Map<Integer, OpenFile> files() {
        return files;
    }

    public UnixSockets unixSockets() {
        return unixSockets;
    }

    /** Records that descriptor {@code fd} of the process is a TCP socket now in repair mode. */
    public void enteredRepair(int fd) {
        inRepair.add(fd);
    }

    List<Integer> inRepair() {
        return inRepair;
    }
}
