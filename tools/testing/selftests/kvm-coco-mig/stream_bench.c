// SPDX-License-Identifier: GPL-2.0
/*
 * make bench, streams: PACKAGE_PAGES and RECEIVE_PAGES throughput on two
 * streams driven by two threads, over one stream driven by one thread, in
 * one boot with two vCPUs.
 *
 *   stream_bench [SAMPLES]
 *
 * SAMPLES, else the environment's KCM_STREAM_SAMPLES (make bench passes
 * it), else DEF_SAMPLES: the number of two-stream samples.
 *
 * A SW-protected source VM with 64 MiB of private memory that its guest
 * has written, and a target VM of the same shape, with two-stream
 * sessions. A sample packages a 4 MiB window at 512 pages per call,
 * either on stream 0 by one thread, or split in halves, each half on its
 * own stream by its own thread at once, and then receives it the same
 * way. Both kinds do the same work: the same number of pages, every one
 * already on the target (a re-send), from windows taken in turn. The two
 * kinds of sample alternate, so that whatever slows the emulator down hits
 * both alike; the figure is the median over samples of the ratio of each
 * two-stream sample to the mean of the one-stream samples just before and
 * after it.
 *
 * Untimed before the first sample: every window once on one stream (the
 * target's guest_memfd pages are faulted in) and WARMUP two-stream
 * samples. Stream 1's thread is made once and waits at a barrier between
 * samples (no thread creation in a timed sample; its wake-up is timed, as
 * a VMM's stream threads would wake). The threads are pinned, stream i's
 * to CPU i, unless KCM_STREAM_NO_PIN is set: the bench measures how the
 * data path scales, not where the guest's scheduler puts two threads.
 * Each share records the CPUs it started and ended on and its thread's
 * CPU time, so that the results say whether both vCPUs were busy.
 *
 * The results go to stdout as one line, "KCM-STREAM-JSON " then a JSON
 * object, for scripts/bench.sh. A missed goal is reported, not failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
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
#define DEF_SAMPLES	32
#define MAX_SAMPLES	64
#define WARMUP		4
#define GOAL		1.7
#define KCM_SAMPLE_FMT	"sample %u: package %.1f MB/s on %u streams (%.3f x one), " \
			"receive %.1f MB/s (%.3f x one); busy %.2f / %.2f, " \
			"CPUs %d-%d,%d-%d / %d-%d,%d-%d\n"

static void guest_code(uint64_t gpa, uint64_t npages)
{
	uint64_t i;

	for (i = 0; i < npages; i++)
		WRITE_ONCE(*(uint64_t *)(gpa + i * PAGE_SIZE), i + 1);
	GUEST_DONE();
}

/*
 * One stream's share of a sample: @n pages from @gfns, packets at @buf;
 * then what it took: @ns, the thread's CPU time @cpu_ns, and the CPU it
 * started and ended on.
 */
struct kcm_share {
	int sess;
	uint32_t stream;
	const uint64_t *gfns;
	uint32_t n;
	uint8_t *buf;
	uint64_t len;
	bool receive;
	uint64_t ns, cpu_ns;
	int cpu[2];
};

static uint64_t kcm_thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void kcm_share_run(struct kcm_share *w)
{
	uint64_t off = 0, len, t0 = kcm_now_ns(), c0 = kcm_thread_cpu_ns();
	uint32_t i, k, done;
	int r;

	w->cpu[0] = sched_getcpu();
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
	w->cpu[1] = sched_getcpu();
	w->cpu_ns = kcm_thread_cpu_ns() - c0;
	w->ns = kcm_now_ns() - t0;
}

/*
 * The threads of streams 1 on, started once: each waits at @start for its
 * share in @jobs (or @quit), runs it, and meets the others at @end. Stream
 * 0's share runs in the main thread.
 */
static pthread_barrier_t start, end;
static struct kcm_share *jobs;
static bool quit;

static void *kcm_worker(void *arg)
{
	uintptr_t i = (uintptr_t)arg;

	for (;;) {
		pthread_barrier_wait(&start);
		if (READ_ONCE(quit))
			return NULL;
		kcm_share_run(&jobs[i]);
		pthread_barrier_wait(&end);
	}
}

/* Run the @n shares at once, share 0 in this thread: the nanoseconds. */
static uint64_t kcm_shares_run(struct kcm_share *w, uint32_t n)
{
	uint64_t t0 = kcm_now_ns();

	if (n == 1) {
		kcm_share_run(w);
	} else {
		jobs = w;
		pthread_barrier_wait(&start);
		kcm_share_run(&w[0]);
		pthread_barrier_wait(&end);
	}
	return kcm_now_ns() - t0;
}

