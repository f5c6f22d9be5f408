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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

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
     * adds them to the same cluster. Everything is checked and made in memory first, then written,
     * each file whole; if a write fails, what this call wrote is removed again (and the directory,
     * if it made it), so no half-made CA or node is left.
     */
    public Init init(List<String> nodes, Duration validity) {
        for (String node : nodes) {
            if (!DaemonConfig.isNodeName(node) || node.equals("ca")) {
                throw new IllegalArgumentException("'" + node + "' is not a node name: lower-case letters, digits and '-',"
                        + " 1 to 63 characters, not 'ca'");
            }
        }
        checkValidity(validity.toDays());
        Path caCert = directory.resolve(CA_CERT);
        Path caKey = directory.resolve(CA_KEY);
        if (Files.exists(caCert) != Files.exists(caKey)) {
            throw new IllegalStateException(directory + " has only one of " + CA_CERT + " and " + CA_KEY
                    + ": restore the other, or remove the directory and make the cluster's certificates anew");
        }
        Map<Path, String> files = new LinkedHashMap<>();
        List<String> created = new ArrayList<>();
        List<String> existing = new ArrayList<>();
        boolean caCreated = !Files.exists(caCert);
        try {
            X509Certificate caCertificate;
            PrivateKey caPrivate;
            if (caCreated) {
                KeyPair ca = newKeyPair();
                X500Name name = new X500Name("CN=pmig cluster CA " + Instant.now().getEpochSecond());
                JcaX509v3CertificateBuilder builder = builder(name, name, ca, validity);
                builder.addExtension(Extension.basicConstraints, true, new BasicConstraints(0));
                builder.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
                caCertificate = sign(builder, ca.getPrivate());
                caPrivate = ca.getPrivate();
                files.put(caKey, pem(caPrivate));
                files.put(caCert, pem(caCertificate));
            } else {
                caCertificate = readCertificate(caCert);
                caPrivate = readKey(caKey);
            }
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
                files.put(key(directory, node), pem(pair.getPrivate()));
                files.put(certificate(directory, node), pem(sign(builder, caPrivate)));
                created.add(node);
            }
        } catch (IOException | GeneralSecurityException | OperatorCreationException e) {
            throw new IllegalStateException("cannot make the certificates for " + directory + " (" + e.getMessage() + "); nothing"
                    + " was written", e);
        }
        writeAll(files);
        return new Init(directory, caCreated, created, existing);
    }

    /**
     * Refuses a validity an X.509 certificate cannot carry: at least a day, ending no later than
     * the last moment of year 9999 (GeneralizedTime has four digits for the year, RFC 5280).
     */
    public static void checkValidity(long days) {
        long most = Duration.between(Instant.now(), Instant.parse("9999-12-31T23:59:59Z")).toDays();
        if (days < 1 || days > most) {
            throw new IllegalArgumentException("a certificate valid for " + days + " days is impossible: give 1 to " + most
                    + " days (a certificate ends by the year 9999 at the latest)");
        }
    }

    /** Writes the files, each whole, the directory made if needed; on a failure removes what it wrote. */
    private void writeAll(Map<Path, String> files) {
        List<Path> written = new ArrayList<>();
        boolean madeDirectory = false;
        try {
            if (!Files.isDirectory(directory)) {
                Files.createDirectories(directory);
                madeDirectory = true;
                Files.setPosixFilePermissions(directory, PosixFilePermissions.fromString("rwxr-xr-x"));
            }
            for (Map.Entry<Path, String> file : files.entrySet()) {
                write(file.getKey(), file.getValue(), file.getKey().getFileName().toString().endsWith(".key"));
                written.add(file.getKey());
            }
        } catch (IOException e) {
            List<Path> left = new ArrayList<>();
            for (Path path : madeDirectory ? append(written, directory) : written) {
                try {
                    Files.deleteIfExists(path);
                } catch (IOException stuck) {
                    left.add(path);
                }
            }
            throw new IllegalStateException("cannot write the certificates in " + directory + " (" + e + "): make it writable, or"
                    + " choose another --dir; " + (left.isEmpty() ? "nothing was left there" : "remove " + left + " by hand"), e);
        }
    }

    private static List<Path> append(List<Path> paths, Path last) {
        List<Path> all = new ArrayList<>(paths);
        all.add(last);
        return all;
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
