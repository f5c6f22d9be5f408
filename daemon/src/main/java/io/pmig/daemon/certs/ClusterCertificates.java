package io.pmig.daemon.certs;

import io.pmig.daemon.config.DaemonConfig;
import java.io.IOException;
import java.io.Reader;
import java.io.StringWriter;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;

import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * The certificates of a small cluster or a lab, in one directory: {@code ca.pem} and
 * {@code ca.key} (the cluster CA), and per node {@code NODE.pem} and {@code NODE.key} (the node's
 * certificate, named NODE in its subject CN and DNS subjectAltName, for TLS server and client use).
 * EC P-256 keys, ECDSA-SHA256 signatures, keys in PKCS#8 PEM readable by root only. Not on any hot
 * path: this runs once per cluster.
 */
public final class ClusterCertificates {
    public static final String CA_CERT = "ca.pem";
    public static final String CA_KEY = "ca.key";
    public static final Duration DEFAULT_VALIDITY = Duration.ofDays(825);

    private static final SecureRandom RANDOM = new SecureRandom();

    private final Path directory;

    public ClusterCertificates(Path directory) {
        this.directory = directory;
    }

    /** What {@link #init} did: whether it made the CA, and which node certificates it made or found. */
    public record Init(Path directory, boolean caCreated, List<String> created, List<String> existing) {
    }

    public static Path certificate(Path directory, String node) {
        return directory.resolve(node + ".pem");
    }

    public static Path key(Path directory, String node) {
        return directory.resolve(node + ".key");
    }

