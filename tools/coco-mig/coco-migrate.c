// SPDX-License-Identifier: GPL-2.0
/*
 * coco-migrate: the kvm-coco-mig reference VMM. Live-migrates a running
 * SW-protected guest between two hosts over TCP.
 *
 *   coco-migrate target --listen ADDR:PORT [--fault-die-at-packet N]
 *   coco-migrate source --connect ADDR:PORT [--mem SIZE] [--vcpus N]
 *                [--dirty-rate PAGES/S] [--downtime-ms MS] [--max-rounds N]
 *                [--json] [--fault-corrupt-packet N]
 *
 * The source runs a built-in workload: vCPUs that fill their share of the
 * guest's private memory, then keep rewriting it at the requested rate,
 * page after page, each write stamped with a sweep number. It migrates the
 * guest live with libcocomig: a full pass, pre-copy rounds of GET_DIRTY
 * until the dirty set fits the downtime budget (or a round limit, or three
 * rounds that did not shrink it), a pause,
 * the last dirty set, shared memory the ordinary way, vCPU state sealed in
 * FINISH. The guest resumes on the target and checks every page itself.
 *
 * VMs are built with the KVM selftest library of the kernel source (guest
 * code in this binary, page tables, ucall): the part of a VMM this tool is
 * not about. Exit status: 0 migrated and verified; 1 a verification failed
 * or the source died without a target; 2 the migration failed before
 * FINISH (the source cancelled, its guest kept running and verified its
 * memory); 64 usage or setup errors.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "kvm_util.h"
#include "processor.h"
#include "coco_mig_util.h"
#include "libcocomig.h"

#define DATA_GPA	BIT_ULL(32)
#define DATA_GFN	(DATA_GPA / PAGE_SIZE)
#define DATA_SLOT	10
#define MAX_VCPUS	8
#define BATCH		512

#define EXIT_VERIFY	1
#define EXIT_MIGRATION	2
#define EXIT_USAGE	64

/* Stream protocol, version 1: a header, then @len bytes of payload. */
#define PROTO_MAGIC	0x504d434bu	/* "KCMP" */
#define PROTO_VERSION	1

enum msg_type {
	MSG_HELLO = 1,		/* source: struct hello */
	MSG_EVIDENCE,		/* target: GET_MIGRATION_DATA */
	MSG_TRANSPORT,		/* source: START's blob */
	MSG_PAGES,		/* source: __u32 count, then packets */
	MSG_ACK,		/* target: __u32 packets installed */
	MSG_SHARED,		/* source: __u64 host base, slot 0's bytes */
	MSG_FINAL,		/* source: the final record */
	MSG_RESUMED,		/* target: the guest runs */
	MSG_RESULT,		/* target: __u32 ok, then a message */
	MSG_ERROR,		/* either: a message; the sender gives up */
};

struct msg_hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t type;
	uint32_t len;
} __packed;

struct hello {
	uint64_t npages;
	uint32_t vcpus;
	uint32_t pad;
};

/* Guest globals, in shared memory. */
static uint64_t g_npages, g_vcpus;
static uint64_t budget;		/* host: writes allowed so far */
static uint64_t used;		/* guest: writes done */
static uint64_t verify;		/* host: stop writing, check */

static uint64_t pattern(uint64_t page, uint64_t seq)
{
	return ((page << 32) ^ seq) * 0x9e3779b97f4a7c15ull;
}

static void guest_write(uint64_t i, uint64_t seq)
{
	uint64_t *p = (uint64_t *)(DATA_GPA + i * PAGE_SIZE);

	p[1] = pattern(i, seq);
	p[0] = seq;
}

static void guest_main(uint64_t id)
{
	uint64_t n = READ_ONCE(g_npages), nv = READ_ONCE(g_vcpus), i, j, seq;
	uint64_t *p;

	for (i = id; i < n; i += nv)
		guest_write(i, 1);
	for (seq = 2, i = id; !READ_ONCE(verify); ) {
		if (__atomic_load_n(&used, __ATOMIC_RELAXED) >= READ_ONCE(budget)) {
			GUEST_SYNC(0);		/* out of budget: let the host wait */
			continue;
		}
		__atomic_fetch_add(&used, 1, __ATOMIC_RELAXED);
		guest_write(i, seq);
		i += nv;
		if (i >= n) {
			i = id;
			seq++;
		}
	}
	/* Page i is the next to write: those before it have @seq. */
	for (j = id; j < n; j += nv) {
		p = (uint64_t *)(DATA_GPA + j * PAGE_SIZE);
		GUEST_ASSERT_EQ(p[0], j < i ? seq : seq - 1);
		GUEST_ASSERT_EQ(p[1], pattern(j, p[0]));
	}
	GUEST_DONE();
}

