// SPDX-License-Identifier: GPL-2.0
/*
 * coco-migrate: the kvm-coco-mig reference VMM. Live-migrates a running
 * SW-protected guest between two hosts over TCP.
 *
 *   coco-migrate target --listen ADDR:PORT [--fault-die-at-packet N]
 *                [--fault-die-at-final]
 *   coco-migrate source --connect ADDR:PORT [--mem SIZE] [--vcpus N]
 *                [--dirty-rate PAGES/S] [--downtime-ms MS] [--max-rounds N]
 *                [--streams N] [--json] [--fault-corrupt-packet N]
 *                [--fault-corrupt-vcpu] [--fault-corrupt-final]
 *
 * The source runs a built-in workload: vCPUs that fill their share of the
 * guest's private memory, then keep rewriting it at the requested rate,
 * page after page, each write stamped with a sweep number. It migrates the
 * guest live with libcocomig: a full pass, pre-copy rounds of GET_DIRTY
 * until the dirty set fits the downtime budget (or a round limit, or three
 * rounds that did not shrink it), a pause,
 * the last dirty set, shared memory the ordinary way, each vCPU's state
 * sealed in its own record (PACKAGE_VCPU), then FINISH over a small
 * VM-wide state. The guest resumes on the target and checks every page
 * itself.
 *
 * The pages go on --streams N streams of the session (1 to the backend's
 * max_streams), each on its own TCP connection and driven by its own
 * thread on either side. Each round's gfns are cut into N contiguous
 * pieces, piece k for stream k; the next round's GET_DIRTY, and FINISH,
 * come only once every stream has had all its batches of the round
 * acknowledged.
 *
 * The protocol (version 4): every message is a struct msg_hdr, then @len
 * bytes. The source opens the control connection:
 *
 *   source                          target
 *   HELLO (guest shape, N)   ->
 *                            <-     EXCHANGE (its first round's message)
 *   EXCHANGE                 ->     ... in turns, until both are done
 *   then opens N data connections, each starting with STREAM (its index);
 *                            <-     READY (N streams in)
 *   ... the rounds, on the data connections ...
 *   SHARED (slot 0)          ->
 *   VCPU (a vCPU's record)   ->     RECEIVE_VCPU, then its KVM_SET_* state
 *   ... one per vCPU ...
 *                            <-     VCPUS (every record installed)
 *   FINAL (FINISH's record)  ->     FINISH
 *                            <-     RESUMED, RESULT (the guest's check)
 *                       or   <-     ABORT (FINISH refused: the token)
 *
 * The key exchange is KVM_COCO_MIG_EXCHANGE's rounds (cm_exchange()),
 * whatever the backend: the target speaks first, then the two take turns.
 * Each EXCHANGE is a __u32 done flag (the sender's part is complete) and
 * the message of the sender's round (none if the round had nothing to
 * say); each side passes the peer's message to its next round and stops
 * once both are done (sw: evidence ->, <- transport blob and done,
 * -> done).
 *
 * On data connection k: PAGES (a batch of stream k's packets) ->, ACK
 * (packets installed) <- for each batch, and END -> once the pages are
 * all sent. Either side may send ERROR (a message) on any connection
 * instead of what is due, and gives up.
 *
 * vCPU records: with its vCPUs stopped, the source seals each vCPU's
 * KVM_GET_* state with PACKAGE_VCPU and sends it in VCPU (__u32 vCPU id,
 * then the record); the first PACKAGE_VCPU pauses the source VM, which
 * CANCEL lifts while there is no FINISH. The target installs each record
 * with RECEIVE_VCPU into the vCPU of that id, which the kernel checks
 * against the record, loads the state it gives back (KVM_SET_*), and
 * answers VCPUS (__u32 records installed) once it has them all. Only then
 * does the source FINISH: a target that refuses a record answers ERROR
 * instead, and the source, which has not finished, cancels and runs on.
 * FINISH's blob is the VM-wide state (struct vm_state), which the target
 * checks against its own guest.
 *
 * Abort-safe finish: after its FINISH the source VM is paused for good
 * and only the target's abort token resumes it. A target that cannot run
 * the guest once the vCPU records are in (its FINISH refused the record,
 * or the record never came) calls ABORT, which kills its VM, and sends
 * the token in ABORT (__u32 length, the token, then a message); the
 * source passes it to cm_abort(), its guest runs again and checks its
 * own memory. A target that vanishes after the source's FINISH leaves no
 * token: the source says its guest is paused and cannot resume, and
 * closing the session kills it. (Version 3 carried every vCPU's state in
 * FINISH's blob, and had no VCPU or VCPUS; version 2 had EVIDENCE and
 * TRANSPORT, the sw rounds by name, and no ABORT.)
 *
 * The fault options number packets over the whole migration: in the
 * order of each round's gfns (all of round 1's, then round 2's, ...),
 * whatever stream carries them. The target counts packets as they come
 * in on any stream; rounds do not overlap, so packet N falls in the same
 * round whatever the number of streams. --fault-corrupt-vcpu flips a
 * byte of the first vCPU record: the target refuses it (its session
 * fails and its VM is dead) and says so, and the source, paused but not
 * finished, cancels and runs on. --fault-corrupt-final flips a
 * byte of the sealed final record after FINISH: the target refuses it,
 * and the source resumes with the abort token. --fault-die-at-final
 * kills the target as the final record comes in, before its FINISH: the
 * source is left paused, with no token.
 *
 * VMs are built with the KVM selftest library of the kernel source (guest
 * code in this binary, page tables, ucall): the part of a VMM this tool is
 * not about. Exit status: 0 migrated and verified; 1 a verification failed,
 * or the source guest is paused without a token (its target vanished
 * after FINISH); 2 the migration failed and the guest lives on the source
 * (cancelled before FINISH, or resumed with the target's abort token
 * after it) and verified its memory there; for the target, 2 also when
 * it refused or gave up and sent its token; 64 usage or setup errors.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
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

/* The protocol (see above): a header, then @len bytes of payload. */
#define PROTO_MAGIC	0x504d434bu	/* "KCMP" */
#define PROTO_VERSION	4

/* Rounds of the key exchange a side runs at most: sw needs two. */
#define MAX_EXCHANGE_ROUNDS	16

/* EXCHANGE's flag word. */
#define EXCHANGE_DONE	1u

