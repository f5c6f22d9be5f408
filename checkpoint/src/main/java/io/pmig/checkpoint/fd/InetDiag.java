package io.pmig.checkpoint.fd;

import io.pmig.checkpoint.nativeio.SockDiag;
import io.pmig.nativeio.NativeMemory;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

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
