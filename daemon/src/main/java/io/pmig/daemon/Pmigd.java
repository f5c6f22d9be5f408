package io.pmig.daemon;

import io.pmig.daemon.config.ConfigException;
import io.pmig.daemon.config.DaemonConfig;
import io.pmig.daemon.forward.RunCommandOp;
import io.pmig.daemon.log.DaemonLog;
import io.pmig.daemon.peer.PeerTls;
import io.pmig.daemon.migration.MigrationService;
import io.pmig.daemon.service.PublishedNames;
import io.pmig.daemon.service.ServiceOps;
import io.pmig.daemon.service.ServiceRegistry;
import io.pmig.vip.dns.DnsException;
import io.pmig.vip.dns.DnsSettings;
import io.pmig.vip.dns.ServiceDns;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;

/**
 * {@code pmigd [--config FILE]}: the node agent. Runs until SIGTERM or SIGINT, then closes the
 * control socket, the peer sessions and its threads, and exits 0. Exits 2 on a bad command line
 * or configuration, 1 when it cannot start (port or socket taken, certificates unusable).
 * {@code --check} checks the configuration, the certificates and, with {@code dns.server}, that
 * the DNS server accepts the node's TSIG key for its zone, then exits (0, 2, or 1 for DNS).
 */
public final class Pmigd {
    private Pmigd() {
    }

    public static void main(String[] args) {
        Path configFile = DaemonConfig.DEFAULT_FILE;
        boolean check = false;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--config" -> {
                    if (i + 1 == args.length) {
                        usage("--config needs a FILE");
                    }
                    configFile = Path.of(args[++i]);
                }
                case "--check" -> check = true;
                case "--help", "-h" -> {
                    System.out.println("usage: pmigd [--config FILE] [--check]\n"
                            + "  --config FILE  the configuration (default " + DaemonConfig.DEFAULT_FILE + ")\n"
                            + "  --check        check the configuration, the certificates and the DNS server, then exit");
                    System.exit(0);
                }
                default -> usage("unknown argument '" + args[i] + "'");
            }
        }
        DaemonConfig config;
        try {
            config = DaemonConfig.load(configFile);
            if (check) {
                PeerTls.of(config);
                String dns = "";
                if (config.dns().isPresent()) {
                    DnsSettings settings = config.dns().get();
                    try {
                        new ServiceDns(settings).check();
                    } catch (DnsException e) {
                        System.err.println("pmigd: " + e.getMessage());
                        System.exit(1);
                    }
                    dns = ", DNS zone " + settings.zone() + " on " + settings.serverAddress() + " with " + settings.key() + ": ok";
                }
                System.out.println("pmigd: " + configFile + " is usable: node " + config.nodeName() + ", "
                        + config.peers().size() + " peers, " + (config.plaintext() ? "plaintext" : "TLS") + dns);
                System.exit(0);
            }
        } catch (ConfigException e) {
            System.err.println("pmigd: " + e.getMessage());
            System.exit(2);
            return;
        }
        Daemon daemon;
        MigrationService migration;
        try {
            ServiceRegistry services = ServiceRegistry.open(config.stateDirectory().resolve("services"));
            migration = MigrationService.prepare(config, services);
            daemon = Daemon.start(config);
            migration.install(daemon);
            ServiceOps.install(daemon, services, new PublishedNames(daemon.serviceDns(), config.nodeName()), migration);
            RunCommandOp.install(daemon, migration::giveWay);
        } catch (RuntimeException e) {
            DaemonLog.warn("start-failed", "node", config.nodeName(), "error", e.getMessage());
            System.err.println("pmigd: cannot start: " + e.getMessage());
            System.exit(e instanceof ConfigException ? 2 : 1);
            return;
        }
        ServiceManager systemd = ServiceManager.fromEnvironment();
        systemd.ready("node " + config.nodeName() + ", peers on " + daemon.listening() + ", control socket " + config.controlSocket());
        CountDownLatch stopped = new CountDownLatch(1);
        // SIGTERM and SIGINT run the JVM's shutdown hooks: this one closes the daemon, then lets main return
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            systemd.stopping();
            DaemonLog.info("stopping", "node", config.nodeName(), "why", "signal");
            daemon.close();
            migration.close();
            stopped.countDown();
        }, "pmigd-shutdown"));
        try {
            stopped.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void usage(String message) {
        System.err.println("pmigd: " + message + "\nusage: pmigd [--config FILE] [--check]");
        System.exit(2);
    }
}
