package io.pmig.daemon.peer;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.LengthFieldBasedFrameDecoder;
import io.netty.handler.codec.MessageToMessageCodec;
import java.util.List;

/**
 * Frames to and from bytes: a 4-byte big-endian length, then the frame. Goes after a
 * {@link #lengthDecoder} that cuts the byte stream into frames no longer than the limit.
 */
final class FrameCodec extends MessageToMessageCodec<ByteBuf, Frame> {
    /** Cuts the stream at each frame's length; a longer frame closes the connection (TooLongFrameException). */
    static LengthFieldBasedFrameDecoder lengthDecoder(int maxFrameBytes) {
        return new LengthFieldBasedFrameDecoder(4 + maxFrameBytes, 0, 4, 0, 4);
    }

    @Override
    protected void encode(ChannelHandlerContext ctx, Frame frame, List<Object> out) {
        ByteBuf header = ctx.alloc().buffer(4 + Frame.HEADER_BYTES);
        header.writeInt(Frame.HEADER_BYTES + frame.payload().readableBytes());
        header.writeByte(frame.kind().ordinal());
        header.writeLong(frame.id());
        out.add(header);
        out.add(frame.payload()); // the frame is not reference counted: its payload passes on as it is
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        if (in.readableBytes() < Frame.HEADER_BYTES) {
            throw new PeerException(PeerException.Reason.PROTOCOL, "a frame of " + in.readableBytes() + " bytes, shorter than its header");
        }
        Frame.Kind kind = Frame.Kind.of(in.readUnsignedByte());
        long id = in.readLong();
        out.add(new Frame(kind, id, in.retainedSlice()));
    }
}
