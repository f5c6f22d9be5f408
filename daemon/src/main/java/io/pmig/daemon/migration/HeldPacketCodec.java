package io.pmig.daemon.migration;

import io.pmig.vip.hold.HeldPacket;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * Held packets on the wire between daemons: a count, then per packet its arrival time
 * (nanoseconds since the epoch), its length and its bytes; big-endian.
 */
final class HeldPacketCodec {
    private HeldPacketCodec() {
    }

    /** Packets of migration {@code id}, with a flag (the source's last batch). */
    record Batch(String id, boolean last, List<HeldPacket> packets) {
    }

    static byte[] encode(Batch batch) {
        byte[] id = batch.id().getBytes(java.nio.charset.StandardCharsets.UTF_8);
        byte[] packets = encode(batch.packets());
        return ByteBuffer.allocate(2 + id.length + packets.length).put((byte) id.length).put((byte) (batch.last() ? 1 : 0))
            .put(id).put(packets).array();
    }

    static Batch decodeBatch(byte[] body) {
        int idLength = body[0] & 0xff;
        String id = new String(body, 2, idLength, java.nio.charset.StandardCharsets.UTF_8);
        return new Batch(id, body[1] == 1, decode(java.util.Arrays.copyOfRange(body, 2 + idLength, body.length)));
    }

    static byte[] encode(List<HeldPacket> packets) {
        int size = 4;
        for (HeldPacket p : packets) {
            size += 12 + p.length();
        }
        ByteBuffer b = ByteBuffer.allocate(size).putInt(packets.size());
        for (HeldPacket p : packets) {
            b.putLong(p.arrivedAtEpochNanos()).putInt(p.length()).put(p.ip());
        }
        return b.array();
    }

    static List<HeldPacket> decode(byte[] body) {
        ByteBuffer b = ByteBuffer.wrap(body);
        int count = b.getInt();
        if (count < 0 || count > body.length / 12) {
            throw new IllegalArgumentException("a held-packet list of " + count + " packets in " + body.length + " bytes");
        }
        List<HeldPacket> out = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            long at = b.getLong();
            int length = b.getInt();
            if (length < 0 || length > b.remaining()) {
                throw new IllegalArgumentException("held packet " + i + " claims " + length + " bytes, " + b.remaining() + " left");
            }
            byte[] ip = new byte[length];
            b.get(ip);
            out.add(new HeldPacket(ip, at));
        }
        return out;
    }
}
