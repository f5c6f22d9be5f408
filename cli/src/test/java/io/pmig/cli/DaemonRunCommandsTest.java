package io.pmig.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pmig.daemon.Daemon;
import io.pmig.daemon.config.DaemonConfig;
import io.pmig.daemon.control.ControlClient;
import io.pmig.daemon.forward.RunCommandOp;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * pmig-client, the launcher's first try for checkpoint and restore, against a real pmigd in this JVM: the daemon runs
 * the commands on a real process, and hands back those of a caller other than root or in another namespace (exit 99,
 * for the launcher to run the JVM), and reads no argument file for anybody.
 */
class DaemonRunCommandsTest {
    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static final int NOT_FORWARDED = 99;
    private static final Path CLIENT = Path.of("target/classes/native/pmig-client");

    @TempDir
    Path dir;

    private Daemon daemon;
    private final List<Integer> started = new ArrayList<>();
    /** What the op runs before each command it runs (in pmigd, the engine's warm-up gives way). */
    private final AtomicInteger commandsRun = new AtomicInteger();

    @BeforeEach
    void startDaemon() throws Exception {
        Files.setPosixFilePermissions(dir, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        Properties p = new Properties();
        p.setProperty("node.name", "node-a");
        p.setProperty("listen", "127.0.0.1:0");
        p.setProperty("plaintext", "true");
        p.setProperty("control.socket", dir.resolve("pmigd.sock").toString());
        p.setProperty("control.socket.mode", "0666"); // open to users: the op itself must turn them away
        p.setProperty("state.directory", dir.resolve("state").toString());
        daemon = Daemon.start(DaemonConfig.parse(p, "test"));
        RunCommandOp.install(daemon, commandsRun::incrementAndGet);
    }

    @AfterEach
    void stop() throws Exception {
        daemon.close();
        for (int pid : started) {
            new ProcessBuilder("kill", "-9", Integer.toString(pid)).start().waitFor();
        }
    }

    @Test
    void theDaemonCheckpointsAndRestoresForTheClientWithARelativeDirectory() throws Exception {
        int pid = startSleep();
        Path work = Files.createDirectories(dir.resolve("work"));
        Client checkpoint = client(work, List.of(), "checkpoint", Integer.toString(pid), "--dir", "image", "--json");
        assertEquals(ExitCodes.OK, checkpoint.exitCode(), checkpoint.err());
        JsonNode report = MAPPER.readTree(checkpoint.out());
        assertEquals(pid, report.get("pid").asInt());
        assertEquals(work.resolve("image/image.pmig").toString(), report.get("image").asText(), "--dir is the caller's, not the daemon's");
        assertEquals(1, commandsRun.get(), "the daemon's other work gave way before the command ran");
        awaitGone(pid);

        Client restore = client(dir, List.of(), "restore", "--dir=work/image", "--json");
        assertEquals(ExitCodes.OK, restore.exitCode(), restore.err());
        assertEquals(pid, MAPPER.readTree(restore.out()).get("pid").asInt(), restore.out());
        assertEquals("sleep", Files.readString(Path.of("/proc/" + pid + "/comm")).strip(), "the restored process runs");

        // the daemon runs the command again with the same command line: the last call's --json is not kept
        Client again = client(dir, List.of(), "restore", "--dir", "work/image");
        assertEquals(ExitCodes.REFUSED, again.exitCode(), "the command's own exit code");
        assertTrue(again.err().startsWith("pmig: pid " + pid + " is in use on this host"), again.err());
    }

    @Test
    void aCallerInAnotherNetworkNamespaceOrNotRootOrAnotherCommandIsLeftToTheLauncher() throws Exception {
        int pid = startSleep();
        Client elsewhere = client(dir, List.of("unshare", "--net"), "checkpoint", Integer.toString(pid), "--dir", "image");
        assertEquals(NOT_FORWARDED, elsewhere.exitCode(), elsewhere.err());
        assertEquals("", elsewhere.out() + elsewhere.err());
        assertEquals(0, commandsRun.get(), "a command the daemon leaves to the launcher stops none of its work");
        assertTrue(Files.exists(Path.of("/proc/" + pid)), "nothing was done to the process");
        assertFalse(Files.exists(dir.resolve("image")));

        Client notRoot = client(dir, List.of("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"), "checkpoint",
            Integer.toString(pid), "--dir", "/tmp/never");
        assertEquals(NOT_FORWARDED, notRoot.exitCode(), "root's alone: " + notRoot.err());
        assertTrue(Files.exists(Path.of("/proc/" + pid)), "nothing was done to the process");

        // a word naming a file the daemon could read as root is no argument file there
        Path secret = Files.writeString(dir.resolve("secret-args"), "--dir /the-secret\n");
        ObjectNode request = ControlClient.request(RunCommandOp.OP);
        request.putArray("argv").add("restore").add("@" + secret);
        JsonNode answer = new ControlClient(dir.resolve("pmigd.sock")).call(request);
        assertEquals(ExitCodes.USAGE, answer.get("exitCode").asInt(), answer.toString());
        assertFalse(answer.toString().contains("the-secret"), answer.toString());

        assertEquals(NOT_FORWARDED, client(dir, List.of(), "status").exitCode());
        assertEquals(NOT_FORWARDED, client(dir, List.of(), "restore", "@args").exitCode(), "an argument file is read by the JVM");
    }

    private record Client(int exitCode, String out, String err) {
    }

    private Client client(Path cwd, List<String> wrapper, String... args) throws Exception {
        List<String> command = new ArrayList<>(wrapper);
        command.add(CLIENT.toAbsolutePath().toString());
        command.addAll(List.of(args));
        ProcessBuilder builder = new ProcessBuilder(command).directory(cwd.toFile());
        builder.environment().put("PMIG_DAEMON_SOCKET", dir.resolve("pmigd.sock").toString());
        builder.environment().remove("PMIG_IMAGE_KEY");
        builder.environment().remove("PMIG_JAVA_OPTS");
        Path out = dir.resolve("client.out");
        Path err = dir.resolve("client.err");
        Process process = builder.redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        assertTrue(process.waitFor(120, TimeUnit.SECONDS), "pmig-client answered");
        return new Client(process.exitValue(), Files.readString(out), Files.readString(err));
    }

    /** A sleep outside this JVM's children (its reaper would take ptrace stops), with no descriptor of this JVM. */
    private int startSleep() throws Exception {
        Path pidFile = dir.resolve("sleep.pid");
        new ProcessBuilder("setsid", "--fork", "sh", "-c", "echo $$ > " + pidFile + "; exec sleep 1000")
            .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
            .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(ProcessBuilder.Redirect.DISCARD)
            .start().waitFor();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < deadline) {
            String s = Files.exists(pidFile) ? Files.readString(pidFile).strip() : "";
            if (!s.isEmpty() && Files.readString(Path.of("/proc/" + s + "/comm")).strip().equals("sleep")) {
                started.add(Integer.parseInt(s));
                return Integer.parseInt(s);
            }
            Thread.sleep(10);
        }
        throw new AssertionError("the sleep did not start");
    }

    private static void awaitGone(int pid) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (Files.exists(Path.of("/proc/" + pid)) && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertFalse(Files.exists(Path.of("/proc/" + pid)), "the checkpointed process was killed");
    }
}
