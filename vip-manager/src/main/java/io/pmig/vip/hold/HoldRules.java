package io.pmig.vip.hold;

import io.pmig.vip.VipException;
import io.pmig.vip.netlink.NftSets;

import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

/**
 * The nftables rules of holds and ARP silence, installed once ahead of time and switched per
 * address through set elements over netlink (microseconds, no process):
 * <ul>
 * <li>{@code inet pmig hold}: at prerouting, before anything else sees them, hands packets to an
 * address in {@code hold4}/{@code hold6} to NFLOG group {@value #NFLOG_GROUP} and drops them,
 * except those the replay injects through its TUN (named {@value #REPLAY_PREFIX}…);</li>
 * <li>{@code inet pmig hold}, too: the same for only the new connection attempts (TCP SYN without ACK) to an
 * address in {@code syn4}/{@code syn6}, while the rest of its traffic flows: a service held so lets its
 * listeners empty their queues before it is frozen;</li>
 * <li>{@code inet pmig hold}, too: drops packets to a TCP endpoint (address and port) in
 * {@code endpoint4}/{@code endpoint6}, unlogged: the connections of a process checkpointed to disk
 * ({@code pmig checkpoint}), whose clients must hear nothing (no reset) until {@code pmig restore}
 * takes them over; their retransmissions reach the restored sockets. Nothing else to the address
 * is touched (it may be the host's own, or loopback);</li>
 * <li>{@code arp pmig silence}: drops ARP requests for an address in {@code silence4}, so a
 * node stops answering for a VIP it gave away while stale caches still send it packets;</li>
 * <li>{@code inet pmig guard}: drops TCP resets and FINs leaving from an address in {@code guard4}/
 * {@code guard6}: a destination's copy not yet committed may die with its daemon, sockets live,
 * and neither its death (a FIN where the socket had nothing unread, else a reset) nor the stack's
 * answers to what its clients send next may end connections the source's original still owns.</li>
 * </ul>
 * Installing runs {@code nft -f -} once (off the switchover path); it is idempotent and leaves
 * existing elements, so holds in progress are not disturbed. Uses the network namespace of the
 * calling thread. Not thread-safe.
 */
public final class HoldRules implements AutoCloseable {
    public static final String TABLE = "pmig";
    public static final String REPLAY_PREFIX = "pmig-replay";
    /** The NFLOG group the rules hand dropped packets to ({@link HoldCapture} reads it). */
    public static final int NFLOG_GROUP = 7077;
    /** Always held: {@link HoldCapture#flush} sends a marker here over loopback. */
    public static final String MARKER_ADDRESS = "127.77.77.77";
    private static final String RULES = """
        table inet pmig {
          set hold4 { type ipv4_addr; }
          set hold6 { type ipv6_addr; }
          set syn4 { type ipv4_addr; }
          set syn6 { type ipv6_addr; }
          set endpoint4 { type ipv4_addr . inet_service; }
          set endpoint6 { type ipv6_addr . inet_service; }
          chain hold { type filter hook prerouting priority raw; policy accept; }
          set guard4 { type ipv4_addr; }
          set guard6 { type ipv6_addr; }
          chain guard { type filter hook output priority raw; policy accept; }
        }
        table arp pmig {
          set silence4 { type ipv4_addr; }
          chain silence { type filter hook input priority filter; policy accept; }
        }
        flush chain inet pmig hold
        flush chain inet pmig guard
        flush chain arp pmig silence
        add rule inet pmig hold iifname != "%1$s*" ip daddr @hold4 log group %2$d snaplen 65535 queue-threshold 1 drop
        add rule inet pmig hold iifname != "%1$s*" ip6 daddr @hold6 log group %2$d snaplen 65535 queue-threshold 1 drop
        add rule inet pmig hold iifname != "%1$s*" ip daddr @syn4 tcp flags & (syn | ack) == syn log group %2$d snaplen 65535 queue-threshold 1 drop
        add rule inet pmig hold iifname != "%1$s*" ip6 daddr @syn6 tcp flags & (syn | ack) == syn log group %2$d snaplen 65535 queue-threshold 1 drop
        add rule inet pmig hold ip daddr . tcp dport @endpoint4 drop
        add rule inet pmig hold ip6 daddr . tcp dport @endpoint6 drop
        add rule inet pmig guard ip saddr @guard4 tcp flags & (fin | rst) != 0 drop
        add rule inet pmig guard ip6 saddr @guard6 tcp flags & (fin | rst) != 0 drop
        add rule arp pmig silence arp operation request arp daddr ip @silence4 drop
        add element inet pmig hold4 { %3$s }
        """.formatted(REPLAY_PREFIX, NFLOG_GROUP, MARKER_ADDRESS);
    private static final long NFT_TIMEOUT_SECONDS = 30;

    private final NftSets sets;

