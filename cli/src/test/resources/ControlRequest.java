import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;

/**
 * A control-socket client with no dependency, run by the JDK's source launcher as another user in
 * a lab node (OpenedControlSocketTest), where pmig's jars are not readable: ControlRequest SOCKET
 * JSON sends the request line and prints the daemon's last line (its answer).
 */
public class ControlRequest {
    public static void main(String[] args) throws Exception {
        try (SocketChannel channel = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            channel.connect(UnixDomainSocketAddress.of(args[0]));
            channel.write(ByteBuffer.wrap((args[1] + "\n").getBytes(StandardCharsets.UTF_8)));
            BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(channel), StandardCharsets.UTF_8));
            String last = null;
            for (String line = in.readLine(); line != null; line = in.readLine()) {
                last = line;
            }
            System.out.println(last);
        }
    }
}