struct guest {
	struct kvm_vm *vm;
	struct kvm_vcpu *vcpus[MAX_VCPUS];
	struct kcm_runner runners[MAX_VCPUS];
	uint32_t nvcpus;
	uint64_t npages;
	uint64_t rate;		/* pages per second */
	struct timespec t0;
	bool running;
};

static struct {
	bool json;
	long corrupt;		/* a packet to corrupt, for tests; -1: none */
	long die;		/* target: a packet to die at, for tests; -1: none */
} opt = { .corrupt = -1, .die = -1 };

static void progress(const char *fmt, ...)
{
	va_list ap;

	if (opt.json)
		return;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
}

static void complain(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "coco-migrate: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void guest_create(struct guest *v, uint64_t npages, uint32_t nvcpus)
{
	uint32_t k;

	v->npages = npages;
	v->nvcpus = nvcpus;
	v->vm = kcm_private_vm(nvcpus, guest_main, v->vcpus, DATA_GPA, DATA_SLOT, npages);
	for (k = 0; k < nvcpus; k++)
		vcpu_args_set(v->vcpus[k], 1, k);
	g_npages = npages;
	g_vcpus = nvcpus;
	sync_global_to_guest(v->vm, g_npages);
	sync_global_to_guest(v->vm, g_vcpus);
}

/* A source vCPU's exit: out of write budget, wait and give it more. */
static void vcpu_exit(struct kvm_vcpu *vcpu, void *arg)
{
	struct guest *v = arg;
	struct timespec ts;
	struct ucall uc;
	double dt;

	if (vcpu->run->exit_reason != KVM_EXIT_IO) {
		/* Say where the guest was before the assertion ends us. */
		vcpu_dump(stderr, vcpu, 2);
		TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
	}
	switch (get_ucall(vcpu, &uc)) {
	case UCALL_SYNC:
		/*
		 * Grant writes in 50 ms slices: the guest exits about 20
		 * times a second, not once per few pages.
		 */
		usleep(50000);
		clock_gettime(CLOCK_MONOTONIC, &ts);
		dt = ts.tv_sec - v->t0.tv_sec + (ts.tv_nsec - v->t0.tv_nsec) / 1e9;
		/* Straight into the guest: each vCPU thread comes here. */
		__atomic_store_n((uint64_t *)addr_gva2hva(v->vm, (vm_vaddr_t)&budget),
				 (uint64_t)(dt * v->rate), __ATOMIC_RELAXED);
		break;
	case UCALL_ABORT:
		REPORT_GUEST_ASSERT(uc);
		break;
	default:
		TEST_FAIL("unexpected ucall %lu", uc.cmd);
	}
}

static void guest_start(struct guest *v)
{
	uint32_t k;

	for (k = 0; k < v->nvcpus; k++)
		kcm_runner_start(&v->runners[k], v->vcpus[k], vcpu_exit, v);
	v->running = true;
}

static void guest_pause(struct guest *v)
{
	uint32_t k;

	if (!v->running)
		return;
	for (k = 0; k < v->nvcpus; k++)
		kcm_runner_stop(&v->runners[k]);
	v->running = false;
}

/* Tell the guest to check its memory, and run it until it has. */
static bool guest_verify(struct guest *v, char *why, size_t why_len)
{
	struct ucall uc;
	uint32_t k;

	guest_pause(v);
	verify = 1;
	sync_global_to_guest(v->vm, verify);
	for (k = 0; k < v->nvcpus; k++) {
		for (;;) {
			vcpu_run(v->vcpus[k]);
			TEST_ASSERT_KVM_EXIT_REASON(v->vcpus[k], KVM_EXIT_IO);
			switch (get_ucall(v->vcpus[k], &uc)) {
			case UCALL_SYNC:
				continue;
			case UCALL_DONE:
				break;
			case UCALL_ABORT:
				snprintf(why, why_len, "vCPU %u: guest assertion failed: %.400s",
					 k, uc.buffer);
				return false;
			default:
				snprintf(why, why_len, "vCPU %u: unexpected ucall %lu", k,
					 uc.cmd);
				return false;
			}
			break;
		}
	}
	snprintf(why, why_len, "every page and the execution state verified by the guest");
	return true;
}

/* The stream. */
static int send_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	ssize_t r;

	while (len) {
		r = send(fd, p, len, MSG_NOSIGNAL);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r ? -errno : -EPIPE;
		p += r;
		len -= r;
	}
	return 0;
}

