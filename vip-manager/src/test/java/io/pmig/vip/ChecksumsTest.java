package io.pmig.vip;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.pmig.vip.packet.Checksums;

import java.util.Arrays;
import java.util.HexFormat;

import org.junit.jupiter.api.Test;

/** Checksums of replayed packets against values computed independently, and malformed input. */
class ChecksumsTest {
    private static final HexFormat HEX = HexFormat.of();

    @Test
    void ipv4HeaderChecksumMatchesTheTextbookExample() {
        // 20-byte header, 0x73-byte packet, TTL 64, UDP, 192.168.0.1 -> 192.168.0.199: checksum b861
        byte[] ip = Arrays.copyOf(HEX.parseHex("450000730000400040110000c0a80001c0a800c7"), 0x73);
        byte[] out = Checksums.recomputed(ip);
        assertEquals("b861", HEX.formatHex(out, 10, 12));
    }

    @Test
    void udpAndTcpChecksumsVerifyToAllOnes() throws Exception {
        byte[] udp = HoldAndReplayTest.udp("10.0.0.1", "10.0.0.2", 53, "hello, world").ip();
        byte[] fixed = Checksums.recomputed(udp);
        assertEquals(0xffff, onesSum(pseudo4(fixed, 17), fixed, 20));
        // TCP: header of 20 bytes with ACK|PSH and 3 payload bytes, checksum field garbage
        byte[] tcp = HEX.parseHex("4500002b00004000400600000a0000010a000002" + "9c4000500000000100000001" + "5018ffff" + "dead0000" + "616263");
        byte[] t = Checksums.recomputed(tcp);
        assertEquals(0xffff, onesSum(pseudo4(t, 6), t, 20));
    }

    @Test
    void ethernetPaddingIsCutToTheIpLength() {
        byte[] ip = Arrays.copyOf(HEX.parseHex("45000014000040004011000001020304050607080000"), 26);
        assertEquals(20, Checksums.recomputed(ip).length);
    }

    @Test
    void malformedPacketsAreRefused() {
        assertNull(Checksums.recomputed(new byte[0]));
        assertNull(Checksums.recomputed(HEX.parseHex("4500")));
        assertNull(Checksums.recomputed(HEX.parseHex("450000ff000040004011000001020304050607080000")), "longer than captured");
        assertNull(Checksums.recomputed(new byte[40]), "version 0");
        byte[] v6 = new byte[40];
        v6[0] = 0x60;
        v6[5] = 8;
        assertNull(Checksums.recomputed(v6), "IPv6 payload length beyond the capture");
        v6[5] = 0;
        assertArrayEquals(v6, Checksums.recomputed(v6));
    }

    private static long pseudo4(byte[] p, int protocol) {
        long sum = 0;
        for (int i = 12; i < 20; i += 2) {
            sum += (p[i] & 0xff) << 8 | p[i + 1] & 0xff;
        }
        return sum + protocol + (p.length - 20);
    }

    private static int onesSum(long sum, byte[] p, int from) {
        for (int i = from; i < p.length; i += 2) {
            sum += (p[i] & 0xff) << 8 | (i + 1 < p.length ? p[i + 1] & 0xff : 0);
        }
        while ((sum >>> 16) != 0) {
            sum = (sum & 0xffff) + (sum >>> 16);
        }
        return (int) sum;
    }
}
