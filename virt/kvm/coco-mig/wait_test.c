// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for backends that wait (suite kvm_coco_mig_wait).
 *
 * A session without a VM file (a zeroed struct kvm stands for its VM) and
 * a fake backend whose operations wait with kcm_session_wait() for work an
 * agent does: a kthread, as the svsm backend's migration agent runs on
 * vCPUs that the VMM drives from other threads. The ioctls' own cores run
 * on it (EXCHANGE, PACKAGE_PAGES, RECEIVE_PAGES, CANCEL, ABORT, and
 * STATUS's fill), each in a kthread of its own, with their arguments in
 * user memory the test maps.
 *
 * Nothing depends on speed. A bound is one jiffy (nothing does the work,
 * so the wait must time out) or none (only the agent, CANCEL, ABORT or a
 * signal ends the wait). Threads meet through completions; one that does
 * not get on within KCM_TEST_SYNC fails the test, whose cleanup then does
 * every piece of work itself, so that every thread ends.
 */
#include <kunit/test.h>
#include <linux/completion.h>
#include <linux/kthread.h>
#include <linux/mman.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>

#include "coco_mig.h"

/* For a thread to get on, however loaded the machine; below hung-task's 120 s. */
#define KCM_TEST_SYNC	(60 * HZ)

#define KCM_FAKE_PACKET	64
#define KCM_FAKE_TOKEN	16

/* The fake backend's wait points: an operation on stream 0 or 1, ABORT's token. */
enum { KCM_W_STREAM0, KCM_W_STREAM1, KCM_W_ABORT, KCM_W_NR };

/**
 * struct kcm_fake - the fake backend's state (the session's @priv)
 * @bound: what each kcm_session_wait() is given
 * @waits: which wait points wait (EXCHANGE uses stream 0's)
 * @waiting: the operation is about to wait at the point
 * @done: the work the point waits for is done
 * @ret: what kcm_session_wait() returned at the point
 * @poison: the operation at the point sees tampering instead
 * @cancels: @cancel calls
 * @end_streams: @end_streams calls
 */
struct kcm_fake {
	long bound;
	bool waits[KCM_W_NR];
	struct completion waiting[KCM_W_NR];
	bool done[KCM_W_NR];
	int ret[KCM_W_NR];
	bool poison[KCM_W_NR];
	unsigned int cancels;
	unsigned int end_streams;
};

static int kcm_fake_wait(struct kcm_session *s, int w)
{
	struct kcm_fake *f = s->priv;

	if (f->poison[w]) {
		kcm_session_fail(s);
		return -EBADMSG;
	}
	if (!f->waits[w])
		return 0;
	complete(&f->waiting[w]);
	f->ret[w] = kcm_session_wait(s, READ_ONCE(f->done[w]), f->bound);
	return f->ret[w];
}

static long kcm_fake_out_size(struct kcm_session *s, enum kcm_op op,
			      const void *in, u32 in_len)
{
	return op == KCM_OP_ABORT ? KCM_FAKE_TOKEN : 0;
}

static int kcm_fake_exchange(struct kcm_session *s, const void *in, u32 in_len,
			     void *out, bool *done)
{
	*done = false;
	return kcm_fake_wait(s, KCM_W_STREAM0);
}

static int kcm_fake_package(struct kcm_session *s, u32 stream, const u64 *gfns,
			    u32 nr, u8 __user *ubuf, struct kcm_batch *b)
{
	int ret = kcm_fake_wait(s, stream);

	if (!ret)
		b->done = nr;
	return ret;
}

static int kcm_fake_receive(struct kcm_session *s, u32 stream,
			    const u8 __user *ubuf, u64 len, u32 nr,
			    struct kcm_batch *b)
{
	int ret = kcm_fake_wait(s, stream);

	if (!ret)
		b->done = nr;
	return ret;
}

static void kcm_fake_cancel(struct kcm_session *s)
{
	((struct kcm_fake *)s->priv)->cancels++;
}

static void kcm_fake_end_streams(struct kcm_session *s)
{
	((struct kcm_fake *)s->priv)->end_streams++;
}

static int kcm_fake_abort(struct kcm_session *s, const void *in, u32 in_len,
			  void *out)
{
	int ret = kcm_fake_wait(s, KCM_W_ABORT);

	if (!ret)
		memset(out, 0xab, KCM_FAKE_TOKEN);
	return ret;
}

static const struct kcm_backend kcm_fake_backend = {
	.name		= "wait-test",
	.id		= 0x7e57,
	.max_packet	= KCM_FAKE_PACKET,
	.max_streams	= 2,
	.max_in_len	= 64,
	.max_record_len	= 64,
	.out_size	= kcm_fake_out_size,
	.exchange	= kcm_fake_exchange,
	.package	= kcm_fake_package,
	.receive	= kcm_fake_receive,
	.cancel		= kcm_fake_cancel,
	.end_streams	= kcm_fake_end_streams,
	.abort		= kcm_fake_abort,
};

/* The ioctls' arguments, in user memory. */
struct kcm_umem {
	struct kvm_coco_mig_exchange xchg;
	struct kvm_coco_mig_pages pages[2];
	struct kvm_coco_mig_blob blob;
	u64 gfn;
	u8 token[KCM_FAKE_TOKEN];
	u8 buf[2][KCM_FAKE_PACKET];
};

struct kcm_wait_ctx;

/**
 * struct kcm_thread - an ioctl core (or the agent) in a kthread
 * @c: the test
 * @fn: what it runs; its result goes to @ret
 * @arg: @fn's argument: a stream, or a wait point
 * @task: the kthread, referenced until the test's cleanup
 * @st: STATUS's output
 * @finished: @fn returned
 * @joined: kcm_joined() saw @finished
 */
struct kcm_thread {
	struct kcm_wait_ctx *c;
	int (*fn)(struct kcm_thread *t);
	u32 arg;
	int ret;
	struct task_struct *task;
	struct kvm_coco_mig_status st;
	struct completion finished;
	bool joined;
};

#define KCM_MAX_THREADS	4

struct kcm_wait_ctx {
	struct kcm_session *s;
	struct kcm_fake f;
	struct kvm *kvm;
	struct mm_struct *mm;
	struct kcm_umem __user *u;
	struct kcm_thread threads[KCM_MAX_THREADS];
	unsigned int nr_threads;
};

static int kcm_thread_fn(void *data)
{
	struct kcm_thread *t = data;
	struct mm_struct *mm = t->c->mm;

	kthread_use_mm(mm);
	/* SIGKILL is fatal for it, as for a VMM's thread (kthreads ignore it). */
	kernel_sigaction(SIGKILL, SIG_DFL);
	t->ret = t->fn(t);
	kthread_unuse_mm(mm);
	mmput(mm);
	kthread_complete_and_exit(&t->finished, 0);
}

static struct kcm_thread *kcm_start(struct kunit *test,
				    int (*fn)(struct kcm_thread *t), u32 arg)
{
	struct kcm_wait_ctx *c = test->priv;
	struct kcm_thread *t;
	struct task_struct *task;

	KUNIT_ASSERT_LT(test, c->nr_threads, KCM_MAX_THREADS);
	t = &c->threads[c->nr_threads];
	t->c = c;
	t->fn = fn;
	t->arg = arg;
	init_completion(&t->finished);
	/* The thread's user memory lives until it is done with it. */
	mmget(c->mm);
	task = kthread_create(kcm_thread_fn, t, "kcm-wait-test/%u", c->nr_threads);
	if (IS_ERR(task)) {
		mmput(c->mm);
		KUNIT_ASSERT_NOT_ERR_OR_NULL(test, task);
	}
	t->task = get_task_struct(task);
	c->nr_threads++;
	wake_up_process(task);
	return t;
}

/* Whether @t finished in time. A completion is consumed: only once. */
static bool kcm_joined(struct kcm_thread *t)
{
	t->joined = wait_for_completion_timeout(&t->finished, KCM_TEST_SYNC);
	return t->joined;
}

/* The agent's half: the work of wait point @w is done. */
static void kcm_work_done(struct kcm_wait_ctx *c, int w)
{
	WRITE_ONCE(c->f.done[w], true);
	kcm_session_wake(c->s);
}

static int kcm_run_agent(struct kcm_thread *t)
{
	struct kcm_fake *f = &t->c->f;

	if (!wait_for_completion_timeout(&f->waiting[t->arg], KCM_TEST_SYNC))
		return -ETIMEDOUT;
	kcm_work_done(t->c, t->arg);
	return 0;
}

static int kcm_run_exchange(struct kcm_thread *t)
{
	return kcm_ioctl_exchange(t->c->s, &t->c->u->xchg);
}

static int kcm_run_package(struct kcm_thread *t)
{
	return kcm_pages_ioctl(t->c->s, KCM_OP_PACKAGE, &t->c->u->pages[t->arg]);
}

static int kcm_run_receive(struct kcm_thread *t)
{
	return kcm_pages_ioctl(t->c->s, KCM_OP_RECEIVE, &t->c->u->pages[t->arg]);
}

static int kcm_run_cancel(struct kcm_thread *t)
{
	return kcm_cancel(t->c->s);
}

static int kcm_run_abort(struct kcm_thread *t)
{
	return kcm_ioctl_abort(t->c->s, &t->c->u->blob);
}

static int kcm_run_status(struct kcm_thread *t)
{
	kcm_status_fill(t->c->s, &t->st);
	return 0;
}

/* Cleanup, also after a failed assertion: every wait ends, every thread. */
static void kcm_wait_cleanup(void *data)
{
	struct kcm_wait_ctx *c = data;
	unsigned int i;

	for (i = 0; i < KCM_W_NR; i++) {
		complete_all(&c->f.waiting[i]);
		kcm_work_done(c, i);
	}
	for (i = 0; i < c->nr_threads; i++) {
		if (!c->threads[i].joined)
			wait_for_completion(&c->threads[i].finished);
		put_task_struct(c->threads[i].task);
	}
}

static void kcm_wait_free_session(void *s)
{
	kcm_session_free(s);
}

static int kcm_wait_init(struct kunit *test)
{
	struct kvm_coco_mig_exchange x = {};
	struct kvm_coco_mig_pages p = {};
	struct kvm_coco_mig_blob b = {};
	struct kcm_wait_ctx *c;
	unsigned long addr;
	u32 i;

	c = kunit_kzalloc(test, sizeof(*c), GFP_KERNEL);
	if (!c)
		return -ENOMEM;
	c->kvm = kunit_kzalloc(test, sizeof(*c->kvm), GFP_KERNEL);
	if (!c->kvm)
		return -ENOMEM;
	addr = kunit_vm_mmap(test, NULL, 0, sizeof(*c->u), PROT_READ | PROT_WRITE,
			     MAP_ANONYMOUS | MAP_PRIVATE, 0);
	if (!addr || addr >= TASK_SIZE)
		return -ENOMEM;
	c->u = (struct kcm_umem __user *)addr;
	c->mm = current->mm;

	c->s = kcm_session_alloc(2);
	if (!c->s || kunit_add_action_or_reset(test, kcm_wait_free_session, c->s))
		return -ENOMEM;
	c->s->kvm = c->kvm;
	c->s->backend = &kcm_fake_backend;
	c->s->role = KVM_COCO_MIG_ROLE_SOURCE;
	c->s->state = KVM_COCO_MIG_STATE_CREATED;
	c->s->priv = &c->f;
	c->f.bound = MAX_SCHEDULE_TIMEOUT;
	for (i = 0; i < KCM_W_NR; i++)
		init_completion(&c->f.waiting[i]);
	/* Runs before the session is freed. */
	if (kunit_add_action_or_reset(test, kcm_wait_cleanup, c))
		return -ENOMEM;

	/* EXCHANGE: no message in, none out. */
	if (copy_to_user(&c->u->xchg, &x, sizeof(x)))
		return -EFAULT;
	/* A batch of one page per stream (the fake reads none of it). */
	p.nr_pages = 1;
	p.buf_len = KCM_FAKE_PACKET;
	for (i = 0; i < 2; i++) {
		p.stream = i;
		p.buf_uaddr = (u64)(unsigned long)c->u->buf[i];
		if (copy_to_user(&c->u->pages[i], &p, sizeof(p)))
			return -EFAULT;
	}
	/* A target's ABORT: the token out. */
	b.out_len = KCM_FAKE_TOKEN;
	b.out_uaddr = (u64)(unsigned long)c->u->token;
	if (copy_to_user(&c->u->blob, &b, sizeof(b)))
		return -EFAULT;
	test->priv = c;
	return 0;
}

/* PACKAGE_PAGES, rather than RECEIVE_PAGES, on @stream. */
static void kcm_set_package(struct kunit *test, u32 stream)
{
	struct kcm_wait_ctx *c = test->priv;
	u64 gfns = (u64)(unsigned long)&c->u->gfn;

	KUNIT_ASSERT_EQ(test, put_user(gfns, &c->u->pages[stream].gfns_uaddr), 0);
}

/* PACKAGE_PAGES wrote back the bytes it made: room for a packet again. */
static void kcm_reset_buf_len(struct kunit *test, u32 stream)
{
	struct kcm_wait_ctx *c = test->priv;
	u64 len = KCM_FAKE_PACKET;

	KUNIT_ASSERT_EQ(test, put_user(len, &c->u->pages[stream].buf_len), 0);
}

static u32 kcm_user_done(struct kunit *test, u32 stream)
{
	struct kcm_wait_ctx *c = test->priv;
	u32 done;

	KUNIT_ASSERT_EQ(test, get_user(done, &c->u->pages[stream].done), 0);
	return done;
}

static void wait_agent_completes_exchange(struct kunit *test)
{
	struct kcm_wait_ctx *c = test->priv;
	struct kcm_thread *op, *agent;
	u32 round;

	c->f.waits[KCM_W_STREAM0] = true;
	op = kcm_start(test, kcm_run_exchange, 0);
	agent = kcm_start(test, kcm_run_agent, KCM_W_STREAM0);

	KUNIT_ASSERT_TRUE_MSG(test, kcm_joined(op), "the agent's wake-up did not end the wait");
	KUNIT_ASSERT_TRUE(test, kcm_joined(agent));
	KUNIT_EXPECT_EQ(test, agent->ret, 0);
	KUNIT_EXPECT_EQ(test, c->f.ret[KCM_W_STREAM0], 0);
	KUNIT_EXPECT_EQ(test, op->ret, 0);
	KUNIT_EXPECT_EQ(test, c->s->state, KVM_COCO_MIG_STATE_KEY_PENDING);
	KUNIT_ASSERT_EQ(test, get_user(round, &c->u->xchg.round), 0);
	KUNIT_EXPECT_EQ(test, round, 1);
}

/* Work done before the wait: 0 at once, whatever the bound. */
static void wait_work_done_before_returns_at_once(struct kunit *test)
{
	struct kcm_wait_ctx *c = test->priv;
	struct kcm_thread *op;

	c->f.waits[KCM_W_STREAM0] = true;
	c->f.done[KCM_W_STREAM0] = true;
	c->f.bound = 0;
	op = kcm_start(test, kcm_run_exchange, 0);
	KUNIT_ASSERT_TRUE(test, kcm_joined(op));
	KUNIT_EXPECT_EQ(test, op->ret, 0);
	KUNIT_EXPECT_EQ(test, c->s->state, KVM_COCO_MIG_STATE_KEY_PENDING);
}

/* CANCEL from another thread ends a waiting @op on stream 0, then cancels. */
static void kcm_check_cancel_interrupts(struct kunit *test,
					int (*op_fn)(struct kcm_thread *t))
{
	struct kcm_wait_ctx *c = test->priv;
	struct kcm_thread *op, *cancel;

	c->f.waits[KCM_W_STREAM0] = true;
	op = kcm_start(test, op_fn, 0);
	KUNIT_ASSERT_TRUE(test, wait_for_completion_timeout(&c->f.waiting[KCM_W_STREAM0],
							    KCM_TEST_SYNC));
	cancel = kcm_start(test, kcm_run_cancel, 0);

	KUNIT_ASSERT_TRUE_MSG(test, kcm_joined(cancel),
			      "CANCEL waited behind the operation that waits");
	KUNIT_EXPECT_EQ(test, cancel->ret, 0);
	KUNIT_ASSERT_TRUE(test, kcm_joined(op));
	KUNIT_EXPECT_EQ(test, c->f.ret[KCM_W_STREAM0], -ECANCELED);
	KUNIT_EXPECT_EQ(test, op->ret, -ECANCELED);
	KUNIT_EXPECT_EQ(test, c->s->state, KVM_COCO_MIG_STATE_CANCELLED);
	KUNIT_EXPECT_EQ(test, c->f.cancels, 1);
	/* The interruption is over: what runs next may wait again. */
	KUNIT_EXPECT_EQ(test, atomic_read(&c->s->interrupts), 0);
}

static void wait_cancel_interrupts_exchange(struct kunit *test)
{
	kcm_check_cancel_interrupts(test, kcm_run_exchange);
}

static void wait_cancel_interrupts_package(struct kunit *test)
{
	struct kcm_wait_ctx *c = test->priv;

	c->s->state = KVM_COCO_MIG_STATE_STREAMING;
	kcm_set_package(test, 0);
	kcm_check_cancel_interrupts(test, kcm_run_package);
	KUNIT_EXPECT_EQ(test, kcm_user_done(test, 0), 0);
}

/* A bound that passes with the work not done: ETIMEDOUT, FAILED, reaped. */
static void kcm_check_timeout(struct kunit *test, int (*op_fn)(struct kcm_thread *t))
{
	struct kcm_wait_ctx *c = test->priv;
	struct kcm_thread *op, *again;

	c->f.waits[KCM_W_STREAM0] = true;
	c->f.bound = 1;
	op = kcm_start(test, op_fn, 0);
	KUNIT_ASSERT_TRUE(test, kcm_joined(op));
	KUNIT_EXPECT_EQ(test, c->f.ret[KCM_W_STREAM0], -ETIMEDOUT);
	KUNIT_EXPECT_EQ(test, op->ret, -ETIMEDOUT);
	KUNIT_EXPECT_EQ(test, c->s->state, KVM_COCO_MIG_STATE_FAILED);
	/* The keys went once nothing ran (kcm_session_reap_locked()). */
	KUNIT_EXPECT_TRUE(test, c->s->reaped);
	KUNIT_EXPECT_EQ(test, c->f.end_streams, 1);
	/* Poisoned: the next call is refused before the backend runs. */
	kcm_reset_buf_len(test, 0);
	again = kcm_start(test, op_fn, 0);
	KUNIT_ASSERT_TRUE(test, kcm_joined(again));
	KUNIT_EXPECT_EQ(test, again->ret, -EIO);
}

static void wait_timeout_fails_exchange(struct kunit *test)
{
	kcm_check_timeout(test, kcm_run_exchange);
}

static void wait_timeout_fails_package(struct kunit *test)
{
	struct kcm_wait_ctx *c = test->priv;

	c->s->state = KVM_COCO_MIG_STATE_STREAMING;
	kcm_set_package(test, 0);
	kcm_check_timeout(test, kcm_run_package);
}

/* Tampering seen on one stream ends the wait of another: EIO. */
static void wait_failed_session_ends_wait(struct kunit *test)
{
	struct kcm_wait_ctx *c = test->priv;
	struct kcm_thread *op0, *op1;

	c->s->state = KVM_COCO_MIG_STATE_STREAMING;
	kcm_set_package(test, 0);
	kcm_set_package(test, 1);
	c->f.waits[KCM_W_STREAM0] = true;
	c->f.poison[KCM_W_STREAM1] = true;
	op0 = kcm_start(test, kcm_run_package, 0);
	KUNIT_ASSERT_TRUE(test, wait_for_completion_timeout(&c->f.waiting[KCM_W_STREAM0],
							    KCM_TEST_SYNC));
	op1 = kcm_start(test, kcm_run_package, 1);
	KUNIT_ASSERT_TRUE(test, kcm_joined(op1));
	KUNIT_EXPECT_EQ(test, op1->ret, -EBADMSG);

	KUNIT_ASSERT_TRUE_MSG(test, kcm_joined(op0),
			      "the session failed and stream 0 still waits");
	KUNIT_EXPECT_EQ(test, c->f.ret[KCM_W_STREAM0], -EIO);
	KUNIT_EXPECT_EQ(test, op0->ret, -EIO);
	KUNIT_EXPECT_EQ(test, c->s->state, KVM_COCO_MIG_STATE_FAILED);
	KUNIT_EXPECT_TRUE(test, c->s->reaped);
	KUNIT_EXPECT_EQ(test, c->f.end_streams, 1);
}

/* STATUS, while an EXCHANGE waits with the session's locks held. */
static void wait_status_does_not_block(struct kunit *test)
{
	struct kcm_wait_ctx *c = test->priv;
	struct kcm_thread *op, *status;

	c->f.waits[KCM_W_STREAM0] = true;
	op = kcm_start(test, kcm_run_exchange, 0);
	KUNIT_ASSERT_TRUE(test, wait_for_completion_timeout(&c->f.waiting[KCM_W_STREAM0],
							    KCM_TEST_SYNC));
	KUNIT_EXPECT_TRUE(test, mutex_is_locked(&c->s->lock));
	KUNIT_EXPECT_TRUE(test, rwsem_is_locked(&c->s->data_sem));

	status = kcm_start(test, kcm_run_status, 0);
	KUNIT_ASSERT_TRUE_MSG(test, kcm_joined(status),
			      "STATUS waited behind the operation that waits");
	KUNIT_EXPECT_EQ(test, status->st.state, KVM_COCO_MIG_STATE_CREATED);
	KUNIT_EXPECT_EQ(test, status->st.role, KVM_COCO_MIG_ROLE_SOURCE);
	KUNIT_EXPECT_EQ(test, status->st.backend, kcm_fake_backend.id);
	KUNIT_EXPECT_EQ(test, status->st.nr_streams, 2);
	KUNIT_EXPECT_EQ(test, status->st.vm, KVM_COCO_MIG_VM_RUNNABLE);
	KUNIT_EXPECT_FALSE(test, completion_done(&op->finished));

	kcm_work_done(c, KCM_W_STREAM0);
	KUNIT_ASSERT_TRUE(test, kcm_joined(op));
	KUNIT_EXPECT_EQ(test, op->ret, 0);
}

/* A PACKAGE_PAGES that waits holds up its own stream only. */
static void wait_other_stream_proceeds(struct kunit *test)
{
	struct kcm_wait_ctx *c = test->priv;
	struct kcm_thread *op0, *op1;

	c->s->state = KVM_COCO_MIG_STATE_STREAMING;
	kcm_set_package(test, 0);
	kcm_set_package(test, 1);
	c->f.waits[KCM_W_STREAM0] = true;
	op0 = kcm_start(test, kcm_run_package, 0);
	KUNIT_ASSERT_TRUE(test, wait_for_completion_timeout(&c->f.waiting[KCM_W_STREAM0],
							    KCM_TEST_SYNC));

	op1 = kcm_start(test, kcm_run_package, 1);
	KUNIT_ASSERT_TRUE_MSG(test, kcm_joined(op1),
			      "stream 1 waited behind stream 0's wait");
	KUNIT_EXPECT_EQ(test, op1->ret, 0);
	KUNIT_EXPECT_EQ(test, kcm_user_done(test, 1), 1);
	/* Nothing did stream 0's work: it still waits. */
	KUNIT_EXPECT_FALSE(test, completion_done(&op0->finished));

	kcm_work_done(c, KCM_W_STREAM0);
	KUNIT_ASSERT_TRUE(test, kcm_joined(op0));
	KUNIT_EXPECT_EQ(test, op0->ret, 0);
	KUNIT_EXPECT_EQ(test, kcm_user_done(test, 0), 1);
	KUNIT_EXPECT_EQ(test, atomic64_read(&c->s->pages), 2);
}

/*
 * A target's ABORT ends a RECEIVE_PAGES that waits, then waits itself for
 * its token (the interruption is over once it holds the locks), and kills
 * the VM.
 */
static void wait_abort_interrupts_target(struct kunit *test)
{
	struct kcm_wait_ctx *c = test->priv;
	struct kcm_thread *op, *agent, *abort;
	u8 token[KCM_FAKE_TOKEN], want[KCM_FAKE_TOKEN];
	u32 len;

	c->s->role = KVM_COCO_MIG_ROLE_TARGET;
	c->s->state = KVM_COCO_MIG_STATE_STREAMING;
	c->f.waits[KCM_W_STREAM0] = true;
	c->f.waits[KCM_W_ABORT] = true;
	op = kcm_start(test, kcm_run_receive, 0);
	KUNIT_ASSERT_TRUE(test, wait_for_completion_timeout(&c->f.waiting[KCM_W_STREAM0],
							    KCM_TEST_SYNC));
	agent = kcm_start(test, kcm_run_agent, KCM_W_ABORT);
	abort = kcm_start(test, kcm_run_abort, 0);

	KUNIT_ASSERT_TRUE_MSG(test, kcm_joined(abort),
			      "ABORT waited behind the RECEIVE_PAGES that waits");
	KUNIT_EXPECT_EQ(test, abort->ret, 0);
	KUNIT_ASSERT_TRUE(test, kcm_joined(op));
	KUNIT_EXPECT_EQ(test, op->ret, -ECANCELED);
	KUNIT_EXPECT_EQ(test, kcm_user_done(test, 0), 0);
	KUNIT_EXPECT_EQ(test, c->f.ret[KCM_W_ABORT], 0);
	KUNIT_ASSERT_TRUE(test, kcm_joined(agent));
	KUNIT_EXPECT_EQ(test, agent->ret, 0);

	KUNIT_EXPECT_EQ(test, c->s->state, KVM_COCO_MIG_STATE_FAILED);
	KUNIT_EXPECT_TRUE(test, c->kvm->vm_dead);
	KUNIT_ASSERT_EQ(test, get_user(len, &c->u->blob.out_len), 0);
	KUNIT_EXPECT_EQ(test, len, KCM_FAKE_TOKEN);
	KUNIT_ASSERT_EQ(test, copy_from_user(token, c->u->token, sizeof(token)), 0);
	memset(want, 0xab, sizeof(want));
	KUNIT_EXPECT_MEMEQ(test, token, want, sizeof(want));
}

/*
 * A failed target's ABORT waits for its token: a session that failed
 * before the wait does not cut it short (only a failure during it does).
 */
static void wait_in_failed_session(struct kunit *test)
{
	struct kcm_wait_ctx *c = test->priv;
	struct kcm_thread *agent, *abort;

	c->s->role = KVM_COCO_MIG_ROLE_TARGET;
	c->s->state = KVM_COCO_MIG_STATE_FAILED;
	c->f.waits[KCM_W_ABORT] = true;
	agent = kcm_start(test, kcm_run_agent, KCM_W_ABORT);
	abort = kcm_start(test, kcm_run_abort, 0);

	KUNIT_ASSERT_TRUE(test, kcm_joined(abort));
	KUNIT_EXPECT_EQ(test, c->f.ret[KCM_W_ABORT], 0);
	KUNIT_EXPECT_EQ(test, abort->ret, 0);
	KUNIT_ASSERT_TRUE(test, kcm_joined(agent));
	KUNIT_EXPECT_EQ(test, agent->ret, 0);
	KUNIT_EXPECT_EQ(test, c->s->state, KVM_COCO_MIG_STATE_FAILED);
	KUNIT_EXPECT_TRUE(test, c->kvm->vm_dead);
}

/* A fatal signal ends the wait; the session is as it was. */
static void wait_fatal_signal_interrupts(struct kunit *test)
{
	struct kcm_wait_ctx *c = test->priv;
	struct kcm_thread *op;

	c->f.waits[KCM_W_STREAM0] = true;
	op = kcm_start(test, kcm_run_exchange, 0);
	KUNIT_ASSERT_TRUE(test, wait_for_completion_timeout(&c->f.waiting[KCM_W_STREAM0],
							    KCM_TEST_SYNC));
	send_sig(SIGKILL, op->task, 1);
	KUNIT_ASSERT_TRUE_MSG(test, kcm_joined(op), "a fatal signal did not end the wait");
	KUNIT_EXPECT_EQ(test, c->f.ret[KCM_W_STREAM0], -EINTR);
	KUNIT_EXPECT_EQ(test, op->ret, -EINTR);
	KUNIT_EXPECT_EQ(test, c->s->state, KVM_COCO_MIG_STATE_CREATED);
}

static struct kunit_case kcm_wait_cases[] = {
	KUNIT_CASE(wait_agent_completes_exchange),
	KUNIT_CASE(wait_work_done_before_returns_at_once),
	KUNIT_CASE(wait_cancel_interrupts_exchange),
	KUNIT_CASE(wait_cancel_interrupts_package),
	KUNIT_CASE(wait_timeout_fails_exchange),
	KUNIT_CASE(wait_timeout_fails_package),
	KUNIT_CASE(wait_failed_session_ends_wait),
	KUNIT_CASE(wait_status_does_not_block),
	KUNIT_CASE(wait_other_stream_proceeds),
	KUNIT_CASE(wait_abort_interrupts_target),
	KUNIT_CASE(wait_in_failed_session),
	KUNIT_CASE(wait_fatal_signal_interrupts),
	{}
};

static struct kunit_suite kcm_wait_suite = {
	.name = "kvm_coco_mig_wait",
	.init = kcm_wait_init,
	.test_cases = kcm_wait_cases,
};

kunit_test_suite(kcm_wait_suite);