enum msg_type {
	MSG_HELLO = 1,		/* source: struct hello */
	MSG_EXCHANGE,		/* either: __u32 flags, then a round's message */
	MSG_UNUSED_3,		/* version 2's TRANSPORT */
	MSG_PAGES,		/* source: __u32 count, then packets */
	MSG_ACK,		/* target: __u32 packets installed */
	MSG_SHARED,		/* source: __u64 host base, slot 0's bytes */
	MSG_FINAL,		/* source: the final record */
	MSG_RESUMED,		/* target: the guest runs */
	MSG_RESULT,		/* target: __u32 ok, then a message */
	MSG_ERROR,		/* either: a message; the sender gives up */
	MSG_STREAM,		/* source: __u32 the data connection's stream */
	MSG_READY,		/* target: ACCEPT done, every stream connected */
	MSG_END,		/* source: no more pages on this stream */
	MSG_ABORT,		/* target: __u32 length, the abort token, a message */
	MSG_VCPU,		/* source: __u32 vCPU id, then its record */
	MSG_VCPUS,		/* target: __u32 vCPU records installed */
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
	uint32_t streams;
};

/*
 * FINISH's blob: the guest beyond its memory and its vCPUs' records,
 * checked by the target against its own guest.
 */
#define VM_STATE_MAGIC	0x564d434bu	/* "KCMV" */

struct vm_state {
	uint32_t magic;
	uint32_t vcpus;		/* vCPU records the source sent */
	uint64_t npages;
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
	bool corrupt_vcpu;	/* source: flip a byte of vCPU 0's record, for tests */
	bool corrupt_final;	/* source: flip a byte of the final record, for tests */
	bool die_final;		/* target: die on the final record, for tests */
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

/* The connections. */
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
 * Receive a message of @want or @alt (0: none) into a malloc'd buffer; its
 * type goes to @type. An ERROR from the peer is copied to @err and
 * returns -EREMOTEIO.
 */
static int msg_recv2(int fd, uint16_t want, uint16_t alt, uint16_t *type, void **buf,
		     uint32_t *len, char *err, size_t err_len)
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
	if (h.type != want && (!alt || h.type != alt)) {
		free(*buf);
		return -EBADMSG;
	}
	*type = h.type;
	return 0;
}

static int msg_recv(int fd, uint16_t want, void **buf, uint32_t *len, char *err,
		    size_t err_len)
{
	uint16_t type;

	return msg_recv2(fd, want, 0, &type, buf, len, err, err_len);
}

/* The peer's next EXCHANGE: @msg is the buffer to free, @in its message. */
static int exchange_recv(int fd, void **msg, const void **in, uint32_t *in_len,
			 bool *peer_done, char *err, size_t err_len)
{
	uint32_t len, flags;
	int r;

	r = msg_recv(fd, MSG_EXCHANGE, msg, &len, err, err_len);
	if (r) {
		if (!err[0])
			snprintf(err, err_len, "peer gone during the key exchange (%s)",
				 strerror(-r));
		return r;
	}
	memcpy(&flags, *msg, len < 4 ? len : 4);
	if (len < 4 || (flags & ~EXCHANGE_DONE)) {
		snprintf(err, err_len, "a malformed EXCHANGE message");
		free(*msg);
		*msg = NULL;
		return -EBADMSG;
	}
	*peer_done = flags & EXCHANGE_DONE;
	*in = (uint8_t *)*msg + 4;
	*in_len = len - 4;
	return 0;
}

/*
 * The key exchange, in KVM_COCO_MIG_EXCHANGE rounds (see the protocol
 * above): the target speaks first, then the two sides take turns, each
 * passing the peer's last message to its next round, until both are
 * done. A side that is done answers with an empty done message while the
 * peer still has rounds to run.
 */