static int recv_all(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;
	ssize_t r;

	while (len) {
		r = recv(fd, p, len, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r ? -errno : -ECONNRESET;
		p += r;
		len -= r;
	}
	return 0;
}

static int msg_send(int fd, uint16_t type, const void *a, uint32_t alen,
		    const void *b, uint32_t blen)
{
	struct msg_hdr h = {
		.magic = PROTO_MAGIC, .version = PROTO_VERSION, .type = type,
		.len = alen + blen,
	};
	int r = send_all(fd, &h, sizeof(h));

	if (!r && alen)
		r = send_all(fd, a, alen);
	if (!r && blen)
		r = send_all(fd, b, blen);
	return r;
}

/*
 * Receive a message of @want into a malloc'd buffer. An ERROR from the
 * peer is copied to @err and returns -EREMOTEIO.
 */
static int msg_recv(int fd, uint16_t want, void **buf, uint32_t *len, char *err,
		    size_t err_len)
{
	struct msg_hdr h;
	int r = recv_all(fd, &h, sizeof(h));

	if (r)
		return r;
	if (h.magic != PROTO_MAGIC)
		return -EBADMSG;
	if (h.version != PROTO_VERSION) {
		snprintf(err, err_len, "peer speaks protocol version %u, this is %u",
			 h.version, PROTO_VERSION);
		return -EPROTONOSUPPORT;
	}
	if (h.len > (1u << 28))
		return -EMSGSIZE;
	*buf = malloc(h.len + 1);
	if (!*buf)
		return -ENOMEM;
	r = recv_all(fd, *buf, h.len);
	if (r) {
		free(*buf);
		return r;
	}
	((char *)*buf)[h.len] = 0;
	*len = h.len;
	if (h.type == MSG_ERROR) {
		snprintf(err, err_len, "peer: %s", (char *)*buf);
		free(*buf);
		return -EREMOTEIO;
	}
	if (h.type != want) {
		free(*buf);
		return -EBADMSG;
	}
	return 0;
}

static int ipv4_addr(const char *s, struct sockaddr_in *sa)
{
	char host[256];
	const char *colon = strrchr(s, ':');

	if (!colon || colon == s || colon - s >= (long)sizeof(host))
		return -EINVAL;
	memcpy(host, s, colon - s);
	host[colon - s] = 0;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons(atoi(colon + 1));
	return inet_pton(AF_INET, host, &sa->sin_addr) == 1 && sa->sin_port ? 0 : -EINVAL;
}

/* Relocate the selftest library's host pointers in slot 0 (see kcm_copy_shared). */
static void shared_load(struct kvm_vm *vm, const uint8_t *bytes, uint64_t len,
			uint64_t src_base)
{
	struct userspace_mem_region *r0 = memslot2region(vm, 0);
	uint64_t size = r0->region.memory_size, i, w, *t, *snap;

	TEST_ASSERT_EQ(size, len);
	snap = malloc(size);
	memcpy(snap, r0->host_mem, size);
	memcpy(r0->host_mem, bytes, size);
	t = r0->host_mem;
	for (i = 0; i < size / 8; i++) {
		w = t[i] - src_base;
		if (w < size && snap[i] == w + (uint64_t)r0->host_mem)
			t[i] = snap[i];
	}
	free(snap);
}

/* ---- target ---------------------------------------------------------- */

static int target_fail(int fd, int ret, const char *what)
{
	complain("%s", what);
	msg_send(fd, MSG_ERROR, what, strlen(what) + 1, NULL, 0);
	return ret;
}

static int run_target(const char *listen_addr)
{
	void *buf = NULL, *ev = NULL, *state = NULL;
	uint32_t len, ev_len, slen, n, done;
	uint64_t plen;
	struct kvm_coco_mig_status st;
	long received = 0;
	int lfd, fd, dev, sess, r, one = 1, ok;
	struct sockaddr_in sa;
	struct guest v = {};
	char err[512] = "", why[512];
	struct hello *h;

	if (ipv4_addr(listen_addr, &sa)) {
		complain("--listen wants ADDR:PORT (IPv4), got '%s'", listen_addr);
		return EXIT_USAGE;
	}
	dev = cm_open();
	if (dev < 0) {
		complain("%s", cm_strerror(CM_OPEN, dev));
		return EXIT_USAGE;
	}
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 1)) {
		complain("cannot listen on %s: %s", listen_addr, strerror(errno));
		return EXIT_USAGE;
	}
	progress("target: listening on %s\n", listen_addr);
	fd = accept(lfd, NULL, NULL);
	close(lfd);
	if (fd < 0) {
		complain("accept: %s", strerror(errno));
		return EXIT_USAGE;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

	r = msg_recv(fd, MSG_HELLO, &buf, &len, err, sizeof(err));
	if (r == -EPROTONOSUPPORT)
		return target_fail(fd, EXIT_MIGRATION, err);
	if (r || len != sizeof(*h))
		return target_fail(fd, EXIT_MIGRATION, "bad HELLO");
	h = buf;
	if (!h->vcpus || h->vcpus > MAX_VCPUS || !h->npages)
		return target_fail(fd, EXIT_MIGRATION, "unsupported guest shape");
	progress("target: incoming guest, %lu MiB, %u vCPUs\n",
		 (unsigned long)(h->npages * PAGE_SIZE >> 20), h->vcpus);
	guest_create(&v, h->npages, h->vcpus);
	free(buf);

	sess = cm_session(dev, v.vm->fd, KVM_COCO_MIG_ROLE_TARGET);
	if (sess < 0)
		return target_fail(fd, EXIT_MIGRATION, cm_strerror(CM_CREATE, sess));
	r = cm_get_migration_data(sess, &ev, &ev_len);
	if (r)
		return target_fail(fd, EXIT_MIGRATION,
				   cm_strerror(CM_GET_MIGRATION_DATA, r));
	if (msg_send(fd, MSG_EVIDENCE, ev, ev_len, NULL, 0))
		return target_fail(fd, EXIT_MIGRATION, "source gone");
	r = msg_recv(fd, MSG_TRANSPORT, &buf, &len, err, sizeof(err));
	if (r)
		return target_fail(fd, EXIT_MIGRATION, err[0] ? err : "no transport key");
	r = cm_accept(sess, buf, len);
	free(buf);
	if (r)
		return target_fail(fd, EXIT_MIGRATION, cm_strerror(CM_ACCEPT, r));

	/* Pages until the shared memory comes. */
	for (;;) {
		struct msg_hdr hd;

		r = recv_all(fd, &hd, sizeof(hd));
		if (r || hd.magic != PROTO_MAGIC || hd.len > (1u << 28))
			return target_fail(fd, EXIT_MIGRATION,
					   "source gone mid-stream (or a broken stream)");
		buf = malloc(hd.len + 1);
		if (recv_all(fd, buf, hd.len))
			return target_fail(fd, EXIT_MIGRATION, "source gone mid-stream");
		if (hd.type == MSG_ERROR) {
			complain("source: %.*s", (int)hd.len, (char *)buf);
			return EXIT_MIGRATION;
		}
		if (hd.type == MSG_SHARED) {
			shared_load(v.vm, (uint8_t *)buf + 8, hd.len - 8, *(uint64_t *)buf);
			free(buf);
			break;
		}
		if (hd.type != MSG_PAGES || hd.len < 4)
			return target_fail(fd, EXIT_MIGRATION, "unexpected message");
		memcpy(&n, buf, 4);
		if (n > BATCH)
			return target_fail(fd, EXIT_MIGRATION, "bad PAGES length");
		plen = hd.len - 4;
		/* For tests: die the way a killed VMM does, at a known point. */
		if (opt.die >= 0 && received + n > opt.die)
			kill(getpid(), SIGKILL);
		received += n;
		r = cm_receive(sess, (uint8_t *)buf + 4, &plen, n, &done);
		free(buf);
		if (!r && plen != hd.len - 4)
			r = -EINVAL;	/* bytes after the last packet */
		if (r) {
			snprintf(err, sizeof(err), "RECEIVE_PAGES refused packet %u of a batch: %s",
				 done, cm_strerror(CM_RECEIVE, r));
			return target_fail(fd, EXIT_MIGRATION, err);
		}
		if (msg_send(fd, MSG_ACK, &done, 4, NULL, 0))
			return target_fail(fd, EXIT_MIGRATION, "source gone mid-stream");
	}

	r = msg_recv(fd, MSG_FINAL, &buf, &len, err, sizeof(err));
	if (r)
		return target_fail(fd, EXIT_MIGRATION, err[0] ? err : "no final record");
	r = cm_finish_target(sess, buf, len, &state, &slen);
	free(buf);
	if (r) {
		snprintf(err, sizeof(err), "FINISH: %s (the target VM will never run)",
			 cm_strerror(CM_FINISH, r));
		return target_fail(fd, EXIT_VERIFY, err);
	}
	/* vCPU states, one after the other, each with its length. */
	{
		uint8_t *p = state;
		uint32_t k, l;

		for (k = 0; k < v.nvcpus; k++) {
			memcpy(&l, p, 4);
			kcm_state_load(v.vcpus[k], p + 4, l);
			p += 4 + l;
		}
	}
	free(state);
	msg_send(fd, MSG_RESUMED, NULL, 0, NULL, 0);
	cm_status(sess, &st);
	progress("target: FINISH verified %lu pages; the guest resumes here\n",
		 (unsigned long)st.pages);

	ok = guest_verify(&v, why, sizeof(why));
	progress("target: %s: %s\n", ok ? "verified" : "VERIFICATION FAILED", why);
	{
		uint32_t okw = ok;

		msg_send(fd, MSG_RESULT, &okw, 4, why, strlen(why) + 1);
	}
	close(fd);
	close(sess);
	kvm_vm_free(v.vm);
	close(dev);
	return ok ? 0 : EXIT_VERIFY;
}

