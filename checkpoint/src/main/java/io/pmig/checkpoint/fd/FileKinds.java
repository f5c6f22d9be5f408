package io.pmig.checkpoint.fd;

import io.pmig.checkpoint.nativeio.Linux;
import io.pmig.checkpoint.nativeio.Sockets;

import java.util.List;

/** Every kind of open file the engine can checkpoint; adding a kind means adding it here. */
public final class FileKinds {
    public static final List<FileKind<?>> ALL = List.of(
        new RegularFiles(),
        new Symlinks(),
        new Devices(),
        new Pipes(),
        new Eventfds(),
        new Epolls(),
        new Timerfds(),
        new Inotifies(),
        new Fanotifies(),
        new Signalfds(),
        new Pidfds(),
        new NamespaceFiles(),
        new UnixDomainSockets(),
        new UdpSockets(),
        new RawSockets(),
        new TcpSockets());

    private FileKinds() {
    }

    /** "netlink", "raw IPv4", "SCTP IPv6 stream"...: what a socket is, for messages (linux/socket.h, linux/net.h). */
    static String socketKind(int fd) {
        int domain = Sockets.getInt(fd, Linux.SOL_SOCKET, Linux.SO_DOMAIN);
        int type = Sockets.getInt(fd, Linux.SOL_SOCKET, Linux.SO_TYPE);
        int protocol = Sockets.getInt(fd, Linux.SOL_SOCKET, Sockets.SO_PROTOCOL);
        String family = switch (domain) {
            case Linux.AF_UNIX -> "Unix";
            case Sockets.AF_INET -> "IPv4";
            case Sockets.AF_INET6 -> "IPv6";
            case 16 -> "netlink";
            case 17 -> "packet";
            default -> "address family " + domain;
        };
        String kind = switch (type) {
            case Linux.SOCK_STREAM -> "stream";
            case Linux.SOCK_DGRAM -> "datagram";
            case 3 -> "raw";
            case Linux.SOCK_SEQPACKET -> "seqpacket";
            default -> "type " + type;
        };
        String proto = (domain == Sockets.AF_INET || domain == Sockets.AF_INET6) && protocol == 132 ? "SCTP " : "";
        return proto + family + " " + kind;
    }

    /** What to call a descriptor no kind handles, for the refusal: "inotify", "TCP socket"... */
    static String describeUnsupported(OpenFile file) {
        String link = file.link();
        if (link.startsWith("anon_inode:")) {
            return link.substring("anon_inode:".length()).replace("[", "").replace("]", "");
        }
        if (link.startsWith("socket:")) {
            return "a " + socketKind(file.local()) + " socket (" + link + ")";
        }
        if (link.endsWith(" (deleted)")) {
            return "a deleted file (" + link + ")";
        }
        return "this kind of file (" + link + ")";
    }
}
