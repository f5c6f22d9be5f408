/*
 * The byte streams a stream-server and a stream-client exchange: byte i of each direction is a
 * fixed function of i, so either side can tell a lost, duplicated or reordered byte at once.
 */
#ifndef PMIG_STREAM_PATTERN_H
#define PMIG_STREAM_PATTERN_H
#include <stdint.h>

static inline unsigned char to_client(uint64_t i) { return (unsigned char)(i * 13 + 5 + (i >> 10)); }
static inline unsigned char to_server(uint64_t i) { return (unsigned char)(i * 7 + (i >> 8)); }

#endif