    private HoldRules(NftSets sets) {
        this.sets = sets;
    }

    /** Makes sure the rules are in place and opens the switch. */
    public static HoldRules install() {
        Process nft;
        try {
            nft = new ProcessBuilder("nft", "-f", "-").redirectErrorStream(true).start();
        } catch (IOException e) {
            throw new VipException("cannot run nft to install the hold rules (" + e.getMessage() + "); install nftables");
        }
        try {
            try (var in = nft.getOutputStream()) {
                in.write(RULES.getBytes(StandardCharsets.UTF_8));
            }
            String out = new String(nft.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            if (!nft.waitFor(NFT_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                nft.destroyForcibly();
                throw new VipException("nft did not install the hold rules within " + NFT_TIMEOUT_SECONDS + " s");
            }
            if (nft.exitValue() != 0) {
                throw new VipException("nft refused the hold rules (exit " + nft.exitValue() + "): " + out);
            }
        } catch (IOException e) {
            throw new VipException("cannot install the hold rules with nft: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            nft.destroyForcibly();
            throw new VipException("interrupted while installing the hold rules");
        }
        return new HoldRules(NftSets.open());
    }

    /**
     * Opens the switch of rules installed before, maybe by another process, without running nft: for
     * releasing (what is not there, rules or element, is nothing to release). Adding needs {@link #install}.
     */
    public static HoldRules installed() {
        return new HoldRules(NftSets.open());
    }

    /** Drops inbound packets to {@code vip} from now on (those through the replay TUN excepted). */
    public void hold(InetAddress vip) {
        sets.add(NftSets.NFPROTO_INET, TABLE, holdSet(vip), vip.getAddress());
    }

    /** Drops new TCP connection attempts (SYN without ACK) to {@code vip} from now on; the rest of its traffic passes. */
    public void holdNewConnections(InetAddress vip) {
        sets.add(NftSets.NFPROTO_INET, TABLE, vip instanceof Inet4Address ? "syn4" : "syn6", vip.getAddress());
    }

    /** Lets every inbound packet to {@code vip} through again: new connections first, as the full hold still drops them. */
    public void release(InetAddress vip) {
        sets.remove(NftSets.NFPROTO_INET, TABLE, vip instanceof Inet4Address ? "syn4" : "syn6", vip.getAddress());
        sets.remove(NftSets.NFPROTO_INET, TABLE, holdSet(vip), vip.getAddress());
    }

    /** Drops inbound TCP packets to {@code endpoint} (this host's address and port of connections) from now on, whoever runs. */
    public void holdEndpoint(InetSocketAddress endpoint) {
        sets.add(NftSets.NFPROTO_INET, TABLE, endpointSet(endpoint), endpointKey(endpoint));
    }

    /** Lets inbound TCP packets to {@code endpoint} through again. */
    public void releaseEndpoint(InetSocketAddress endpoint) {
        sets.remove(NftSets.NFPROTO_INET, TABLE, endpointSet(endpoint), endpointKey(endpoint));
    }

    private static String endpointSet(InetSocketAddress endpoint) {
        return endpoint.getAddress() instanceof Inet4Address ? "endpoint4" : "endpoint6";
    }

    /** The set key {@code address . inet_service}: each part of a concatenation fills whole 32-bit registers (nf_tables.h, NFT_REG32_SIZE). */
    private static byte[] endpointKey(InetSocketAddress endpoint) {
        byte[] address = endpoint.getAddress().getAddress();
        return ByteBuffer.allocate(address.length + 4).put(address).putShort((short) endpoint.getPort()).array();
    }

    /** Stops answering ARP requests for {@code vip} (IPv6 needs nothing: without the address no neighbour advertisement goes out). */
    public void silenceArp(InetAddress vip) {
        if (vip instanceof Inet4Address) {
            sets.add(NftSets.NFPROTO_ARP, TABLE, "silence4", vip.getAddress());
        }
    }

    public void unsilenceArp(InetAddress vip) {
        if (vip instanceof Inet4Address) {
            sets.remove(NftSets.NFPROTO_ARP, TABLE, "silence4", vip.getAddress());
        }
    }

    /** Drops TCP resets from {@code vip} from now on. */
    public void guardResets(InetAddress vip) {
        sets.add(NftSets.NFPROTO_INET, TABLE, guardSet(vip), vip.getAddress());
    }

    public void unguardResets(InetAddress vip) {
        sets.remove(NftSets.NFPROTO_INET, TABLE, guardSet(vip), vip.getAddress());
    }

    private static String guardSet(InetAddress vip) {
        return vip instanceof Inet4Address ? "guard4" : "guard6";
    }

    private static String holdSet(InetAddress vip) {
        return vip instanceof Inet4Address ? "hold4" : "hold6";
    }

    @Override
    public void close() {
        sets.close();
    }
}
