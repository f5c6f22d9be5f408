package io.pmig.daemon.peer;

import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.pmig.daemon.config.ConfigException;
import io.pmig.daemon.config.DaemonConfig;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import javax.naming.InvalidNameException;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;
import javax.net.ssl.SSLException;

/**
 * The TLS side of the peer protocol: mutually authenticated TLS 1.3 where each side trusts only
 * the cluster CA ({@code tls.ca}) and presents its node certificate. Which names are accepted is
 * decided after the handshake by {@link PeerSession} (the certificate's name must be the peer it
 * expected, or a configured peer); {@link #PLAINTEXT} is the explicitly configured absence of TLS.
 */
public final class PeerTls {
    /**
     * TLS 1.3 suites, fastest first: AES-128-GCM runs about a third faster than AES-256-GCM on the
     * JDK's AES intrinsics and is the strength TLS 1.3 mandates every implementation to offer.
     */
    static final List<String> CIPHERS = List.of("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384");

    /** BoringSSL (netty-tcnative) when its native library loads here, else the JDK's SSLEngine. */
    public static final SslProvider PROVIDER = OpenSsl.isAvailable() ? SslProvider.OPENSSL : SslProvider.JDK;

    /** No TLS: peers are trusted by the name they send. Only when {@code plaintext = true} is configured. */
    public static final PeerTls PLAINTEXT = new PeerTls(null, null, null);

    private final SslContext server;
    private final SslContext client;
    private final Path ca;

    private PeerTls(SslContext server, SslContext client, Path ca) {
        this.server = server;
        this.client = client;
        this.ca = ca;
    }

    /** TLS from the configuration's files, or {@link #PLAINTEXT} when it says so; refuses a certificate not for this node. */
    public static PeerTls of(DaemonConfig config) {
        if (config.plaintext()) {
            return PLAINTEXT;
        }
        requireFile(config, "tls.ca", config.tlsCa());
        requireFile(config, "tls.cert", config.tlsCert());
        requireFile(config, "tls.key", config.tlsKey());
        X509Certificate own = readCertificate(config.tlsCert(), "tls.cert", config.source());
        String name = nameOf(own).orElse("(none)");
        if (!name.equals(config.nodeName())) {
            throw new ConfigException(config.source() + ": key tls.cert: " + config.tlsCert() + " is the certificate of '"
                    + name + "', not of this node '" + config.nodeName() + "': point tls.cert at " + config.nodeName()
                    + "'s certificate or make one with pmig certs init --nodes " + config.nodeName());
        }
        readCertificate(config.tlsCa(), "tls.ca", config.source());
        try {
            SslContext server = SslContextBuilder.forServer(config.tlsCert().toFile(), config.tlsKey().toFile())
                    .sslProvider(PROVIDER)
                    .trustManager(config.tlsCa().toFile())
                    .clientAuth(ClientAuth.REQUIRE)
                    .protocols("TLSv1.3")
                    .ciphers(CIPHERS)
                    .build();
            SslContext client = SslContextBuilder.forClient()
                    .sslProvider(PROVIDER)
                    .keyManager(config.tlsCert().toFile(), config.tlsKey().toFile())
                    .trustManager(config.tlsCa().toFile())
                    // the peer's name is checked against the certificate after the handshake (PeerSession)
                    .endpointIdentificationAlgorithm(null)
                    .protocols("TLSv1.3")
                    .ciphers(CIPHERS)
                    .build();
            return new PeerTls(server, client, config.tlsCa());
        } catch (SSLException | IllegalArgumentException e) {
            throw new ConfigException(config.source() + ": keys tls.cert/tls.key/tls.ca: cannot use " + config.tlsCert()
                    + " with " + config.tlsKey() + " and " + config.tlsCa() + ": " + e.getMessage(), e);
        }
    }

    public boolean plaintext() {
        return server == null;
    }

    SslContext server() {
        return server;
    }

    SslContext client() {
        return client;
    }

    /** The CA file every peer certificate must chain to, for messages. */
    Path ca() {
        return ca;
    }

    /** The node name a certificate is for: its first DNS subjectAltName, else its subject CN. */
    static Optional<String> nameOf(X509Certificate certificate) {
        try {
            Collection<List<?>> alternatives = certificate.getSubjectAlternativeNames();
            if (alternatives != null) {
                for (List<?> alternative : alternatives) {
                    if (Integer.valueOf(2).equals(alternative.get(0))) { // dNSName (RFC 5280 GeneralName tag 2)
                        return Optional.of(alternative.get(1).toString());
                    }
                }
            }
            for (Rdn rdn : new LdapName(certificate.getSubjectX500Principal().getName()).getRdns()) {
                if (rdn.getType().equalsIgnoreCase("CN")) {
                    return Optional.of(rdn.getValue().toString());
                }
            }
        } catch (CertificateParsingException | InvalidNameException e) {
            return Optional.empty();
        }
        return Optional.empty();
    }

    private static void requireFile(DaemonConfig config, String key, Path file) {
        if (!Files.isReadable(file)) {
            throw new ConfigException(config.source() + ": key " + key + ": " + file
                    + (Files.exists(file) ? " cannot be read" : " does not exist")
                    + ": make the cluster's certificates with pmig certs init --dir DIR --nodes NODE,... and point tls.ca,"
                    + " tls.cert and tls.key at them (or set plaintext = true to run without TLS)");
        }
    }

    private static X509Certificate readCertificate(Path file, String key, String source) {
        try (InputStream in = Files.newInputStream(file)) {
            return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
        } catch (IOException | CertificateException | ClassCastException e) {
            throw new ConfigException(source + ": key " + key + ": " + file + " is not a PEM X.509 certificate: " + e.getMessage(), e);
        }
    }
}
