import io.pmig.vip.DestinationSwitch;
import io.pmig.vip.SourceSwitch;
import io.pmig.vip.VipManager;
import io.pmig.vip.VipSettings;
import io.pmig.vip.hold.HeldPacket;
import io.pmig.vip.nativeio.Namespaces;
import io.pmig.vip.neighbour.Announcer;
import io.pmig.vip.netlink.VipAddresses;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The VIP manager's costs, on a veth pair between namespaces A (this thread) and B (a thread of
 * this JVM that enters B), both made by bench/vip-steps:
 * <ol>
 * <li>switchover steps in microseconds, the VIP moving A -> B -> A ... ITERATIONS times: each
 * step of {@link SourceSwitch} / {@link DestinationSwitch} on its own node, replay of 64 held
 * packets, and the stop of a hold (which waits for its capture to drain);</li>
 * <li>primitive costs: VIP add/remove over rtnetlink, one gratuitous ARP frame on an open sender,
 * and a one-shot announce that opens and closes its packet socket;</li>
 * <li>NEC's VIP overhead: MEGABYTES sent over TCP from B to a server in A on A's own address, and
 * to one on the 19th of 19 VIPs on the same interface, alternating, medians.</li>
 * </ol>
 *   java -cp CLASSPATH bench/src/VipStepsBench.java IF_A ADDR_A NETNS_B VIP OUT.json ITERATIONS MEGABYTES
 */
public class VipStepsBench {
    private static final Map<String, long[]> STEPS = new LinkedHashMap<>();

    public static void main(String[] args) throws Exception {
        String iface = args[0];
        InetAddress nodeA = InetAddress.getByName(args[1]);
        String netnsB = args[2];
        InetAddress vip = InetAddress.getByName(args[3]);
        Path out = Path.of(args[4]);
        int iterations = Integer.parseInt(args[5]);
        int megabytes = Integer.parseInt(args[6]);
        ExecutorService b = Executors.newSingleThreadExecutor(r -> new Thread(() -> {
            Namespaces.enterNetwork("/run/netns/" + netnsB);
            r.run();
        }));
        String ifaceB = "pmvb";
        StringBuilder json = new StringBuilder("{\n  \"benchmark\": \"vip-steps\",\n  \"iterations\": " + iterations + ",\n");

        switchover(iface, ifaceB, vip, b, iterations);
        primitives(iface, vip, iterations);
        printSteps(iterations, json);

        double[] overhead = vipOverhead(iface, nodeA, vip, b, megabytes);
        System.out.printf(Locale.ROOT, "%nTCP transfer of %d MB from B (medians of %d, alternating)%n", megabytes, overhead.length / 2);
        double toNode = median(Arrays.copyOfRange(overhead, 0, overhead.length / 2));
        double toVip = median(Arrays.copyOfRange(overhead, overhead.length / 2, overhead.length));
        System.out.printf(Locale.ROOT, "  to the node's own address   %8.1f ms%n  to the 19th of 19 VIPs      %8.1f ms%n  VIP overhead                %8.2f %%  (NEC measured 0.15 %%)%n",
            toNode, toVip, 100 * (toVip - toNode) / toNode);
        json.append(String.format(Locale.ROOT, "  \"vipOverhead\": {\"megabytes\": %d, \"toNodeMs\": %.1f, \"toVip19Ms\": %.1f, \"overheadPercent\": %.2f}%n}%n",
            megabytes, toNode, toVip, 100 * (toVip - toNode) / toNode));
        Files.createDirectories(out.toAbsolutePath().getParent());
        Files.writeString(out, json.toString());
        System.out.println("wrote " + out);
        b.shutdownNow();
    }

