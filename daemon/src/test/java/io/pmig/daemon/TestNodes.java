package io.pmig.daemon;

import io.pmig.daemon.certs.ClusterCertificates;
import io.pmig.daemon.config.DaemonConfig;
import io.pmig.daemon.config.HostPort;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Properties;

/** Configurations of test nodes on loopback, with certificates from a cluster CA made in a temporary directory. */
public final class TestNodes {
    private TestNodes() {
    }

    public static Path certificates(Path directory, String... nodes) {
        new ClusterCertificates(directory).init(List.of(nodes), ClusterCertificates.DEFAULT_VALIDITY);
        return directory;
    }

    /** Node {@code name} listening on 127.0.0.1 (port 0: any), with certificates from {@code certs} and the given peers. */
    public static DaemonConfig node(String name, Path certs, Map<String, HostPort> peers, boolean plaintext) {
        return DaemonConfig.parse(properties(name, certs, peers, plaintext), "test config of " + name);
    }

    /** The properties of {@link #node}, to add to. */
    public static Properties properties(String name, Path certs, Map<String, HostPort> peers, boolean plaintext) {
        Properties p = new Properties();
        p.setProperty("node.name", name);
        p.setProperty("listen", "127.0.0.1:0");
        p.setProperty("tls.ca", certs.resolve("ca.pem").toString());
        p.setProperty("tls.cert", ClusterCertificates.certificate(certs, name).toString());
        p.setProperty("tls.key", ClusterCertificates.key(certs, name).toString());
        p.setProperty("plaintext", Boolean.toString(plaintext));
        p.setProperty("limits.connect.timeout.millis", "5000");
        p.setProperty("limits.request.timeout.millis", "20000");
        peers.forEach((peer, address) -> p.setProperty(DaemonConfig.PEER_PREFIX + peer, address.toString()));
        return p;
    }
}
