package io.pmig.testvm.it;

import io.pmig.checkpoint.nativeio.PmigTcpState;
import io.pmig.checkpoint.nativeio.Sockets;
import io.pmig.vip.hold.HeldPacket;
import io.pmig.vip.hold.HoldLimits;
import io.pmig.vip.hold.KernelHold;
import io.pmig.vip.nativeio.PmigHold;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.DatagramChannel;
import java.nio.channels.Selector;
import java.nio.channels.SelectionKey;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Runs inside a test-vm guest with pmig.ko loaded (io.pmig.testvm.PmigModuleVmTest): the Java bindings
 * the daemon uses, vip-manager's {@link KernelHold} over the guest's loopback and checkpoint's
 * {@link PmigTcpState} on this JVM's own connections. Prints {@code PASS name} or {@code FAIL name: why}
 * per check; exits with 1 if any failed. No JUnit engine in the guest (its start-up under TCG).
 */
public final class PmigModuleGuest {
    private static final InetAddress VIP = address("127.0.0.3");
    private static final int PORT = 7411;
    private static int failures;

    @FunctionalInterface
    private interface Check {
        void run() throws Exception;
    }

    private PmigModuleGuest() {
    }

    public static void main(String[] args) {
        check("kernelHoldKeepsTakesAndReleasesInOrder", PmigModuleGuest::kernelHoldKeepsTakesAndReleasesInOrder);
        check("tcpStateOfAllConnectionsInOneCall", PmigModuleGuest::tcpStateOfAllConnectionsInOneCall);
        System.exit(failures == 0 ? 0 : 1);
    }

    private static void kernelHoldKeepsTakesAndReleasesInOrder() throws Exception {
        int device = PmigHold.openIfLoaded();
        require(device >= 0, "the probe did not find /dev/pmig with the module loaded");
        try (DatagramChannel receiver = DatagramChannel.open(); DatagramChannel sender = DatagramChannel.open();
             KernelHold hold = new KernelHold(device, VIP, new HoldLimits(100, 1 << 20))) {
            receiver.bind(new InetSocketAddress(VIP, PORT));
            receiver.configureBlocking(false);
            hold.on();
            send(sender, 0, 10);
            awaitKept(hold, 10);
            List<HeldPacket> taken = hold.take();
            require(taken.size() == 10, taken.size() + " packets taken, 10 sent");
            for (int i = 0; i < 10; i++) {
                byte[] ip = taken.get(i).ip();
                require(ByteBuffer.wrap(ip, 28, 4).getInt() == i, "taken packet " + i + " is out of order");
            }
            send(sender, 10, 10);
            awaitKept(hold, 20);
            require(receiver.receive(ByteBuffer.allocate(4)) == null, "a packet reached the socket during the hold");
            hold.release(packets -> {
                throw new AssertionError("the module re-injects itself; nothing goes through user space");
            });
            require(!hold.isOn(), "still on after the release");
            receiveInOrder(receiver, 10, 10);
            require(hold.kept() == 20, "kept " + hold.kept() + ", 20 sent");
        }
    }

    private static void tcpStateOfAllConnectionsInOneCall() throws Exception {
        List<SocketChannel> open = new ArrayList<>();
        try (ServerSocketChannel listener = ServerSocketChannel.open()) {
            listener.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            List<Integer> expectedUnread = new ArrayList<>();
            for (int i = 1; i <= 4; i++) {
                SocketChannel client = SocketChannel.open(listener.getLocalAddress());
                SocketChannel server = listener.accept();
                open.add(client);
                open.add(server);
                client.write(ByteBuffer.allocate(i));
                server.write(ByteBuffer.allocate(10 * i));
                expectedUnread.add(i);
                expectedUnread.add(10 * i);
            }
            waitUntilArrived(open, expectedUnread);
            Map<Integer, PmigTcpState.Socket> state = PmigTcpState.read((int) ProcessHandle.current().pid());
            require(state != null, "no /dev/pmig");
            List<Integer> unread = new ArrayList<>();
            for (PmigTcpState.Socket s : state.values()) {
                if (s.state() != 1) { // TCP_ESTABLISHED (the listener is LISTEN); Java's sockets are AF_INET6 with IPv4 mapped
                    continue;
                }
                require((s.family() == 2 || s.family() == 10) && s.mssClamp() > 0 && s.window()[3] > 0 && s.outq() == 0 && s.notSent() == 0,
                    "fd " + s.fd() + " decoded wrongly: " + s);
                unread.add(s.inq());
                requireAsTheGetsockoptsReport(s);
            }
            unread.sort(null);
            expectedUnread.sort(null);
            require(unread.equals(expectedUnread), "unread bytes per connection " + unread + ", expected " + expectedUnread);
        } finally {
            for (SocketChannel c : open) {
                c.close();
            }
        }
    }

