import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;

/**
 * A control-socket client with no dependency, run by the JDK's source launcher under another uid
 * (ControlSocketTest): ControlProbe SOCKET PID|self sends {"op":"may-migrate","pid":PID} and prints
 * the answer line. "self" is this probe's own pid, a process the probe's user owns.
 */
public class ControlProbe {
    public static void main(String[] args) throws Exception {
        long pid = args[1].equals("self") ? ProcessHandle.current().pid() : Long.parseLong(args[1]);
        try (SocketChannel channel = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            channel.connect(UnixDomainSocketAddress.of(args[0]));
            channel.write(ByteBuffer.wrap(("{\"op\":\"may-migrate\",\"pid\":" + pid + "}\n").getBytes(StandardCharsets.UTF_8)));
            BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(channel), StandardCharsets.UTF_8));
            System.out.println(pid + " " + in.readLine());
        }
    }
}
