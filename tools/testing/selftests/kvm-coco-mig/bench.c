// SPDX-License-Identifier: GPL-2.0
/*
 * make bench: throughput of the sw backend's PACKAGE_PAGES and
 * RECEIVE_PAGES against the raw AEAD they are built on, in one boot.
 *
 *   bench [SAMPLES]
 *
 * A SW-protected source VM with 64 MiB of private memory, every page of
 * which its guest writes once before the bench (a page the guest never
 * wrote would travel as a zero page, without crypto), and a target VM of
 * the same shape, with keyed sessions.
 *
 * The method is many short samples, interleaved: the reference is measured
 * just before and just after every sample of the path it is the reference
 * for, and the figure is the median of the samples' ratios. A sample is
 * PACKAGE of SAMPLE_PAGES pages (4 MiB, the next of the 16 windows the
 * 64 MiB are cut into) into a user buffer at 1, 64 or 512 pages per call,
 * timed, then RECEIVE of that stream into the target, timed. The batch
 * sizes take turns, so SAMPLES (16 by default) samples per batch size cover
 * the whole 64 MiB for each. The reference, read from kvm-coco-mig-bench.ko
 * between any two samples and before the first and after the last, is the
 * raw AEAD: seal and open of as many pages, of the same sizes, on the same
 * transform, in the kernel.
 *
 * Ratios are payload throughputs: PACKAGE over raw seal, RECEIVE over raw
 * open, each against the mean of the raw measurements just before and
 * just after it; reported are their medians over all samples, with the
 * range and the interquartile range. Whatever slows the emulator down for
 * longer than a sample (other guests, builds) slows a sample and its
 * reference alike; the median drops the samples it hit in between. A
 * sample whose two raw neighbours differ by more than 10 % saw the speed
 * change and is counted as unstable (only reported). Every sample is in
 * the JSON. Wire bytes are what PACKAGE wrote per byte of payload.
 *
 * The results go to stdout as one line, "KCM-BENCH-JSON " then a JSON
 * object, for scripts/bench.sh. Missed targets are reported, not failed:
 * the exit status says only whether everything ran.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <linux/kvm_coco_mig.h>

#include "kvm_util.h"
#include "coco_mig_util.h"
#include "bench_util.h"
#include "processor.h"
#include "kselftest.h"

#define DATA_GPA	BIT_ULL(32)
#define DATA_SLOT	10
#define NPAGES		((64ull << 20) / PAGE_SIZE)	/* 64 MiB */
#define SAMPLE_PAGES	1024		/* 4 MiB */
#define NWINDOWS	(NPAGES / SAMPLE_PAGES)
#define AEAD_FILE	"/sys/kernel/debug/kvm-coco-mig-bench/aead"
#define AEAD_PAGES	"/sys/module/kvm_coco_mig_bench/parameters/nr_pages"
#define TARGET_RATIO	0.85
#define TARGET_WIRE	1.014	/* a 40-byte header and a 16-byte tag per page */

static const uint32_t kcm_batches[] = { 1, 64, 512 };
#define NBATCH		ARRAY_SIZE(kcm_batches)

#define DEF_SAMPLES	16
#define MAX_SAMPLES	64
#define MAX_RAW		(MAX_SAMPLES * NBATCH + 1)
#define STABLE_SPREAD	0.10
#define KCM_SAMPLE_FMT	"sample %u, batch %u, pages %u-%u: package %.1f MB/s (%.3f), " \
			"receive %.1f MB/s (%.3f)%s\n"
#define KCM_STATISTIC	"median over all samples of the ratio of each sample " \
			"to the mean of the raw measurements just before and after it"

/* One raw measurement, bytes per second. */
struct kcm_raw {
	double seal, open, copy;
	uint64_t pages;
};

/* Per batch size, per sample: bytes of payload per second, and ratios. */
struct kcm_result {
	double package[MAX_SAMPLES], receive[MAX_SAMPLES];
	double package_ratio[MAX_SAMPLES], receive_ratio[MAX_SAMPLES];
	bool stable[MAX_SAMPLES];
	uint64_t payload, wire;
};

/* Write a word of every page: each is then a full packet. */
static void guest_code(uint64_t gpa, uint64_t npages)
{
	uint64_t i;

	for (i = 0; i < npages; i++)
		WRITE_ONCE(*(uint64_t *)(gpa + i * PAGE_SIZE), i + 1);
	GUEST_DONE();
}

/* A VM whose private pages the guest has written (@run), or not. */
static struct kvm_vm *kcm_vm_create(bool run)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;

	vm = kcm_private_vm(1, guest_code, &vcpu, DATA_GPA, DATA_SLOT, NPAGES);
	vcpu_args_set(vcpu, 2, DATA_GPA, NPAGES);
	if (run) {
		vcpu_run(vcpu);
		TEST_ASSERT_EQ(get_ucall(vcpu, &uc), UCALL_DONE);
	}
	return vm;
}

