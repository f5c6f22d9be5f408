package io.pmig.daemon;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.epoll.EpollDomainDatagramChannel;
import io.netty.channel.unix.DomainDatagramPacket;
import io.netty.channel.unix.DomainSocketAddress;
import io.pmig.daemon.control.ControlClient;
import io.pmig.daemon.net.EventLoops;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * pmigd as the shipped unit runs it, in a process of its own, with the unit's paths under a
 * temporary root: Type=notify (the test is systemd's $NOTIFY_SOCKET), RuntimeDirectory=pmig
 * (emptied at every stop) and StateDirectory=pmig (kept).
 */
class PmigdServiceTest {
    private static final String STATUS_WHEN_READY = "status as the daemon said READY=1";

    @TempDir
    Path root;
    private EventLoops loops;
    private Channel notifySocket;
    private final BlockingQueue<String> notifications = new LinkedBlockingQueue<>();
    private Path runtime;
    private Path state;
    private Path config;

    @BeforeEach
    void systemdsSide() throws Exception {
        assumeTrue("root".equals(System.getProperty("user.name")), "pmigd runs as root");
        loops = EventLoops.start(1);
        assumeTrue(loops.epoll(), "the test's notify socket needs netty's epoll transport");
        runtime = root.resolve("run/pmig");
        state = root.resolve("var/lib/pmig");
        config = root.resolve("pmigd.conf");
        Files.writeString(config, String.join("\n", "node.name = node-a", "listen = 127.0.0.1:0", "plaintext = true",
            "vip.interface = pmig-none0", "control.socket = " + runtime.resolve("pmigd.sock"), "state.directory = " + state,
            "engine.warm-up.moves = 1", ""));
        // the answer is read right when READY=1 arrives: the control socket must take requests then, not later
        notifySocket = new Bootstrap().group(loops.group()).channel(EpollDomainDatagramChannel.class)
            .handler(new SimpleChannelInboundHandler<DomainDatagramPacket>() {
                @Override
                protected void channelRead0(ChannelHandlerContext ctx, DomainDatagramPacket packet) {
                    String message = packet.content().toString(StandardCharsets.UTF_8);
                    String status = message.contains("READY=1") ? statusNow() : null;
                    notifications.add(message);
                    if (status != null) {
                        notifications.add(STATUS_WHEN_READY + ": " + status);
                    }
                }
            })
            .bind(new DomainSocketAddress(root.resolve("notify").toFile())).sync().channel();
    }

    @AfterEach
    void close() {
        if (notifySocket != null) {
            notifySocket.close().syncUninterruptibly();
        }
        if (loops != null) {
            loops.close();
        }
    }

    @Test
    @Timeout(180)
    void readyOnlyOnceTheControlSocketTakesRequestsAndStoppingOnSigterm() throws Exception {
        Process pmigd = start();
        try {
            String ready = next("READY=1");
            assertTrue(ready.startsWith("READY=1\n") && ready.contains("MAINPID=" + pmigd.pid()), ready);
            String status = next(STATUS_WHEN_READY);
            assertTrue(status.contains("\"node\":\"node-a\""), "the control socket answered at once: " + status);
            pmigd.destroy();    // SIGTERM, as systemctl stop sends it
            assertTrue(next("STOPPING=1").startsWith("STOPPING=1"));
            assertTrue(pmigd.waitFor(60, TimeUnit.SECONDS), "pmigd exits after SIGTERM");
        } finally {
            pmigd.destroyForcibly();
        }
    }

    /**
     * A daemon dies in the middle of a migration (its journal entry left), systemd empties
     * /run/pmig and starts it again: the new daemon finds the entry and puts the migration
     * straight. (With the journal in /run/pmig, as before, it found nothing.)
     */
    @Test
    @Timeout(180)
    void aMigrationJournalOutlivesARestartThatEmptiesTheRuntimeDirectory() throws Exception {
        Process first = start();
        Path entry = state.resolve("migrations/node-b-4242-test.json");
        try {
            next("READY=1");
            next(STATUS_WHEN_READY);
            Files.createDirectories(entry.getParent());
            Files.writeString(entry, "{\"id\":\"node-b-4242-test\",\"role\":\"destination\",\"peer\":\"node-b\",\"pid\":4194303,"
                + "\"vip\":null,\"prefix\":0,\"phase\":\"prepared\"}");
        } finally {
            first.destroyForcibly();    // a crash: Restart=on-failure starts it again
            first.waitFor();
        }
        deleteRecursively(runtime);     // what RuntimeDirectory= does at every stop
        Process second = start();
        try {
            next("READY=1");
            next(STATUS_WHEN_READY);
            String log = Files.readString(root.resolve("pmigd.log"));
            assertTrue(log.contains("event=migration-recovered id=node-b-4242-test role=destination phase=prepared"), log);
            assertFalse(Files.exists(entry), "the entry is settled and removed");
        } finally {
            second.destroyForcibly();
        }
    }

    private Process start() throws IOException {
        ProcessBuilder builder = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
            "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-cp", System.getProperty("java.class.path"), Pmigd.class.getName(),
            "--config", config.toString());
        builder.environment().put(ServiceManager.NOTIFY_SOCKET, root.resolve("notify").toString());
        builder.redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.to(root.resolve("pmigd.log").toFile()));
        return builder.start();
    }

    /** The next notification, which must begin with {@code expected}. */
    private String next(String expected) throws InterruptedException, IOException {
        String message = notifications.poll(120, TimeUnit.SECONDS);
        assertNotNull(message, "no notification; pmigd's log: " + Files.readString(root.resolve("pmigd.log")));
        assertTrue(message.startsWith(expected), "expected " + expected + ", got " + message);
        return message;
    }

    private String statusNow() {
        try {
            return new ControlClient(runtime.resolve("pmigd.sock")).call(ControlClient.request("status")).toString();
        } catch (RuntimeException e) {
            return "no answer: " + e.getMessage();
        }
    }

    private static void deleteRecursively(Path dir) throws IOException {
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
