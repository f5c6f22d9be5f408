package io.pmig.checkpoint.fd;

import io.pmig.checkpoint.nativeio.Linux;
import io.pmig.nativeio.NativeMemory;
import io.pmig.checkpoint.nativeio.Nr;
import io.pmig.nativeio.Syscall;

import java.util.HashMap;
import java.util.Map;

/**
 * The host's Unix sockets by inode, with their peers, from one NETLINK_SOCK_DIAG dump
 * (linux/sock_diag.h, linux/unix_diag.h, linux/netlink.h): the only way to learn which socket
 * is connected to which.
 */
public final class UnixSockets {
    public record Info(long inode, int type, int state, long peerInode, String name) {
    }

    private static final int AF_NETLINK = 16;
    private static final int NETLINK_SOCK_DIAG = 4;
    private static final int SOCK_DIAG_BY_FAMILY = 20;
    private static final int NLM_F_REQUEST = 1;
    private static final int NLM_F_DUMP = 0x300;
    private static final int NLMSG_DONE = 3;
    private static final int NLMSG_ERROR = 2;
    private static final int UDIAG_SHOW_NAME = 1;
    private static final int UDIAG_SHOW_PEER = 4;
    private static final int UNIX_DIAG_NAME = 0;
    private static final int UNIX_DIAG_PEER = 2;

    private final Map<Long, Info> byInode;

    private UnixSockets(Map<Long, Info> byInode) {
        this.byInode = byInode;
    }

    public Info get(long inode) {
        return byInode.get(inode);
    }

    public static UnixSockets dump() {
        int sock = (int) Syscall.call("socket(AF_NETLINK, NETLINK_SOCK_DIAG)", Nr.SOCKET, AF_NETLINK, Linux.SOCK_DGRAM | Linux.SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
        try {
            NativeMemory req = NativeMemory.allocate(16 + 24);
            req.putInt(0, 40);                                   // nlmsg_len
            req.putInt(4, SOCK_DIAG_BY_FAMILY | ((NLM_F_REQUEST | NLM_F_DUMP) << 16)); // type (u16) + flags (u16)
            req.putInt(8, 1);                                    // seq
            req.putInt(12, 0);                                   // pid
            req.putInt(16, Linux.AF_UNIX);                       // family u8, protocol u8, pad u16
            req.putInt(20, -1);                                  // udiag_states: all
            req.putInt(24, 0);                                   // udiag_ino
            req.putInt(28, UDIAG_SHOW_NAME | UDIAG_SHOW_PEER);   // udiag_show
            req.putLong(32, -1L);                                // cookie: none
            Syscall.call("send sock_diag request", Nr.SENDTO, sock, req.address(), 40, 0, 0, 0);
            Map<Long, Info> out = new HashMap<>();
            NativeMemory buf = NativeMemory.allocate(1 << 16);
            while (true) {
                long n = Syscall.call("recv sock_diag", Nr.RECVFROM, sock, buf.address(), buf.size(), 0, 0, 0);
                int off = 0;
                while (off + 16 <= n) {
                    int len = buf.getInt(off);
                    int type = buf.getInt(off + 4) & 0xffff;
                    if (type == NLMSG_DONE) {
                        return new UnixSockets(out);
                    }
                    if (type == NLMSG_ERROR) {
                        throw new IllegalStateException("sock_diag dump of Unix sockets failed: errno " + -buf.getInt(off + 16));
                    }
                    parse(buf, off + 16, off + len, out);
                    off += (len + 3) & ~3;
                }
            }
        } finally {
            Linux.close(sock);
        }
    }

    private static void parse(NativeMemory buf, int start, int end, Map<Long, Info> out) {
        // struct unix_diag_msg: family u8, type u8, state u8, pad u8, ino u32, cookie[2]
        int type = buf.bytes(start + 1, 1)[0];
        int state = buf.bytes(start + 2, 1)[0];
        long inode = buf.getInt(start + 4) & 0xffffffffL;
        long peer = 0;
        String name = null;
        int at = start + 16;
        while (at + 4 <= end) {
            int rtaLen = buf.getInt(at) & 0xffff;
            int rtaType = buf.getInt(at) >>> 16;
            if (rtaLen < 4) {
                break;
            }
            if (rtaType == UNIX_DIAG_PEER) {
                peer = buf.getInt(at + 4) & 0xffffffffL;
            } else if (rtaType == UNIX_DIAG_NAME) {
                byte[] raw = buf.bytes(at + 4, rtaLen - 4);
                name = raw.length > 0 && raw[0] == 0 ? "@" + new String(raw, 1, raw.length - 1) : new String(raw).replace("\0", "");
            }
            at += (rtaLen + 3) & ~3;
        }
        out.put(inode, new Info(inode, type, state, peer, name));
    }
}