/*
 * Pages @first to @first + @n - 1 into @buf, @batch per call: the
 * nanoseconds it took; the wire bytes written in @wire.
 */
static uint64_t kcm_package(int ssess, const uint64_t *gfns, uint64_t first,
			    uint64_t n, uint32_t batch, uint8_t *buf, uint64_t *wire)
{
	uint64_t i, start, ns;
	uint32_t k;

	*wire = 0;
	start = kcm_now_ns();
	for (i = 0; i < n; i += k) {
		struct kvm_coco_mig_pages p = {};

		k = n - i < batch ? n - i : batch;
		p.nr_pages = k;
		p.gfns_uaddr = (uintptr_t)(gfns + first + i);
		p.buf_uaddr = (uintptr_t)(buf + *wire);
		p.buf_len = (uint64_t)k * kcm_packet_size();
		TEST_ASSERT(!ioctl(ssess, KVM_COCO_MIG_PACKAGE_PAGES, &p),
			    "PACKAGE_PAGES: %s", strerror(errno));
		TEST_ASSERT_EQ(p.done, k);
		*wire += p.buf_len;
	}
	ns = kcm_now_ns() - start;
	TEST_ASSERT_EQ(*wire, n * kcm_packet_size());
	return ns;
}

/* The stream of @n packets in @buf into the target, @batch per call. */
static uint64_t kcm_receive(int tsess, uint64_t n, uint32_t batch, uint8_t *buf)
{
	uint64_t i, start;
	uint32_t k;

	start = kcm_now_ns();
	for (i = 0; i < n; i += k) {
		struct kvm_coco_mig_pages p = {};

		k = n - i < batch ? n - i : batch;
		p.nr_pages = k;
		p.buf_uaddr = (uintptr_t)(buf + i * kcm_packet_size());
		p.buf_len = (uint64_t)k * kcm_packet_size();
		TEST_ASSERT(!ioctl(tsess, KVM_COCO_MIG_RECEIVE_PAGES, &p),
			    "RECEIVE_PAGES: %s", strerror(errno));
		TEST_ASSERT_EQ(p.done, k);
	}
	return kcm_now_ns() - start;
}

/* Pages per raw measurement, in the bench module's parameter. */
static void kcm_raw_set_pages(unsigned int pages)
{
	char buf[16];
	int fd, len;

	fd = open(AEAD_PAGES, O_WRONLY);
	TEST_ASSERT(fd >= 0, "open %s: %s (is kvm-coco-mig-bench.ko loaded?)",
		    AEAD_PAGES, strerror(errno));
	len = snprintf(buf, sizeof(buf), "%u\n", pages);
	TEST_ASSERT(write(fd, buf, len) == len, "write %s: %s", AEAD_PAGES,
		    strerror(errno));
	close(fd);
}

/* One read of the bench module's file: a fresh raw measurement. */
static struct kcm_raw kcm_raw_sample(void)
{
	uint64_t pages = 0, seal_b = 0, seal_ns = 0, open_b = 0, open_ns = 0;
	uint64_t copy_b = 0, copy_ns = 0, val;
	char buf[1024], name[32], *line, *save;
	ssize_t len;
	int fd;

	fd = open(AEAD_FILE, O_RDONLY);
	TEST_ASSERT(fd >= 0, "open %s: %s (is kvm-coco-mig-bench.ko loaded?)",
		    AEAD_FILE, strerror(errno));
	len = read(fd, buf, sizeof(buf) - 1);
	TEST_ASSERT(len > 0, "read %s: %s", AEAD_FILE, strerror(errno));
	close(fd);
	buf[len] = 0;

	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (sscanf(line, "%31s %lu", name, &val) != 2)
			continue;
		if (!strcmp(name, "pages"))
			pages = val;
		else if (!strcmp(name, "seal_bytes"))
			seal_b = val;
		else if (!strcmp(name, "seal_ns"))
			seal_ns = val;
		else if (!strcmp(name, "open_bytes"))
			open_b = val;
		else if (!strcmp(name, "open_ns"))
			open_ns = val;
		else if (!strcmp(name, "memcpy_bytes"))
			copy_b = val;
		else if (!strcmp(name, "memcpy_ns"))
			copy_ns = val;
	}
	TEST_ASSERT(pages && seal_ns && open_ns && copy_ns,
		    "incomplete raw AEAD measurement");
	TEST_ASSERT_EQ(pages, SAMPLE_PAGES);
	ksft_print_msg("raw: %lu pages, seal %.1f MB/s, open %.1f MB/s, memcpy %.1f MB/s\n",
		       pages, kcm_rate(seal_b, seal_ns) / 1e6,
		       kcm_rate(open_b, open_ns) / 1e6,
		       kcm_rate(copy_b, copy_ns) / 1e6);
	return (struct kcm_raw) {
		.seal = kcm_rate(seal_b, seal_ns),
		.open = kcm_rate(open_b, open_ns),
		.copy = kcm_rate(copy_b, copy_ns),
		.pages = pages,
	};
}

