package io.pmig.checkpoint.fd;

import io.pmig.checkpoint.ListenerBacklog;
import io.pmig.checkpoint.nativeio.SockDiag;
import io.pmig.checkpoint.nativeio.Sockets;
import io.pmig.nativeio.NativeMemory;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * What only sock_diag tells of an IPv4/IPv6 socket (linux/inet_diag.h): its shutdown state, which neither
 * getsockopt nor poll shows for a socket shut for writing, and whether it is in any table at all.
 */
final class InetDiag {
    /** struct inet_diag_req_v2 and struct inet_diag_msg sizes; idiag_inode's offset in the message. */
    private static final int REQUEST_BYTES = 56;
    private static final int MESSAGE_BYTES = 72;
    private static final int INODE_AT = 68;
    private static final int INET_DIAG_SHUTDOWN = 8;
    /** idiag_sport, idiag_src and idiag_rqueue (for a listener: its accept queue) in struct inet_diag_msg. */
    private static final int SPORT_AT = 4;
    private static final int SRC_AT = 8;
    private static final int RQUEUE_AT = 56;
    /** TCP states (include/net/tcp_states.h): a request is reported as SYN_RECV, kept as NEW_SYN_RECV. */
    private static final int TCP_SYN_RECV = 3;
    private static final int TCP_LISTEN = 10;
    private static final int TCP_NEW_SYN_RECV = 12;

    private InetDiag() {
    }

    /**
     * sk_shutdown (RCV_SHUTDOWN 1, SEND_SHUTDOWN 2) of the socket with {@code inode}, of {@code family} and
     * {@code protocol}; -1 if sock_diag does not list it (a UDP socket neither bound nor connected is in no table,
     * nor is a TCP socket whose connection ended).
     */
    static int shutdown(int family, int protocol, long inode) {
        byte[] request = ByteBuffer.allocate(REQUEST_BYTES).order(ByteOrder.LITTLE_ENDIAN)
            .put((byte) family).put((byte) protocol).put((byte) 0).put((byte) 0)
            .putInt(-1)                                                         // idiag_states: all
            .array();
        int[] found = {-1};
        SockDiag.dump(request, "sockets of family " + family, (buf, start, end) -> {
            if ((buf.getInt(start + INODE_AT) & 0xffffffffL) == inode) {
                found[0] = shutdownAttribute(buf, start + MESSAGE_BYTES, end);
            }
        });
        return found[0];
    }

    /**
     * Aborts the TCP connection between sockaddrs {@code local} and {@code peer} through SOCK_DESTROY (tcp_abort): it is
     * closed both ways, with ECONNABORTED pending, by the kernel alone; a connection in repair mode sends nothing.
     */
    static void abort(int family, byte[] local, byte[] peer) {
        ByteBuffer request = ByteBuffer.allocate(REQUEST_BYTES).order(ByteOrder.LITTLE_ENDIAN)
            .put((byte) family).put((byte) Sockets.IPPROTO_TCP).put((byte) 0).put((byte) 0)
            .putInt(-1);                                                        // idiag_states: any
        // struct inet_diag_sockid: ports in network order, the addresses (16 bytes each), the interface, no cookie
        request.put(local, 2, 2).put(peer, 2, 2);
        request.put(java.util.Arrays.copyOf(addressOf(local), 16)).put(java.util.Arrays.copyOf(addressOf(peer), 16));
        request.putInt(0).putInt(-1).putInt(-1);
        SockDiag.destroy(request.array(), "TCP connection " + Sockets.describe(local) + " -> " + Sockets.describe(peer));
    }

    /** The address bytes of a sockaddr_in (4) or sockaddr_in6 (16). */
    private static byte[] addressOf(byte[] sockaddr) {
        return sockaddr[0] == Sockets.AF_INET ? java.util.Arrays.copyOfRange(sockaddr, 4, 8) : java.util.Arrays.copyOfRange(sockaddr, 8, 24);
    }

    /**
     * The TCP listeners among the sockets with {@code inodes}, IPv4 and IPv6, each with its accept queue and the
     * handshakes under way to its port (on its address, or any for a wildcard listener): one dump of the listeners
     * and requests of the calling thread's network namespace per family.
     */
    static List<ListenerBacklog> listenerBacklogs(Set<Long> inodes) {
        List<ListenerBacklog> listeners = new ArrayList<>();
        List<InetSocketAddress> requests = new ArrayList<>();
        for (int family : new int[] {Sockets.AF_INET, Sockets.AF_INET6}) {
            byte[] request = ByteBuffer.allocate(REQUEST_BYTES).order(ByteOrder.LITTLE_ENDIAN)
                .put((byte) family).put((byte) Sockets.IPPROTO_TCP).put((byte) 0).put((byte) 0)
                .putInt(1 << TCP_LISTEN | 1 << TCP_SYN_RECV | 1 << TCP_NEW_SYN_RECV)
                .array();
            SockDiag.dump(request, "TCP listeners and handshakes", (buf, start, end) -> {
                int state = buf.bytes(start + 1, 1)[0] & 0xff;
                InetSocketAddress local = local(buf, start);
                if (state == TCP_LISTEN && inodes.contains(buf.getInt(start + INODE_AT) & 0xffffffffL)) {
                    listeners.add(new ListenerBacklog(local, buf.getInt(start + RQUEUE_AT), 0));
                } else if (state != TCP_LISTEN) {
                    requests.add(local);
                }
            });
        }
        return listeners.stream().map(l -> new ListenerBacklog(l.local(), l.notAccepted(),
            (int) requests.stream().filter(r -> r.getPort() == l.local().getPort()
                && (l.local().getAddress().isAnyLocalAddress() || r.getAddress().equals(l.local().getAddress()))).count()))
            .toList();
    }

    /** idiag_sport (big-endian) and idiag_src of a message; an IPv4-mapped IPv6 address comes back as IPv4. */
    private static InetSocketAddress local(NativeMemory buf, int start) {
        byte[] port = buf.bytes(start + SPORT_AT, 2);
        int family = buf.bytes(start, 1)[0] & 0xff;
        try {
            return new InetSocketAddress(InetAddress.getByAddress(buf.bytes(start + SRC_AT, family == Sockets.AF_INET ? 4 : 16)),
                (port[0] & 0xff) << 8 | (port[1] & 0xff));
        } catch (UnknownHostException impossible) {
            throw new IllegalStateException(impossible);
        }
    }

    private static int shutdownAttribute(NativeMemory buf, int at, int end) {
        while (at + 4 <= end) {
            int rtaLen = buf.getInt(at) & 0xffff;
            if (rtaLen < 4) {
                break;
            }
            if (buf.getInt(at) >>> 16 == INET_DIAG_SHUTDOWN) {
                return buf.bytes(at + 4, 1)[0] & 0xff;
            }
            at += (rtaLen + 3) & ~3;
        }
        return 0;
    }
}
