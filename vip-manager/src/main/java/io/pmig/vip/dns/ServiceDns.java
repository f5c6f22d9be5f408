package io.pmig.vip.dns;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.xbill.DNS.AAAARecord;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Flags;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.Section;
import org.xbill.DNS.SimpleResolver;
import org.xbill.DNS.TSIG;
import org.xbill.DNS.TSIGRecord;
import org.xbill.DNS.TextParseException;
import org.xbill.DNS.Type;
import org.xbill.DNS.Update;

/**
 * A service's name in DNS: {@link #register} makes the A/AAAA records of an FQDN exactly the
 * service's VIPs, {@link #remove} deletes them, each with one RFC 2136 update signed with the
 * node's TSIG key and sent to the zone's primary over TCP, then verified by asking that server
 * (signed, too) what it now holds. Every failure is a {@link DnsException} naming the FQDN, the
 * server, the zone, the server's answer and the remedy; nothing but the name's A/AAAA records is
 * ever touched. Safe to share between threads (each call has its own resolver).
 */
public final class ServiceDns {
    private final DnsSettings settings;
    private final Name zone;
    private final TSIG tsig;

    public ServiceDns(DnsSettings settings) {
        this.settings = settings;
        this.zone = name(settings.zone());
        TsigKey key = settings.key();
        this.tsig = new TSIG(key.algorithm(), key.name().endsWith(".") ? key.name() : key.name() + ".", key.secret());
    }

    public DnsSettings settings() {
        return settings;
    }

    /**
     * Replaces the A and AAAA records of {@code fqdn} with one record per VIP (IPv4 as A, IPv6 as
     * AAAA, the configured TTL) in one update, then checks that the server answers exactly these
     * addresses for the name.
     *
     * @throws IllegalArgumentException no VIP, or an FQDN that is not a name in the zone
     */
    public void register(String fqdn, List<InetAddress> vips) throws DnsException {
        if (vips.isEmpty()) {
            throw new IllegalArgumentException("registering " + fqdn + " needs at least one address (remove deletes a name)");
        }
        Name name = nameInZone(fqdn);
        Update update = new Update(zone);
        update.delete(name, Type.A);
        update.delete(name, Type.AAAA);
        long ttl = settings.ttl().toSeconds();
        for (InetAddress vip : vips) {
            update.add(vip.getAddress().length == 4 ? new ARecord(name, DClass.IN, ttl, vip) : new AAAARecord(name, DClass.IN, ttl, vip));
        }
        String what = "register " + name + " (" + describe(vips) + ", TTL " + ttl + " s) in zone " + zone;
        updateAndVerify(update, what, name, vips);
    }

    /** Deletes the A and AAAA records of {@code fqdn} (none there is no error), then checks the server answers none. */
    public void remove(String fqdn) throws DnsException {
        Name name = nameInZone(fqdn);
        Update update = new Update(zone);
        update.delete(name, Type.A);
        update.delete(name, Type.AAAA);
        updateAndVerify(update, "remove the A/AAAA records of " + name + " from zone " + zone, name, List.of());
    }

    /** The addresses the server holds for {@code fqdn} (A records, then AAAA), asked with a signed query. */
    public List<InetAddress> addresses(String fqdn) throws DnsException {
        Name name = nameInZone(fqdn);
        return addresses(name, "look up " + name + " in zone " + zone);
    }

    /**
     * Asks the server for the zone's SOA record with a signed query: it answers, it is
     * authoritative for the zone, and it accepts the key. (Whether its policy lets the key change
     * a name only an update shows.)
     */
    public void check() throws DnsException {
        String what = "use zone " + zone;
        Message response = send(Message.newQuery(Record.newRecord(zone, Type.SOA, DClass.IN)), what);
        requireAuthoritativeAnswer(response, what);
        if (response.getSection(Section.ANSWER).stream().noneMatch(r -> r.getType() == Type.SOA && r.getName().equals(zone))) {
            throw failure(what, "the server holds no SOA record for " + zone + "; " + notAuthoritativeRemedy());
        }
    }

    private void updateAndVerify(Update update, String what, Name name, List<InetAddress> expected) throws DnsException {
        Message response = send(update, what);
        int rcode = response.getRcode();
        if (rcode != Rcode.NOERROR) {
            throw failure(what, "the server answered " + Rcode.string(rcode) + ": " + switch (rcode) {
                case Rcode.REFUSED -> "its policy does not let " + settings.key() + " change " + name + "; grant it in the"
                        + " zone's update-policy in named.conf (e.g. update-policy { grant " + settings.key().name()
                        + " zonesub A AAAA; };)";
                case Rcode.NOTAUTH -> notAuthoritativeRemedy();
                case Rcode.NOTZONE -> name + " is not in the zone the server has as " + zone;
                case Rcode.SERVFAIL -> "the server could not apply it (its log says why, e.g. its zone file or journal is not writable)";
                default -> "see the server's log";
            });
        }
        requireSigned(response, what);
        List<InetAddress> held = addresses(name, what + ", then check it");
        if (!Set.copyOf(held).equals(Set.copyOf(expected))) {
            throw failure(what, "the server accepted the update but then answered " + (held.isEmpty() ? "no address" : describe(held))
                    + " for " + name + " instead of " + (expected.isEmpty() ? "no address" : describe(expected))
                    + "; another updater changed the name at the same time, or " + settings.serverAddress() + " is not the zone's primary");
        }
    }