/* What a sample's shares tell about the vCPUs that ran them. */
struct kcm_busy {
	double busy;		/* the shares' CPU time over n x the wall time */
	bool apart;		/* each share on its own CPU, start to end */
	int cpu[NSTREAMS][2];
};

static struct kcm_busy kcm_busy_of(const struct kcm_share *w, uint32_t n, uint64_t ns)
{
	struct kcm_busy b = {};
	uint64_t cpu_ns = 0;
	uint32_t i, j;

	b.apart = true;
	for (i = 0; i < n; i++) {
		cpu_ns += w[i].cpu_ns;
		b.cpu[i][0] = w[i].cpu[0];
		b.cpu[i][1] = w[i].cpu[1];
		if (w[i].cpu[0] != w[i].cpu[1])
			b.apart = false;
		for (j = 0; j < i; j++)
			if (w[i].cpu[0] == w[j].cpu[0] || w[i].cpu[1] == w[j].cpu[1])
				b.apart = false;
	}
	b.busy = ns ? (double)cpu_ns / ((double)n * ns) : 0;
	return b;
}

/*
 * SAMPLE_PAGES pages from @gfns on, cut into @nstreams shares, one stream
 * and thread each: the nanoseconds to package them, and to receive them
 * in @rx_ns; what the vCPUs did in @pb and @rb (may be NULL).
 */
static uint64_t kcm_sample(int ssess, int tsess, const uint64_t *gfns, uint8_t *buf,
			   uint32_t nstreams, uint64_t *rx_ns, struct kcm_busy *pb,
			   struct kcm_busy *rb)
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
	if (pb)
		*pb = kcm_busy_of(w, nstreams, ns);
	for (i = 0; i < nstreams; i++) {
		w[i].sess = tsess;
		w[i].receive = true;
	}
	*rx_ns = kcm_shares_run(w, nstreams);
	if (rb)
		*rb = kcm_busy_of(w, nstreams, *rx_ns);
	return ns;
}

static void kcm_pin(pthread_t t, int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	TEST_ASSERT(!pthread_setaffinity_np(t, sizeof(set), &set), "pinning to CPU %d", cpu);
}