    /** The VIP moves A -> B -> A ..., every step timed on the node that does it. */
    private static void switchover(String ifaceA, String ifaceB, InetAddress vip, ExecutorService b, int iterations) throws Exception {
        VipSettings noProbe = new VipSettings(Announcer.Mode.BOTH, 1, VipSettings.DEFAULT.announceInterval(),
            VipSettings.DEFAULT.holdLimits(), java.time.Duration.ZERO);
        Callable<Void> none = () -> null;
        VipManager a = VipManager.open(ifaceA, noProbe);
        VipManager mb = b.submit(() -> VipManager.open(ifaceB, noProbe)).get();
        try (VipAddresses addresses = new VipAddresses()) {
            addresses.add(ifaceA, vip, 24);
        }
        List<HeldPacket> packets = new ArrayList<>();
        for (int i = 0; i < 64; i++) {
            packets.add(new HeldPacket(udp(vip, i), System.nanoTime()));
        }
        int warmUp = Math.max(2, iterations / 4);
        for (int i = -warmUp; i < 2 * iterations; i++) {
            boolean fromA = (i & 1) == 0;
            VipManager from = fromA ? a : mb;
            VipManager to = fromA ? mb : a;
            ExecutorService onFrom = fromA ? null : b;
            ExecutorService onTo = fromA ? b : null;
            byte[] mac = from.mac();
            SourceSwitch s = on(onFrom, () -> from.source(vip, 24));
            DestinationSwitch d = on(onTo, () -> to.destination(vip, 24, mac));
            boolean keep = i >= 0;
            time(keep, "destination: hold on", onTo, () -> { d.hold(); return null; });
            time(keep, "source: hold on", onFrom, () -> { s.hold(); return null; });
            time(keep, "source: release VIP (ARP silence + remove)", onFrom, () -> { s.releaseVip(); return null; });
            time(keep, "destination: take VIP", onTo, () -> { d.takeVip(); return null; });
            time(keep, "destination: announce (first round)", onTo, () -> { d.announce(); return null; });
            time(keep, "destination: replay 64 packets", onTo, () -> { d.replay(packets); return null; });
            time(keep, "destination: stop holding", onTo, () -> { d.stopHolding(); return null; });
            time(keep, "source: stop holding", onFrom, () -> { s.stopHolding(); return null; });
            on(onFrom, () -> { s.close(); return null; });
            on(onTo, () -> { d.close(); return null; });
        }
        on(b, () -> { mb.close(); return null; });
        a.close();
        try (VipAddresses addresses = new VipAddresses()) {
            addresses.remove(ifaceA, vip, 24);
        }
    }

    private static void primitives(String iface, InetAddress vip, int iterations) throws Exception {
        try (VipAddresses vips = new VipAddresses(); Announcer arp = Announcer.open(iface)) {
            for (int i = -iterations / 4; i < iterations; i++) {
                boolean keep = i >= 0;
                time(keep, "VIP add (rtnetlink, with its checks)", null, () -> { vips.add(iface, vip, 24); return null; });
                time(keep, "gratuitous ARP frame (open sender)", null, () -> { arp.announce(vip, Announcer.Mode.REQUEST); return null; });
                time(keep, "VIP remove (rtnetlink)", null, () -> { vips.remove(iface, vip, 24); return null; });
            }
            // a packet socket's close waits for the kernel (~15 ms): the daemon keeps its sender open
            for (int i = 0; i < 20; i++) {
                time(true, "one-shot announce incl. socket open+close", null, () -> Announcer.announce(iface, vip, Announcer.Mode.REPLY));
            }
        }
    }

    /** Milliseconds of each transfer: first half to the node address, second half to the 19th VIP. */
    private static double[] vipOverhead(String iface, InetAddress nodeA, InetAddress firstVip, ExecutorService b, int megabytes) throws Exception {
        byte[] base = firstVip.getAddress();
        List<InetAddress> vips = new ArrayList<>();
        try (VipAddresses addresses = new VipAddresses()) {
            for (int i = 0; i < 19; i++) {
                byte[] a = base.clone();
                a[3] = (byte) (a[3] + i);
                InetAddress v = InetAddress.getByAddress(a);
                addresses.add(iface, v, 24);
                vips.add(v);
            }
            int rounds = 7;
            double[] ms = new double[2 * rounds];
            for (int r = -1; r < rounds; r++) {
                for (int k = 0; k < 2; k++) {
                    double t = transfer(k == 0 ? nodeA : vips.get(18), b, megabytes);
                    if (r >= 0) {
                        ms[k * rounds + r] = t;
                    }
                }
            }
            for (InetAddress v : vips) {
                addresses.remove(iface, v, 24);
            }
            return ms;
        }
    }