    private List<InetAddress> addresses(Name name, String what) throws DnsException {
        Set<InetAddress> addresses = new LinkedHashSet<>();
        for (int type : new int[] {Type.A, Type.AAAA}) {
            Message response = send(Message.newQuery(Record.newRecord(name, type, DClass.IN)), what);
            requireAuthoritativeAnswer(response, what);
            for (Record record : response.getSection(Section.ANSWER)) {
                if (record.getName().equals(name) && record instanceof ARecord a) {
                    addresses.add(a.getAddress());
                } else if (record.getName().equals(name) && record instanceof AAAARecord aaaa) {
                    addresses.add(aaaa.getAddress());
                }
            }
        }
        return new ArrayList<>(addresses);
    }

    /** An answer to a query: NOERROR or NXDOMAIN, authoritative, signed with our key. */
    private void requireAuthoritativeAnswer(Message response, String what) throws DnsException {
        int rcode = response.getRcode();
        if (rcode == Rcode.REFUSED || rcode == Rcode.NOTAUTH) {
            throw failure(what, "the server answered " + Rcode.string(rcode) + ": " + notAuthoritativeRemedy());
        }
        if (rcode != Rcode.NOERROR && rcode != Rcode.NXDOMAIN) {
            throw failure(what, "the server answered " + Rcode.string(rcode) + "; see its log");
        }
        if (!response.getHeader().getFlag(Flags.AA)) {
            throw failure(what, "the server's answer is not authoritative: " + notAuthoritativeRemedy());
        }
        requireSigned(response, what);
    }

    /** The answer carries our key's valid signature: it comes from the server that holds the key, unchanged. */
    private void requireSigned(Message response, String what) throws DnsException {
        if (!response.isVerified()) {
            throw failure(what, "the server's answer is not signed with " + settings.key() + "; another host may have answered"
                    + " in its place, or the server does not have the key");
        }
    }

    /** Sends one message and returns the answer; no answer, or a TSIG error in it, fails with the remedy. */
    private Message send(Message message, String what) throws DnsException {
        SimpleResolver resolver = new SimpleResolver(new InetSocketAddress(settings.server(), settings.port()));
        if (resolver.getAddress().isUnresolved()) {
            throw failure(what, "the server's name " + settings.server() + " does not resolve; give its IP address");
        }
        resolver.setTCP(true);
        resolver.setTimeout(settings.timeout());
        resolver.setTSIGKey(tsig);
        Message response;
        try {
            response = resolver.send(message);
        } catch (IOException e) {
            throw failure(what, "no answer within " + settings.timeout().toMillis() + " ms (" + e.getMessage()
                    + "): check that the server runs, listens on " + settings.serverAddress() + " over TCP, and that this node reaches it", e);
        }
        TSIGRecord signature = response.getTSIG();
        int tsigError = signature == null ? Rcode.NOERROR : signature.getError();
        if (tsigError != Rcode.NOERROR) {
            throw failure(what, "the server rejected " + settings.key() + ": TSIG error " + Rcode.TSIGstring(tsigError)
                    + ", rcode " + Rcode.string(response.getRcode()) + "; " + switch (tsigError) {
                        case Rcode.BADKEY -> "it has no key of that name and algorithm: add the key to its named.conf, or configure"
                                + " the name and algorithm of a key it has (pmigd.conf: dns.tsig.*)";
                        case Rcode.BADSIG -> "its key of that name has another secret: configure the server's secret for it"
                                + " (pmigd.conf: dns.tsig.secret or dns.tsig.keyfile)";
                        case Rcode.BADTIME -> "this node's clock and the server's differ by more than "
                                + TSIG.FUDGE.toSeconds() + " s; keep both in step with NTP";
                        default -> "check the key on the server";
                    });
        }
        return response;
    }

    private String notAuthoritativeRemedy() {
        return settings.serverAddress() + " is not a primary server of zone " + zone
                + "; point pmig at the zone's primary, or at a zone that server has";
    }

    private DnsException failure(String what, String why) {
        return new DnsException(message(what, why));
    }

    private DnsException failure(String what, String why, Throwable cause) {
        return new DnsException(message(what, why), cause);
    }

    private String message(String what, String why) {
        return "DNS: cannot " + what + " on " + settings.serverAddress() + ": " + why;
    }

    private Name nameInZone(String fqdn) {
        Name name = name(fqdn);
        if (!name.subdomain(zone) || name.equals(zone)) {
            throw new IllegalArgumentException("'" + fqdn + "' is not a name in zone " + zone + " (the zone this node registers"
                    + " names in): use a name ending in ." + zone);
        }
        return name;
    }

    /** An absolute DNS name: "web.pmig.test" and "web.pmig.test." are the same. */
    private static Name name(String text) {
        try {
            return Name.fromString(text.endsWith(".") ? text : text + ".");
        } catch (TextParseException e) {
            throw new IllegalArgumentException("'" + text + "' is not a DNS name: " + e.getMessage(), e);
        }
    }

    private static String describe(List<InetAddress> addresses) {
        List<String> parts = new ArrayList<>();
        for (InetAddress address : addresses) {
            parts.add((address.getAddress().length == 4 ? "A " : "AAAA ") + address.getHostAddress());
        }
        return String.join(", ", parts);
    }
}
