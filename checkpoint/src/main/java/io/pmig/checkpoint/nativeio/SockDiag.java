package io.pmig.checkpoint.nativeio;

import io.pmig.nativeio.NativeMemory;
import io.pmig.nativeio.Syscall;

/** Dumps of the host's sockets, and SOCK_DESTROY of one, through NETLINK_SOCK_DIAG (linux/sock_diag.h, linux/netlink.h). */
public final class SockDiag {
    private static final int AF_NETLINK = 16;
    private static final int NETLINK_SOCK_DIAG = 4;
    private static final int SOCK_DIAG_BY_FAMILY = 20;
    private static final int SOCK_DESTROY = 21;
    private static final int NLM_F_ACK = 4;
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
        int sock = open();
        try {
            send(sock, SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, body);
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

    /**
     * SOCK_DESTROY of the socket {@code body} (an inet_diag_req_v2) names: the kernel aborts it (tcp_abort: error
     * ECONNABORTED, then closed both ways) without the process's doing. CONFIG_INET_DIAG_DESTROY; {@code what} names it.
     */
    public static void destroy(byte[] body, String what) {
        int sock = open();
        try {
            send(sock, SOCK_DESTROY, NLM_F_REQUEST | NLM_F_ACK, body);
            NativeMemory buf = NativeMemory.allocate(1 << 12);
            long n = Syscall.call("recv sock_diag", Nr.RECVFROM, sock, buf.address(), buf.size(), 0, 0, 0);
            if (n < NLMSG_HEADER + 4 || (buf.getInt(4) & 0xffff) != NLMSG_ERROR) {
                throw new IllegalStateException("SOCK_DESTROY of " + what + ": no acknowledgement");
            }
            int error = -buf.getInt(NLMSG_HEADER);
            if (error != 0) {
                throw new io.pmig.nativeio.SyscallException("SOCK_DESTROY of " + what, error);
            }
        } finally {
            Linux.close(sock);
        }
    }

    private static int open() {
        return (int) Syscall.call("socket(AF_NETLINK, NETLINK_SOCK_DIAG)", Nr.SOCKET, AF_NETLINK,
            Linux.SOCK_DGRAM | Linux.SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    }

    private static void send(int sock, int type, int flags, byte[] body) {
        NativeMemory req = NativeMemory.allocate(NLMSG_HEADER + body.length);
        req.putInt(0, NLMSG_HEADER + body.length);                                  // nlmsg_len
        req.putInt(4, type | (flags << 16));                                        // type (u16) + flags (u16)
        req.putInt(8, 1);                                                           // seq
        req.put(NLMSG_HEADER, body);
        Syscall.call("send sock_diag request", Nr.SENDTO, sock, req.address(), NLMSG_HEADER + body.length, 0, 0, 0);
    }
}
