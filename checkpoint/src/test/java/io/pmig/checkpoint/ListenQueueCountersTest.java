package io.pmig.checkpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** {@link ListenQueueCounters} from the text of /proc/net/netstat, and from this process's namespace. */
class ListenQueueCountersTest {
    @Test
    void theCountersAreTakenByNameFromTheTcpExtLines() {
        String netstat = String.join("\n",
            "TcpExt: SyncookiesSent SyncookiesRecv SyncookiesFailed EmbryonicRsts ListenOverflows ListenDrops",
            "TcpExt: 3 14 1 0 27 30",
            "IpExt: InNoRoutes InTruncatedPkts",
            "IpExt: 0 0", "");
        assertEquals(new ListenQueueCounters(3, 14, 27), ListenQueueCounters.parse(netstat));
    }

    @Test
    void aKernelThatCountsNoneOfThemReadsAsNothingCounted() {
        assertEquals(new ListenQueueCounters(0, 0, 0), ListenQueueCounters.parse("TcpExt: EmbryonicRsts\nTcpExt: 4\n"));
    }

    @Test
    void thisProcesssNamespaceHasThem() {
        ListenQueueCounters own = ListenQueueCounters.of((int) ProcessHandle.current().pid());
        assertTrue(own.synCookiesSent() >= 0 && own.synCookiesValid() >= 0 && own.overflows() >= 0, own.toString());
        assertTrue(own.toString().contains("SYN cookie"), own.toString());
    }
}