/* "name": [v[0] / div, ...], */
static void kcm_json_array(const char *name, const double *v, unsigned int n,
			   double div)
{
	unsigned int i;

	printf("\"%s\": [", name);
	for (i = 0; i < n; i++)
		printf("%s%.4f", i ? ", " : "", v[i] / div);
	printf("], ");
}

/* Did the raw throughput @a and @b, measured around one measurement, agree? */
static bool kcm_stable(double a, double b)
{
	double d = a > b ? a - b : b - a;

	return d <= STABLE_SPREAD * (a + b) / 2;
}

/* How many of the first @n of @v are set. */
static unsigned int kcm_count(const bool *v, unsigned int n)
{
	unsigned int i, c = 0;

	for (i = 0; i < n; i++)
		c += v[i];
	return c;
}

/* "name": median, "name_q": [first quartile, third quartile], */
static void kcm_json_median(const char *name, const double *v, unsigned int n,
			    double div)
{
	printf("\"%s\": %.4f, \"%s_quartiles\": [%.4f, %.4f], ", name,
	       kcm_median(v, n) / div, name, kcm_quantile(v, n, 0.25) / div,
	       kcm_quantile(v, n, 0.75) / div);
}

static void kcm_print_json(const struct kcm_raw *raw, const struct kcm_result *res,
			   unsigned int samples)
{
	double seal[MAX_RAW], open[MAX_RAW], copy[MAX_RAW];
	unsigned int i, r, n = samples * NBATCH + 1;
	double pkg_ratio = 0, rcv_ratio = 0, wire = 0;
	const struct kcm_result *b;

	for (i = 0; i < n; i++) {
		seal[i] = raw[i].seal;
		open[i] = raw[i].open;
		copy[i] = raw[i].copy;
	}
	printf("KCM-BENCH-JSON {\"pages\": %llu, \"page_size\": %llu, \"rounds\": %u, ",
	       NPAGES, PAGE_SIZE, samples);
	printf("\"sample_pages\": %u, \"statistic\": \"%s\", \"max_raw_spread\": %.2f, ",
	       SAMPLE_PAGES, KCM_STATISTIC, STABLE_SPREAD);
	printf("\"targets\": {\"min_ratio_at_512\": %.2f, \"max_wire_per_payload\": %.3f}, ",
	       TARGET_RATIO, TARGET_WIRE);
	printf("\"raw\": {\"pages\": %lu, \"seal_MBps\": %.3f, \"open_MBps\": %.3f, ",
	       raw[0].pages, kcm_median(seal, n) / 1e6, kcm_median(open, n) / 1e6);
	printf("\"memcpy_MBps\": %.3f, ", kcm_median(copy, n) / 1e6);
	kcm_json_array("seal_MBps_samples", seal, n, 1e6);
	kcm_json_array("open_MBps_samples", open, n, 1e6);
	kcm_json_array("memcpy_MBps_samples", copy, n, 1e6);
	printf("\"samples\": %u}, \"batches\": [", n);
	for (i = 0; i < NBATCH; i++) {
		b = &res[i];
		pkg_ratio = kcm_median(b->package_ratio, samples);
		rcv_ratio = kcm_median(b->receive_ratio, samples);
		wire = (double)b->wire / b->payload;
		printf("%s{\"pages_per_call\": %u, \"stable_rounds\": %u, ", i ? ", " : "",
		       kcm_batches[i], kcm_count(b->stable, samples));
		printf("\"package_MBps\": %.3f, \"receive_MBps\": %.3f, ",
		       kcm_median(b->package, samples) / 1e6,
		       kcm_median(b->receive, samples) / 1e6);
		kcm_json_median("package_ratio", b->package_ratio, samples, 1);
		kcm_json_median("receive_ratio", b->receive_ratio, samples, 1);
		kcm_json_array("package_MBps_rounds", b->package, samples, 1e6);
		kcm_json_array("receive_MBps_rounds", b->receive, samples, 1e6);
		kcm_json_array("package_ratio_rounds", b->package_ratio, samples, 1);
		kcm_json_array("receive_ratio_rounds", b->receive_ratio, samples, 1);
		printf("\"round_stable\": [");
		for (r = 0; r < samples; r++)
			printf("%s%s", r ? ", " : "", b->stable[r] ? "true" : "false");
		printf("], \"payload_bytes\": %lu, \"wire_bytes\": %lu, ", b->payload,
		       b->wire);
		printf("\"wire_per_payload\": %.5f}", wire);
	}
	/* The last batch size is the one the targets are for. */
	printf("], \"met\": {\"package\": %s, \"receive\": %s, \"wire\": %s}}\n",
	       pkg_ratio >= TARGET_RATIO ? "true" : "false",
	       rcv_ratio >= TARGET_RATIO ? "true" : "false",
	       wire <= TARGET_WIRE ? "true" : "false");
	fflush(stdout);
}

