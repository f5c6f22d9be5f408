package io.pmig.vip.dns;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** TSIG keys as bind writes them, and the checks ServiceDns makes before it sends anything. */
class TsigKeyTest {
    private static final String SECRET = "c2VjcmV0LW9mLTMyLWJ5dGVzLWZvci1obWFjLXNoYTI=";

    @TempDir
    Path dir;

    private TsigKey read(String text) throws IOException {
        Path file = dir.resolve("k.key");
        Files.writeString(file, text);
        return TsigKey.readKeyFile(file);
    }

    private String readError(String text) {
        return assertThrows(IllegalArgumentException.class, () -> read(text)).getMessage();
    }

    @Test
    void aKeyFileAsTsigKeygenWritesItIsRead() throws IOException {
        assertEquals(new TsigKey("pmig-update", "hmac-sha256", SECRET),
                read("key \"pmig-update\" {\n\talgorithm hmac-sha256;\n\tsecret \"" + SECRET + "\";\n};\n"));
        assertEquals(new TsigKey("ddns.example.com.", "hmac-sha512", SECRET),
                read("# a comment\n// another\n/* key \"commented-out\" { secret \"x\"; }; */\n"
                        + "key ddns.example.com. { secret \"" + SECRET + "\"; algorithm \"HMAC-SHA512\"; };"));
        assertEquals(new TsigKey("k", TsigKey.DEFAULT_ALGORITHM, SECRET), read("key k { secret \"" + SECRET + "\"; };"),
                "bind's default algorithm when the file names none");
    }

    @Test
    void theKeyFileRoundTrips() throws IOException {
        TsigKey key = new TsigKey("pmig-lab-update", "hmac-sha256", SECRET);
        assertEquals(key, read(key.keyFileText()));
    }

    @Test
    void aBadKeyFileSaysWhatIsWrong() {
        Path file = dir.resolve("k.key");
        assertTrue(readError("secret \"" + SECRET + "\";").startsWith("the TSIG key file " + file + " holds no key statement"));
        assertEquals("the TSIG key file " + file + " holds more than one key (a, b): give pmig a file with its one key",
                readError("key a { secret \"" + SECRET + "\"; };\nkey b { secret \"" + SECRET + "\"; };"));
        assertEquals("key a in the TSIG key file " + file + " has no secret \"BASE64\";", readError("key a { algorithm hmac-sha256; };"));
        assertTrue(readError("key a { algorithm hmac-sha3; secret \"" + SECRET + "\"; };")
                .startsWith("the TSIG key file " + file + ": TSIG algorithm 'hmac-sha3' is not one of hmac-sha256"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> TsigKey.readKeyFile(dir.resolve("missing.key"))).getMessage()
                .startsWith("cannot read the TSIG key file " + dir.resolve("missing.key")));
    }

    @Test
    void theSecretIsNeverShown() {
        TsigKey key = new TsigKey("pmig-update", "hmac-sha256", SECRET);
        assertEquals("TSIG key pmig-update (hmac-sha256)", key.toString());
        String error = assertThrows(IllegalArgumentException.class, () -> new TsigKey("k", "hmac-sha256", "not*base64")).getMessage();
        assertTrue(error.startsWith("the secret of TSIG key k is not base64"), error);
        assertFalse(error.contains("not*base64"), error);
    }

    @Test
    void aNameOutsideTheZoneIsRefusedBeforeAnythingIsSent() {
        DnsSettings settings = new DnsSettings("192.0.2.53", 53, "pmig.test", DnsSettings.DEFAULT_TTL,
                new TsigKey("k", "hmac-sha256", SECRET), Duration.ofMillis(1));
        ServiceDns dns = new ServiceDns(settings);
        InetAddress vip = InetAddress.getLoopbackAddress();
        assertEquals("'web.example.com' is not a name in zone pmig.test. (the zone this node registers names in): use a name"
                + " ending in .pmig.test.", assertThrows(IllegalArgumentException.class, () -> dns.register("web.example.com", List.of(vip)))
                .getMessage());
        assertThrows(IllegalArgumentException.class, () -> dns.remove("pmig.test"), "the zone's apex is not a service's name");
        assertThrows(IllegalArgumentException.class, () -> dns.register("web.pmig.test", List.of()), "no VIP: remove, not register");
        assertThrows(IllegalArgumentException.class, () -> dns.register("web..pmig.test", List.of(vip)));
    }
}
