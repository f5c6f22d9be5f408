package io.pmig.cli.vip;

import io.pmig.cli.ExitCodes;
import io.pmig.cli.Json;
import io.pmig.vip.netlink.InterfaceAddress;
import io.pmig.vip.netlink.VipAddresses;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code pmig vip list --dev IFACE}: the interface's addresses, its own apart from the VIPs. */
@Command(name = "list", description = {"List an interface's addresses: its own and the VIPs (secondary addresses)."})
public final class VipListCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--dev", required = true, paramLabel = "IFACE", description = "the interface, e.g. eth0")
    String dev;

    @Option(names = "--json", description = "print the addresses as one JSON object")
    boolean json;

    @Override
    public Integer call() {
        List<Map<String, Object>> addresses = new ArrayList<>();
        StringBuilder text = new StringBuilder();
        try (VipAddresses vips = new VipAddresses()) {
            for (InterfaceAddress a : vips.list(dev)) {
                Map<String, Object> row = new LinkedHashMap<>();
                row.put("address", a.address().getHostAddress() + "/" + a.prefix());
                row.put("role", a.isVip() ? "vip" : "address");
                addresses.add(row);
                text.append(String.format("%-8s %s%n", row.get("role"), row.get("address")));
            }
        }
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("interface", dev);
        result.put("addresses", addresses);
        print(spec, json, result, text.toString().stripTrailing());
        return ExitCodes.OK;
    }

    static void print(CommandSpec spec, boolean json, Map<String, Object> result, String text) {
        PrintWriter out = spec.commandLine().getOut();
        out.println(json ? Json.write(result) : text);
        out.flush();
    }
}