    /**
     * What the checkpoint engine reads for the socket without the module (TcpSockets), read now on this JVM's
     * own descriptor in repair mode: the sequence numbers, the window and the MSS must be the module's.
     */
    private static void requireAsTheGetsockoptsReport(PmigTcpState.Socket s) {
        int fd = s.fd();
        Sockets.setInt(fd, Sockets.IPPROTO_TCP, Sockets.TCP_REPAIR, 1);
        try {
            Sockets.setInt(fd, Sockets.IPPROTO_TCP, Sockets.TCP_REPAIR_QUEUE, Sockets.TCP_SEND_QUEUE);
            int writeSeq = Sockets.getInt(fd, Sockets.IPPROTO_TCP, Sockets.TCP_QUEUE_SEQ);
            Sockets.setInt(fd, Sockets.IPPROTO_TCP, Sockets.TCP_REPAIR_QUEUE, Sockets.TCP_RECV_QUEUE);
            int receiveNext = Sockets.getInt(fd, Sockets.IPPROTO_TCP, Sockets.TCP_QUEUE_SEQ);
            ByteBuffer w = ByteBuffer.wrap(Sockets.getsockopt(fd, Sockets.IPPROTO_TCP, Sockets.TCP_REPAIR_WINDOW, 20))
                .order(ByteOrder.LITTLE_ENDIAN);
            int[] window = {w.getInt(0), w.getInt(4), w.getInt(8), w.getInt(12), w.getInt(16)};
            int mss = Sockets.getInt(fd, Sockets.IPPROTO_TCP, Sockets.TCP_MAXSEG);
            require(writeSeq == s.writeSeq() && receiveNext == s.receiveNext() && mss == s.mssClamp()
                    && Arrays.equals(window, s.window()),
                "fd " + fd + ": getsockopts seq " + writeSeq + "/" + receiveNext + " mss " + mss + " window "
                    + Arrays.toString(window) + ", module " + s.writeSeq() + "/" + s.receiveNext() + " mss " + s.mssClamp()
                    + " window " + Arrays.toString(s.window()));
        } finally {
            Sockets.setInt(fd, Sockets.IPPROTO_TCP, Sockets.TCP_REPAIR, 0);
        }
    }

    /** Until every byte written is in its receiver's queue (and acknowledged: nothing left to send). */
    private static void waitUntilArrived(List<SocketChannel> open, List<Integer> expected) throws InterruptedException {
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (System.nanoTime() < deadline) {
            Map<Integer, PmigTcpState.Socket> state = PmigTcpState.read((int) ProcessHandle.current().pid());
            if (state != null && state.values().stream().filter(s -> s.state() == 1).allMatch(s -> s.outq() == 0)
                    && state.values().stream().filter(s -> s.state() == 1).count() == open.size()) {
                return;
            }
            Thread.sleep(10);
        }
    }

    /** A datagram sent over loopback reaches the hook in a softirq, which a loaded guest may run later. */
    private static void awaitKept(KernelHold hold, long count) throws InterruptedException {
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (hold.kept() < count) {
            require(System.nanoTime() < deadline, "the hold kept " + hold.kept() + " of " + count + " datagrams in 30 s");
            Thread.sleep(1);
        }
    }

    private static void send(DatagramChannel sender, int from, int count) throws Exception {
        for (int i = from; i < from + count; i++) {
            sender.send(ByteBuffer.allocate(4).putInt(0, i), new InetSocketAddress(VIP, PORT));
        }
    }

    private static void receiveInOrder(DatagramChannel receiver, int from, int count) throws Exception {
        try (Selector selector = Selector.open()) {
            receiver.register(selector, SelectionKey.OP_READ);
            ByteBuffer b = ByteBuffer.allocate(4);
            for (int i = from; i < from + count; i++) {
                b.clear();
                while (receiver.receive(b) == null) {
                    require(selector.select(10_000) > 0, "packet " + i + " did not arrive after the release");
                    selector.selectedKeys().clear();
                }
                require(b.getInt(0) == i, "packet " + b.getInt(0) + " arrived where " + i + " was expected");
            }
        }
    }

    private static void require(boolean condition, String why) {
        if (!condition) {
            throw new AssertionError(why);
        }
    }

    private static InetAddress address(String name) {
        try {
            return InetAddress.getByName(name);
        } catch (java.net.UnknownHostException e) {
            throw new IllegalArgumentException(e);
        }
    }

    private static void check(String name, Check body) {
        try {
            body.run();
            System.out.printf("PASS %s%n", name);
        } catch (Throwable t) {
            failures++;
            StringWriter trace = new StringWriter();
            t.printStackTrace(new PrintWriter(trace));
            System.out.printf("FAIL %s: %s%n%s", name, t.getMessage(), trace);
        }
        System.out.flush();
    }
}
