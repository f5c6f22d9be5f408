package io.pmig.vip.hold;

import java.util.List;
import java.util.function.Consumer;

/**
 * One VIP's hold on one node: while on, inbound packets to the VIP are kept, in arrival order and
 * within limits, before the stack sees them. Two ways: pmig.ko's in-kernel hold ({@link KernelHold})
 * when /dev/pmig is there, else nftables, NFLOG and the replay device ({@link CapturedHold}). Not
 * thread-safe: one caller at a time.
 */
public sealed interface Hold extends AutoCloseable permits CapturedHold, KernelHold {
    /** Whether anything is held: every packet, or new connections only. */
    boolean isOn();

    /** Starts holding every packet; already on: nothing to do. */
    void on();

    /**
     * Starts holding new TCP connection attempts (SYN without ACK) only: what else arrives still
     * reaches the stack, so handshakes under way complete. {@link #on} then holds the rest too.
     */
    void onForNewConnections();

    /** What was held since the last take, oldest first; holding goes on. */
    List<HeldPacket> take();

    /**
     * Stops holding, and what was held goes into this node's stack in order, none overtaken by a packet
     * arriving meanwhile; {@code inject} puts packets in from user space where the hold needs it.
     */
    void release(Consumer<List<HeldPacket>> inject);

    /** Stops holding; returns what was held since the last take. Already off: an empty list. */
    List<HeldPacket> off();

    /** Packets kept since the hold began. */
    long kept();

    /** Packets dropped but not kept because a limit was reached. */
    long overflowed();

    /** Stops holding if on; what was held is dropped. */
    @Override
    void close();
}
