package io.pmig.cli.vip;

import java.util.LinkedHashMap;
import java.util.Map;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** What {@code vip add} and {@code vip remove} both take: VIP/PREFIX and --json. */
final class VipOnInterface {
    @Parameters(paramLabel = "VIP/PREFIX", description = "e.g. 10.77.0.50/24")
    String vip;

    @Option(names = "--json", description = "print the result as one JSON object")
    boolean json;

    VipTarget target() {
        return VipTarget.parse(vip);
    }

    /** The start of the command's JSON result: the VIP and the interface. */
    Map<String, Object> result(VipTarget target, String dev) {
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("vip", target.toString());
        result.put("interface", dev);
        return result;
    }
}
