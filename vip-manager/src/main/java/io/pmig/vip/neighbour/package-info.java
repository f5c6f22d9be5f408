/**
 * Neighbours on the segment, on an AF_PACKET socket: synchronous announcements that a VIP moved
 * (gratuitous ARP for IPv4, unsolicited neighbour advertisements for IPv6) and RFC 5227 conflict probes.
 */
package io.pmig.vip.neighbour;
