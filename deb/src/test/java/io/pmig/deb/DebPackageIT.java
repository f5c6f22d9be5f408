package io.pmig.deb;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The package the build made, checked by lintian and installed by dpkg into a throwaway root (a
 * dpkg database of its own; maintainer scripts run with DPKG_ROOT set): what an operator runs from
 * it works, with the start-up archives postinst made, and a purge leaves nothing behind. The
 * host's own /usr and /etc are never touched.
 */
class DebPackageIT {
    private static final Path TARGET = Path.of(System.getProperty("deb.target", "target"));
    private Path root;

    @BeforeEach
    void throwawayRoot() throws IOException {
        root = Files.createTempDirectory("pmig-deb-root");
        Files.createDirectories(root.resolve("var/lib/dpkg/info"));
        Files.createDirectories(root.resolve("var/lib/dpkg/updates"));
        Files.createFile(root.resolve("var/lib/dpkg/status"));
        Files.createFile(root.resolve("var/lib/dpkg/available"));
    }

    @AfterEach
    void removeRoot() throws IOException {
        try (Stream<Path> files = Files.walk(root)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    @Test
    @Timeout(300)
    void lintianFindsNoError() {
        Result lintian = run(Map.of(), "lintian", "--fail-on", "error", deb().toString());
        assertEquals(0, lintian.exitCode(), "lintian: " + lintian);
        assertFalse(lintian.out().lines().anyMatch(l -> l.startsWith("E: ")), lintian.out());
    }

    @Test
    void itDeclaresWhatPmigNeedsToRun() {
        String depends = run(Map.of(), "dpkg-deb", "--field", deb().toString(), "Depends").out();
        for (String needed : List.of("openjdk-17-jre-headless | java17-runtime-headless", "nftables", "iproute2", "libpcap0.8")) {
            assertTrue(depends.contains(needed), "Depends: " + depends + " lacks " + needed);
        }
    }

    @Test
    @Timeout(300)
    void installedItRunsHasItsManPagesUnitConffileAndCompletionAndPurgesClean() throws IOException {
        dpkg("--install", deb().toString());

        // -Xshare:on: the JVM fails unless it maps the start-up archive postinst made for these jars
        Result version = run(Map.of("PMIG_JAVA_OPTS", "-Xshare:on"), root.resolve("usr/bin/pmig").toString(), "--version");
        assertEquals(0, version.exitCode(), version.toString());
        assertTrue(version.out().matches("pmig \\d+\\.\\d+\\.\\d+.*\\n"), version.out());

        Path conf = root.resolve("etc/pmig/pmigd.conf");
        Result unconfigured = run(Map.of(), root.resolve("usr/bin/pmigd").toString(), "--config", conf.toString(), "--check");
        assertEquals(2, unconfigured.exitCode(), "the shipped configuration names no node: " + unconfigured);
        assertTrue(unconfigured.err().contains("node.name is missing"), unconfigured.err());
        Path tls = root.resolve("etc/pmig/tls");
        Result certs = run(Map.of(), root.resolve("usr/bin/pmig").toString(), "certs", "init", "--dir", tls.toString(), "--nodes", "node-a");
        assertEquals(0, certs.exitCode(), certs.toString());
        Files.writeString(conf, "node.name = node-a\ntls.ca = " + tls.resolve("ca.pem") + "\ntls.cert = " + tls.resolve("node-a.pem")
                + "\ntls.key = " + tls.resolve("node-a.key") + "\n", StandardOpenOption.APPEND);
        Result check = run(Map.of("PMIGD_JAVA_OPTS", "-Xshare:on"), root.resolve("usr/bin/pmigd").toString(), "--config", conf.toString(), "--check");
        assertEquals(0, check.exitCode(), check.toString());
        assertTrue(check.out().contains("is usable: node node-a"), check.out());

        Map<String, String> manEnvironment = Map.of("MANPAGER", "cat", "MANWIDTH", "80");
        Result man = run(manEnvironment, "man", "-M", root.resolve("usr/share/man").toString(), "pmig");
        assertEquals(0, man.exitCode(), man.toString());
        assertTrue(man.out().contains("Live migration of Linux services"), man.out());
        assertTrue(man.out().contains("migrate"), man.out());
        for (String page : List.of("pmig-migrate", "pmig-vip-add", "pmigd")) {
            Result sub = run(manEnvironment, "man", "-M", root.resolve("usr/share/man").toString(), page);
            assertEquals(0, sub.exitCode(), page + ": " + sub);
        }

        String unit = Files.readString(root.resolve("lib/systemd/system/pmigd.service"));
        assertTrue(unit.contains("\nExecStart=/usr/bin/pmigd "), unit);
        assertFalse(unit.contains("/opt/pmig"), unit);
        String status = dpkg("--status", "pmig");
        assertTrue(status.contains("Conffiles:\n /etc/pmig/pmigd.conf "), status);

        Result completion = run(Map.of(), "bash", "-c",
                "source " + root.resolve("usr/share/bash-completion/completions/pmig") + " && complete -p pmig");
        assertEquals(0, completion.exitCode(), completion.toString());
        assertTrue(completion.out().contains(" pmig"), completion.out());

        Path agent = root.resolve("usr/lib/ocf/resource.d/pmig/service");
        Result metaData = run(Map.of(), agent.toString(), "meta-data");
        assertEquals(0, metaData.exitCode(), metaData.toString());
        for (String action : List.of("migrate_to", "migrate_from", "monitor", "validate-all")) {
            assertTrue(metaData.out().contains("<action name=\"" + action + "\""), "ocf:pmig:service meta-data lacks " + action);
        }
        Result unconfiguredAgent = run(Map.of(), agent.toString(), "validate-all");
        assertEquals(6, unconfiguredAgent.exitCode(), "OCF_ERR_CONFIGURED without the service parameter: " + unconfiguredAgent);

        dpkg("--purge", "pmig");
        for (String gone : List.of("usr/bin/pmig", "usr/bin/pmigd", "usr/lib/pmig", "usr/lib/ocf/resource.d/pmig/service", "lib/systemd/system/pmigd.service", "etc/pmig/pmigd.conf",
                "var/cache/pmig")) {
            assertFalse(Files.exists(root.resolve(gone)), gone + " is left after the purge");
        }
    }

    private static Path deb() {
        try (Stream<Path> files = Files.list(TARGET)) {
            List<Path> debs = files.filter(p -> p.getFileName().toString().matches("pmig_.*_amd64\\.deb")).toList();
            assertEquals(1, debs.size(), "one package in " + TARGET + ": " + debs);
            return debs.get(0);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** dpkg on the throwaway root; the package's dependencies are the host's, which that root's database does not list. */
    private String dpkg(String... args) {
        List<String> command = new ArrayList<>(List.of("dpkg", "--root=" + root, "--log=/dev/null",
                "--force-script-chrootless", "--force-depends"));
        command.addAll(List.of(args));
        Result dpkg = run(Map.of(), command.toArray(String[]::new));
        assertEquals(0, dpkg.exitCode(), dpkg.toString());
        return dpkg.out();
    }

    private record Result(List<String> command, int exitCode, String out, String err) {
        @Override
        public String toString() {
            return String.join(" ", command) + ": exit " + exitCode + ", stdout: " + out + ", stderr: " + err;
        }
    }

    private static Result run(Map<String, String> environment, String... command) {
        ProcessBuilder builder = new ProcessBuilder(command).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        builder.environment().putAll(environment);
        try {
            Process process = builder.start();
            CompletableFuture<String> out = CompletableFuture.supplyAsync(() -> read(process.getInputStream()));
            CompletableFuture<String> err = CompletableFuture.supplyAsync(() -> read(process.getErrorStream()));
            if (!process.waitFor(240, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                fail(String.join(" ", command) + " did not finish in 240 s");
            }
            return new Result(List.of(command), process.exitValue(), out.get(), err.get());
        } catch (Exception e) {
            throw new AssertionError("cannot run " + String.join(" ", command), e);
        }
    }

    private static String read(InputStream in) {
        try (in) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
