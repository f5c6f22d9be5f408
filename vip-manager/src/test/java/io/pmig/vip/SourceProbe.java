package io.pmig.vip;

import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;

/**
 * The client a source-address test runs in a pinned cgroup: {@code tcp HOST PORT} connects and prints
 * the connection's local address (getsockname); {@code udp HOST PORT} sends one datagram from an
 * unbound socket.
 */
final class SourceProbe {
    private SourceProbe() {
    }

    public static void main(String[] args) throws Exception {
        InetSocketAddress to = new InetSocketAddress(InetAddress.getByName(args[1]), Integer.parseInt(args[2]));
        if (args[0].equals("tcp")) {
            try (Socket s = new Socket()) {
                s.connect(to, 20_000);
                System.out.println(s.getLocalAddress().getHostAddress());
            }
        } else {
            try (DatagramSocket s = new DatagramSocket(null)) {
                byte[] data = {'x'};
                s.send(new DatagramPacket(data, data.length, to));
            }
        }
    }
}
