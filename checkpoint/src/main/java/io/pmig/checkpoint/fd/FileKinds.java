package io.pmig.checkpoint.fd;

import java.util.List;

/** Every kind of open file the engine can checkpoint; adding a kind means adding it here. */
public final class FileKinds {
    public static final List<FileKind<?>> ALL = List.of(
        new RegularFiles(),
        new Devices(),
        new Pipes(),
        new Eventfds(),
        new Epolls(),
        new Timerfds(),
        new Signalfds(),
        new UnixSocketPairs(),
        new UdpSockets(),
        new TcpSockets());

    private FileKinds() {
    }

    /** What to call a descriptor no kind handles, for the refusal: "inotify", "TCP socket"... */
    static String describeUnsupported(OpenFile file) {
        String link = file.link();
        if (link.startsWith("anon_inode:")) {
            return link.substring("anon_inode:".length()).replace("[", "").replace("]", "");
        }
        if (link.startsWith("socket:")) {
            return "a socket of this kind (" + link + ")";
        }
        if (link.endsWith(" (deleted)")) {
            return "a deleted file (" + link + ")";
        }
        return "this kind of file (" + link + ")";
    }
}
