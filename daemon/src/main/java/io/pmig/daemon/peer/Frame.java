package io.pmig.daemon.peer;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.nio.charset.StandardCharsets;

/**
 * One frame of the peer protocol, after the 4-byte length that precedes it on the wire:
 * {@code kind (1 byte) | id (8 bytes) | payload}. The payload is reference counted: whoever holds
 * a frame releases it. docs/pmigd.md describes the protocol.
 */
record Frame(Kind kind, long id, ByteBuf payload) {
    /** Bytes of a frame before its payload: the kind and the id. */
    static final int HEADER_BYTES = 1 + 8;

    /**
     * The kinds of frames. "Forward" frames carry the sender's own id (of its request or stream);
     * "backward" frames ({@link #RESPONSE}, {@link #FAILURE}, {@link #STREAM_CREDIT}) carry the id
     * the other side chose, so each side keeps one id space.
     */
    enum Kind {
        /** First frame each way: a Message "hello" with the sender's node name and protocol version. */
        HELLO,
        /** A request (Message) awaiting a RESPONSE or FAILURE with its id. */
        REQUEST,
        /** The answer (Message) to a request or to a whole stream. */
        RESPONSE,
        /** A request or stream failed on the other side, or (id 0) the other side refuses this connection: UTF-8 text. */
        FAILURE,
        /** A data stream begins: its header (Message) names the stream handler. */
        STREAM_OPEN,
        /** Raw bytes of a stream, within the credit the receiver granted. */
        STREAM_DATA,
        /** The sender wrote everything; the receiver's handler answers with RESPONSE or FAILURE. */
        STREAM_END,
        /** The sender gave up on the stream: UTF-8 reason. */
        STREAM_ABORT,
        /** The receiver grants this many more bytes of the stream: a 4-byte count. */
        STREAM_CREDIT,
        /** Nothing else was sent for a while: "still here" (id 0, empty), so that silence means a cut. */
        HEARTBEAT;

        private static final Kind[] ALL = values();

        static Kind of(int code) {
            if (code < 0 || code >= ALL.length) {
                throw new PeerException(PeerException.Reason.PROTOCOL, "unknown frame kind " + code);
            }
            return ALL[code];
        }
    }

    static Frame empty(Kind kind, long id) {
        return new Frame(kind, id, io.netty.buffer.Unpooled.EMPTY_BUFFER);
    }

    static Frame text(ByteBufAllocator alloc, Kind kind, long id, String text) {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        return new Frame(kind, id, alloc.buffer(bytes.length).writeBytes(bytes));
    }

    static Frame message(ByteBufAllocator alloc, Kind kind, long id, Message message) {
        byte[] type = message.type().getBytes(StandardCharsets.UTF_8);
        ByteBuf payload = alloc.buffer(1 + type.length + message.body().length);
        payload.writeByte(type.length).writeBytes(type).writeBytes(message.body());
        return new Frame(kind, id, payload);
    }

    static Frame credit(ByteBufAllocator alloc, long id, int bytes) {
        return new Frame(Kind.STREAM_CREDIT, id, alloc.buffer(4).writeInt(bytes));
    }

    /** The payload as a Message; the frame keeps its payload (the caller releases it). */
    Message toMessage() {
        ByteBuf in = payload.duplicate();
        int typeLength = in.readUnsignedByte();
        if (typeLength == 0 || typeLength > in.readableBytes()) {
            throw new PeerException(PeerException.Reason.PROTOCOL, "a " + kind + " frame holds a message with a bad type length " + typeLength);
        }
        String type = in.readCharSequence(typeLength, StandardCharsets.UTF_8).toString();
        byte[] body = new byte[in.readableBytes()];
        in.readBytes(body);
        return new Message(type, body);
    }

    String toText() {
        return payload.toString(StandardCharsets.UTF_8);
    }

    int toCredit() {
        if (payload.readableBytes() != 4) {
            throw new PeerException(PeerException.Reason.PROTOCOL, "a credit frame of " + payload.readableBytes() + " bytes, not 4");
        }
        return payload.getInt(payload.readerIndex());
    }
}
