import io.pmig.vip.SourceSwitch;
import io.pmig.vip.VipManager;
import io.pmig.vip.VipSettings;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * pmig.ko's before/after figures, in one test-vm guest (bench/pmig-module boots it, with the netfilter,
 * tun and veth modules the upstream path needs loaded):
 * <ol>
 * <li>a VIP's hold of PACKETS datagrams a client in another namespace sends over a veth pair, then the
 * release on the node that has the VIP ({@link SourceSwitch#stopHolding}): through nftables, NFLOG and
 * the replay TUN (the upstream path, before pmig.ko is loaded), then in the kernel (after insmod). Timed:
 * from the sender's end until the hold has every packet (the capture's lag), the stopHolding call, and
 * until the server has read the last datagram, and how many were lost or came out of order;</li>
 * <li>the TCP repair state of N sockets: one PMIG_IOC_TCP_STATE against the per-socket getsockopts
 * (TCP_INFO, TCP_REPAIR on/off, three queue ioctls, both TCP_QUEUE_SEQs, TCP_REPAIR_WINDOW, TCP_MAXSEG,
 * TCP_TIMESTAMP), kernel-module/test/pmigtest.c's bench mode.</li>
 * </ol>
 * Medians of RUNS after a warm-up; prints tables and writes JSON.
 *
 *   java -cp CLASSPATH bench/src/PmigModuleBench.java PMIGTEST PMIG_KO OUT.json RUNS PACKETS SOCKETS...
 */
public class PmigModuleBench {
    private static final String CLIENT_NS = "pmig-bench-client";
    private static final String NODE_IF = "pmig-bn";
    private static final String VIP = "10.99.0.50";
    private static final int PORT = 9000;

    record HoldRow(String method, int packets, double captureLagMs, double releaseCallMs, double releaseToLastMs, int lost,
                   int outOfOrder) {
    }

    /** What a release delivered: datagrams never received, and received after a later-numbered one. */
    record Delivery(int lost, int outOfOrder) {
    }

    record TcpRow(int sockets, double oneCallUs, double getsockoptUs) {
    }

    public static void main(String[] args) throws Exception {
        String pmigtest = args[0];
        String module = args[1];
        Path out = Path.of(args[2]);
        int runs = Integer.parseInt(args[3]);
        int packets = Integer.parseInt(args[4]);
        List<Integer> sizes = new ArrayList<>();
        for (int i = 5; i < args.length; i++) {
            sizes.add(Integer.parseInt(args[i]));
        }
        network();
        List<HoldRow> holds = new ArrayList<>();
        holds.add(hold("nflog+tun", pmigtest, runs, packets, false));
        sh("insmod " + module);
        holds.add(hold("pmig.ko", pmigtest, runs, packets, true));
        List<TcpRow> tcp = new ArrayList<>();
        for (int n : sizes) {
            tcp.add(tcpState(pmigtest, runs, n));
        }

        System.out.printf("hold of %d datagrams and release on the node with the VIP (medians of %d, ms)%n", packets, runs);
        System.out.printf("%-10s %12s %14s %18s %6s %13s%n", "method", "capture lag", "stopHolding", "to the last read", "lost",
            "out of order");
        for (HoldRow r : holds) {
            System.out.printf(Locale.ROOT, "%-10s %12.2f %14.2f %18.2f %6d %13d%n", r.method(), r.captureLagMs(), r.releaseCallMs(),
                r.releaseToLastMs(), r.lost(), r.outOfOrder());
        }
        System.out.println("(lost, out of order: totals over all runs)");
        System.out.printf("%nTCP repair state of N sockets (medians of %d, us)%n", runs);
        System.out.printf("%8s %12s %16s %8s%n", "sockets", "one call", "getsockopts", "ratio");
        for (TcpRow r : tcp) {
            System.out.printf(Locale.ROOT, "%8d %12.1f %16.1f %7.1fx%n", r.sockets(), r.oneCallUs(), r.getsockoptUs(),
                r.getsockoptUs() / r.oneCallUs());
        }
        StringBuilder json = new StringBuilder("{\n  \"benchmark\": \"pmig-module\",\n  \"kernel\": \"")
            .append(System.getProperty("os.version")).append("\",\n  \"runs\": ").append(runs).append(",\n  \"hold\": [\n");
        for (int i = 0; i < holds.size(); i++) {
            HoldRow r = holds.get(i);
            json.append(String.format(Locale.ROOT, "    {\"method\": \"%s\", \"packets\": %d, \"captureLagMs\": %.2f, "
                + "\"releaseCallMs\": %.2f, \"releaseToLastReceivedMs\": %.2f, \"lost\": %d, \"outOfOrder\": %d}%s%n", r.method(),
                r.packets(), r.captureLagMs(), r.releaseCallMs(), r.releaseToLastMs(), r.lost(), r.outOfOrder(),
                i + 1 < holds.size() ? "," : ""));
        }
        json.append("  ],\n  \"tcpState\": [\n");
        for (int i = 0; i < tcp.size(); i++) {
            TcpRow r = tcp.get(i);
            json.append(String.format(Locale.ROOT, "    {\"sockets\": %d, \"oneCallUs\": %.1f, \"getsockoptsUs\": %.1f}%s%n",
                r.sockets(), r.oneCallUs(), r.getsockoptUs(), i + 1 < tcp.size() ? "," : ""));
        }
        json.append("  ]\n}\n");
        Files.writeString(out, json);
    }

    /** A veth pair: the node's end here, the client's in a namespace of its own; the VIP on the node's end. */
    private static void network() throws Exception {
        sh("ip link set lo up");
        sh("ip netns add " + CLIENT_NS);
        sh("ip link add " + NODE_IF + " type veth peer name pmig-bc");
        sh("ip link set pmig-bc netns " + CLIENT_NS);
        sh("ip addr add 10.99.0.1/24 dev " + NODE_IF + " && ip link set " + NODE_IF + " up");
        sh("ip addr add " + VIP + "/24 dev " + NODE_IF);
        sh("ip -n " + CLIENT_NS + " addr add 10.99.0.2/24 dev pmig-bc && ip -n " + CLIENT_NS + " link set pmig-bc up && ip -n "
            + CLIENT_NS + " link set lo up");
        // every held datagram waits in the server's socket at once
        Files.writeString(Path.of("/proc/sys/net/core/rmem_max"), Integer.toString(32 << 20));
    }

    private static HoldRow hold(String method, String pmigtest, int runs, int packets, boolean inKernel) throws Exception {
        InetAddress vip = InetAddress.getByName(VIP);
        double[] lag = new double[runs];
        double[] call = new double[runs];
        double[] last = new double[runs];
        int lost = 0;
        int outOfOrder = 0;
        try (VipManager m = VipManager.open(NODE_IF, VipSettings.DEFAULT);
             DatagramChannel server = DatagramChannel.open();
             SourceSwitch s = m.source(vip, 24);
             Selector selector = Selector.open()) {
            if (m.holdsInTheKernel() != inKernel) {
                throw new IllegalStateException("the manager " + (inKernel ? "did not find" : "found") + " pmig.ko");
            }
            server.setOption(StandardSocketOptions.SO_RCVBUF, 16 << 20);
            server.bind(new InetSocketAddress(vip, PORT));
            server.configureBlocking(false);
            server.register(selector, SelectionKey.OP_READ);
            for (int run = -1; run < runs; run++) { // run -1: warm-up (class loading, the replay device)
                long heldBefore = s.held();
                s.hold();
                sh("ip netns exec " + CLIENT_NS + " " + pmigtest + " send " + VIP + " " + PORT + " " + packets);
                long sent = System.nanoTime();
                long deadline = sent + TimeUnit.SECONDS.toNanos(60);
                while (s.held() < heldBefore + packets) {
                    if (System.nanoTime() > deadline) {
                        throw new IllegalStateException(method + ": " + (s.held() - heldBefore) + " of " + packets + " held after 60 s");
                    }
                    Thread.onSpinWait();
                }
                long held = System.nanoTime();
                s.stopHolding();
                long released = System.nanoTime();
                Delivery d = receive(server, selector, packets);
                long received = lastArrival;
                if (run >= 0) {
                    lost += d.lost();
                    outOfOrder += d.outOfOrder();
                    lag[run] = (held - sent) / 1e6;
                    call[run] = (released - held) / 1e6;
                    last[run] = (received - held) / 1e6;
                }
            }
        }
        return new HoldRow(method, packets, median(lag), median(call), median(last), lost, outOfOrder);
    }

    private static long lastArrival;

    /** Receives until every datagram is in, or none comes for 5 s; counts what is missing and out of order. */
    private static Delivery receive(DatagramChannel server, Selector selector, int packets) throws Exception {
        ByteBuffer b = ByteBuffer.allocate(64);
        java.util.BitSet seen = new java.util.BitSet(packets);
        int highest = -1;
        int outOfOrder = 0;
        while (seen.cardinality() < packets) {
            b.clear();
            if (server.receive(b) == null) {
                if (selector.select(5_000) == 0) {
                    break;
                }
                selector.selectedKeys().clear();
                continue;
            }
            lastArrival = System.nanoTime();
            int n = b.getInt(0);
            if (n < highest) {
                outOfOrder++;
            }
            highest = Math.max(highest, n);
            seen.set(n);
        }
        return new Delivery(packets - seen.cardinality(), outOfOrder);
    }

    private static final Pattern FIELD = Pattern.compile("\"(\\w+)\": ([0-9.]+)");

    private static TcpRow tcpState(String pmigtest, int runs, int sockets) throws Exception {
        double[] one = new double[runs];
        double[] each = new double[runs];
        for (int run = -1; run < runs; run++) {
            String line = sh(pmigtest + " bench " + sockets / 2 + " 1");
            Matcher m = FIELD.matcher(line);
            double oneCall = -1;
            double getsockopt = -1;
            while (m.find()) {
                switch (m.group(1)) {
                    case "tcpStateOneCallUs" -> oneCall = Double.parseDouble(m.group(2));
                    case "tcpStateGetsockoptUs" -> getsockopt = Double.parseDouble(m.group(2));
                    default -> { }
                }
            }
            if (run >= 0) {
                one[run] = oneCall;
                each[run] = getsockopt;
            }
        }
        return new TcpRow(sockets, median(one), median(each));
    }

    private static double median(double[] values) {
        double[] v = values.clone();
        Arrays.sort(v);
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }

    private static String sh(String command) throws Exception {
        Process p = new ProcessBuilder("sh", "-c", command).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes());
        if (p.waitFor() != 0) {
            throw new IllegalStateException(command + " failed: " + output);
        }
        return output;
    }
}
