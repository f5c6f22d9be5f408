/** ARP on an AF_PACKET socket: synchronous gratuitous announcements and RFC 5227 conflict probes. */
package io.pmig.vip.arp;
