/*
 * internal.h - private definitions shared by every module of libbackchannel.
 *
 * Allocation: all heap memory of the library goes through bc_malloc /
 * bc_calloc / bc_realloc / bc_free so that tests can make the Nth allocation
 * fail (bc_alloc_fail_at) and check that every path recovers cleanly.
 *
 * Byte order: wire formats are big-endian ("network order"); the helpers
 * below are the only place that converts. Never cast a struct onto bytes.
 */
#ifndef BC_INTERNAL_H
#define BC_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "backchannel/error.h"

#define BC_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- allocation --------------------------------------------------------- */

void *bc_malloc(size_t n) BC_MUST_CHECK;
void *bc_calloc(size_t nmemb, size_t size) BC_MUST_CHECK;
void *bc_realloc(void *p, size_t n) BC_MUST_CHECK;
void bc_free(void *p);
char *bc_strdup(const char *s) BC_MUST_CHECK;
void *bc_memdup(const void *p, size_t n) BC_MUST_CHECK;
/* Wipe n bytes at p, then free it. p may be NULL. */
void bc_free_secret(void *p, size_t n);

/* Test hook: make the nth allocation from now on fail (1 = the next one);
 * 0 disables. Not thread-safe; tests only. */
void bc_alloc_fail_at(unsigned long n);
/* Number of allocations made since the process started (tests only). */
unsigned long bc_alloc_count(void);

/* ---- byte order --------------------------------------------------------- */

static inline void bc_store16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}
static inline void bc_store32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}
static inline void bc_store64(uint8_t *p, uint64_t v)
{
	bc_store32(p, (uint32_t)(v >> 32));
	bc_store32(p + 4, (uint32_t)v);
}
static inline uint16_t bc_load16(const uint8_t *p)
{
	return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}
static inline uint32_t bc_load32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}
static inline uint64_t bc_load64(const uint8_t *p)
{
	return (uint64_t)bc_load32(p) << 32 | bc_load32(p + 4);
}
static inline void bc_store64le(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

#endif
