package io.pmig.daemon.service;

import io.pmig.daemon.control.ControlRefusedException;
import io.pmig.vip.dns.DnsException;
import io.pmig.vip.dns.ServiceDns;

import java.util.Optional;

/**
 * A service's DNS name published as A/AAAA records of its VIPs on the zone's server (RFC 2136 through
 * {@link ServiceDns}, as the dns.* keys of pmigd.conf configure it): when the service is added or started here, and
 * removed with it. Each update is verified by a query; a failure refuses the operation, naming the server and the
 * remedy, and leaves the service as it was.
 */
public final class PublishedNames implements ServiceNames {
    private final Optional<ServiceDns> dns;
    private final String node;

    public PublishedNames(Optional<ServiceDns> dns, String node) {
        this.dns = dns;
        this.node = node;
    }

    @Override
    public void registered(Service s) {
        if (s.dns() == null) {
            return;
        }
        ServiceDns server = dns.orElseThrow(() -> new ControlRefusedException("service " + s.name() + " has DNS name " + s.dns()
            + ", and pmigd on " + node + " has no DNS server to publish it in: set dns.server, dns.zone and the dns.tsig keys in"
            + " pmigd.conf, or leave --dns out"));
        if (s.vips().isEmpty()) {
            throw new ControlRefusedException("service " + s.name() + " has DNS name " + s.dns() + " but no VIP for it to name:"
                + " give the service its VIP with --vip IP/PREFIX");
        }
        try {
            server.register(s.dns(), s.parsedVips().stream().map(Service.Vip::address).toList());
        } catch (DnsException e) {
            throw new ControlRefusedException(e.getMessage());
        } catch (IllegalArgumentException e) {
            throw new ControlRefusedException("DNS name " + s.dns() + " of service " + s.name() + ": " + e.getMessage());
        }
    }

    @Override
    public void removed(Service s) {
        if (s.dns() == null || dns.isEmpty()) {
            return;
        }
        try {
            dns.get().remove(s.dns());
        } catch (DnsException e) {
            throw new ControlRefusedException(e.getMessage() + "; service " + s.name() + " stays registered: remove it again once"
                + " the server takes the update");
        } catch (IllegalArgumentException e) {
            throw new ControlRefusedException("DNS name " + s.dns() + " of service " + s.name() + ": " + e.getMessage());
        }
    }
}
