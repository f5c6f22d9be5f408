package io.pmig.daemon.migration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.pmig.daemon.control.ControlRefusedException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The /proc and cgroup files of a node, as sample text under a directory that stands for "/". */
class DestinationMemoryTest {
    private static final long MB = 1 << 20;

    @TempDir
    Path root;

    @Test
    void anImageIsTheProcessAnonymousSharedAndSwappedMemory() {
        String status = String.join("\n", "Name:\tstream-server", "VmRSS:\t  320000 kB", "RssAnon:\t  300000 kB",
            "RssFile:\t    4000 kB", "RssShmem:\t   16000 kB", "VmSwap:\t    1000 kB", "Threads:\t1", "");
        assertEquals((300_000L + 16_000 + 1_000) * 1024, DestinationMemory.imageBytes(status));
        assertEquals(0, DestinationMemory.imageBytes("Name:\tkworker\nState:\tI (idle)\n"), "a kernel thread has no memory of its own");
    }

    @Test
    void withoutACgroupLimitMemAvailableLessTheReserveIsWhatANodeGives() throws IOException {
        meminfo(2048);
        write("proc/self/cgroup", "4:memory:/\n0::/\n");
        write("sys/fs/cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n");
        write("sys/fs/cgroup/memory/memory.usage_in_bytes", Long.toString(20_000 * MB));
        write("sys/fs/cgroup/memory/memory.stat", "total_inactive_file 0\n");
        DestinationMemory.Offer offer = new DestinationMemory(root, 64 * MB).offer();
        assertEquals((2048 - 64) * MB, offer.bytes());
        assertEquals("MemAvailable 2048 MB", offer.bound());
        String refusal = refusal(new DestinationMemory(root, 64 * MB), 3000 * MB);
        assertEquals("node-b can give 1984 MB (MemAvailable 2048 MB; 64 MB kept in reserve by limits.memory.reserve.bytes);"
            + " process 4242 needs 3000 MB: free memory or migrate to another node", refusal);
    }

    @Test
    void aV1CgroupLimitCountsWhatItsPageCacheCanGiveBack() throws IOException {
        meminfo(20_000);
        write("proc/self/cgroup", "9:name=systemd:/\n4:memory,hugetlb:/pmig-cap-test\n3:cpuset:/\n0::/\n");
        write("sys/fs/cgroup/memory/pmig-cap-test/memory.limit_in_bytes", Long.toString(400 * MB));
        write("sys/fs/cgroup/memory/pmig-cap-test/memory.usage_in_bytes", Long.toString(250 * MB));
        write("sys/fs/cgroup/memory/pmig-cap-test/memory.stat", "cache 31457280\ninactive_file 1\ntotal_inactive_file "
            + 30 * MB + "\n");
        DestinationMemory memory = new DestinationMemory(root, 0);
        assertEquals(180 * MB, memory.offer().bytes());
        assertEquals("node-b can give 180 MB (memory cgroup /pmig-cap-test: limit 400 MB, 220 MB used); process 4242 needs"
            + " 305 MB: raise that limit or migrate to another node", refusal(memory, 305 * MB));
        memory.require("node-b", 4242, 180 * MB);
    }

    @Test
    void aV2LimitAboveTheDaemonsCgroupBindsToo() throws IOException {
        meminfo(20_000);
        write("proc/self/cgroup", "0::/system.slice/pmigd.service\n");
        write("sys/fs/cgroup/cgroup.controllers", "cpu memory pids\n");
        write("sys/fs/cgroup/system.slice/pmigd.service/memory.max", "max\n");
        write("sys/fs/cgroup/system.slice/pmigd.service/memory.current", Long.toString(100 * MB));
        write("sys/fs/cgroup/system.slice/memory.max", Long.toString(1024 * MB));
        write("sys/fs/cgroup/system.slice/memory.current", Long.toString(900 * MB));
        write("sys/fs/cgroup/system.slice/memory.stat", "anon 1\ninactive_file " + 76 * MB + "\n");
        DestinationMemory.Offer offer = new DestinationMemory(root, 0).offer();
        assertEquals(200 * MB, offer.bytes());
        assertEquals("memory cgroup /system.slice: limit 1024 MB, 824 MB used", offer.bound());
    }

    @Test
    void onAHybridHostV2IsUnderUnified() throws IOException {
        meminfo(20_000);
        write("proc/self/cgroup", "4:memory:/\n0::/pmig\n");
        write("sys/fs/cgroup/unified/cgroup.controllers", "memory\n");
        write("sys/fs/cgroup/unified/pmig/memory.max", Long.toString(500 * MB));
        write("sys/fs/cgroup/unified/pmig/memory.current", Long.toString(100 * MB));
        assertEquals(400 * MB, new DestinationMemory(root, 0).offer().bytes());
    }

    @Test
    void aReserveLargerThanTheHeadroomGivesNothing() throws IOException {
        meminfo(32);
        assertEquals(0, new DestinationMemory(root, 64 * MB).offer().bytes());
    }

    private String refusal(DestinationMemory memory, long needed) {
        return assertThrows(ControlRefusedException.class, () -> memory.require("node-b", 4242, needed)).getMessage();
    }

    private void meminfo(long availableMb) throws IOException {
        write("proc/meminfo", "MemTotal:       24684000 kB\nMemFree:        23000000 kB\nMemAvailable:   " + availableMb * 1024
            + " kB\nBuffers:           10000 kB\n");
    }

    private void write(String path, String text) throws IOException {
        Path file = root.resolve(path);
        Files.createDirectories(file.getParent());
        Files.writeString(file, text);
    }
}