    private static double transfer(InetAddress to, ExecutorService b, int megabytes) throws Exception {
        try (ServerSocket server = new ServerSocket()) {
            server.bind(new InetSocketAddress(to, 0));
            int port = server.getLocalPort();
            long total = (long) megabytes << 20;
            var sending = b.submit(() -> {
                try (Socket c = new Socket(to, port); OutputStream o = c.getOutputStream()) {
                    byte[] chunk = new byte[1 << 16];
                    for (long sent = 0; sent < total; sent += chunk.length) {
                        o.write(chunk);
                    }
                }
                return null;
            });
            try (Socket s = server.accept(); InputStream in = s.getInputStream()) {
                byte[] buf = new byte[1 << 16];
                long t0 = System.nanoTime();
                long got = 0;
                int n;
                while ((n = in.read(buf)) > 0) {
                    got += n;
                }
                double ms = (System.nanoTime() - t0) / 1e6;
                sending.get();
                if (got != total) {
                    throw new IllegalStateException("received " + got + " of " + total + " bytes");
                }
                return ms;
            }
        }
    }

    private static <T> T on(ExecutorService thread, Callable<T> body) throws Exception {
        return thread == null ? body.call() : thread.submit(body).get();
    }

    private static void time(boolean keep, String step, ExecutorService thread, Callable<?> body) throws Exception {
        long nanos = on(thread, () -> {
            long t0 = System.nanoTime();
            body.call();
            return System.nanoTime() - t0;
        });
        if (keep) {
            long[] old = STEPS.getOrDefault(step, new long[0]);
            long[] grown = Arrays.copyOf(old, old.length + 1);
            grown[old.length] = nanos;
            STEPS.put(step, grown);
        }
    }

    private static void printSteps(int iterations, StringBuilder json) {
        System.out.printf(Locale.ROOT, "VIP manager steps (%d moves A->B and as many back; primitives %d rounds)%n", iterations, iterations);
        System.out.printf(Locale.ROOT, "%-46s %6s %12s %12s%n", "step", "n", "median us", "p90 us");
        json.append("  \"steps\": [\n");
        int k = 0;
        for (Map.Entry<String, long[]> e : STEPS.entrySet()) {
            double median = percentile(e.getValue(), 0.5) / 1000.0;
            double p90 = percentile(e.getValue(), 0.9) / 1000.0;
            System.out.printf(Locale.ROOT, "%-46s %6d %12.1f %12.1f%n", e.getKey(), e.getValue().length, median, p90);
            json.append(String.format(Locale.ROOT, "    {\"step\": \"%s\", \"n\": %d, \"medianUs\": %.1f, \"p90Us\": %.1f}%s%n",
                e.getKey(), e.getValue().length, median, p90, ++k < STEPS.size() ? "," : ""));
        }
        json.append("  ],\n");
    }

    /** An IPv4/UDP datagram from 10.78.0.2 to the VIP, port 9 (discard): nothing listens, as after a move with no socket. */
    private static byte[] udp(InetAddress vip, int n) throws Exception {
        ByteBuffer p = ByteBuffer.allocate(28 + 8);
        p.put((byte) 0x45).put((byte) 0).putShort((short) 36).putShort((short) n).putShort((short) 0x4000).put((byte) 64).put((byte) 17)
            .putShort((short) 0).put(InetAddress.getByName("10.78.0.2").getAddress()).put(vip.getAddress());
        p.putShort((short) 40000).putShort((short) 9).putShort((short) 16).putShort((short) 0).putLong(n);
        return p.array();
    }

    private static double percentile(long[] v, double q) {
        long[] s = v.clone();
        Arrays.sort(s);
        return s[(int) Math.min(s.length - 1, Math.round(q * (s.length - 1)))];
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
