package io.pmig.daemon.service;

/**
 * Where a service's DNS name ({@link Service#dns()}) is registered when the service is added or
 * started here and removed with it: the one place DNS registration (RFC 2136) plugs in. A move
 * changes no record, since the VIP moves with the service.
 */
public interface ServiceNames {
    void registered(Service s);

    void removed(Service s);
}
