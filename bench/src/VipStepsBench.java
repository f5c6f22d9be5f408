import io.pmig.vip.neighbour.Announcer;
import io.pmig.vip.netlink.VipAddresses;

import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;

/**
 * Switchover step costs of the VIP manager, in microseconds over ITERATIONS rounds (after a
 * warm-up): VIP add (with its checks: index, address dump, RTM_NEWADDR + ack), VIP remove, one
 * gratuitous ARP frame on an open sender, and a one-shot announce that opens (and closes) its
 * packet socket. Runs in the network namespace bench/vip-steps makes.
 *
 *   java -cp CLASSPATH bench/src/VipStepsBench.java IFACE VIP OUT.json ITERATIONS
 */
public class VipStepsBench {
    public static void main(String[] args) throws Exception {
        String iface = args[0];
        InetAddress vip = InetAddress.getByName(args[1]);
        Path out = Path.of(args[2]);
        int iterations = Integer.parseInt(args[3]);
        int warmUp = iterations / 4;
        long[] add = new long[iterations], remove = new long[iterations], frame = new long[iterations];
        long[] oneShot = new long[20], oneShotClosed = new long[20];
        try (VipAddresses vips = new VipAddresses(); Announcer arp = Announcer.open(iface)) {
            for (int i = -warmUp; i < iterations; i++) {
                long t0 = System.nanoTime();
                vips.add(iface, vip, 24);
                long t1 = System.nanoTime();
                arp.announce(vip, Announcer.Mode.REQUEST);
                long t2 = System.nanoTime();
                vips.remove(iface, vip, 24);
                long t3 = System.nanoTime();
                if (i >= 0) {
                    add[i] = t1 - t0;
                    frame[i] = t2 - t1;
                    remove[i] = t3 - t2;
                }
            }
            // a packet socket's close waits for the kernel (~15 ms): the daemon keeps its sender open
            for (int i = 0; i < oneShot.length; i++) {
                long t0 = System.nanoTime();
                oneShot[i] = Announcer.announce(iface, vip, Announcer.Mode.REPLY) * 1000;
                oneShotClosed[i] = System.nanoTime() - t0;
            }
        }
        String[] names = {"VIP add", "VIP remove", "gratuitous ARP frame (open sender)", "one-shot announce until sent",
            "one-shot announce incl. close"};
        long[][] series = {add, remove, frame, oneShot, oneShotClosed};
        System.out.printf(Locale.ROOT, "VIP manager switchover steps, %d rounds (one-shots: 20)%n", iterations);
        System.out.printf(Locale.ROOT, "%-36s %12s %12s%n", "step", "median us", "p90 us");
        StringBuilder json = new StringBuilder("{\n  \"benchmark\": \"vip-steps\",\n  \"iterations\": " + iterations + ",\n  \"steps\": [\n");
        for (int k = 0; k < names.length; k++) {
            double median = percentile(series[k], 0.5);
            double p90 = percentile(series[k], 0.9);
            System.out.printf(Locale.ROOT, "%-36s %12.1f %12.1f%n", names[k], median, p90);
            json.append(String.format(Locale.ROOT, "    {\"step\": \"%s\", \"medianUs\": %.1f, \"p90Us\": %.1f}%s%n", names[k], median, p90,
                k + 1 < names.length ? "," : ""));
        }
        json.append("  ]\n}\n");
        Files.createDirectories(out.toAbsolutePath().getParent());
        Files.writeString(out, json.toString());
        System.out.println("wrote " + out);
    }

    private static double percentile(long[] nanos, double q) {
        long[] s = nanos.clone();
        Arrays.sort(s);
        return s[(int) Math.min(s.length - 1, Math.round(q * (s.length - 1)))] / 1000.0;
    }
}
