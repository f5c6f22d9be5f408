package io.pmig.vip.hold;

import io.pmig.vip.VipException;

import org.pcap4j.core.NotOpenException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.pcap4j.core.PcapHandle;
import org.pcap4j.core.PcapNativeException;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.sql.Timestamp;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Receives every packet the hold rules drop, and only those: the rules log each one to NFLOG
 * group {@value HoldRules#NFLOG_GROUP} before dropping it, and this reads that group through
 * libpcap's "nflog:" device with pcap4j (the only class that sees pcap4j), in immediate mode.
 * Packets go to the buffer of the hold for their destination address.
 *
 * <p>Exact at both ends: a packet is kept if and only if the rule dropped it. To know that every
 * packet dropped before a hold ended has been read, {@link #flush} sends a marker datagram to
 * {@value HoldRules#MARKER_ADDRESS} (always in the hold set, reached over loopback) and waits
 * until it comes out of the group behind them: NFLOG delivers in order.
 *
 * <p>One per node and network namespace (a group has one reader); opened in the calling
 * thread's namespace. Its one thread runs from {@link #open} to {@link #close}.
 */
public final class HoldCapture implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(HoldCapture.class);
    /** NFLOG's payload attribute (linux/netfilter/nfnetlink_log.h, NFULA_PAYLOAD). */
    private static final int NFULA_PAYLOAD = 9;
    /** struct nflog_hdr {u8 nflog_family; u8 nflog_version; be16 nflog_rid;} (pcap/nflog.h). */
    private static final int NFLOG_HEADER = 4;
    private static final int SNAPLEN = 65_535 + 256;
    private static final int SOCKET_BUFFER = 16 << 20;
    private static final long FLUSH_TIMEOUT_MS = 1000;

    private final PcapHandle handle;
    private final DatagramChannel markers;
    private final InetSocketAddress marker;
    private final Map<InetAddress, HoldBuffer> buffers = new ConcurrentHashMap<>();
    private final AtomicLong markerSent = new AtomicLong();
    private final AtomicLong markerSeen = new AtomicLong();
    private final AtomicBoolean unclaimedLogged = new AtomicBoolean();
    private final Thread thread;
    private volatile Throwable failure;

    private HoldCapture(PcapHandle handle, DatagramChannel markers, InetSocketAddress marker) {
        this.handle = handle;
        this.markers = markers;
        this.marker = marker;
        this.thread = new Thread(this::loop, "pmig-hold-capture");
        thread.setDaemon(true);
    }

    public static HoldCapture open() {
        PcapHandle handle;
        try {
            handle = new PcapHandle.Builder("nflog:" + HoldRules.NFLOG_GROUP)
                .snaplen(SNAPLEN)
                .immediateMode(true)
                .bufferSize(SOCKET_BUFFER)
                .timeoutMillis(1)
                .build();
        } catch (PcapNativeException e) {
            throw new VipException("cannot read the held packets from NFLOG group " + HoldRules.NFLOG_GROUP + ": " + e.getMessage()
                + " (is another pmigd running in this network namespace?)");
        }
        try {
            InetSocketAddress marker = new InetSocketAddress(InetAddress.getByName(HoldRules.MARKER_ADDRESS), HoldRules.NFLOG_GROUP);
            HoldCapture c = new HoldCapture(handle, DatagramChannel.open(), marker);
            c.thread.start();
            return c;
        } catch (IOException e) {
            handle.close();
            throw new VipException("cannot open the hold's marker socket: " + e.getMessage());
        }
    }

    /** Packets for {@code vip} go to {@code buffer} from now on. */
    public void register(InetAddress vip, HoldBuffer buffer) {
        buffers.put(vip, buffer);
    }

    public void unregister(InetAddress vip) {
        buffers.remove(vip);
    }

    /** Returns once every packet the rules dropped before this call is in its buffer. */
    public void flush() {
        long n = sendMarker();
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(FLUSH_TIMEOUT_MS);
        while (markerSeen.get() < n) {
            if (failure != null || !thread.isAlive()) {
                throw new VipException("the capture of held packets stopped: " + (failure == null ? "closed" : failure.getMessage()));
            }
            if (System.nanoTime() > deadline) {
                throw new VipException("the hold's marker did not come back from NFLOG group " + HoldRules.NFLOG_GROUP + " within "
                    + FLUSH_TIMEOUT_MS + " ms; held packets may be missing");
            }
            Thread.onSpinWait();
        }
    }

    private long sendMarker() {
        long n = markerSent.incrementAndGet();
        try {
            markers.send(ByteBuffer.allocate(8).putLong(0, n), marker);
        } catch (IOException e) {
            throw new VipException("cannot send the hold's marker to " + HoldRules.MARKER_ADDRESS + ": " + e.getMessage());
        }
        return n;
    }

    private void loop() {
        try {
            handle.loop(-1, (byte[] frame) -> {
                byte[] ip = payload(frame);
                if (ip == null) {
                    return;
                }
                InetAddress to = destination(ip);
                if (isMarker(to, ip)) {
                    markerSeen.accumulateAndGet(markerNumber(ip), Math::max);
                    return;
                }
                HoldBuffer buffer = to == null ? null : buffers.get(to);
                if (buffer == null) {
                    if (!unclaimedLogged.getAndSet(true)) {
                        LOG.warn("event=hold-unclaimed address={}: the hold rules drop packets for an address no hold here"
                            + " keeps (left on by a daemon that died?); a restarted daemon lifts it", to == null ? "?" : to.getHostAddress());
                    }
                    return;
                }
                Timestamp t = handle.getTimestamp();
                buffer.add(new HeldPacket(ip, t.getTime() / 1000 * 1_000_000_000L + t.getNanos()));
            });
        } catch (InterruptedException stopped) {
            // breakLoop from close: the normal end
        } catch (PcapNativeException | NotOpenException | RuntimeException e) {
            failure = e;
        }
    }

    /** The IP packet in an NFLOG record: TLVs {u16 length; u16 type;} in host order, 4-byte aligned. */
    static byte[] payload(byte[] frame) {
        ByteBuffer b = ByteBuffer.wrap(frame).order(java.nio.ByteOrder.nativeOrder());
        int at = NFLOG_HEADER;
        while (at + 4 <= frame.length) {
            int length = b.getShort(at) & 0xffff;
            int type = b.getShort(at + 2) & 0x7fff;
            if (length < 4 || at + length > frame.length) {
                return null;
            }
            if (type == NFULA_PAYLOAD) {
                return java.util.Arrays.copyOfRange(frame, at + 4, at + length);
            }
            at += (length + 3) & ~3;
        }
        return null;
    }

    private static InetAddress destination(byte[] ip) {
        try {
            int version = (ip[0] & 0xff) >>> 4;
            if (version == 4 && ip.length >= 20) {
                return InetAddress.getByAddress(java.util.Arrays.copyOfRange(ip, 16, 20));
            }
            if (version == 6 && ip.length >= 40) {
                return InetAddress.getByAddress(java.util.Arrays.copyOfRange(ip, 24, 40));
            }
        } catch (UnknownHostException impossible) {
            // lengths are checked
        }
        return null;
    }

    private boolean isMarker(InetAddress to, byte[] ip) {
        return marker.getAddress().equals(to) && ip.length >= 28 + 8 && ip[9] == 17;
    }

    /** The marker's number: the first 8 bytes of the UDP payload after a 20-byte IPv4 header. */
    private static long markerNumber(byte[] ip) {
        int header = (ip[0] & 0x0f) * 4;
        return ByteBuffer.wrap(ip, header + 8, 8).getLong();
    }

    /** Stops the capture thread: the loop sees the break request at its next record, which a marker provides. */
    @Override
    public void close() {
        try {
            handle.breakLoop();
            if (thread.isAlive()) {
                sendMarker();
            }
            thread.join();
        } catch (NotOpenException | InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            handle.close();
            try {
                markers.close();
            } catch (IOException ignored) {
                // nothing was sent that matters any more
            }
        }
    }
}
