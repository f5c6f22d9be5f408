package io.pmig.vip.dns;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The TSIG key (RFC 8945) that signs pmig's updates: its name, which must be the name of a key the
 * server knows, its HMAC algorithm and its secret (base64, as in bind's {@code key} statement).
 * {@link #toString} never shows the secret.
 */
public record TsigKey(String name, String algorithm, String secret) {
    /** The algorithms bind's tsig-keygen offers; hmac-sha256 is its default. */
    public static final List<String> ALGORITHMS = List.of("hmac-sha256", "hmac-sha512", "hmac-sha384", "hmac-sha224",
            "hmac-sha1", "hmac-md5");
    public static final String DEFAULT_ALGORITHM = "hmac-sha256";

    private static final Pattern KEY_NAME = Pattern.compile("[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?\\.?");
    private static final Pattern COMMENTS = Pattern.compile("/\\*.*?\\*/|(//|#)[^\\n]*", Pattern.DOTALL);
    private static final Pattern KEY_STATEMENT = Pattern.compile("key\\s+\"?([^\"\\s{]+)\"?\\s*\\{(.*?)\\}\\s*;", Pattern.DOTALL);
    private static final Pattern ALGORITHM = Pattern.compile("algorithm\\s+\"?([A-Za-z0-9-]+)\"?\\s*;");
    private static final Pattern SECRET = Pattern.compile("secret\\s+\"([^\"]+)\"\\s*;");

    /** Checks the three parts; an {@link IllegalArgumentException} says which is wrong and how. */
    public TsigKey {
        if (!KEY_NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("'" + name + "' is not a TSIG key name (a domain name such as pmig-update or"
                    + " pmig-update.example.com)");
        }
        algorithm = algorithm.toLowerCase(Locale.ROOT);
        if (!ALGORITHMS.contains(algorithm)) {
            throw new IllegalArgumentException("TSIG algorithm '" + algorithm + "' is not one of " + String.join(", ", ALGORITHMS));
        }
        byte[] bytes;
        try {
            bytes = Base64.getDecoder().decode(secret.strip());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("the secret of TSIG key " + name + " is not base64 (" + e.getMessage() + ")");
        }
        if (bytes.length == 0) {
            throw new IllegalArgumentException("the secret of TSIG key " + name + " is empty");
        }
        secret = secret.strip();
    }

    /**
     * Reads a key file in bind's format, as {@code tsig-keygen NAME > FILE} writes it and named.conf
     * includes it: one {@code key "NAME" { algorithm ALG; secret "BASE64"; };} statement.
     */
    public static TsigKey readKeyFile(Path file) {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read the TSIG key file " + file + ": " + e.getMessage(), e);
        }
        Matcher key = KEY_STATEMENT.matcher(COMMENTS.matcher(text).replaceAll(" "));
        if (!key.find()) {
            throw new IllegalArgumentException("the TSIG key file " + file + " holds no key statement"
                    + " (key \"NAME\" { algorithm hmac-sha256; secret \"BASE64\"; };), as tsig-keygen writes it");
        }
        String name = key.group(1);
        String body = key.group(2);
        if (key.find()) {
            throw new IllegalArgumentException("the TSIG key file " + file + " holds more than one key (" + name + ", "
                    + key.group(1) + "): give pmig a file with its one key");
        }
        Matcher algorithm = ALGORITHM.matcher(body);
        Matcher secret = SECRET.matcher(body);
        if (!secret.find()) {
            throw new IllegalArgumentException("key " + name + " in the TSIG key file " + file + " has no secret \"BASE64\";");
        }
        try {
            return new TsigKey(name, algorithm.find() ? algorithm.group(1) : DEFAULT_ALGORITHM, secret.group(1));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("the TSIG key file " + file + ": " + e.getMessage(), e);
        }
    }

    /** The key in bind's key-file format, to include in named.conf. */
    public String keyFileText() {
        return "key \"" + name + "\" {\n\talgorithm " + algorithm + ";\n\tsecret \"" + secret + "\";\n};\n";
    }

    @Override
    public String toString() {
        return "TSIG key " + name + " (" + algorithm + ")";
    }
}