/* ---- source ---------------------------------------------------------- */

struct stats {
	uint64_t pages, bytes, rounds;
	double start, pause, resumed, end;
};

/* Package @n gfns, send them, wait for the target's ACK. */
static int send_pages(int fd, int sess, uint64_t *gfns, uint64_t n, uint8_t *buf,
		      struct stats *s, char *err, size_t err_len)
{
	static long packet_no;
	uint32_t b, done, alen, i;
	uint64_t off, len;
	uint8_t *pkt;
	void *ack;
	int r;

	for (off = 0; off < n; off += b) {
		b = n - off < BATCH ? n - off : BATCH;
		r = cm_package(sess, gfns + off, b, buf, &len, &done);
		if (r) {
			snprintf(err, err_len, "PACKAGE_PAGES: %s", cm_strerror(CM_PACKAGE, r));
			return r;
		}
		if (opt.corrupt >= packet_no && opt.corrupt < packet_no + b) {
			pkt = buf;
			for (i = 0; i < opt.corrupt - packet_no; i++)
				pkt += ((struct kvm_coco_mig_pkt_hdr *)pkt)->len;
			/* A byte of the header: every packet has one. */
			pkt[8] ^= 0x40;
		}
		packet_no += b;
		r = msg_send(fd, MSG_PAGES, &b, 4, buf, len);
		if (!r)
			r = msg_recv(fd, MSG_ACK, &ack, &alen, err, err_len);
		if (r) {
			if (!err[0])
				snprintf(err, err_len, "target gone mid-stream (%s)", strerror(-r));
			return r;
		}
		free(ack);
		s->pages += b;
		s->bytes += len;
	}
	return 0;
}