int main(int argc, char **argv)
{
	static struct kcm_result res[NBATCH];
	static struct kcm_raw raw[MAX_RAW];
	unsigned int samples = argc > 1 ? atoi(argv[1]) : DEF_SAMPLES, r, i, m = 0;
	uint64_t *gfns, wire, ns, first, payload = SAMPLE_PAGES * PAGE_SIZE;
	struct kvm_vm *src, *tgt;
	int dev, ssess, tsess;
	struct kcm_result *b;
	uint8_t *buf, *win;

	ksft_print_header();
	if (!kvm_has_cap(KVM_CAP_VM_TYPES) ||
	    !(kvm_check_cap(KVM_CAP_VM_TYPES) & BIT(KVM_X86_SW_PROTECTED_VM)))
		ksft_exit_skip("KVM_X86_SW_PROTECTED_VM is not supported\n");
	if (!samples || samples > MAX_SAMPLES)
		ksft_exit_fail_msg("SAMPLES must be 1 to %u\n", MAX_SAMPLES);
	ksft_set_plan(1 + NBATCH);

	dev = open("/dev/kvm-coco-mig", O_RDWR);
	TEST_ASSERT(dev >= 0, "open /dev/kvm-coco-mig: %s", strerror(errno));
	src = kcm_vm_create(true);
	tgt = kcm_vm_create(false);
	ssess = kcm_session(dev, src, KVM_COCO_MIG_ROLE_SOURCE);
	tsess = kcm_session(dev, tgt, KVM_COCO_MIG_ROLE_TARGET);
	kcm_handshake(ssess, tsess);

	gfns = calloc(NPAGES, sizeof(*gfns));
	buf = malloc(NPAGES * kcm_packet_size());
	TEST_ASSERT(gfns && buf, "out of memory");
	for (i = 0; i < NPAGES; i++)
		gfns[i] = DATA_GPA / PAGE_SIZE + i;
	/* Fault in the stream buffer and both VMs' guest_memfd pages, untimed. */
	memset(buf, 0, NPAGES * kcm_packet_size());
	kcm_package(ssess, gfns, 0, NPAGES, 512, buf, &wire);
	kcm_receive(tsess, NPAGES, 512, buf);

	kcm_raw_set_pages(SAMPLE_PAGES);
	raw[0] = kcm_raw_sample();
	for (r = 0; r < samples; r++) {
		first = (uint64_t)(r % NWINDOWS) * SAMPLE_PAGES;
		win = buf + first * kcm_packet_size();
		for (i = 0; i < NBATCH; i++, m++) {
			b = &res[i];
			ns = kcm_package(ssess, gfns, first, SAMPLE_PAGES, kcm_batches[i],
					 win, &wire);
			b->package[r] = kcm_rate(payload, ns);
			ns = kcm_receive(tsess, SAMPLE_PAGES, kcm_batches[i], win);
			b->receive[r] = kcm_rate(payload, ns);
			b->payload = payload;
			b->wire = wire;
			raw[m + 1] = kcm_raw_sample();
			b->package_ratio[r] = b->package[r] * 2 / (raw[m].seal + raw[m + 1].seal);
			b->receive_ratio[r] = b->receive[r] * 2 / (raw[m].open + raw[m + 1].open);
			b->stable[r] = kcm_stable(raw[m].seal, raw[m + 1].seal) &&
				       kcm_stable(raw[m].open, raw[m + 1].open);
			ksft_print_msg(KCM_SAMPLE_FMT, r + 1, kcm_batches[i],
				       (unsigned int)first,
				       (unsigned int)first + SAMPLE_PAGES - 1,
				       b->package[r] / 1e6, b->package_ratio[r],
				       b->receive[r] / 1e6, b->receive_ratio[r],
				       b->stable[r] ? "" : ", unstable");
		}
	}
	ksft_test_result_pass("raw_aead\n");
	for (i = 0; i < NBATCH; i++)
		ksft_test_result_pass("pages_per_call_%u\n", kcm_batches[i]);

	kcm_print_json(raw, res, samples);

	free(buf);
	free(gfns);
	close(ssess);
	close(tsess);
	kvm_vm_free(src);
	kcm_vm_free(tgt);	/* closed before FINISH: dead */
	close(dev);
	ksft_finished();
}
