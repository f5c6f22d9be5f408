package io.pmig.checkpoint;

import io.pmig.checkpoint.proc.ProcFs;

import java.util.List;

/**
 * What the TCP stack of a process's network namespace counted of its listeners' overflows (/proc/PID/net/netstat,
 * TcpExt): {@code synCookiesSent}, handshakes answered with a SYN cookie because a listener's queue of handshakes was
 * full; {@code synCookiesValid}, cookies that came back valid with an ACK; {@code overflows}, ACKs that completed a
 * handshake and were dropped because the accept queue was full (ListenOverflows).
 *
 * <p>A handshake answered with a cookie leaves nothing in the kernel until its client's ACK comes back: no listener
 * shows it under way, and if that ACK finds the accept queue full it is dropped, and the connection exists only at the
 * client until the client sends again. Such a connection cannot be waited for by name; after a move its next packet
 * reaches a listener that sent no cookie, which resets it. A caller that saw these counters move waits until they stay
 * still long enough for the clients' retransmissions to come in.
 */
public record ListenQueueCounters(long synCookiesSent, long synCookiesValid, long overflows) {
    private static final List<String> NAMES = List.of("SyncookiesSent", "SyncookiesRecv", "ListenOverflows");

    /** The counters of {@code pid}'s network namespace now; all 0 where this kernel does not count them. */
    public static ListenQueueCounters of(int pid) {
        return parse(new ProcFs(pid).read("net/netstat"));
    }

    /** The counters in the text of a /proc/net/netstat. */
    static ListenQueueCounters parse(String netstat) {
        long[] values = new long[NAMES.size()];
        String[] lines = netstat.split("\n");
        for (int i = 0; i + 1 < lines.length; i++) {
            if (lines[i].startsWith("TcpExt:") && lines[i + 1].startsWith("TcpExt:")) {
                List<String> names = List.of(lines[i].trim().split("\\s+"));
                String[] counts = lines[i + 1].trim().split("\\s+");
                for (int k = 0; k < NAMES.size(); k++) {
                    int at = names.indexOf(NAMES.get(k));
                    values[k] = at > 0 && at < counts.length ? Long.parseLong(counts[at]) : 0;
                }
            }
        }
        return new ListenQueueCounters(values[0], values[1], values[2]);
    }

    @Override
    public String toString() {
        return "its network namespace counts " + synCookiesSent + " SYN cookie(s) sent, " + synCookiesValid + " come back valid, "
            + overflows + " completing ACK(s) dropped for a full accept queue";
    }
}
