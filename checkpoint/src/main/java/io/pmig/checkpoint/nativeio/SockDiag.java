package io.pmig.checkpoint.nativeio;

import io.pmig.nativeio.NativeMemory;
import io.pmig.nativeio.Syscall;

/** Dumps of the host's sockets through NETLINK_SOCK_DIAG (linux/sock_diag.h, linux/netlink.h). */
public final class SockDiag {
    private static final int AF_NETLINK = 16;
    private static final int NETLINK_SOCK_DIAG = 4;
    private static final int SOCK_DIAG_BY_FAMILY = 20;
    private static final int NLM_F_REQUEST = 1;
    private static final int NLM_F_DUMP = 0x300;
    private static final int NLMSG_DONE = 3;
    private static final int NLMSG_ERROR = 2;
    private static final int NLMSG_HEADER = 16;

    /** One answer: its body is {@code buf[start, end)}. */
    public interface Answer {
        void accept(NativeMemory buf, int start, int end);
    }

    private SockDiag() {
    }

    /**
     * Sends a SOCK_DIAG_BY_FAMILY dump request whose body (the request struct after the netlink header) is
     * {@code body}, and hands every answer to {@code each}; {@code what} names the sockets for an error.
     */
    public static void dump(byte[] body, String what, Answer each) {
        int sock = (int) Syscall.call("socket(AF_NETLINK, NETLINK_SOCK_DIAG)", Nr.SOCKET, AF_NETLINK,
            Linux.SOCK_DGRAM | Linux.SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
        try {
            NativeMemory req = NativeMemory.allocate(NLMSG_HEADER + body.length);
            req.putInt(0, NLMSG_HEADER + body.length);                                  // nlmsg_len
            req.putInt(4, SOCK_DIAG_BY_FAMILY | ((NLM_F_REQUEST | NLM_F_DUMP) << 16));  // type (u16) + flags (u16)
            req.putInt(8, 1);                                                           // seq
            req.put(NLMSG_HEADER, body);
            Syscall.call("send sock_diag request", Nr.SENDTO, sock, req.address(), NLMSG_HEADER + body.length, 0, 0, 0);
            NativeMemory buf = NativeMemory.allocate(1 << 16);
            while (true) {
                long n = Syscall.call("recv sock_diag", Nr.RECVFROM, sock, buf.address(), buf.size(), 0, 0, 0);
                for (int off = 0; off + NLMSG_HEADER <= n; ) {
                    int len = buf.getInt(off);
                    int type = buf.getInt(off + 4) & 0xffff;
                    if (type == NLMSG_DONE) {
                        return;
                    }
                    if (type == NLMSG_ERROR) {
                        throw new IllegalStateException("sock_diag dump of " + what + " failed: errno " + -buf.getInt(off + NLMSG_HEADER));
                    }
                    each.accept(buf, off + NLMSG_HEADER, off + len);
                    off += (len + 3) & ~3;
                }
            }
        } finally {
            Linux.close(sock);
        }
    }
}
