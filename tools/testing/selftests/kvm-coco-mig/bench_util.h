/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the make bench programs share: a clock, rates and order statistics.
 */
#ifndef KCM_BENCH_UTIL_H
#define KCM_BENCH_UTIL_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline uint64_t kcm_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static inline double kcm_rate(uint64_t bytes, uint64_t ns)
{
	return ns ? bytes * 1e9 / ns : 0;
}

static inline int kcm_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The @q quantile of @v (0.5: the median), interpolating between ranks. */
static inline double kcm_quantile(const double *v, unsigned int n, double q)
{
	double *s = malloc(n * sizeof(*s)), pos, r;
	unsigned int i;

	if (!s || !n) {
		free(s);
		return 0;
	}
	memcpy(s, v, n * sizeof(*s));
	qsort(s, n, sizeof(*s), kcm_cmp_double);
	pos = q * (n - 1);
	i = (unsigned int)pos;
	r = i + 1 < n ? s[i] + (pos - i) * (s[i + 1] - s[i]) : s[i];
	free(s);
	return r;
}

static inline double kcm_median(const double *v, unsigned int n)
{
	return kcm_quantile(v, n, 0.5);
}

#endif /* KCM_BENCH_UTIL_H */
