package io.pmig.vip.replay;

import io.pmig.nativeio.Errno;
import io.pmig.nativeio.NativeMemory;
import io.pmig.nativeio.SyscallException;
import io.pmig.vip.VipException;
import io.pmig.vip.hold.HeldPacket;
import io.pmig.vip.hold.HoldRules;
import io.pmig.vip.nativeio.Net;
import io.pmig.vip.nativeio.Tun;
import io.pmig.vip.packet.Checksums;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Puts held packets into this node's own stack, as if they had just arrived: through a TUN
 * device (named {@value HoldRules#REPLAY_PREFIX}N, which the hold rules let pass), with the
 * checksums computed afresh. Reverse-path filtering must not drop them: the TUN gets
 * rp_filter 0, and a host-wide strict setting is refused with the remedy. The device exists
 * from {@link #open} to {@link #close}, in the calling thread's network namespace.
 */
public final class Replay implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Replay.class);
    private static final AtomicInteger NEXT = new AtomicInteger();
    private static final int MAX_PACKET = 65_535;
    private static final int NAME_ATTEMPTS = 64;

    private final String name;
    private final int fd;
    private final NativeMemory buffer = NativeMemory.allocate(MAX_PACKET);
    private boolean closed;

    private Replay(String name, int fd) {
        this.name = name;
        this.fd = fd;
    }

    public static Replay open() {
        requireNoStrictReversePathFilter();
        for (int attempt = 0; ; attempt++) {
            String name = HoldRules.REPLAY_PREFIX + NEXT.getAndIncrement();
            try {
                int fd = Tun.create(name);
                try {
                    writeSysctl("/proc/sys/net/ipv4/conf/" + name + "/rp_filter", "0");
                    writeSysctl("/proc/sys/net/ipv6/conf/" + name + "/disable_ipv6", "0");
                } catch (RuntimeException e) {
                    Net.close(fd);
                    throw e;
                }
                return new Replay(name, fd);
            } catch (SyscallException e) {
                if (e.errno() != Errno.EBUSY || attempt == NAME_ATTEMPTS) {
                    throw new VipException("cannot create the replay device " + name + ": " + e.getMessage()
                        + (e.errno() == Errno.ENOENT ? " (load the tun module: /dev/net/tun is missing)" : ""));
                }
            }
        }
    }

    /**
     * The packets of {@code earlier} then those of {@code later} that are not already among them:
     * a packet both nodes saw (a frame the switch flooded) goes in once.
     */
    public static List<HeldPacket> merge(List<HeldPacket> earlier, List<HeldPacket> later) {
        Set<ByteBuffer> seen = new HashSet<>();
        List<HeldPacket> out = new ArrayList<>(earlier.size() + later.size());
        for (List<HeldPacket> part : List.of(earlier, later)) {
            for (HeldPacket p : part) {
                if (seen.add(ByteBuffer.wrap(p.ip()))) {
                    out.add(p);
                }
            }
        }
        return out;
    }

    /** Writes each packet into the stack in order; returns how many went in (malformed ones are logged and skipped). */
    public int inject(List<HeldPacket> packets) {
        int injected = 0;
        for (HeldPacket p : packets) {
            byte[] ip = Checksums.recomputed(p.ip());
            if (ip == null || ip.length > MAX_PACKET) {
                LOG.warn("event=replay-skip device={} bytes={}: not a whole IPv4/IPv6 packet", name, p.length());
                continue;
            }
            buffer.put(0, ip);
            Tun.write(fd, name, buffer, ip.length);
            injected++;
        }
        return injected;
    }

    private static void requireNoStrictReversePathFilter() {
        Path all = Path.of("/proc/sys/net/ipv4/conf/all/rp_filter");
        try {
            if (Files.readString(all).trim().equals("1")) {
                throw new VipException("net.ipv4.conf.all.rp_filter is 1 (strict): packets replayed after a move would be "
                    + "dropped; set it to 2 (loose) or 0 on this node");
            }
        } catch (IOException e) {
            throw new VipException("cannot read " + all + ": " + e.getMessage());
        }
    }

    private static void writeSysctl(String path, String value) {
        try {
            Files.writeString(Path.of(path), value, StandardCharsets.US_ASCII);
        } catch (IOException e) {
            throw new VipException("cannot write " + value + " to " + path + ": " + e.getMessage());
        }
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            Net.close(fd);
        }
    }
}
