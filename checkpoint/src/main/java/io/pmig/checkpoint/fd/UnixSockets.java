package io.pmig.checkpoint.fd;

import io.pmig.checkpoint.nativeio.Linux;
import io.pmig.checkpoint.nativeio.SockDiag;
import io.pmig.nativeio.NativeMemory;

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
        // struct unix_diag_req: family u8, protocol u8, pad u16, states, ino, show, cookie[2]
        byte[] request = java.nio.ByteBuffer.allocate(24).order(java.nio.ByteOrder.LITTLE_ENDIAN)
            .putInt(Linux.AF_UNIX).putInt(-1).putInt(0).putInt(UDIAG_SHOW_NAME | UDIAG_SHOW_PEER).putLong(-1L).array();
        Map<Long, Info> out = new HashMap<>();
        SockDiag.dump(request, "Unix sockets", (buf, start, end) -> parse(buf, start, end, out));
        return new UnixSockets(out);
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
