package io.pmig.vip.hold;

import io.pmig.vip.VipException;

import org.pcap4j.core.BpfProgram;
import org.pcap4j.core.NotOpenException;
import org.pcap4j.core.PcapHandle;
import org.pcap4j.core.PcapNativeException;
import org.pcap4j.core.PcapNetworkInterface;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.sql.Timestamp;

/**
 * Captures the inbound packets addressed to one VIP on one interface into a {@link HoldBuffer}:
 * libpcap through pcap4j (the only class that sees pcap4j), immediate mode (without it packets
 * come ~5 ms late, FACTS.md), kernel-side filter, inbound only. AF_PACKET sees a packet before
 * nftables drops it, so capture + drop rule is the hold. The handle is opened in the calling
 * thread's network namespace; {@link #start} runs the capture on one thread this object owns,
 * {@link #stop} ends and joins it.
 */
public final class PacketCapture implements AutoCloseable {
    /** Room for a GRO-merged super-packet as AF_PACKET hands it over. */
    private static final int SNAPLEN = 262_144;
    private static final int KERNEL_BUFFER = 8 << 20;

    private final PcapHandle handle;
    private final String what;
    private final HoldBuffer buffer;
    private Thread thread;
    private volatile Throwable failure;

    private PacketCapture(PcapHandle handle, String what, HoldBuffer buffer) {
        this.handle = handle;
        this.what = what;
        this.buffer = buffer;
    }

    /** Opens (does not start) a capture of packets to {@code vip} arriving on {@code iface}. */
    public static PacketCapture open(String iface, InetAddress vip, HoldBuffer buffer) {
        String what = "packets to " + vip.getHostAddress() + " on " + iface;
        PcapHandle handle;
        try {
            handle = new PcapHandle.Builder(iface)
                .snaplen(SNAPLEN)
                .promiscuousMode(PcapNetworkInterface.PromiscuousMode.NONPROMISCUOUS)
                .immediateMode(true)
                .bufferSize(KERNEL_BUFFER)
                .timeoutMillis(1)
                .timestampPrecision(PcapHandle.TimestampPrecision.NANO)
                .direction(PcapHandle.PcapDirection.IN)
                .build();
        } catch (PcapNativeException e) {
            throw new VipException("cannot capture " + what + ": " + e.getMessage());
        }
        try {
            String filter = (vip instanceof Inet4Address ? "ip" : "ip6") + " dst host " + vip.getHostAddress();
            handle.setFilter(filter, BpfProgram.BpfCompileMode.OPTIMIZE);
        } catch (PcapNativeException | NotOpenException e) {
            handle.close();
            throw new VipException("cannot filter " + what + ": " + e.getMessage());
        }
        return new PacketCapture(handle, what, buffer);
    }

    /** Starts capturing; packets from now on reach the buffer. */
    public synchronized void start() {
        if (thread != null) {
            return;
        }
        thread = new Thread(this::loop, "pmig-capture " + what);
        thread.setDaemon(true);
        thread.start();
    }

    private void loop() {
        try {
            handle.loop(-1, (byte[] frame) -> {
                Timestamp t = handle.getTimestamp();
                HeldPacket p = HeldPacket.fromFrame(frame, t.getTime() / 1000 * 1_000_000_000L + t.getNanos());
                if (p != null) {
                    buffer.add(p);
                }
            });
        } catch (InterruptedException stopped) {
            // breakLoop: the normal end
        } catch (PcapNativeException | NotOpenException | RuntimeException e) {
            failure = e;
        }
    }

    /** Stops capturing and waits for the capture thread; packets that arrived before this call are in the buffer. */
    public synchronized void stop() {
        if (thread == null) {
            return;
        }
        try {
            handle.breakLoop();
            thread.join();
        } catch (NotOpenException e) {
            throw new IllegalStateException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new VipException("interrupted while stopping the capture of " + what);
        } finally {
            thread = null;
        }
        if (failure != null) {
            throw new VipException("the capture of " + what + " failed: " + failure.getMessage());
        }
    }

    @Override
    public void close() {
        stop();
        handle.close();
    }
}
