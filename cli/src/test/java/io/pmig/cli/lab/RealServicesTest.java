package io.pmig.cli.lab;

import static io.pmig.cli.lab.LabTestSupport.down;
import static io.pmig.cli.lab.LabTestSupport.exec;
import static io.pmig.cli.lab.LabTestSupport.pmigIn;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.pmig.cli.ExitCodes;
import io.pmig.cli.lab.LabTestSupport.Run;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Debian's apache2 (prefork, a parent and its workers) and nginx (a master and two workers), started the way they
 * start themselves, in node-a on the VIP: moving the parent alone, or one worker, is refused (exit 3) naming the other
 * process and what they share, and nothing is touched — every process runs on where it was and the service answers.
 * (Moving the whole tree is the process-tree issue's next step.)
 */
@Timeout(180)
class RealServicesTest {
    private static final String VIP = StreamService.VIP;

    @TempDir
    Path dir;

    @BeforeEach
    void lab() throws IOException {
        // the workers run as nobody: they must reach the pages
        Files.setPosixFilePermissions(dir, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        assumeTrue(Files.isExecutable(Path.of("/usr/sbin/apache2")) && Files.isExecutable(Path.of("/usr/sbin/nginx")),
            "apache2 and nginx are installed by scripts/install-deps");
        LabTestSupport.freshLab();
        exec("node-a", "ip", "addr", "add", VIP + "/24", "dev", "eth0");
    }

    @AfterEach
    void removeLab() {
        down();
    }

    @Test
    void apachePreforkIsNeverSplit() throws Exception {
        Path www = Files.createDirectories(dir.resolve("www"));
        Files.writeString(www.resolve("index.html"), "apache\n");
        Files.writeString(dir.resolve("apache2.conf"), String.join("\n",
            "ServerRoot " + dir, "DefaultRuntimeDir " + dir,
            "LoadModule mpm_prefork_module /usr/lib/apache2/modules/mod_mpm_prefork.so",
            "LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so",
            "Listen " + VIP + ":8080", "ServerName pmig-test", "User nobody", "Group nogroup",
            "PidFile " + dir.resolve("apache2.pid"), "ErrorLog " + dir.resolve("error.log"), "DocumentRoot " + www,
            "StartServers 3", "MinSpareServers 3", "MaxSpareServers 5",
            "<Directory " + www + ">", "Require all granted", "</Directory>", ""));
        exec("node-a", "apache2", "-f", dir.resolve("apache2.conf").toString(), "-k", "start");
        refusedAndUntouched("apache2", 8080, "apache\n", dir.resolve("apache2.pid"));
    }

    @Test
    void nginxMasterAndWorkersAreNeverSplit() throws Exception {
        Path www = Files.createDirectories(dir.resolve("www"));
        Files.writeString(www.resolve("index.html"), "nginx\n");
        Files.writeString(dir.resolve("nginx.conf"), String.join("\n",
            "worker_processes 2;", "pid " + dir.resolve("nginx.pid") + ";", "error_log " + dir.resolve("error.log") + ";",
            "events { worker_connections 64; }",
            "http { access_log off; client_body_temp_path " + dir.resolve("body") + ";",
            "  server { listen " + VIP + ":8081; root " + www + "; } }", ""));
        exec("node-a", "nginx", "-c", dir.resolve("nginx.conf").toString(), "-p", dir.toString(), "-e", dir.resolve("error.log").toString());
        refusedAndUntouched("nginx", 8081, "nginx\n", dir.resolve("nginx.pid"));
    }

    /** Both moves refused by name, the same processes on node-a afterwards, none on node-b, and the service answers. */
    private void refusedAndUntouched(String comm, int port, String page, Path pidFile) throws Exception {
        String parent = awaitPidFile(pidFile);
        List<String> before = processes("node-a", comm);
        assertTrue(before.size() >= 3, comm + " runs as a parent and its workers: " + before);
        assertEquals(page, get(port), "the service answers before");
        String worker = before.stream().filter(p -> !p.equals(parent)).findFirst().orElseThrow();

        Run whole = pmigIn("node-a", "migrate", parent, "--to", "node-b", "--json");
        assertEquals(ExitCodes.REFUSED, whole.exitCode(), whole.toString());
        String error = whole.json().get("error").textValue();
        assertTrue(error.contains("process " + parent + " (" + comm + ") has a child, process ") && error.contains("nothing was changed"),
            error);

        // bundle mode: refused in pre-flight as well, before the destination prepares or any packet is held
        Run one = pmigIn("node-a", "migrate", worker, "--to", "node-b", "--mode", "bundle", "--json");
        assertEquals(ExitCodes.REFUSED, one.exitCode(), one.toString());
        error = one.json().get("error").textValue();
        assertTrue(error.contains("of process " + worker + " (" + comm + ")") && error.contains("is also open in process " + parent + " ("
            + comm + ")") && error.endsWith("(nothing was changed)"), error);

        assertEquals(before, processes("node-a", comm), "every process of " + comm + " runs on node-a as before");
        assertTrue(processes("node-b", comm).isEmpty(), "nothing of " + comm + " on node-b");
        assertTrue(exec("node-a", "ip", "-o", "addr", "show", "dev", "eth0").contains(VIP), "the VIP stays on node-a");
        assertFalse(exec("node-b", "ip", "-o", "addr", "show", "dev", "eth0").contains(VIP), "node-b has no VIP");
        assertEquals(page, get(port), "the service answers after");
    }

    private static String awaitPidFile(Path pidFile) throws Exception {
        for (int i = 0; i < 200 && !Files.exists(pidFile); i++) {
            Thread.sleep(50);
        }
        return Files.readString(pidFile).strip();
    }

    /** The pids of the processes called {@code comm} in {@code node}, ascending. */
    private static List<String> processes(String node, String comm) {
        String out = exec(node, "sh", "-c", "pgrep -x " + comm + " || true").strip();
        return out.isEmpty() ? List.of() : Arrays.stream(out.split("\\s+")).sorted().toList();
    }

    /** The body of GET /index.html from the client host. */
    private static String get(int port) throws Exception {
        try (InNamespace client = new InNamespace("client")) {
            return client.call(() -> {
                try (Socket s = new Socket()) {
                    s.connect(new InetSocketAddress(VIP, port), 5000);
                    s.setSoTimeout(5000);
                    s.getOutputStream().write("GET /index.html HTTP/1.0\r\nHost: pmig-test\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                    String response = new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
                    if (!response.startsWith("HTTP/1.1 200")) {
                        throw new IOException("not 200: " + response);
                    }
                    return response.substring(response.indexOf("\r\n\r\n") + 4);
                }
            });
        }
    }
}
