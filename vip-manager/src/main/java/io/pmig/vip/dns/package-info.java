/**
 * A service's name in DNS: its FQDN's A/AAAA records kept on its VIPs through RFC 2136 dynamic
 * updates signed with a TSIG key (dnsjava), every change verified by asking the server.
 */
package io.pmig.vip.dns;
