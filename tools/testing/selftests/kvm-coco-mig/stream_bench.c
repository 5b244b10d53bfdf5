// SPDX-License-Identifier: GPL-2.0
/*
 * make bench, streams: PACKAGE_PAGES and RECEIVE_PAGES throughput on two
 * streams driven by two threads, over one stream driven by one thread, in
 * one boot with two vCPUs.
 *
 *   stream_bench [SAMPLES]
 *
 * A SW-protected source VM with 64 MiB of private memory that its guest
 * has written, and a target VM of the same shape, with two-stream
 * sessions. A sample packages a 4 MiB window at 512 pages per call,
 * either on stream 0 by one thread, or split in halves, each half on its
 * own stream by its own thread at once, and then receives it the same
 * way. The two kinds of sample alternate, so that whatever slows the
 * emulator down hits both alike; the figure is the median over samples of
 * the ratio of each two-stream sample to the mean of the one-stream
 * samples just before and after it.
 *
 * The results go to stdout as one line, "KCM-STREAM-JSON " then a JSON
 * object, for scripts/bench.sh. A missed goal is reported, not failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/kvm_coco_mig.h>

#include "kvm_util.h"
#include "processor.h"
#include "kselftest.h"
#include "coco_mig_util.h"
#include "bench_util.h"

#define DATA_GPA	BIT_ULL(32)
#define DATA_SLOT	10
#define NPAGES		((64ull << 20) / PAGE_SIZE)	/* 64 MiB */
#define SAMPLE_PAGES	1024				/* 4 MiB */
#define NWINDOWS	(NPAGES / SAMPLE_PAGES)
#define BATCH		512
#define NSTREAMS	2
#define DEF_SAMPLES	12
#define MAX_SAMPLES	64
#define GOAL		1.7
#define KCM_SAMPLE_FMT	"sample %u: package %.1f MB/s on %u streams (%.3f x one), " \
			"receive %.1f MB/s (%.3f x one)\n"

static void guest_code(uint64_t gpa, uint64_t npages)
{
	uint64_t i;

	for (i = 0; i < npages; i++)
		WRITE_ONCE(*(uint64_t *)(gpa + i * PAGE_SIZE), i + 1);
	GUEST_DONE();
}

/* One stream's share of a sample: @n pages from @gfns, packets at @buf. */
struct kcm_share {
	int sess;
	uint32_t stream;
	const uint64_t *gfns;
	uint32_t n;
	uint8_t *buf;
	uint64_t len;
	bool receive;
};

static void *kcm_share_run(void *arg)
{
	struct kcm_share *w = arg;
	uint64_t off = 0, len;
	uint32_t i, k, done;
	int r;

	for (i = 0; i < w->n; i += k) {
		k = w->n - i < BATCH ? w->n - i : BATCH;
		if (w->receive) {
			len = w->len - off;
			r = __kcm_pages_on(w->sess, KVM_COCO_MIG_RECEIVE_PAGES, w->stream,
					   NULL, k, w->buf + off, &len, &done);
		} else {
			len = (uint64_t)k * kcm_packet_size();
			r = __kcm_pages_on(w->sess, KVM_COCO_MIG_PACKAGE_PAGES, w->stream,
					   (uint64_t *)w->gfns + i, k, w->buf + off, &len,
					   &done);
		}
		TEST_ASSERT(!r && done == k, "%s on stream %u: %s, %u of %u",
			    w->receive ? "RECEIVE" : "PACKAGE", w->stream, strerror(-r),
			    done, k);
		off += len;
	}
	if (!w->receive)
		w->len = off;
	return NULL;
}

/* Run the @n shares at once, share 0 in this thread: the nanoseconds. */
static uint64_t kcm_shares_run(struct kcm_share *w, uint32_t n)
{
	pthread_t t[NSTREAMS];
	uint64_t t0 = kcm_now_ns();
	uint32_t i;

	for (i = 1; i < n; i++)
		TEST_ASSERT(!pthread_create(&t[i], NULL, kcm_share_run, &w[i]),
			    "pthread_create");
	kcm_share_run(&w[0]);
	for (i = 1; i < n; i++)
		pthread_join(t[i], NULL);
	return kcm_now_ns() - t0;
}

/*
 * SAMPLE_PAGES pages from @gfns on, cut into @nstreams shares, one stream
 * and thread each: the nanoseconds to package them, and to receive them
 * in @rx_ns.
 */
static uint64_t kcm_sample(int ssess, int tsess, const uint64_t *gfns, uint8_t *buf,
			   uint32_t nstreams, uint64_t *rx_ns)
{
	uint32_t i, share = SAMPLE_PAGES / nstreams;
	struct kcm_share w[NSTREAMS];
	uint64_t ns;

	for (i = 0; i < nstreams; i++)
		w[i] = (struct kcm_share){
			.sess = ssess, .stream = i, .gfns = gfns + i * share,
			.n = share, .buf = buf + (uint64_t)i * share * kcm_packet_size(),
		};
	ns = kcm_shares_run(w, nstreams);
	for (i = 0; i < nstreams; i++) {
		w[i].sess = tsess;
		w[i].receive = true;
	}
	*rx_ns = kcm_shares_run(w, nstreams);
	return ns;
}

