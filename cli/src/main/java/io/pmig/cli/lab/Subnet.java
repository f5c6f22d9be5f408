package io.pmig.cli.lab;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** An IPv4 subnet such as 10.77.0.0/24, in which the lab numbers its hosts (nodes from .11, the client .100). */
record Subnet(int network, int prefixLength) {
    /** /25 is the smallest subnet that still holds host number 100, the client. */
    static final int MAX_PREFIX_LENGTH = 25;
    static final int MIN_PREFIX_LENGTH = 8;

    private static final Pattern CIDR = Pattern.compile("(\\d{1,3})\\.(\\d{1,3})\\.(\\d{1,3})\\.(\\d{1,3})/(\\d{1,2})");

    /** Parses "A.B.C.D/N"; the message of the IllegalArgumentException says what is wrong. */
    static Subnet parse(String text) {
        Matcher m = CIDR.matcher(text.strip());
        if (!m.matches()) {
            throw new IllegalArgumentException("'" + text + "' is not an IPv4 subnet like 10.77.0.0/24");
        }
        int address = 0;
        for (int i = 1; i <= 4; i++) {
            int octet = Integer.parseInt(m.group(i));
            if (octet > 255) {
                throw new IllegalArgumentException("'" + text + "' is not an IPv4 subnet: " + octet + " is not an octet");
            }
            address = address << 8 | octet;
        }
        int prefixLength = Integer.parseInt(m.group(5));
        if (prefixLength < MIN_PREFIX_LENGTH || prefixLength > MAX_PREFIX_LENGTH) {
            throw new IllegalArgumentException("subnet " + text + ": the prefix length must be from /" + MIN_PREFIX_LENGTH
                    + " to /" + MAX_PREFIX_LENGTH + " (the client is host number " + LabLayout.CLIENT_HOST_NUMBER + " of the subnet)");
        }
        int mask = (int) (0xffffffffL << (32 - prefixLength));
        if ((address & ~mask) != 0) {
            throw new IllegalArgumentException("subnet " + text + " has host bits set: did you mean "
                    + format(address & mask) + "/" + prefixLength + "?");
        }
        return new Subnet(address, prefixLength);
    }

    /** The address of host {@code number} of the subnet, e.g. 11 gives 10.77.0.11 in 10.77.0.0/24. */
    String host(int number) {
        if (number <= 0 || number >= (1L << (32 - prefixLength)) - 1) {
            throw new IllegalArgumentException("host number " + number + " is outside " + this);
        }
        return format(network + number);
    }

    @Override
    public String toString() {
        return format(network) + "/" + prefixLength;
    }

    static String format(int address) {
        return (address >>> 24) + "." + (address >>> 16 & 0xff) + "." + (address >>> 8 & 0xff) + "." + (address & 0xff);
    }
}