    /**
     * Makes the CA unless the directory has one, then a certificate for each node that has none,
     * signed by that CA. Existing files are never overwritten, so running it again for more nodes
     * adds them to the same cluster.
     */
    public Init init(List<String> nodes, Duration validity) {
        for (String node : nodes) {
            if (!DaemonConfig.isNodeName(node) || node.equals("ca")) {
                throw new IllegalArgumentException("'" + node + "' is not a node name: lower-case letters, digits and '-',"
                        + " 1 to 63 characters, not 'ca'");
            }
        }
        try {
            Files.createDirectories(directory);
            Files.setPosixFilePermissions(directory, PosixFilePermissions.fromString("rwxr-xr-x"));
            Path caCert = directory.resolve(CA_CERT);
            Path caKey = directory.resolve(CA_KEY);
            boolean caCreated = false;
            if (Files.exists(caCert) != Files.exists(caKey)) {
                throw new IllegalStateException(directory + " has only one of " + CA_CERT + " and " + CA_KEY
                        + ": restore the other, or remove the directory and make the cluster's certificates anew");
            }
            if (!Files.exists(caCert)) {
                KeyPair ca = newKeyPair();
                X500Name name = new X500Name("CN=pmig cluster CA " + Instant.now().getEpochSecond());
                JcaX509v3CertificateBuilder builder = builder(name, name, ca, validity);
                builder.addExtension(Extension.basicConstraints, true, new BasicConstraints(0));
                builder.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
                write(caKey, pem(ca.getPrivate()), true);
                write(caCert, pem(sign(builder, ca.getPrivate())), false);
                caCreated = true;
            }
            X509Certificate caCertificate = readCertificate(caCert);
            PrivateKey caPrivate = readKey(caKey);
            List<String> created = new ArrayList<>();
            List<String> existing = new ArrayList<>();
            for (String node : nodes) {
                if (Files.exists(certificate(directory, node))) {
                    existing.add(node);
                    continue;
                }
                KeyPair pair = newKeyPair();
                JcaX509v3CertificateBuilder builder = builder(
                        new X500Name(caCertificate.getSubjectX500Principal().getName()), new X500Name("CN=" + node), pair, validity);
                builder.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
                builder.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature));
                builder.addExtension(Extension.extendedKeyUsage, false,
                        new ExtendedKeyUsage(new KeyPurposeId[] {KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth}));
                builder.addExtension(Extension.subjectAlternativeName, false,
                        new GeneralNames(new GeneralName(GeneralName.dNSName, node)));
                builder.addExtension(Extension.authorityKeyIdentifier, false,
                        new JcaX509ExtensionUtils().createAuthorityKeyIdentifier(caCertificate));
                write(key(directory, node), pem(pair.getPrivate()), true);
                write(certificate(directory, node), pem(sign(builder, caPrivate)), false);
                created.add(node);
            }
            return new Init(directory, caCreated, created, existing);
        } catch (IOException | GeneralSecurityException | OperatorCreationException e) {
            throw new IllegalStateException("cannot make the certificates in " + directory + ": " + e, e);
        }
    }

    private static KeyPair newKeyPair() throws GeneralSecurityException {
        KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
        generator.initialize(new ECGenParameterSpec("secp256r1"), RANDOM);
        return generator.generateKeyPair();
    }

    private static JcaX509v3CertificateBuilder builder(X500Name issuer, X500Name subject, KeyPair subjectKeys, Duration validity)
            throws GeneralSecurityException, IOException {
        Instant now = Instant.now();
        JcaX509v3CertificateBuilder builder = new JcaX509v3CertificateBuilder(issuer, new BigInteger(127, RANDOM),
                Date.from(now.minus(Duration.ofMinutes(5))), Date.from(now.plus(validity)), subject, subjectKeys.getPublic());
        builder.addExtension(Extension.subjectKeyIdentifier, false,
                new JcaX509ExtensionUtils().createSubjectKeyIdentifier(subjectKeys.getPublic()));
        return builder;
    }

    private static X509Certificate sign(JcaX509v3CertificateBuilder builder, PrivateKey issuerKey)
            throws OperatorCreationException, GeneralSecurityException {
        X509CertificateHolder holder = builder.build(new JcaContentSignerBuilder("SHA256withECDSA").build(issuerKey));
        return new JcaX509CertificateConverter().getCertificate(holder);
    }

    private static String pem(Object object) throws IOException {
        StringWriter text = new StringWriter();
        try (JcaPEMWriter writer = new JcaPEMWriter(text)) {
            writer.writeObject(object instanceof PrivateKey key ? new JcaPKCS8Generator(key, null) : object);
        }
        return text.toString();
    }

    private static X509Certificate readCertificate(Path file) throws IOException, GeneralSecurityException {
        try (Reader reader = Files.newBufferedReader(file); PEMParser parser = new PEMParser(reader)) {
            Object object = parser.readObject();
            if (!(object instanceof X509CertificateHolder holder)) {
                throw new IOException(file + " holds no PEM certificate");
            }
            return new JcaX509CertificateConverter().getCertificate(holder);
        }
    }

    private static PrivateKey readKey(Path file) throws IOException {
        try (Reader reader = Files.newBufferedReader(file); PEMParser parser = new PEMParser(reader)) {
            Object object = parser.readObject();
            JcaPEMKeyConverter converter = new JcaPEMKeyConverter();
            if (object instanceof org.bouncycastle.asn1.pkcs.PrivateKeyInfo info) {
                return converter.getPrivateKey(info);
            }
            if (object instanceof PEMKeyPair pair) {
                return converter.getKeyPair(pair).getPrivate();
            }
            throw new IOException(file + " holds no PEM private key");
        }
    }

    /** Writes a file whole (temporary file renamed over it); keys readable by their owner only. */
    private static void write(Path file, String text, boolean secret) throws IOException {
        Path temporary = file.resolveSibling(file.getFileName() + ".tmp");
        Files.deleteIfExists(temporary);
        Files.createFile(temporary, PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString(secret ? "rw-------" : "rw-r--r--")));
        Files.writeString(temporary, text, StandardCharsets.US_ASCII);
        Files.move(temporary, file, StandardCopyOption.ATOMIC_MOVE);
    }
}