int main(int argc, char **argv)
{
	static double pkg_ratio[MAX_SAMPLES], rx_ratio[MAX_SAMPLES];
	static double one_pkg[MAX_SAMPLES + 1], one_rx[MAX_SAMPLES + 1];
	static double two_pkg[MAX_SAMPLES], two_rx[MAX_SAMPLES];
	unsigned int samples = argc > 1 ? atoi(argv[1]) : DEF_SAMPLES, r, i;
	uint64_t *gfns, ns, rx, payload = SAMPLE_PAGES * PAGE_SIZE, w = 0;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *src, *tgt;
	int dev, ssess, tsess;
	struct ucall uc;
	uint8_t *buf;
	double pm, rm;

	ksft_print_header();
	if (!kvm_has_cap(KVM_CAP_VM_TYPES) ||
	    !(kvm_check_cap(KVM_CAP_VM_TYPES) & BIT(KVM_X86_SW_PROTECTED_VM)))
		ksft_exit_skip("KVM_X86_SW_PROTECTED_VM is not supported\n");
	if (!samples || samples > MAX_SAMPLES)
		ksft_exit_fail_msg("SAMPLES must be 1 to %u\n", MAX_SAMPLES);
	ksft_set_plan(1);

	dev = open("/dev/kvm-coco-mig", O_RDWR);
	TEST_ASSERT(dev >= 0, "open /dev/kvm-coco-mig: %s", strerror(errno));
	src = kcm_private_vm(1, guest_code, &vcpu, DATA_GPA, DATA_SLOT, NPAGES);
	vcpu_args_set(vcpu, 2, DATA_GPA, NPAGES);
	vcpu_run(vcpu);
	TEST_ASSERT_EQ(get_ucall(vcpu, &uc), UCALL_DONE);
	tgt = kcm_private_vm(1, guest_code, &vcpu, DATA_GPA, DATA_SLOT, NPAGES);
	ssess = kcm_session_streams(dev, src, KVM_COCO_MIG_ROLE_SOURCE, NSTREAMS);
	tsess = kcm_session_streams(dev, tgt, KVM_COCO_MIG_ROLE_TARGET, NSTREAMS);
	kcm_handshake(ssess, tsess);

	gfns = calloc(NPAGES, sizeof(*gfns));
	buf = malloc(SAMPLE_PAGES * kcm_packet_size());
	TEST_ASSERT(gfns && buf, "out of memory");
	for (i = 0; i < NPAGES; i++)
		gfns[i] = DATA_GPA / PAGE_SIZE + i;
	memset(buf, 0, SAMPLE_PAGES * kcm_packet_size());
	/* Fault in the target's guest_memfd pages, untimed. */
	for (i = 0; i < NWINDOWS; i++)
		kcm_sample(ssess, tsess, gfns + i * SAMPLE_PAGES, buf, 1, &rx);

	ns = kcm_sample(ssess, tsess, gfns + (w++ % NWINDOWS) * SAMPLE_PAGES, buf, 1, &rx);
	one_pkg[0] = kcm_rate(payload, ns);
	one_rx[0] = kcm_rate(payload, rx);
	for (r = 0; r < samples; r++) {
		ns = kcm_sample(ssess, tsess, gfns + (w++ % NWINDOWS) * SAMPLE_PAGES, buf,
				NSTREAMS, &rx);
		two_pkg[r] = kcm_rate(payload, ns);
		two_rx[r] = kcm_rate(payload, rx);
		ns = kcm_sample(ssess, tsess, gfns + (w++ % NWINDOWS) * SAMPLE_PAGES, buf,
				1, &rx);
		one_pkg[r + 1] = kcm_rate(payload, ns);
		one_rx[r + 1] = kcm_rate(payload, rx);
		pkg_ratio[r] = two_pkg[r] * 2 / (one_pkg[r] + one_pkg[r + 1]);
		rx_ratio[r] = two_rx[r] * 2 / (one_rx[r] + one_rx[r + 1]);
		ksft_print_msg(KCM_SAMPLE_FMT, r + 1, two_pkg[r] / 1e6, NSTREAMS, pkg_ratio[r],
			       two_rx[r] / 1e6, rx_ratio[r]);
	}
	ksft_test_result_pass("streams_%u\n", NSTREAMS);

	pm = kcm_median(pkg_ratio, samples);
	rm = kcm_median(rx_ratio, samples);
	printf("KCM-STREAM-JSON {\"streams\": %u, \"threads\": %u, ", NSTREAMS, NSTREAMS);
	printf("\"pages_per_sample\": %u, \"pages_per_call\": %u, ", SAMPLE_PAGES, BATCH);
	printf("\"samples\": %u, \"goal\": %.2f, ", samples, GOAL);
	printf("\"package_ratio\": %.4f, \"package_ratio_quartiles\": [%.4f, %.4f], ", pm,
	       kcm_quantile(pkg_ratio, samples, 0.25), kcm_quantile(pkg_ratio, samples, 0.75));
	printf("\"receive_ratio\": %.4f, \"receive_ratio_quartiles\": [%.4f, %.4f], ", rm,
	       kcm_quantile(rx_ratio, samples, 0.25), kcm_quantile(rx_ratio, samples, 0.75));
	printf("\"one_stream_package_MBps\": %.3f, ", kcm_median(one_pkg, samples + 1) / 1e6);
	printf("\"one_stream_receive_MBps\": %.3f, ", kcm_median(one_rx, samples + 1) / 1e6);
	printf("\"met\": {\"package\": %s, \"receive\": %s}}\n",
	       pm >= GOAL ? "true" : "false", rm >= GOAL ? "true" : "false");

	free(buf);
	free(gfns);
	close(ssess);
	close(tsess);
	kvm_vm_free(src);
	kcm_vm_free(tgt);	/* closed before FINISH: dead */
	close(dev);
	ksft_finished();
}
