package io.pmig.checkpoint.fd;

import io.pmig.checkpoint.nativeio.Linux;
import io.pmig.checkpoint.nativeio.Nr;
import io.pmig.nativeio.NativeMemory;
import io.pmig.nativeio.Syscall;

/**
 * What only sock_diag tells of an IPv4/IPv6 socket (linux/inet_diag.h, linux/sock_diag.h): its
 * shutdown state, which neither getsockopt nor poll shows for a datagram socket shut for writing.
 */
final class InetDiag {
    private static final int AF_NETLINK = 16;
    private static final int NETLINK_SOCK_DIAG = 4;
    private static final int SOCK_DIAG_BY_FAMILY = 20;
    private static final int NLM_F_REQUEST = 1;
    private static final int NLM_F_DUMP = 0x300;
    private static final int NLMSG_DONE = 3;
    private static final int NLMSG_ERROR = 2;
    /** struct inet_diag_req_v2 and struct inet_diag_msg sizes; idiag_inode's offset in the message. */
    private static final int REQUEST_BYTES = 56;
    private static final int MESSAGE_BYTES = 72;
    private static final int INODE_AT = 68;
    private static final int INET_DIAG_SHUTDOWN = 8;

    private InetDiag() {
    }

    /**
     * sk_shutdown (RCV_SHUTDOWN 1, SEND_SHUTDOWN 2) of the socket with {@code inode}, of {@code family} and
     * {@code protocol}; -1 if sock_diag does not list it (a UDP socket neither bound nor connected is in no table).
     */
    static int shutdown(int family, int protocol, long inode) {
        int sock = (int) Syscall.call("socket(AF_NETLINK, NETLINK_SOCK_DIAG)", Nr.SOCKET, AF_NETLINK,
            Linux.SOCK_DGRAM | Linux.SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
        try {
            NativeMemory req = NativeMemory.allocate(16 + REQUEST_BYTES);
            req.putInt(0, 16 + REQUEST_BYTES);                                          // nlmsg_len
            req.putInt(4, SOCK_DIAG_BY_FAMILY | ((NLM_F_REQUEST | NLM_F_DUMP) << 16));  // type (u16) + flags (u16)
            req.putInt(8, 1);                                                           // seq
            req.putInt(16, family | protocol << 8);                                     // family u8, protocol u8, ext u8, pad u8
            req.putInt(20, -1);                                                         // idiag_states: all
            Syscall.call("send inet_diag request", Nr.SENDTO, sock, req.address(), 16 + REQUEST_BYTES, 0, 0, 0);
            NativeMemory buf = NativeMemory.allocate(1 << 16);
            int found = -1;
            while (true) {
                long n = Syscall.call("recv inet_diag", Nr.RECVFROM, sock, buf.address(), buf.size(), 0, 0, 0);
                for (int off = 0; off + 16 <= n; ) {
                    int len = buf.getInt(off);
                    int type = buf.getInt(off + 4) & 0xffff;
                    if (type == NLMSG_DONE) {
                        return found;
                    }
                    if (type == NLMSG_ERROR) {
                        throw new IllegalStateException("sock_diag dump of sockets of family " + family + " failed: errno "
                            + -buf.getInt(off + 16));
                    }
                    if ((buf.getInt(off + 16 + INODE_AT) & 0xffffffffL) == inode) {
                        found = shutdownAttribute(buf, off + 16 + MESSAGE_BYTES, off + len);
                    }
                    off += (len + 3) & ~3;
                }
            }
        } finally {
            Linux.close(sock);
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
