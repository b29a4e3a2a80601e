// SPDX-License-Identifier: GPL-2.0
/*
 * The boot-time cost of one early_contig request, which is one
 * memblock_phys_alloc_range() plus a few string compares: time the
 * kernel's own mm/memblock.c, built into the memblock simulator without its
 * sanitizers, on a layout like arm virt's at arm_memblock_init() (768 MiB
 * of lowmem) with a growing number of earlier reservations.
 */
#include <stdio.h>
#include <time.h>
#include "tests/common.h"

#define RAM_BASE	0x40000000UL
#define RAM_SIZE	(768UL << 20)
#define REQUESTS	16
#define ROUNDS		2000

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* Average ns per 8 MiB, 1 MiB-aligned request after nr_reserved others */
static double request_ns(int nr_reserved)
{
	phys_addr_t got[REQUESTS];
	double spent = 0;
	int round, i;

	reset_memblock_regions();
	memblock_add(RAM_BASE, RAM_SIZE);
	for (i = 0; i < nr_reserved; i++)
		memblock_reserve(RAM_BASE + i * (RAM_SIZE / nr_reserved) + SZ_16K, SZ_64K);

	for (round = 0; round < ROUNDS; round++) {
		double t0 = now_ns();

		for (i = 0; i < REQUESTS; i++)
			got[i] = memblock_phys_alloc_range(SZ_8M, SZ_1M, 0,
							   MEMBLOCK_ALLOC_ACCESSIBLE);
		spent += now_ns() - t0;
		for (i = 0; i < REQUESTS; i++) {
			if (!got[i]) {
				fprintf(stderr, "request %d failed\n", i);
				return -1;
			}
			memblock_phys_free(got[i], SZ_8M);
		}
	}
	return spent / ROUNDS / REQUESTS;
}

int main(void)
{
	static const int layouts[] = { 8, 32, 64 };
	unsigned int i;

	printf("reservations before  ns per request (8 MiB, 1 MiB aligned)\n");
	for (i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++)
		printf("%20d  %.0f\n", layouts[i], request_ns(layouts[i]));
	return 0;
}
