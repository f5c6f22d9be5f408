package io.pmig.vip.netlink;

import io.pmig.nativeio.Errno;
import io.pmig.nativeio.NativeMemory;
import io.pmig.vip.nativeio.Net;
import io.pmig.nativeio.SyscallException;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.function.Consumer;
import java.util.function.IntPredicate;

/**
 * A NETLINK_ROUTE socket: one request at a time, answered by an ack or a dump. Message layout
 * mirrors linux/netlink.h: struct nlmsghdr {u32 nlmsg_len; u16 nlmsg_type; u16 nlmsg_flags;
 * u32 nlmsg_seq; u32 nlmsg_pid;} (16 bytes, host byte order), payloads aligned to 4 bytes;
 * struct nlmsgerr {int error; struct nlmsghdr msg;} with extended-ack TLVs after it when
 * NLM_F_ACK_TLVS is set. The socket lives in the network namespace of the thread that opened it.
 */
public final class NetlinkSocket implements AutoCloseable {
    public static final int NLMSG_HDRLEN = 16;
    public static final short NLMSG_ERROR = 2;
    public static final short NLMSG_DONE = 3;
    public static final short NLM_F_REQUEST = 0x01;
    public static final short NLM_F_MULTI = 0x02;
    public static final short NLM_F_ACK = 0x04;
    /** NLM_F_ROOT | NLM_F_MATCH */
    public static final short NLM_F_DUMP = 0x300;
    public static final short NLM_F_EXCL = 0x200;
    public static final short NLM_F_CREATE = 0x400;
    /** In an NLMSG_ERROR message: extended-ack TLVs follow (linux/netlink.h). */
    private static final int NLM_F_ACK_TLVS = 0x200;
    /** In an NLMSG_ERROR message: the echoed request was capped to its header (NETLINK_CAP_ACK). */
    private static final int NLM_F_CAPPED = 0x100;
    /** enum nlmsgerr_attrs: NLMSGERR_ATTR_MSG, the kernel's error text. */
    private static final int NLMSGERR_ATTR_MSG = 1;
    private static final int BUFFER_SIZE = 64 * 1024;

    /** The kernel's answer to an acked request: errno 0 for success, and its extended-ack text if any. */
    public record Ack(int errno, String message) {
        public boolean ok() {
            return errno == 0;
        }

        /** "EEXIST (already exists)", plus the kernel's own words when it gave some. */
        public String describe() {
            return Errno.describe(errno) + (message == null || message.isEmpty() ? "" : ": " + message);
        }
    }

    private final int fd;
    private final NativeMemory sendBuffer = NativeMemory.allocate(BUFFER_SIZE);
    private final NativeMemory receiveBuffer = NativeMemory.allocate(BUFFER_SIZE);
    private final byte[] received = new byte[BUFFER_SIZE];
    private int sequence = (int) (System.nanoTime() & 0x3fffffff);
    private boolean closed;

    private NetlinkSocket(int fd) {
        this.fd = fd;
    }

    /** Opens a route netlink socket in the calling thread's network namespace. */
    public static NetlinkSocket openRoute() {
        return open(Net.NETLINK_ROUTE);
    }

    /** Opens a netfilter (nfnetlink) socket in the calling thread's network namespace. */
    public static NetlinkSocket openNetfilter() {
        return open(Net.NETLINK_NETFILTER);
    }

    private static NetlinkSocket open(int protocol) {
        int fd = Net.socket(Net.AF_NETLINK, Net.SOCK_RAW, protocol);
        try {
            Net.setsockoptInt(fd, Net.SOL_NETLINK, Net.NETLINK_CAP_ACK, 1);
            try {
                Net.setsockoptInt(fd, Net.SOL_NETLINK, Net.NETLINK_EXT_ACK, 1);
            } catch (SyscallException e) {
                // Older kernels lack extended acks; errors then carry errno only.
            }
            Net.bindNetlink(fd);
            return new NetlinkSocket(fd);
        } catch (RuntimeException e) {
            Net.close(fd);
            throw e;
        }
    }

    /** Sends one request with NLM_F_ACK and waits for its ack. */
    public Ack acked(short type, short flags, byte[] payload) {
        int seq = send(type, (short) (flags | NLM_F_REQUEST | NLM_F_ACK), payload);
        Ack[] ack = new Ack[1];
        receive(s -> s == seq, (t, m) -> { }, a -> ack[0] = a);
        return ack[0];
    }

    /** One message of a batch. */
    public record Message(short type, short flags, byte[] payload) {
    }

