/** Everything about a service's virtual IP: add/remove over rtnetlink, gratuitous ARP, hold and replay (issue 4). */
package io.pmig.vip;