static int key_exchange(int fd, int sess, bool target, char *err, size_t err_len)
{
	bool done = false, peer_done = false;
	uint32_t in_len = 0, out_len, flags, rounds = 0;
	const void *in = NULL;
	void *msg = NULL, *out;
	int r = 0;

	if (!target) {
		r = exchange_recv(fd, &msg, &in, &in_len, &peer_done, err, err_len);
		if (r)
			return r;
	}
	for (;;) {
		out = NULL;
		out_len = 0;
		/* Every turn is a round until this side is done: bound both. */
		if (++rounds > MAX_EXCHANGE_ROUNDS) {
			snprintf(err, err_len, "the key exchange did not end in %u turns",
				 MAX_EXCHANGE_ROUNDS);
			r = -EPROTO;
			break;
		}
		if (!done) {
			r = cm_exchange(sess, in, in_len, &out, &out_len, &done);
			if (r) {
				snprintf(err, err_len, "EXCHANGE (round %u): %s", rounds,
					 cm_strerror(CM_EXCHANGE, r));
				break;
			}
		} else if (in_len) {
			snprintf(err, err_len, "a key-exchange message after this side was done");
			r = -EPROTO;
			break;
		}
		free(msg);
		msg = NULL;
		in = NULL;
		in_len = 0;
		flags = done ? EXCHANGE_DONE : 0;
		r = msg_send(fd, MSG_EXCHANGE, &flags, sizeof(flags), out, out_len);
		free(out);
		if (r) {
			snprintf(err, err_len, "peer gone during the key exchange");
			break;
		}
		if (done && peer_done)
			break;
		r = exchange_recv(fd, &msg, &in, &in_len, &peer_done, err, err_len);
		if (r)
			break;
		if (done && peer_done && !in_len)
			break;
	}
	free(msg);
	return r;
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

static int tcp_connect(const struct sockaddr_in *sa)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1, r;

	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa))) {
		r = -errno;
		close(fd);
		return r;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* A stream of the session: its connection and, on either side, its thread. */
struct stream {
	struct xfer *x;
	uint32_t idx;
	int fd;
	pthread_t thread;
	const uint64_t *gfns;	/* source: its piece of the round */
	uint64_t n;
	uint64_t first;		/* source: the number of the piece's first packet */
	uint8_t *buf;		/* source: room for a batch */
	uint64_t pages, bytes;	/* packets sent (source) or installed (target) */
	int ret;		/* source: how its part of the round went */
	char err[512];
};

struct xfer {
	int sess;
	uint32_t nr;		/* streams */
	size_t psize;		/* source: the largest packet */
	int failed;		/* a stream failed: the others stop */
	uint64_t packets;	/* source: sent in the rounds before; target: received */
	char err[512];		/* target: what failed first */
	struct stream s[KVM_COCO_MIG_MAX_STREAMS];
};

static void xfer_init(struct xfer *x, int sess, uint32_t nr)
{
	uint32_t k;

	memset(x, 0, sizeof(*x));
	x->sess = sess;
	x->nr = nr;
	for (k = 0; k < KVM_COCO_MIG_MAX_STREAMS; k++) {
		x->s[k].x = x;
		x->s[k].idx = k;
		x->s[k].fd = -1;
	}
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

/*
 * Wait for the source to hang up (bounded), so that closing does not
 * reset the connection before it has read the last message.
 */
static void target_hangup(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char drain[256];

	shutdown(fd, SHUT_WR);
	while (poll(&p, 1, 30000) > 0 && recv(fd, drain, sizeof(drain), 0) > 0)
		;
}

/*
 * The vCPU records are in but this target will not run the guest (its
 * FINISH refused the record, or the record never came): ABORT kills the
 * VM and gives the token that proves it, which lets a source paused by
 * its FINISH resume. Sent as ABORT, with @what; then wait for the source
 * to hang up (bounded), so that closing does not reset the connection
 * before it has read the token.
 */
static int target_abort(int fd, int sess, const char *what)
{
	char msg[768];
	void *tok = NULL;
	uint8_t *buf;
	uint32_t len;
	int r;

	r = cm_abort_token(sess, &tok, &len);
	buf = r ? NULL : malloc(4 + len);
	if (!r && !buf)
		r = -ENOMEM;
	if (r) {
		free(tok);
		snprintf(msg, sizeof(msg), "%s; ABORT: %s (no token for the source)", what,
			 cm_strerror(CM_ABORT, r));
		return target_fail(fd, EXIT_MIGRATION, msg);
	}
	complain("%s; the target VM is dead, its abort token goes to the source", what);
	memcpy(buf, &len, 4);
	memcpy(buf + 4, tok, len);
	free(tok);
	r = msg_send(fd, MSG_ABORT, buf, 4 + len, what, strlen(what) + 1);
	free(buf);
	if (r) {
		complain("the source is gone: it cannot have the token");
		return EXIT_MIGRATION;
	}
	progress("target: aborted; the abort token went to the source\n");
	target_hangup(fd);
	return EXIT_MIGRATION;
}

/*
 * Before this target answers VCPUS the source cannot have finished (see
 * the protocol): a refusal is an ERROR, on which the source cancels and
 * its guest runs on; a token would be no use to it. Says whether the VM
 * is dead (a record that failed authentication failed the session).
 */
static int target_refuse(int fd, int sess, const char *what)
{
	struct kvm_coco_mig_status st;
	char msg[768];

	snprintf(msg, sizeof(msg), "%s%s", what,
		 !cm_status(sess, &st) && st.vm == KVM_COCO_MIG_VM_DEAD ?
		 "; the target VM is dead" : "");
	target_fail(fd, EXIT_MIGRATION, msg);
	target_hangup(fd);
	return EXIT_MIGRATION;
}

/*
 * The source's vCPU records, one per vCPU, each installed with
 * RECEIVE_VCPU into the vCPU it names (the kernel refuses a record for
 * another) and its state loaded there. All are read before the first is
 * installed: a refusal then leaves nothing unread, and its ERROR reaches
 * the source.
 */
static int receive_vcpus(struct guest *v, int fd, int sess, char *err, size_t err_len)
{
	uint32_t lens[MAX_VCPUS], k, j, id, slen;
	void *msgs[MAX_VCPUS] = {}, *state;
	int r = 0;

	for (k = 0; k < v->nvcpus; k++) {
		r = msg_recv(fd, MSG_VCPU, &msgs[k], &lens[k], err, err_len);
		if (r) {
			msgs[k] = NULL;
			if (!err[0])
				snprintf(err, err_len, "no record for the vCPU %u of %u (%s)", k,
					 v->nvcpus, strerror(-r));
			goto out;
		}
		if (lens[k] < sizeof(id)) {
			snprintf(err, err_len, "a malformed VCPU message");
			r = -EBADMSG;
			goto out;
		}
	}
	for (k = 0; k < v->nvcpus; k++) {
		memcpy(&id, msgs[k], sizeof(id));
		r = cm_receive_vcpu(sess, id, (uint8_t *)msgs[k] + sizeof(id),
				    lens[k] - sizeof(id), &state, &slen);
		if (r) {
			snprintf(err, err_len, "RECEIVE_VCPU refused the record of vCPU %u: %s",
				 id, cm_strerror(CM_RECEIVE_VCPU, r));
			goto out;
		}
		/* The kernel installed it into the vCPU @id: the guest has it. */
		for (j = 0; j < v->nvcpus && v->vcpus[j]->id != id; j++)
			;
		TEST_ASSERT(j < v->nvcpus, "a record installed into vCPU %u, not ours", id);
		kcm_state_load(v->vcpus[j], state, slen);
		free(state);
	}
out:
	for (k = 0; k < v->nvcpus; k++)
		free(msgs[k]);
	return r;
}

/*
 * A stream failed. The first to fail tells the source on its connection
 * and stops the others, which would wait for pages that will not come.
 */
static void stream_fail(struct stream *st, const char *what)
{
	struct xfer *x = st->x;
	uint32_t k;

	if (__atomic_exchange_n(&x->failed, 1, __ATOMIC_ACQ_REL))
		return;
	snprintf(x->err, sizeof(x->err), "%s", what);
	msg_send(st->fd, MSG_ERROR, what, strlen(what) + 1, NULL, 0);
	for (k = 0; k < x->nr; k++)
		if (k != st->idx)
			shutdown(x->s[k].fd, SHUT_RDWR);
}

/* A stream's thread: its batches, each received and acknowledged, to END. */
static void *target_stream(void *arg)
{
	struct stream *st = arg;
	struct xfer *x = st->x;
	uint32_t n, done, k;
	uint64_t plen, before;
	struct msg_hdr hd;
	char err[600];
	uint8_t *buf;
	int r;

	for (;;) {
		r = recv_all(st->fd, &hd, sizeof(hd));
		if (r || hd.magic != PROTO_MAGIC || hd.len > (1u << 28)) {
			stream_fail(st, "source gone mid-stream (or a broken stream)");
			return NULL;
		}
		buf = malloc(hd.len + 1);
		if (!buf || recv_all(st->fd, buf, hd.len)) {
			free(buf);
			stream_fail(st, "source gone mid-stream");
			return NULL;
		}
		if (hd.type == MSG_END && !hd.len) {
			free(buf);
			return NULL;
		}
		if (hd.type == MSG_ERROR) {
			snprintf(err, sizeof(err), "source: %.*s", (int)hd.len, buf);
			free(buf);
			stream_fail(st, err);
			return NULL;
		}
		if (hd.type != MSG_PAGES || hd.len < 4) {
			free(buf);
			stream_fail(st, "unexpected message");
			return NULL;
		}
		memcpy(&n, buf, 4);
		if (!n || n > BATCH) {
			free(buf);
			stream_fail(st, "bad PAGES length");
			return NULL;
		}
		plen = hd.len - 4;
		/*
		 * For tests: die the way a killed VMM does, at a known point,
		 * counted over every stream.
		 */
		before = __atomic_fetch_add(&x->packets, n, __ATOMIC_RELAXED);
		if (opt.die >= 0 && before + n > (uint64_t)opt.die)
			kill(getpid(), SIGKILL);
		r = cm_receive_on(x->sess, st->idx, buf + 4, &plen, n, &done);
		free(buf);
		if (!r && plen != hd.len - 4)
			r = -EINVAL;	/* bytes after the last packet */
		if (r) {
			/*
			 * EIO: the session failed, from another stream's
			 * refusal if that stream is in its RECEIVE right
			 * now. Its word says why: give it a moment to be first.
			 */
			for (k = 0; r == -EIO && x->nr > 1 && k < 200; k++) {
				if (__atomic_load_n(&x->failed, __ATOMIC_ACQUIRE))
					return NULL;
				usleep(10000);
			}
			snprintf(err, sizeof(err), "RECEIVE_PAGES refused packet %u of a batch: %s",
				 done, cm_strerror(CM_RECEIVE, r));
			stream_fail(st, err);
			return NULL;
		}
		st->pages += done;
		if (msg_send(st->fd, MSG_ACK, &done, 4, NULL, 0)) {
			stream_fail(st, "source gone mid-stream");
			return NULL;
		}
	}
}

/*
 * The next data connection, which names its stream first. The control
 * connection has nothing to say meanwhile: if it does, the source is gone.
 */
static int stream_accept(int lfd, int ctl, struct xfer *x, char *err, size_t err_len)
{
	struct pollfd p[2] = {
		{ .fd = lfd, .events = POLLIN }, { .fd = ctl, .events = POLLIN },
	};
	uint32_t idx, len;
	int fd, r, one = 1;
	void *msg;

	while (poll(p, 2, -1) < 0) {
		if (errno != EINTR) {
			snprintf(err, err_len, "poll: %s", strerror(errno));
			return -errno;
		}
	}
	if (p[1].revents) {
		snprintf(err, err_len, "source gone before its streams connected");
		return -ECONNRESET;
	}
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0) {
		snprintf(err, err_len, "accept: %s", strerror(errno));
		return -errno;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	r = msg_recv(fd, MSG_STREAM, &msg, &len, err, err_len);
	if (!r && len != sizeof(idx)) {
		free(msg);
		r = -EBADMSG;
	}
	if (r) {
		if (!err[0])
			snprintf(err, err_len, "bad STREAM message");
		close(fd);
		return r;
	}
	memcpy(&idx, msg, sizeof(idx));
	free(msg);
	if (idx >= x->nr || x->s[idx].fd >= 0) {
		snprintf(err, err_len, "a connection for stream %u, of %u", idx, x->nr);
		close(fd);
		return -EBADMSG;
	}
	x->s[idx].fd = fd;
	return 0;
}

/* Every stream's thread, until each has its END or one fails. */
static int target_streams(struct xfer *x)
{
	uint32_t k, started;
	int r = 0;

	for (k = 0; k < x->nr; k++) {
		r = pthread_create(&x->s[k].thread, NULL, target_stream, &x->s[k]);
		if (r) {
			stream_fail(&x->s[k], "cannot start a stream's thread");
			break;
		}
	}
	started = k;
	for (k = 0; k < started; k++)
		pthread_join(x->s[k].thread, NULL);
	return x->failed ? -EIO : 0;
}

static int run_target(const char *listen_addr)
{
	struct vm_state vms = {};
	void *buf = NULL, *state = NULL;
	uint32_t len, slen, k, max_streams;
	struct kvm_coco_mig_backend_caps caps;
	struct kvm_coco_mig_status st;
	int lfd, fd, dev, sess, r, one = 1, ok;
	struct sockaddr_in sa;
	struct guest v = {};
	char err[512] = "", why[512];
	struct hello *h;
	struct xfer x;

	if (ipv4_addr(listen_addr, &sa)) {
		complain("--listen wants ADDR:PORT (IPv4), got '%s'", listen_addr);
		return EXIT_USAGE;
	}
	dev = cm_open();
	if (dev < 0) {
		complain("%s", cm_strerror(CM_OPEN, dev));
		return EXIT_USAGE;
	}
	r = cm_caps(dev, KVM_COCO_MIG_BACKEND_SW, &caps);
	if (r) {
		complain("GET_CAPS: %s", cm_strerror(CM_CAPS, r));
		return EXIT_USAGE;
	}
	max_streams = min_t(uint32_t, caps.max_streams, KVM_COCO_MIG_MAX_STREAMS);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* The control connection, then the streams' (see stream_accept()). */
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(lfd, KVM_COCO_MIG_MAX_STREAMS + 1)) {
		complain("cannot listen on %s: %s", listen_addr, strerror(errno));
		return EXIT_USAGE;
	}
	progress("target: listening on %s\n", listen_addr);
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
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
	if (!h->streams || h->streams > max_streams) {
		snprintf(err, sizeof(err),
			 "the source asks for %u streams, this host allows 1 to %u",
			 h->streams, max_streams);
		return target_fail(fd, EXIT_MIGRATION, err);
	}
	progress("target: incoming guest, %lu MiB, %u vCPUs, %u streams\n",
		 (unsigned long)(h->npages * PAGE_SIZE >> 20), h->vcpus, h->streams);
	guest_create(&v, h->npages, h->vcpus);

	sess = cm_session_streams(dev, v.vm->fd, KVM_COCO_MIG_ROLE_TARGET, h->streams);
	if (sess < 0)
		return target_fail(fd, EXIT_MIGRATION, cm_strerror(CM_CREATE, sess));
	xfer_init(&x, sess, h->streams);
	free(buf);
	if (key_exchange(fd, sess, true, err, sizeof(err)))
		return target_fail(fd, EXIT_MIGRATION, err);
	for (k = 0; k < x.nr; k++)
		if (stream_accept(lfd, fd, &x, err, sizeof(err)))
			return target_fail(fd, EXIT_MIGRATION, err);
	close(lfd);
	if (msg_send(fd, MSG_READY, NULL, 0, NULL, 0))
		return target_fail(fd, EXIT_MIGRATION, "source gone");

	/* The pages, until every stream has ended. */
	if (target_streams(&x)) {
		complain("%s", x.err);
		return EXIT_MIGRATION;
	}
	/* No FINISH on the source until this target answers VCPUS. */
	r = msg_recv(fd, MSG_SHARED, &buf, &len, err, sizeof(err));
	if (!r && (len < 8 || len - 8 != memslot2region(v.vm, 0)->region.memory_size)) {
		free(buf);
		r = -EBADMSG;
	}
	if (r)
		return target_refuse(fd, sess, err[0] ? err : "no shared memory");
	shared_load(v.vm, (uint8_t *)buf + 8, len - 8, *(uint64_t *)buf);
	free(buf);
	if (receive_vcpus(&v, fd, sess, err, sizeof(err)))
		return target_refuse(fd, sess, err);
	progress("target: %u vCPU records installed, their state loaded\n", v.nvcpus);
	/*
	 * From here the source may FINISH, and then it is paused until this
	 * target either runs the guest or gives it the abort token.
	 */
	if (msg_send(fd, MSG_VCPUS, &v.nvcpus, sizeof(v.nvcpus), NULL, 0))
		return target_fail(fd, EXIT_MIGRATION, "source gone before its FINISH");

	r = msg_recv(fd, MSG_FINAL, &buf, &len, err, sizeof(err));
	if (r)
		return target_abort(fd, sess, err[0] ? err : "no final record");
	/* For tests: a target that dies after the source's FINISH, tokenless. */
	if (opt.die_final)
		kill(getpid(), SIGKILL);
	r = cm_finish_target(sess, buf, len, &state, &slen);
	free(buf);
	if (r) {
		snprintf(err, sizeof(err), "FINISH refused the final record: %s",
			 cm_strerror(CM_FINISH, r));
		return target_abort(fd, sess, err);
	}
	/*
	 * The VM-wide state, which FINISH authenticated, must be this
	 * guest's. Past this FINISH no token can come from here: a guest
	 * that does not match is lost, and the source stays paused.
	 */
	memcpy(&vms, state, min_t(uint32_t, slen, sizeof(vms)));
	free(state);
	if (slen != sizeof(vms) || vms.magic != VM_STATE_MAGIC || vms.vcpus != v.nvcpus ||
	    vms.npages != v.npages) {
		snprintf(err, sizeof(err),
			 "FINISH's VM-wide state is not this guest's (%u bytes, %u vCPUs, not %u): it cannot run here",
			 slen, vms.vcpus, v.nvcpus);
		return target_fail(fd, EXIT_VERIFY, err);
	}
	msg_send(fd, MSG_RESUMED, NULL, 0, NULL, 0);
	cm_status(sess, &st);
	progress("target: FINISH verified %lu pages on %u streams; the guest resumes here\n",
		 (unsigned long)st.pages, st.nr_streams);

	ok = guest_verify(&v, why, sizeof(why));
	progress("target: %s: %s\n", ok ? "verified" : "VERIFICATION FAILED", why);
	{
		uint32_t okw = ok;

		msg_send(fd, MSG_RESULT, &okw, 4, why, strlen(why) + 1);
	}
	for (k = 0; k < x.nr; k++)
		close(x.s[k].fd);
	close(fd);
	close(sess);
	kvm_vm_free(v.vm);
	close(dev);
	return ok ? 0 : EXIT_VERIFY;
}

/* ---- source ---------------------------------------------------------- */

struct stats {
	uint64_t pages, bytes, rounds;
	uint32_t streams;
	uint64_t stream_pages[KVM_COCO_MIG_MAX_STREAMS];
	double start, pause, resumed, end;
};

/* For tests: flip a header byte of packet opt.corrupt if it is in the batch. */
static void corrupt_packet(uint8_t *buf, uint64_t first, uint32_t n)
{
	uint64_t i;

	if (opt.corrupt < 0 || (uint64_t)opt.corrupt < first ||
	    (uint64_t)opt.corrupt >= first + n)
		return;
	for (i = first; i < (uint64_t)opt.corrupt; i++)
		buf += ((struct kvm_coco_mig_pkt_hdr *)buf)->len;
	/* A byte of the header: every packet has one. */
	buf[8] ^= 0x40;
}

/* A stream's thread: its piece of the round, batch by batch, each ACKed. */
static void *source_stream(void *arg)
{
	struct stream *st = arg;
	struct xfer *x = st->x;
	uint32_t b, done, alen, ack;
	uint64_t off, len;
	void *msg;
	int r = 0;

	for (off = 0; off < st->n; off += b) {
		if (__atomic_load_n(&x->failed, __ATOMIC_ACQUIRE))
			break;
		b = st->n - off < BATCH ? st->n - off : BATCH;
		len = BATCH * x->psize;
		r = cm_package_on(x->sess, st->idx, st->gfns + off, b, st->buf, &len, &done);
		if (r) {
			snprintf(st->err, sizeof(st->err), "PACKAGE_PAGES: %s",
				 cm_strerror(CM_PACKAGE, r));
			break;
		}
		corrupt_packet(st->buf, st->first + off, b);
		r = msg_send(st->fd, MSG_PAGES, &b, 4, st->buf, len);
		if (!r)
			r = msg_recv(st->fd, MSG_ACK, &msg, &alen, st->err, sizeof(st->err));
		if (r) {
			if (!st->err[0])
				snprintf(st->err, sizeof(st->err), "target gone mid-stream (%s)",
					 strerror(-r));
			break;
		}
		ack = 0;
		if (alen == sizeof(ack))
			memcpy(&ack, msg, sizeof(ack));
		free(msg);
		if (ack != b) {
			snprintf(st->err, sizeof(st->err),
				 "the target acknowledged %u packets of %u", ack, b);
			r = -EPROTO;
			break;
		}
		st->pages += b;
		st->bytes += len;
	}
	st->ret = r;
	if (r)
		__atomic_store_n(&x->failed, 1, __ATOMIC_RELEASE);
	return NULL;
}

/*
 * Send @n gfns, piece k of them on stream k, and wait until every stream
 * has had its batches acknowledged. Of several failures, the target's own
 * word on one (an ERROR) says more than the connections it then closed.
 */
static int send_round(struct xfer *x, const uint64_t *gfns, uint64_t n,
		      struct stats *s, char *err, size_t err_len)
{
	struct stream *st, *bad = NULL;
	uint32_t k, started;
	int r = 0;

	for (k = 0; k < x->nr; k++) {
		st = &x->s[k];
		st->gfns = gfns + k * n / x->nr;
		st->n = (k + 1) * n / x->nr - k * n / x->nr;
		st->first = x->packets + k * n / x->nr;
		st->ret = 0;
		st->err[0] = 0;
		r = pthread_create(&st->thread, NULL, source_stream, st);
		if (r) {
			snprintf(err, err_len, "cannot start a stream's thread: %s", strerror(r));
			__atomic_store_n(&x->failed, 1, __ATOMIC_RELEASE);
			r = -r;
			break;
		}
	}
	started = k;
	s->pages = 0;
	s->bytes = 0;
	for (k = 0; k < x->nr; k++) {
		st = &x->s[k];
		if (k < started) {
			pthread_join(st->thread, NULL);
			if (st->ret && (!bad || (st->ret == -EREMOTEIO && bad->ret != -EREMOTEIO)))
				bad = st;
		}
		s->stream_pages[k] = st->pages;
		s->pages += st->pages;
		s->bytes += st->bytes;
	}
	x->packets += n;
	if (r)
		return r;
	if (bad) {
		if (x->nr > 1)
			snprintf(err, err_len, "stream %u: %.480s", bad->idx, bad->err);
		else
			snprintf(err, err_len, "%s", bad->err);
		return bad->ret;
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
	uint32_t k;

	if (opt.json) {
		printf("{\"memory_bytes\": %lu, \"vcpus\": %u, \"rounds\": %lu, ",
		       (unsigned long)(v->npages * PAGE_SIZE), v->nvcpus,
		       (unsigned long)s->rounds);
		printf("\"streams\": %u, \"stream_pages\": [", s->streams);
		for (k = 0; k < s->streams; k++)
			printf("%s%lu", k ? ", " : "", (unsigned long)s->stream_pages[k]);
		printf("], ");
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
	printf("  streams       %u (pages:", s->streams);
	for (k = 0; k < s->streams; k++)
		printf(" %lu", (unsigned long)s->stream_pages[k]);
	printf(")\n");
	printf("  throughput    %.1f MB/s over %.2f s\n", secs > 0 ? s->bytes / secs / 1e6 : 0,
	       secs);
	if (migrated)
		printf("  downtime      %.0f ms (vCPUs paused until the target resumed)\n", down);
	printf("  result        %s: %s\n", verified ? "VERIFIED" : "FAILED", why);
	fflush(stdout);
}

/*
 * The guest lives on here: before FINISH the source cancels (@resumed
 * false), after it the target's abort token resumed it (@resumed true).
 * Either way it runs, and then checks its own memory. CANCEL also lifts
 * the pause of a PACKAGE_VCPU; a session that cannot cancel (it failed)
 * lifts it when closed, as long as FINISH sealed nothing.
 */
static int source_survives(struct guest *v, int sess, struct stats *s, const char *err,
			   bool resumed)
{
	char why[512], msg[1024];
	bool ok, closed = false;
	int r;

	complain("migration failed: %s", err);
	if (sess >= 0 && !resumed) {
		r = cm_cancel(sess);
		if (r) {
			complain("CANCEL: %s; closing the session instead",
				 cm_strerror(CM_CANCEL, r));
			close(sess);
			closed = true;
		}
	}
	if (!v->running)
		guest_start(v);
	if (resumed)
		progress("source: resumed with the target's abort token; the guest runs again\n");
	else if (closed)
		progress("source: session closed; the guest keeps running here\n");
	else
		progress("source: cancelled; the guest keeps running here\n");
	usleep(200000);
	ok = guest_verify(v, why, sizeof(why));
	snprintf(msg, sizeof(msg), "migration failed (%s); the source guest %s: %s", err,
		 !ok ? "FAILED its check" : resumed ?
		 "resumed with the target's abort token and verified its memory" :
		 "kept running and verified its memory", why);
	s->end = now_s();
	print_report(v, s, false, ok, msg);
	return ok ? EXIT_MIGRATION : EXIT_VERIFY;
}

/* Before FINISH: cancel, keep the guest running, let it check itself. */
static int source_abort(struct guest *v, int sess, struct stats *s, const char *err)
{
	return source_survives(v, sess, s, err, false);
}

/*
 * After FINISH, without the target's token: the guest is paused for good
 * here and must not be claimed alive.
 */
static int source_paused(struct guest *v, struct stats *s, const char *err)
{
	char msg[1024];

	snprintf(msg, sizeof(msg),
		 "%s; no abort token: the source guest stays paused and cannot resume here (closing its session kills it)",
		 err);
	complain("%s", msg);
	s->end = now_s();
	print_report(v, s, false, false, msg);
	return EXIT_VERIFY;
}

/*
 * The target refused the final record (or gave up) and sent its abort
 * token, __u32 length, the token, then its message: resume with it.
 */
static int source_take_token(struct guest *v, int sess, struct stats *s, const uint8_t *m,
			     uint32_t len)
{
	char err[1024];
	uint32_t tlen;
	int r;

	memcpy(&tlen, m, len < 4 ? len : 4);
	if (len < 4 || tlen > len - 4)
		return source_paused(v, s, "the target sent a malformed ABORT");
	r = cm_abort(sess, m + 4, tlen);
	if (r) {
		snprintf(err, sizeof(err), "the target's abort token was refused: %s",
			 cm_strerror(CM_ABORT, r));
		return source_paused(v, s, err);
	}
	snprintf(err, sizeof(err), "the target aborted: %.400s",
		 len > 4 + tlen ? (const char *)m + 4 + tlen : "no reason given");
	return source_survives(v, sess, s, err, true);
}

/*
 * Each vCPU's record, with the vCPUs stopped: its KVM_GET_* state sealed
 * by PACKAGE_VCPU (the first pauses the VM), in VCPU; then the target's
 * VCPUS, which says it installed them all. Until then there is no FINISH:
 * on a failure the caller cancels, which lets the guest run here again.
 */
static int send_vcpus(struct guest *v, int fd, int sess,
		      const struct kvm_coco_mig_backend_caps *caps, char *err, size_t err_len)
{
	uint32_t k, id, len, slen, rlen, n;
	void *state, *rec, *msg;
	int r;

	for (k = 0; k < v->nvcpus; k++) {
		id = v->vcpus[k]->id;
		state = kcm_state_flatten(v->vcpus[k], &slen);
		if (slen > caps->max_vcpu_state) {
			snprintf(err, err_len,
				 "vCPU %u's state is %u bytes, the backend takes at most %u", id,
				 slen, caps->max_vcpu_state);
			msg_send(fd, MSG_ERROR, err, strlen(err) + 1, NULL, 0);
			free(state);
			return -E2BIG;
		}
		r = cm_package_vcpu(sess, id, state, slen, &rec, &rlen);
		free(state);
		if (r) {
			snprintf(err, err_len, "PACKAGE_VCPU (vCPU %u): %s", id,
				 cm_strerror(CM_PACKAGE_VCPU, r));
			msg_send(fd, MSG_ERROR, err, strlen(err) + 1, NULL, 0);
			return r;
		}
		/* For tests: a byte of the sealed state, after the header. */
		if (opt.corrupt_vcpu && !k && rlen > sizeof(struct kvm_coco_mig_pkt_hdr))
			((uint8_t *)rec)[sizeof(struct kvm_coco_mig_pkt_hdr)] ^= 0x40;
		r = msg_send(fd, MSG_VCPU, &id, sizeof(id), rec, rlen);
		free(rec);
		if (r) {
			snprintf(err, err_len, "target gone before the vCPU records were in");
			return r;
		}
	}
	r = msg_recv(fd, MSG_VCPUS, &msg, &len, err, err_len);
	if (r) {
		if (!err[0])
			snprintf(err, err_len, "target gone before the vCPU records were in (%s)",
				 strerror(-r));
		return r;
	}
	n = 0;
	if (len == sizeof(n))
		memcpy(&n, msg, sizeof(n));
	free(msg);
	if (n != v->nvcpus) {
		snprintf(err, err_len, "the target installed %u vCPU records of %u", n,
			 v->nvcpus);
		return -EPROTO;
	}
	return 0;
}

/*
 * The streams' connections, once the keys are agreed: the target answers
 * READY when it has them all, else ERROR.
 */
static int streams_connect(struct xfer *x, int ctl, const struct sockaddr_in *sa,
			   char *err, size_t err_len)
{
	char peer[512] = "";
	uint32_t k, len;
	void *msg;
	int r = 0;

	for (k = 0; k < x->nr; k++) {
		x->s[k].fd = tcp_connect(sa);
		r = x->s[k].fd < 0 ? x->s[k].fd :
			msg_send(x->s[k].fd, MSG_STREAM, &k, sizeof(k), NULL, 0);
		if (r) {
			snprintf(err, err_len, "cannot connect stream %u to the target: %s", k,
				 strerror(-r));
			/* The target waits for the rest: let it know, hear why. */
			shutdown(ctl, SHUT_WR);
			break;
		}
	}
	if (!msg_recv(ctl, MSG_READY, &msg, &len, peer, sizeof(peer))) {
		free(msg);
		if (!r)
			return 0;
	}
	if (peer[0])
		snprintf(err, err_len, "%s", peer);
	else if (!r)
		snprintf(err, err_len, "target gone during the handshake");
	return r ?: -ECONNRESET;
}

static int run_source(const char *connect_addr, uint64_t npages, uint32_t nvcpus,
		      uint32_t nstreams, uint64_t rate, uint64_t downtime_ms,
		      uint32_t max_rounds)
{
	uint64_t *bitmap, *pending, *gfns, n, i, budget_pages, last_n = ~0ull;
	struct stats s = { .start = now_s(), .streams = nstreams };
	struct hello h = { .npages = npages, .vcpus = nvcpus, .streams = nstreams };
	struct vm_state vms = {
		.magic = VM_STATE_MAGIC, .vcpus = nvcpus, .npages = npages,
	};
	struct kvm_coco_mig_backend_caps caps;
	uint32_t len, rlen, k, max_streams;
	void *rec, *resp;
	uint16_t type;
	unsigned int stalled = 0;
	char err[512] = "";
	struct sockaddr_in sa;
	int dev, fd, sess = -1, r;
	double t, mbps = 0;
	struct guest v = {};
	struct xfer x;

	if (ipv4_addr(connect_addr, &sa)) {
		complain("--connect wants ADDR:PORT (IPv4), got '%s'", connect_addr);
		return EXIT_USAGE;
	}
	dev = cm_open();
	if (dev < 0) {
		complain("%s", cm_strerror(CM_OPEN, dev));
		return EXIT_USAGE;
	}
	r = cm_caps(dev, KVM_COCO_MIG_BACKEND_SW, &caps);
	if (r) {
		complain("GET_CAPS: %s", cm_strerror(CM_CAPS, r));
		return EXIT_USAGE;
	}
	max_streams = min_t(uint32_t, caps.max_streams, KVM_COCO_MIG_MAX_STREAMS);
	if (nstreams > max_streams) {
		complain("--streams %u: this host's sw backend allows at most %u streams",
			 nstreams, max_streams);
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

	fd = tcp_connect(&sa);
	if (fd < 0) {
		snprintf(err, sizeof(err), "target %s unreachable: %s", connect_addr,
			 strerror(-fd));
		return source_abort(&v, -1, &s, err);
	}
	sess = cm_session_streams(dev, v.vm->fd, KVM_COCO_MIG_ROLE_SOURCE, nstreams);
	if (sess < 0) {
		snprintf(err, sizeof(err), "%s", cm_strerror(CM_CREATE, sess));
		return source_abort(&v, -1, &s, err);
	}
	xfer_init(&x, sess, nstreams);
	x.psize = cm_max_packet(dev, sess);
	if (!x.psize)
		return source_abort(&v, sess, &s, "GET_CAPS: no packet size for this backend");
	for (k = 0; k < nstreams; k++) {
		x.s[k].buf = malloc(BATCH * x.psize);
		if (!x.s[k].buf)
			return source_abort(&v, sess, &s, "out of memory");
	}
	if (msg_send(fd, MSG_HELLO, &h, sizeof(h), NULL, 0))
		return source_abort(&v, sess, &s, "target gone during the handshake");
	r = key_exchange(fd, sess, false, err, sizeof(err));
	if (r) {
		/* The target's own ERROR needs no answer; anything else does. */
		if (r != -EREMOTEIO)
			msg_send(fd, MSG_ERROR, err, strlen(err) + 1, NULL, 0);
		return source_abort(&v, sess, &s, err);
	}
	if (streams_connect(&x, fd, &sa, err, sizeof(err)))
		return source_abort(&v, sess, &s, err);
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
		if (send_round(&x, gfns, n, &s, err, sizeof(err)))
			return source_abort(&v, sess, &s, err);
		s.rounds++;
		t = now_s() - t;
		mbps = t > 0 ? (s.pages - before) * x.psize / t / 1e6 : 0;
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
		budget_pages = (uint64_t)(mbps * 1e6 / x.psize * downtime_ms / 1000);
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
	if (r || send_round(&x, gfns, n, &s, err, sizeof(err))) {
		if (!err[0])
			snprintf(err, sizeof(err), "GET_DIRTY: %s", cm_strerror(CM_GET_DIRTY, r));
		return source_abort(&v, sess, &s, err);
	}
	s.rounds++;
	progress("final:    %6lu pages with the vCPUs paused\n", (unsigned long)n);
	/* Every stream's batches are acknowledged: the streams end. */
	for (k = 0; k < nstreams; k++)
		if (msg_send(x.s[k].fd, MSG_END, NULL, 0, NULL, 0))
			return source_abort(&v, sess, &s, "target gone mid-stream");
	{
		struct userspace_mem_region *r0 = memslot2region(v.vm, 0);
		uint64_t base = (uint64_t)r0->host_mem;

		if (msg_send(fd, MSG_SHARED, &base, 8, r0->host_mem, r0->region.memory_size))
			return source_abort(&v, sess, &s, "target gone mid-stream");
	}
	/* From the first record on the VM is paused; CANCEL lifts that. */
	if (send_vcpus(&v, fd, sess, &caps, err, sizeof(err)))
		return source_abort(&v, sess, &s, err);
	progress("vCPUs:    %u records sealed and sent, installed by the target\n", nvcpus);
	r = cm_finish_source(sess, &vms, sizeof(vms), &rec, &rlen);
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
	/*
	 * From here the guest is paused for good here: it runs on the target
	 * once that target's FINISH takes the record, or here again only with
	 * the target's abort token.
	 */
	if (opt.corrupt_final && rlen > sizeof(struct kvm_coco_mig_pkt_hdr))
		((uint8_t *)rec)[sizeof(struct kvm_coco_mig_pkt_hdr)] ^= 0x40;
	if (msg_send(fd, MSG_FINAL, rec, rlen, NULL, 0) ||
	    msg_recv2(fd, MSG_RESUMED, MSG_ABORT, &type, &resp, &len, err, sizeof(err))) {
		char why[768];

		snprintf(why, sizeof(why), "the target did not resume the guest after FINISH (%s)",
			 err[0] ? err : "target gone");
		return source_paused(&v, &s, why);
	}
	free(rec);
	if (type == MSG_ABORT) {
		r = source_take_token(&v, sess, &s, resp, len);
		free(resp);
		return r;
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
	for (k = 0; k < nstreams; k++) {
		close(x.s[k].fd);
		free(x.s[k].buf);
	}
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
		"                    [--fault-die-at-final (tests: die on the final record)]\n"
		"       coco-migrate source --connect ADDR:PORT [--mem SIZE (16M)]\n"
		"                    [--vcpus N (2)] [--dirty-rate PAGES/S (256)]\n"
		"                    [--downtime-ms MS (300)] [--max-rounds N (30)]\n"
		"                    [--streams N (1; TCP connections for the pages)] [--json]\n"
		"                    [--fault-corrupt-packet N (tests: flip a byte of packet N)]\n"
		"                    [--fault-corrupt-vcpu (tests: flip a byte of vCPU 0's record;\n"
		"                     the target refuses it, the source cancels and runs on)]\n"
		"                    [--fault-corrupt-final (tests: flip a byte of the final\n"
		"                     record; the target refuses it and sends its abort token)]\n");
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
		{ "streams", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "fault-corrupt-packet", required_argument, NULL, 'x' },
		{ "fault-corrupt-final", no_argument, NULL, 'f' },
		{ "fault-corrupt-vcpu", no_argument, NULL, 'V' },
		{ "fault-die-at-packet", required_argument, NULL, 'k' },
		{ "fault-die-at-final", no_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	uint64_t mem = 16 << 20, rate = 256, downtime = 300;
	uint32_t vcpus = 2, rounds = 30, streams = 0;
	const char *addr = NULL;
	char *end;
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
		case 's':
			/* Checked against the backend's max_streams later. */
			streams = strtoul(optarg, &end, 0);
			if (*end || !streams) {
				print_usage();
				return EXIT_USAGE;
			}
			break;
		case 'j':
			opt.json = true;
			break;
		case 'x':
			opt.corrupt = atol(optarg);
			break;
		case 'f':
			opt.corrupt_final = true;
			break;
		case 'V':
			opt.corrupt_vcpu = true;
			break;
		case 'k':
			opt.die = atol(optarg);
			break;
		case 'F':
			opt.die_final = true;
			break;
		default:
			print_usage();
			return EXIT_USAGE;
		}
	}
	/*
	 * The fault options are each for one side (the packet ones take a
	 * packet number); the source chooses the streams.
	 */
	if (!addr || mem < (1 << 20) || mem % PAGE_SIZE || !vcpus || vcpus > MAX_VCPUS ||
	    !rounds || opt.die < -1 || opt.corrupt < -1 ||
	    ((opt.die >= 0 || opt.die_final) && strcmp(argv[1], "target")) ||
	    ((opt.corrupt >= 0 || opt.corrupt_final || opt.corrupt_vcpu) &&
	     strcmp(argv[1], "source")) ||
	    (streams && strcmp(argv[1], "source"))) {
		print_usage();
		return EXIT_USAGE;
	}
	signal(SIGPIPE, SIG_IGN);
	if (!strcmp(argv[1], "target"))
		return run_target(addr);
	return run_source(addr, mem / PAGE_SIZE, vcpus, streams ?: 1, rate, downtime,
			  rounds);
}