/* Every gfn set in the dirty bitmap of the data memslot. */
static uint64_t dirty_gfns(int sess, struct guest *v, uint64_t *bitmap, uint64_t *gfns,
			   int *ret)
{
	uint64_t nr, i, n = 0;

	*ret = cm_get_dirty(sess, DATA_GFN, v->npages, bitmap, &nr);
	if (*ret)
		return 0;
	for (i = 0; i < v->npages; i++)
		if (bitmap[i / 64] & (1ull << (i % 64)))
			gfns[n++] = DATA_GFN + i;
	return n;
}

static void print_report(struct guest *v, struct stats *s, bool migrated,
			 bool verified, const char *why)
{
	double secs = s->end - s->start, down = (s->resumed - s->pause) * 1000;

	if (opt.json) {
		printf("{\"memory_bytes\": %lu, \"vcpus\": %u, \"rounds\": %lu, ",
		       (unsigned long)(v->npages * PAGE_SIZE), v->nvcpus,
		       (unsigned long)s->rounds);
		printf("\"pages_sent\": %lu, \"bytes_sent\": %lu, ", (unsigned long)s->pages,
		       (unsigned long)s->bytes);
		printf("\"seconds\": %.3f, \"throughput_MBps\": %.2f, ", secs,
		       secs > 0 ? s->bytes / secs / 1e6 : 0);
		printf("\"downtime_ms\": %.1f, \"migrated\": %s, \"verified\": %s, ",
		       migrated ? down : 0, migrated ? "true" : "false",
		       verified ? "true" : "false");
		printf("\"result\": \"%s\"}\n", why);
		return;
	}
	printf("\nreport\n");
	printf("  memory        %lu MiB private, %u vCPUs\n",
	       (unsigned long)(v->npages * PAGE_SIZE >> 20), v->nvcpus);
	printf("  rounds        %lu (full pass + pre-copy + final)\n", (unsigned long)s->rounds);
	printf("  sent          %lu pages, %.1f MiB on the wire\n", (unsigned long)s->pages,
	       s->bytes / 1048576.0);
	printf("  throughput    %.1f MB/s over %.2f s\n", secs > 0 ? s->bytes / secs / 1e6 : 0,
	       secs);
	if (migrated)
		printf("  downtime      %.0f ms (vCPUs paused until the target resumed)\n", down);
	printf("  result        %s: %s\n", verified ? "VERIFIED" : "FAILED", why);
	fflush(stdout);
}

