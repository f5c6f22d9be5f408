package io.pmig.cli.lab;

import io.pmig.checkpoint.RefusedException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * The names and places of one lab: its namespaces ({@code pmig-lab-switch}, {@code pmig-lab-node-a},
 * ..., {@code pmig-lab-client}), its state file ({@code /run/pmig-lab/state.json}) and the plan of
 * its hosts (with {@code pmig lab up --dns} also {@code pmig-lab-dns}). The lab's name is {@code pmig-lab}; the environment variable {@code PMIG_LAB_NAME}
 * picks another, so that the tests build {@code pmig-labtest-*} and never touch a lab someone uses.
 */
final class LabLayout {
    static final String DEFAULT_NAME = "pmig-lab";
    static final String NAME_VARIABLE = "PMIG_LAB_NAME";
    static final String BRIDGE = "br0";
    /** The host's end of its veth pair, inside the host's namespace. */
    static final String INTERFACE = "eth0";
    static final String CLIENT = "client";
    static final String NODE_ROLE = "node";
    static final String CLIENT_ROLE = "client";
    static final int MAX_NODES = 26; // node-a .. node-z
    static final int FIRST_NODE_HOST_NUMBER = 11;
    static final int CLIENT_HOST_NUMBER = 100;
    static final Path NETNS_DIRECTORY = Path.of("/run/netns");
    static final Path NETNS_ETC_DIRECTORY = Path.of("/etc/netns");

    private static final Pattern NAME = Pattern.compile("[a-z][a-z0-9-]{0,23}");
    private static final Path RUN = Path.of("/run");

    private final String name;
    private final Pattern labNetns;

    LabLayout(String name) {
        if (!NAME.matcher(name).matches()) {
            throw new RefusedException("bad lab name '" + name + "' (from " + NAME_VARIABLE
                    + "): it must be a lower-case letter followed by up to 23 lower-case letters, digits or '-'");
        }
        this.name = name;
        this.labNetns = Pattern.compile(Pattern.quote(name) + "-(switch|" + CLIENT + "|" + LabDns.HOST + "|node-[a-z])");
    }

    static LabLayout fromEnvironment() {
        String name = System.getenv(NAME_VARIABLE);
        return new LabLayout(name == null || name.isEmpty() ? DEFAULT_NAME : name);
    }

    String name() {
        return name;
    }

    String switchNetns() {
        return name + "-switch";
    }

    String netns(String host) {
        return name + "-" + host;
    }

    /** Whether a network namespace name is one this lab makes (a leftover when no state file knows it). */
    boolean isLabNetns(String netns) {
        return labNetns.matcher(netns).matches();
    }

    Path stateDirectory() {
        return RUN.resolve(name);
    }

    Path stateFile() {
        return stateDirectory().resolve("state.json");
    }

    /** Where a node's init (and the unshare that starts it) write their stderr. */
    Path logFile(String host) {
        return stateDirectory().resolve(host + ".log");
    }

    static Path netnsFile(String netns) {
        return NETNS_DIRECTORY.resolve(netns);
    }

    /** Files that {@code ip netns exec} puts over /etc's for a command in {@code netns} (ip-netns(8)): a resolv.conf. */
    static Path netnsEtc(String netns) {
        return NETNS_ETC_DIRECTORY.resolve(netns);
    }

    static String nodeName(int index) {
        return "node-" + (char) ('a' + index);
    }

    /**
     * The hosts of a lab with {@code nodes} nodes on {@code subnet}, nodes first, then the client and, with {@code dns},
     * the DNS server's host; without init pids yet.
     */
    List<LabState.Host> plan(int nodes, Subnet subnet, boolean dns) {
        if (nodes < 1 || nodes > MAX_NODES) {
            throw new IllegalArgumentException("a lab has 1 to " + MAX_NODES + " nodes, not " + nodes);
        }
        List<LabState.Host> hosts = new ArrayList<>();
        for (int i = 0; i < nodes; i++) {
            String host = nodeName(i);
            hosts.add(new LabState.Host(host, NODE_ROLE, netns(host), subnet.host(FIRST_NODE_HOST_NUMBER + i),
                    subnet.prefixLength(), "veth-" + host, null, null));
        }
        hosts.add(new LabState.Host(CLIENT, CLIENT_ROLE, netns(CLIENT), subnet.host(CLIENT_HOST_NUMBER),
                subnet.prefixLength(), "veth-" + CLIENT, null, null));
        if (dns) {
            hosts.add(new LabState.Host(LabDns.HOST, LabDns.ROLE, netns(LabDns.HOST), subnet.host(LabDns.HOST_NUMBER),
                    subnet.prefixLength(), "veth-" + LabDns.HOST, null, null));
        }
        return hosts;
    }
}
