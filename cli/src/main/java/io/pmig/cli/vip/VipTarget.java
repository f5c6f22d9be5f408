package io.pmig.cli.vip;

import io.pmig.vip.VipException;
import java.net.InetAddress;
import java.net.UnknownHostException;

/** A VIP as an operator writes it: ADDRESS/PREFIX (10.77.0.50/24, fd00::50/64). */
record VipTarget(InetAddress address, int prefix) {
    static VipTarget parse(String text) {
        int slash = text.indexOf('/');
        if (slash < 0) {
            throw new VipException(text + " has no prefix length; write the VIP as ADDRESS/PREFIX, e.g. 10.77.0.50/24");
        }
        try {
            InetAddress address = InetAddress.getByName(text.substring(0, slash));
            int prefix = Integer.parseInt(text.substring(slash + 1));
            int max = address.getAddress().length * 8;
            if (prefix < 1 || prefix > max) {
                throw new VipException(text + ": a prefix length is 1 to " + max);
            }
            return new VipTarget(address, prefix);
        } catch (UnknownHostException | NumberFormatException e) {
            throw new VipException(text + " is not an ADDRESS/PREFIX");
        }
    }

    @Override
    public String toString() {
        return address.getHostAddress() + "/" + prefix;
    }
}