/* Before FINISH: cancel, keep the guest running, let it check itself. */
static int source_abort(struct guest *v, int sess, struct stats *s, const char *err)
{
	char why[512], msg[1024];
	bool ok;

	complain("migration failed: %s", err);
	if (sess >= 0)
		cm_cancel(sess);
	if (!v->running)
		guest_start(v);
	progress("source: cancelled; the guest keeps running here\n");
	usleep(200000);
	ok = guest_verify(v, why, sizeof(why));
	snprintf(msg, sizeof(msg), "migration failed (%s); the source guest %s: %s", err,
		 ok ? "kept running and verified its memory" : "FAILED its check", why);
	s->end = now_s();
	print_report(v, s, false, ok, msg);
	return ok ? EXIT_MIGRATION : EXIT_VERIFY;
}

static int run_source(const char *connect_addr, uint64_t npages, uint32_t nvcpus,
		      uint64_t rate, uint64_t downtime_ms, uint32_t max_rounds)
{
	uint64_t *bitmap, *pending, *gfns, n, i, budget_pages, last_n = ~0ull;
	size_t psize;
	unsigned int stalled = 0;
	uint8_t *buf;
	struct stats s = { .start = now_s() };
	void *ev = NULL, *blob = NULL, *rec, *resp, *states = NULL;
	uint32_t len, blen, rlen, slen = 0, k;
	struct hello h = { .npages = npages, .vcpus = nvcpus };
	char err[512] = "";
	struct sockaddr_in sa;
	int dev, fd, sess = -1, r, one = 1;
	double t, mbps = 0;
	struct guest v = {};

	if (ipv4_addr(connect_addr, &sa)) {
		complain("--connect wants ADDR:PORT (IPv4), got '%s'", connect_addr);
		return EXIT_USAGE;
	}
	dev = cm_open();
	if (dev < 0) {
		complain("%s", cm_strerror(CM_OPEN, dev));
		return EXIT_USAGE;
	}

	guest_create(&v, npages, nvcpus);
	v.rate = rate;
	clock_gettime(CLOCK_MONOTONIC, &v.t0);
	guest_start(&v);
	progress("source: guest running, %lu MiB private, %u vCPUs, dirtying %lu pages/s\n",
		 (unsigned long)(npages * PAGE_SIZE >> 20), nvcpus, (unsigned long)rate);
	usleep(300000);

	bitmap = calloc((npages + 63) / 64, 8);
	pending = calloc((npages + 63) / 64, 8);
	gfns = calloc(npages, 8);

	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		snprintf(err, sizeof(err), "target %s unreachable: %s", connect_addr,
			 strerror(errno));
		return source_abort(&v, -1, &s, err);
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	sess = cm_session(dev, v.vm->fd, KVM_COCO_MIG_ROLE_SOURCE);
	if (sess < 0) {
		snprintf(err, sizeof(err), "%s", cm_strerror(CM_CREATE, sess));
		return source_abort(&v, -1, &s, err);
	}
	psize = cm_max_packet(dev, sess);
	if (!psize)
		return source_abort(&v, sess, &s, "GET_CAPS: no packet size for this backend");
	buf = malloc(BATCH * psize);
	if (msg_send(fd, MSG_HELLO, &h, sizeof(h), NULL, 0) ||
	    msg_recv(fd, MSG_EVIDENCE, &ev, &len, err, sizeof(err))) {
		if (!err[0])
			snprintf(err, sizeof(err), "target gone during the handshake");
		return source_abort(&v, sess, &s, err);
	}
	r = cm_start(sess, ev, len, &blob, &blen);
	if (r) {
		snprintf(err, sizeof(err), "START: %s", cm_strerror(CM_START, r));
		return source_abort(&v, sess, &s, err);
	}
	if (msg_send(fd, MSG_TRANSPORT, blob, blen, NULL, 0))
		return source_abort(&v, sess, &s, "target gone during the handshake");
	r = cm_track_start(sess, NULL, NULL);
	if (r) {
		snprintf(err, sizeof(err), "TRACK_START: %s", cm_strerror(CM_TRACK_START, r));
		return source_abort(&v, sess, &s, err);
	}

	/* Round 1: everything. */
	for (i = 0; i < npages; i++)
		gfns[i] = DATA_GFN + i;
	n = npages;
	for (;;) {
		uint64_t before = s.pages;

		t = now_s();
		if (send_pages(fd, sess, gfns, n, buf, &s, err, sizeof(err)))
			return source_abort(&v, sess, &s, err);
		s.rounds++;
		t = now_s() - t;
		mbps = t > 0 ? (s.pages - before) * psize / t / 1e6 : 0;
		n = dirty_gfns(sess, &v, bitmap, gfns, &r);
		if (r) {
			snprintf(err, sizeof(err), "GET_DIRTY: %s", cm_strerror(CM_GET_DIRTY, r));
			return source_abort(&v, sess, &s, err);
		}
		progress("round %2lu: %6lu pages, %7.1f MB/s, dirty rate %7.0f pages/s, ",
			 (unsigned long)s.rounds, (unsigned long)(s.pages - before), mbps,
			 t > 0 ? n / t : 0);
		progress("remaining %lu\n", (unsigned long)n);
		/*
		 * Converged: what is left fits the downtime budget at the
		 * throughput just measured. Or give up waiting: the round
		 * limit, or three rounds in a row that did not shrink the set
		 * (the guest dirties memory as fast as it goes out).
		 */
		budget_pages = (uint64_t)(mbps * 1e6 / psize * downtime_ms / 1000);
		stalled = n >= last_n ? stalled + 1 : 0;
		last_n = n;
		if (n <= budget_pages || s.rounds >= max_rounds || stalled >= 3)
			break;
	}

	/*
	 * Stop and copy: the set the last GET_DIRTY reported is still to
	 * send (those gfns count as unsent: FINISH would refuse), plus what
	 * the guest wrote since.
	 */
	s.pause = now_s();
	guest_pause(&v);
	memcpy(pending, bitmap, (npages + 63) / 64 * 8);
	n = dirty_gfns(sess, &v, bitmap, gfns, &r);
	if (!r) {
		for (i = 0; i < (npages + 63) / 64; i++)
			bitmap[i] |= pending[i];
		for (i = 0, n = 0; i < npages; i++)
			if (bitmap[i / 64] & (1ull << (i % 64)))
				gfns[n++] = DATA_GFN + i;
	}
	if (r || send_pages(fd, sess, gfns, n, buf, &s, err, sizeof(err))) {
		if (!err[0])
			snprintf(err, sizeof(err), "GET_DIRTY: %s", cm_strerror(CM_GET_DIRTY, r));
		return source_abort(&v, sess, &s, err);
	}
	s.rounds++;
	progress("final:    %6lu pages with the vCPUs paused\n", (unsigned long)n);
	{
		struct userspace_mem_region *r0 = memslot2region(v.vm, 0);
		uint64_t base = (uint64_t)r0->host_mem;

		if (msg_send(fd, MSG_SHARED, &base, 8, r0->host_mem, r0->region.memory_size))
			return source_abort(&v, sess, &s, "target gone mid-stream");
	}
	/* vCPU states, each with its length. */
	for (k = 0; k < nvcpus; k++) {
		uint32_t l;
		void *st = kcm_state_flatten(v.vcpus[k], &l);

		states = realloc(states, slen + 4 + l);
		memcpy((uint8_t *)states + slen, &l, 4);
		memcpy((uint8_t *)states + slen + 4, st, l);
		slen += 4 + l;
		free(st);
	}
	r = cm_finish_source(sess, states, slen, &rec, &rlen);
	if (r) {
		struct kvm_coco_mig_status st;

		snprintf(err, sizeof(err), "FINISH: %s", cm_strerror(CM_FINISH, r));
		/*
		 * A source FINISH that fails leaves the guest alive (the module
		 * kills it only once nothing can fail); STATUS says so, and an
		 * abort lets it run on here.
		 */
		if (!cm_status(sess, &st) && st.vm != KVM_COCO_MIG_VM_DEAD)
			return source_abort(&v, sess, &s, err);
		complain("%s; the source VM is dead", err);
		return EXIT_VERIFY;
	}
	/* From here the guest lives only on the target. */
	if (msg_send(fd, MSG_FINAL, rec, rlen, NULL, 0) ||
	    msg_recv(fd, MSG_RESUMED, &resp, &len, err, sizeof(err))) {
		complain("the target did not resume the guest: %s; the source VM is dead",
			 err[0] ? err : "target gone");
		return EXIT_VERIFY;
	}
	s.resumed = now_s();
	free(resp);
	if (msg_recv(fd, MSG_RESULT, &resp, &len, err, sizeof(err)) || len < 5) {
		complain("no verification result from the target: %s", err);
		return EXIT_VERIFY;
	}
	s.end = now_s();
	{
		uint32_t ok;

		memcpy(&ok, resp, 4);
		print_report(&v, &s, true, ok, (char *)resp + 4);
		r = ok ? 0 : EXIT_VERIFY;
	}
	free(resp);
	close(fd);
	close(sess);
	close(dev);
	return r;
}

