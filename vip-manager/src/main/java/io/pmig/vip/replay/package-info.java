/** Replay of held packets into this node's stack through a TUN device. */
package io.pmig.vip.replay;