    /**
     * Sends {@code begin}, {@code request} (with NLM_F_ACK) and {@code end} in one datagram, as
     * nfnetlink wants a transaction, and waits for the ack of the request or the error that
     * failed the whole batch.
     */
    public Ack ackedBatch(Message begin, Message request, Message end) {
        int first = sequence + 1;
        ByteBuffer b = ByteBuffer.allocate(3 * NLMSG_HDRLEN + align(begin.payload().length) + align(request.payload().length)
            + align(end.payload().length)).order(ByteOrder.nativeOrder());
        put(b, begin.type(), (short) (begin.flags() | NLM_F_REQUEST), ++sequence, begin.payload());
        int seq = ++sequence;
        put(b, request.type(), (short) (request.flags() | NLM_F_REQUEST | NLM_F_ACK), seq, request.payload());
        put(b, end.type(), (short) (end.flags() | NLM_F_REQUEST), ++sequence, end.payload());
        sendBuffer.put(0, b.array());
        Net.send(fd, sendBuffer, b.position());
        Ack[] ack = new Ack[1];
        receive(s -> s >= first && s <= seq, (t, m) -> { }, a -> ack[0] = a);
        return ack[0];
    }

    /**
     * Sends one dump request and passes each answer's type and payload (the bytes after its
     * nlmsghdr, starting at index 0) to {@code each}; throws on an error answer.
     */
    public void dump(short type, byte[] payload, Handler each) {
        int seq = send(type, (short) (NLM_F_REQUEST | NLM_F_DUMP), payload);
        receive(s -> s == seq, each, a -> {
            if (!a.ok()) {
                throw new SyscallException("netlink dump of type " + type, a.errno());
            }
        });
    }

    /** Receives each answer of a dump: its nlmsg_type and its payload (valid only during the call). */
    @FunctionalInterface
    public interface Handler {
        void accept(short type, ByteBuffer payload);
    }

    private int send(short type, short flags, byte[] payload) {
        int seq = ++sequence;
        ByteBuffer b = ByteBuffer.allocate(NLMSG_HDRLEN + align(payload.length)).order(ByteOrder.nativeOrder());
        put(b, type, flags, seq, payload);
        sendBuffer.put(0, b.array());
        Net.send(fd, sendBuffer, b.position());
        return seq;
    }

    private static void put(ByteBuffer b, short type, short flags, int seq, byte[] payload) {
        int start = b.position();
        b.putInt(NLMSG_HDRLEN + payload.length).putShort(type).putShort(flags).putInt(seq).putInt(0).put(payload);
        b.position(start + NLMSG_HDRLEN + align(payload.length));
    }

    /** Reads until the answer to a request whose seq {@code ours} accepts is complete: an NLMSG_ERROR (ack) or NLMSG_DONE. */
    private void receive(IntPredicate ours, Handler each, Consumer<Ack> onAck) {
        while (true) {
            int n = Net.recv(fd, receiveBuffer, 0);
            if (n == -Errno.EINTR) {
                continue;
            }
            if (n < 0) {
                throw new SyscallException("recv(netlink)", -n);
            }
            receiveBuffer.get(0, received, 0, n);
            ByteBuffer b = ByteBuffer.wrap(received, 0, n).order(ByteOrder.nativeOrder());
            int at = 0;
            while (at + NLMSG_HDRLEN <= n) {
                int len = b.getInt(at);
                short type = b.getShort(at + 4);
                short flags = b.getShort(at + 6);
                int mseq = b.getInt(at + 8);
                if (len < NLMSG_HDRLEN || at + len > n) {
                    throw new IllegalStateException("malformed netlink message of length " + len);
                }
                int next = at + align(len);
                if (!ours.test(mseq)) {         // a late answer to an earlier request
                    at = next;
                    continue;
                }
                if (type == NLMSG_DONE) {
                    onAck.accept(new Ack(0, null));
                    return;
                }
                if (type == NLMSG_ERROR) {
                    int error = b.getInt(at + NLMSG_HDRLEN);
                    onAck.accept(new Ack(-error, error == 0 ? null : extAckMessage(b, at, len, flags)));
                    return;
                }
                ByteBuffer m = b.duplicate().order(ByteOrder.nativeOrder());
                m.limit(at + len).position(at + NLMSG_HDRLEN);
                each.accept(type, m.slice().order(ByteOrder.nativeOrder()));
                at = next;
            }
        }
    }

    private static String extAckMessage(ByteBuffer b, int at, int len, short flags) {
        if ((flags & NLM_F_ACK_TLVS) == 0) {
            return null;
        }
        int echoed = (flags & NLM_F_CAPPED) != 0 ? NLMSG_HDRLEN : b.getInt(at + NLMSG_HDRLEN + 4);
        int tlv = at + NLMSG_HDRLEN + 4 + align(echoed);
        int end = at + len;
        while (tlv + 4 <= end) {
            int alen = b.getShort(tlv) & 0xffff;
            int atype = b.getShort(tlv + 2) & 0x3fff;
            if (alen < 4 || tlv + alen > end) {
                break;
            }
            if (atype == NLMSGERR_ATTR_MSG) {
                int l = alen - 4;
                while (l > 0 && b.get(tlv + 4 + l - 1) == 0) {
                    l--;
                }
                return new String(b.array(), tlv + 4, l, StandardCharsets.UTF_8);
            }
            tlv += align(alen);
        }
        return null;
    }

    static int align(int n) {
        return (n + 3) & ~3;
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            Net.close(fd);
        }
    }
}