static uint64_t mem_size(const char *s)
{
	char *end;
	uint64_t v = strtoull(s, &end, 0);

	const char *units = "KMG", *u;

	if (!*end)
		return v;
	u = strchr(units, *end & ~0x20);
	if (!u || end[1])
		return 0;
	return v << (10 * (u - units + 1));
}

static void print_usage(void)
{
	fprintf(stderr,
		"usage: coco-migrate target --listen ADDR:PORT\n"
		"                    [--fault-die-at-packet N (tests: die receiving packet N)]\n"
		"       coco-migrate source --connect ADDR:PORT [--mem SIZE (16M)]\n"
		"                    [--vcpus N (2)] [--dirty-rate PAGES/S (256)]\n"
		"                    [--downtime-ms MS (300)] [--max-rounds N (30)] [--json]\n"
		"                    [--fault-corrupt-packet N (tests: flip a byte of packet N)]\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "connect", required_argument, NULL, 'c' },
		{ "mem", required_argument, NULL, 'm' },
		{ "vcpus", required_argument, NULL, 'v' },
		{ "dirty-rate", required_argument, NULL, 'd' },
		{ "downtime-ms", required_argument, NULL, 't' },
		{ "max-rounds", required_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ "fault-corrupt-packet", required_argument, NULL, 'x' },
		{ "fault-die-at-packet", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	uint64_t mem = 16 << 20, rate = 256, downtime = 300;
	uint32_t vcpus = 2, rounds = 30;
	const char *addr = NULL;
	int c;

	if (argc < 2 || (strcmp(argv[1], "source") && strcmp(argv[1], "target"))) {
		print_usage();
		return EXIT_USAGE;
	}
	optind = 2;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
		case 'c':
			addr = optarg;
			break;
		case 'm':
			mem = mem_size(optarg);
			break;
		case 'v':
			vcpus = atoi(optarg);
			break;
		case 'd':
			rate = strtoull(optarg, NULL, 0);
			break;
		case 't':
			downtime = strtoull(optarg, NULL, 0);
			break;
		case 'r':
			rounds = atoi(optarg);
			break;
		case 'j':
			opt.json = true;
			break;
		case 'x':
			opt.corrupt = atol(optarg);
			break;
		case 'k':
			opt.die = atol(optarg);
			break;
		default:
			print_usage();
			return EXIT_USAGE;
		}
	}
	/* The fault options are each for one side, and take a packet number. */
	if (!addr || mem < (1 << 20) || mem % PAGE_SIZE || !vcpus || vcpus > MAX_VCPUS ||
	    !rounds || opt.die < -1 || opt.corrupt < -1 ||
	    (opt.die >= 0 && strcmp(argv[1], "target")) ||
	    (opt.corrupt >= 0 && strcmp(argv[1], "source"))) {
		print_usage();
		return EXIT_USAGE;
	}
	signal(SIGPIPE, SIG_IGN);
	if (!strcmp(argv[1], "target"))
		return run_target(addr);
	return run_source(addr, mem / PAGE_SIZE, vcpus, rate, downtime, rounds);
}