int main(int argc, char **argv)
{
	static double pkg_ratio[MAX_SAMPLES], rx_ratio[MAX_SAMPLES];
	static double one_pkg[MAX_SAMPLES + 1], one_rx[MAX_SAMPLES + 1];
	static double two_pkg[MAX_SAMPLES], two_rx[MAX_SAMPLES];
	static double pkg_busy[MAX_SAMPLES], rx_busy[MAX_SAMPLES];
	static double one_busy[MAX_SAMPLES + 1];
	const char *env = getenv("KCM_STREAM_SAMPLES");
	unsigned int samples = argc > 1 ? atoi(argv[1]) : env ? atoi(env) : DEF_SAMPLES;
	bool pin = !getenv("KCM_STREAM_NO_PIN");
	uint64_t *gfns, ns, rx, payload = SAMPLE_PAGES * PAGE_SIZE, w = 0;
	unsigned int r, i, pkg_apart = 0, rx_apart = 0;
	pthread_t workers[NSTREAMS];
	struct kcm_busy pb, rb, ob;
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
	if (sysconf(_SC_NPROCESSORS_ONLN) < NSTREAMS)
		ksft_exit_skip("%u streams need %u CPUs\n", NSTREAMS, NSTREAMS);
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

	/*
	 * Stream i's thread on CPU i: what is measured is how the data path
	 * scales, not where the guest's scheduler puts two threads. The
	 * one-stream samples run in the main thread, on CPU 0.
	 */
	TEST_ASSERT(!pthread_barrier_init(&start, NULL, NSTREAMS) &&
		    !pthread_barrier_init(&end, NULL, NSTREAMS), "pthread_barrier_init");
	if (pin)
		kcm_pin(pthread_self(), 0);
	for (i = 1; i < NSTREAMS; i++) {
		TEST_ASSERT(!pthread_create(&workers[i], NULL, kcm_worker,
					    (void *)(uintptr_t)i), "pthread_create");
		if (pin)
			kcm_pin(workers[i], i);
	}

	/*
	 * Untimed: fault in the target's guest_memfd pages (every window once
	 * on one stream), then warm both kinds of sample up.
	 */
	for (i = 0; i < NWINDOWS; i++)
		kcm_sample(ssess, tsess, gfns + i * SAMPLE_PAGES, buf, 1, &rx, NULL, NULL);
	for (i = 0; i < WARMUP; i++)
		kcm_sample(ssess, tsess, gfns + (w++ % NWINDOWS) * SAMPLE_PAGES, buf,
			   NSTREAMS, &rx, NULL, NULL);

	ns = kcm_sample(ssess, tsess, gfns + (w++ % NWINDOWS) * SAMPLE_PAGES, buf, 1, &rx,
			&ob, NULL);
	one_pkg[0] = kcm_rate(payload, ns);
	one_rx[0] = kcm_rate(payload, rx);
	one_busy[0] = ob.busy;
	for (r = 0; r < samples; r++) {
		ns = kcm_sample(ssess, tsess, gfns + (w++ % NWINDOWS) * SAMPLE_PAGES, buf,
				NSTREAMS, &rx, &pb, &rb);
		two_pkg[r] = kcm_rate(payload, ns);
		two_rx[r] = kcm_rate(payload, rx);
		pkg_busy[r] = pb.busy;
		rx_busy[r] = rb.busy;
		pkg_apart += pb.apart;
		rx_apart += rb.apart;
		ns = kcm_sample(ssess, tsess, gfns + (w++ % NWINDOWS) * SAMPLE_PAGES, buf,
				1, &rx, &ob, NULL);
		one_pkg[r + 1] = kcm_rate(payload, ns);
		one_rx[r + 1] = kcm_rate(payload, rx);
		one_busy[r + 1] = ob.busy;
		pkg_ratio[r] = two_pkg[r] * 2 / (one_pkg[r] + one_pkg[r + 1]);
		rx_ratio[r] = two_rx[r] * 2 / (one_rx[r] + one_rx[r + 1]);
		ksft_print_msg(KCM_SAMPLE_FMT, r + 1, two_pkg[r] / 1e6, NSTREAMS, pkg_ratio[r],
			       two_rx[r] / 1e6, rx_ratio[r], pb.busy, rb.busy,
			       pb.cpu[0][0], pb.cpu[0][1], pb.cpu[1][0], pb.cpu[1][1],
			       rb.cpu[0][0], rb.cpu[0][1], rb.cpu[1][0], rb.cpu[1][1]);
	}
	WRITE_ONCE(quit, true);
	pthread_barrier_wait(&start);
	for (i = 1; i < NSTREAMS; i++)
		pthread_join(workers[i], NULL);
	ksft_test_result_pass("streams_%u\n", NSTREAMS);

	pm = kcm_median(pkg_ratio, samples);
	rm = kcm_median(rx_ratio, samples);
	printf("KCM-STREAM-JSON {\"streams\": %u, \"threads\": %u, ", NSTREAMS, NSTREAMS);
	printf("\"pinned\": %s, ", pin ? "true" : "false");
	printf("\"pages_per_sample\": %u, \"pages_per_call\": %u, ", SAMPLE_PAGES, BATCH);
	printf("\"samples\": %u, \"warmup_samples\": %u, \"goal\": %.2f, ", samples, WARMUP,
	       GOAL);
	printf("\"package_ratio\": %.4f, \"package_ratio_quartiles\": [%.4f, %.4f], ", pm,
	       kcm_quantile(pkg_ratio, samples, 0.25), kcm_quantile(pkg_ratio, samples, 0.75));
	printf("\"receive_ratio\": %.4f, \"receive_ratio_quartiles\": [%.4f, %.4f], ", rm,
	       kcm_quantile(rx_ratio, samples, 0.25), kcm_quantile(rx_ratio, samples, 0.75));
	printf("\"package_ratios\": [");
	for (r = 0; r < samples; r++)
		printf("%s%.4f", r ? ", " : "", pkg_ratio[r]);
	printf("], \"receive_ratios\": [");
	for (r = 0; r < samples; r++)
		printf("%s%.4f", r ? ", " : "", rx_ratio[r]);
	printf("], ");
	printf("\"one_stream_package_MBps\": %.3f, ", kcm_median(one_pkg, samples + 1) / 1e6);
	printf("\"one_stream_receive_MBps\": %.3f, ", kcm_median(one_rx, samples + 1) / 1e6);
	printf("\"busy\": {\"one_stream_package\": %.4f, ", kcm_median(one_busy, samples + 1));
	printf("\"two_streams_package\": %.4f, ", kcm_median(pkg_busy, samples));
	printf("\"two_streams_receive\": %.4f}, ", kcm_median(rx_busy, samples));
	printf("\"samples_on_own_cpus\": {\"package\": %u, \"receive\": %u}, ", pkg_apart,
	       rx_apart);
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
