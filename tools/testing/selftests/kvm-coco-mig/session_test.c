// SPDX-License-Identifier: GPL-2.0
/*
 * kvm-coco-mig session creation, binding and lifetime.
 *
 * Every rule of KVM_COCO_MIG_CREATE_SESSION and KVM_COCO_MIG_STATUS is
 * checked with its exact errno, and a refused call must leave nothing bound
 * to the VM: each negative test ends by creating a session successfully.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/kvm_coco_mig.h>

#include "kvm_util.h"
#include "kselftest_harness.h"

#define KCM_DEV "/dev/kvm-coco-mig"

static int kcm_open_dev(void)
{
	int fd = open(KCM_DEV, O_RDWR | O_CLOEXEC);

	TEST_ASSERT(fd >= 0, "open(%s): %s (is kvm_coco_mig loaded?)",
		    KCM_DEV, strerror(errno));
	return fd;
}

/* Returns the session fd, or -errno. */
static int __kcm_create(int dev, int vm_fd, uint32_t role,
			struct kvm_coco_mig_create *out)
{
	struct kvm_coco_mig_create args = {
		.vm_fd = vm_fd,
		.role = role,
	};
	int fd;

	fd = ioctl(dev, KVM_COCO_MIG_CREATE_SESSION, &args);
	if (out)
		*out = args;
	return fd < 0 ? -errno : fd;
}

static int kcm_create(int dev, int vm_fd, uint32_t role)
{
	int fd = __kcm_create(dev, vm_fd, role, NULL);

	TEST_ASSERT(fd >= 0, "KVM_COCO_MIG_CREATE_SESSION: %s", strerror(-fd));
	return fd;
}

static int __kcm_status(int sfd, struct kvm_coco_mig_status *st)
{
	memset(st, 0, sizeof(*st));
	return ioctl(sfd, KVM_COCO_MIG_STATUS, st) ? -errno : 0;
}

static bool kcm_sw_vm_supported(void)
{
	return kvm_has_cap(KVM_CAP_VM_TYPES) &&
	       (kvm_check_cap(KVM_CAP_VM_TYPES) & BIT(KVM_X86_SW_PROTECTED_VM));
}

/* A raw SW-protected VM fd, without the selftest library's bookkeeping. */
static int kcm_raw_sw_vm(int kvm_fd)
{
	int vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, KVM_X86_SW_PROTECTED_VM);

	TEST_ASSERT(vm_fd >= 0, "KVM_CREATE_VM(SW_PROTECTED): %s",
		    strerror(errno));
	return vm_fd;
}

/*
 * Per-test timeouts, in seconds: 3x the quiet time for a busy host, 4x
 * that (the debug kernel under QEMU TCG; quiet times are upper estimates).
 * A test of one to three VMs without memory and a few hundred ioctls,
 * quiet: at most 5 s.
 */
#define SMALL_TIMEOUT	60

FIXTURE(session) {
	int dev;
	struct kvm_vm *vm;
};

FIXTURE_SETUP(session)
{
	if (!kcm_sw_vm_supported())
		SKIP(return, "KVM_X86_SW_PROTECTED_VM is not supported");
	self->dev = kcm_open_dev();
	self->vm = vm_create_barebones_type(KVM_X86_SW_PROTECTED_VM);
}

FIXTURE_TEARDOWN(session)
{
	if (self->vm)
		kvm_vm_free(self->vm);
	if (self->dev > 0)
		close(self->dev);
}

/* The VM takes a session again: whatever came before left nothing bound. */
static void kcm_assert_vm_free_for_session(int dev, int vm_fd)
{
	int sfd = kcm_create(dev, vm_fd, KVM_COCO_MIG_ROLE_SOURCE);

	close(sfd);
}

TEST_F_TIMEOUT(session, api_version, SMALL_TIMEOUT)
{
	EXPECT_EQ(KVM_COCO_MIG_API_VERSION,
		  ioctl(self->dev, KVM_COCO_MIG_GET_API_VERSION, 0));
	EXPECT_EQ(-1, ioctl(self->dev, KVM_COCO_MIG_GET_API_VERSION, 1));
	EXPECT_EQ(EINVAL, errno);
}

static int __kcm_caps(int dev, struct kvm_coco_mig_caps *c)
{
	return ioctl(dev, KVM_COCO_MIG_GET_CAPS, c) ? -errno : 0;
}

/* The query, then the entries: the sw backend and its limits. */
TEST_F_TIMEOUT(session, caps_report_the_sw_backend, SMALL_TIMEOUT)
{
	struct kvm_coco_mig_backend_caps e[4];
	struct kvm_coco_mig_caps c = {};
	uint32_t i, n;

	ASSERT_EQ(0, __kcm_caps(self->dev, &c));
	EXPECT_EQ(KVM_COCO_MIG_API_VERSION, c.api_version);
	EXPECT_EQ(sizeof(e[0]), c.entry_size);
	n = c.nr_backends;
	ASSERT_LE(1, n);
	ASSERT_GE(ARRAY_SIZE(e), n);

	memset(e, 0xa5, sizeof(e));
	c.nr_backends = ARRAY_SIZE(e);
	c.entry_size = sizeof(e[0]);
	c.backends_uaddr = (uintptr_t)e;
	ASSERT_EQ(0, __kcm_caps(self->dev, &c));
	EXPECT_EQ(n, c.nr_backends);
	for (i = 0; i < n; i++)
		if (e[i].backend == KVM_COCO_MIG_BACKEND_SW)
			break;
	ASSERT_LT(i, n);
	EXPECT_EQ(KVM_X86_SW_PROTECTED_VM, e[i].vm_type);
	EXPECT_EQ(KVM_COCO_MIG_F_DIRTY_TRACKING | KVM_COCO_MIG_F_ZERO_PAGES |
		  KVM_COCO_MIG_F_MUTUAL_AUTH | KVM_COCO_MIG_F_SHARED_DIRTY |
		  KVM_COCO_MIG_F_VCPU_RECORDS, e[i].features);
	EXPECT_EQ(sizeof(struct kvm_coco_mig_pkt_hdr) + 4096 + 16, e[i].max_packet);
	EXPECT_EQ(KVM_COCO_MIG_MAX_BATCH, e[i].max_batch);
	EXPECT_EQ(KVM_COCO_MIG_MAX_BLOB, e[i].max_blob);
	EXPECT_LT(KVM_COCO_MIG_MAX_BLOB, e[i].max_final);
	EXPECT_EQ(KVM_COCO_MIG_MAX_STREAMS, e[i].max_streams);
	EXPECT_EQ(KVM_COCO_MIG_MAX_VCPU_STATE, e[i].max_vcpu_state);
	EXPECT_EQ(sizeof(struct kvm_coco_mig_pkt_hdr) + KVM_COCO_MIG_MAX_VCPU_STATE + 16,
		  e[i].max_vcpu_record);
	EXPECT_EQ(0, e[i].pad);
	for (n = 0; n < ARRAY_SIZE(e[i].reserved); n++)
		EXPECT_EQ(0, e[i].reserved[n]);
	/* Entries past the number reported are left alone. */
	EXPECT_EQ(0xa5a5a5a5u, e[c.nr_backends].backend);
}

/*
 * Another entry size: a smaller one (an older VMM) gets the fields it
 * knows and nothing past them; a larger one (a newer VMM) gets the rest
 * zeroed. Fewer entries than there are: only those, and the number.
 */
TEST_F_TIMEOUT(session, caps_in_the_callers_entry_size, SMALL_TIMEOUT)
{
	uint8_t buf[2 * 128];
	struct kvm_coco_mig_backend_caps *e = (void *)buf;
	struct kvm_coco_mig_caps c = {
		.nr_backends = 1, .entry_size = 8, .backends_uaddr = (uintptr_t)buf,
	};
	uint32_t i;

	memset(buf, 0xa5, sizeof(buf));
	ASSERT_EQ(0, __kcm_caps(self->dev, &c));
	EXPECT_LE(1, c.nr_backends);
	EXPECT_NE(0, e->backend);
	EXPECT_NE(0, e->vm_type);
	for (i = 8; i < sizeof(buf); i++)
		ASSERT_EQ(0xa5, buf[i]) TH_LOG("byte %u written", i);

	memset(buf, 0xa5, sizeof(buf));
	c = (struct kvm_coco_mig_caps){
		.nr_backends = 1, .entry_size = 128, .backends_uaddr = (uintptr_t)buf,
	};
	ASSERT_EQ(0, __kcm_caps(self->dev, &c));
	EXPECT_NE(0, e->max_packet);
	for (i = sizeof(*e); i < 128; i++)
		ASSERT_EQ(0, buf[i]) TH_LOG("byte %u not zeroed", i);
	for (i = 128; i < sizeof(buf); i++)
		ASSERT_EQ(0xa5, buf[i]) TH_LOG("byte %u written", i);
}

TEST_F_TIMEOUT(session, caps_reject_bad_arguments, SMALL_TIMEOUT)
{
	struct kvm_coco_mig_backend_caps e[4];
	struct kvm_coco_mig_caps c;
	int i, bit;

	for (bit = 0; bit < 32; bit++) {
		c = (struct kvm_coco_mig_caps){ .flags = 1u << bit };
		EXPECT_EQ(-EINVAL, __kcm_caps(self->dev, &c));
	}
	for (i = 0; i < ARRAY_SIZE(c.reserved); i++) {
		for (bit = 0; bit < 64; bit++) {
			c = (struct kvm_coco_mig_caps){};
			c.reserved[i] = 1ull << bit;
			EXPECT_EQ(-EINVAL, __kcm_caps(self->dev, &c))
				TH_LOG("reserved[%d] bit %d", i, bit);
		}
	}
	c = (struct kvm_coco_mig_caps){
		.nr_backends = 1, .entry_size = 7, .backends_uaddr = (uintptr_t)e,
	};
	EXPECT_EQ(-EINVAL, __kcm_caps(self->dev, &c));
	c.entry_size = 4097;
	EXPECT_EQ(-EINVAL, __kcm_caps(self->dev, &c));
	c.entry_size = sizeof(e[0]);
	c.backends_uaddr = 0;
	EXPECT_EQ(-EFAULT, __kcm_caps(self->dev, &c));
	EXPECT_EQ(-1, ioctl(self->dev, KVM_COCO_MIG_GET_CAPS, NULL));
	EXPECT_EQ(EFAULT, errno);
}

TEST_F_TIMEOUT(session, create_each_role, SMALL_TIMEOUT)
{
	static const uint32_t roles[] = {
		KVM_COCO_MIG_ROLE_SOURCE, KVM_COCO_MIG_ROLE_TARGET,
	};
	struct kvm_coco_mig_create out;
	struct kvm_coco_mig_status st;
	int i, j, sfd;

	for (i = 0; i < 2; i++) {
		sfd = __kcm_create(self->dev, self->vm->fd, roles[i], &out);
		ASSERT_LE(0, sfd);
		EXPECT_EQ(KVM_COCO_MIG_BACKEND_SW, out.backend);
		EXPECT_EQ(FD_CLOEXEC, fcntl(sfd, F_GETFD) & FD_CLOEXEC);
		EXPECT_EQ(O_RDWR, fcntl(sfd, F_GETFL) & O_ACCMODE);

		ASSERT_EQ(0, __kcm_status(sfd, &st));
		EXPECT_EQ(KVM_COCO_MIG_STATE_CREATED, st.state);
		EXPECT_EQ(roles[i], st.role);
		EXPECT_EQ(KVM_COCO_MIG_BACKEND_SW, st.backend);
		EXPECT_EQ(0, st.flags);
		for (j = 0; j < ARRAY_SIZE(st.reserved); j++)
			EXPECT_EQ(0, st.reserved[j]);
		close(sfd);
	}
}

TEST_F_TIMEOUT(session, second_session_is_busy, SMALL_TIMEOUT)
{
	int sfd = kcm_create(self->dev, self->vm->fd, KVM_COCO_MIG_ROLE_SOURCE);
	int dup_vm = dup(self->vm->fd);

	EXPECT_EQ(-EBUSY, __kcm_create(self->dev, self->vm->fd,
				       KVM_COCO_MIG_ROLE_SOURCE, NULL));
	EXPECT_EQ(-EBUSY, __kcm_create(self->dev, self->vm->fd,
				       KVM_COCO_MIG_ROLE_TARGET, NULL));
	/* Another fd for the same VM is the same VM. */
	EXPECT_EQ(-EBUSY, __kcm_create(self->dev, dup_vm,
				       KVM_COCO_MIG_ROLE_SOURCE, NULL));
	close(sfd);
	kcm_assert_vm_free_for_session(self->dev, dup_vm);
	close(dup_vm);
}

TEST_F_TIMEOUT(session, sessions_on_two_vms, SMALL_TIMEOUT)
{
	struct kvm_vm *vm2 = vm_create_barebones_type(KVM_X86_SW_PROTECTED_VM);
	int s1 = kcm_create(self->dev, self->vm->fd, KVM_COCO_MIG_ROLE_SOURCE);
	int s2 = kcm_create(self->dev, vm2->fd, KVM_COCO_MIG_ROLE_TARGET);

	close(s1);
	close(s2);
	kvm_vm_free(vm2);
}

TEST_F_TIMEOUT(session, refuses_non_vm_fds, SMALL_TIMEOUT)
{
	struct kvm_vcpu *vcpu = __vm_vcpu_add(self->vm, 0);
	int null_fd = open("/dev/null", O_RDWR);
	int kvm_fd = open_kvm_dev_path_or_exit();
	int sfd;

	ASSERT_LE(0, null_fd);
	EXPECT_EQ(-EBADF, __kcm_create(self->dev, -1, KVM_COCO_MIG_ROLE_SOURCE, NULL));
	EXPECT_EQ(-EBADF, __kcm_create(self->dev, 1 << 20, KVM_COCO_MIG_ROLE_SOURCE, NULL));
	EXPECT_EQ(-EBADF, __kcm_create(self->dev, null_fd, KVM_COCO_MIG_ROLE_SOURCE, NULL));
	EXPECT_EQ(-EBADF, __kcm_create(self->dev, kvm_fd, KVM_COCO_MIG_ROLE_SOURCE, NULL));
	EXPECT_EQ(-EBADF, __kcm_create(self->dev, vcpu->fd, KVM_COCO_MIG_ROLE_SOURCE, NULL));
	EXPECT_EQ(-EBADF, __kcm_create(self->dev, self->dev, KVM_COCO_MIG_ROLE_SOURCE, NULL));

	sfd = kcm_create(self->dev, self->vm->fd, KVM_COCO_MIG_ROLE_SOURCE);
	/* A session fd is not a VM fd either (and the VM stays busy). */
	EXPECT_EQ(-EBADF, __kcm_create(self->dev, sfd, KVM_COCO_MIG_ROLE_SOURCE, NULL));
	close(sfd);

	close(kvm_fd);
	close(null_fd);
	kcm_assert_vm_free_for_session(self->dev, self->vm->fd);
}

TEST_F_TIMEOUT(session, refuses_non_confidential_vm, SMALL_TIMEOUT)
{
	struct kvm_vm *plain = vm_create_barebones();

	EXPECT_EQ(-EINVAL, __kcm_create(self->dev, plain->fd,
					KVM_COCO_MIG_ROLE_SOURCE, NULL));
	kvm_vm_free(plain);
}

TEST_F_TIMEOUT(session, rejects_bad_role, SMALL_TIMEOUT)
{
	static const uint32_t bad[] = { 0, 3, 0x100, 0x80000000u, 0xffffffffu };
	int i;

	for (i = 0; i < ARRAY_SIZE(bad); i++)
		EXPECT_EQ(-EINVAL, __kcm_create(self->dev, self->vm->fd, bad[i], NULL))
			TH_LOG("role %#x", bad[i]);
	kcm_assert_vm_free_for_session(self->dev, self->vm->fd);
}

TEST_F_TIMEOUT(session, rejects_every_flag_bit, SMALL_TIMEOUT)
{
	struct kvm_coco_mig_create args;
	int bit;

	for (bit = 0; bit < 32; bit++) {
		memset(&args, 0, sizeof(args));
		args.vm_fd = self->vm->fd;
		args.role = KVM_COCO_MIG_ROLE_SOURCE;
		args.flags = 1u << bit;
		EXPECT_EQ(-1, ioctl(self->dev, KVM_COCO_MIG_CREATE_SESSION, &args))
			TH_LOG("flag bit %d", bit);
		EXPECT_EQ(EINVAL, errno);
	}
	kcm_assert_vm_free_for_session(self->dev, self->vm->fd);
}

TEST_F_TIMEOUT(session, rejects_every_reserved_bit, SMALL_TIMEOUT)
{
	struct kvm_coco_mig_create args;
	int i, bit;

	for (i = 0; i < ARRAY_SIZE(args.reserved); i++) {
		for (bit = 0; bit < 64; bit++) {
			memset(&args, 0, sizeof(args));
			args.vm_fd = self->vm->fd;
			args.role = KVM_COCO_MIG_ROLE_TARGET;
			args.reserved[i] = 1ull << bit;
			EXPECT_EQ(-1, ioctl(self->dev, KVM_COCO_MIG_CREATE_SESSION, &args))
				TH_LOG("reserved[%d] bit %d", i, bit);
			EXPECT_EQ(EINVAL, errno);
		}
	}
	kcm_assert_vm_free_for_session(self->dev, self->vm->fd);
}

TEST_F_TIMEOUT(session, status_rejects_every_flag_bit, SMALL_TIMEOUT)
{
	int sfd = kcm_create(self->dev, self->vm->fd, KVM_COCO_MIG_ROLE_SOURCE);
	struct kvm_coco_mig_status st;
	int bit;

	for (bit = 0; bit < 32; bit++) {
		memset(&st, 0, sizeof(st));
		st.flags = 1u << bit;
		EXPECT_EQ(-1, ioctl(sfd, KVM_COCO_MIG_STATUS, &st));
		EXPECT_EQ(EINVAL, errno);
	}
	close(sfd);
}

TEST_F_TIMEOUT(session, bad_user_pointers, SMALL_TIMEOUT)
{
	long page = getpagesize();
	struct kvm_coco_mig_create *ro;
	int sfd;

	EXPECT_EQ(-1, ioctl(self->dev, KVM_COCO_MIG_CREATE_SESSION, NULL));
	EXPECT_EQ(EFAULT, errno);

	/* Readable but not writable: refused when writing @backend back. */
	ro = mmap(NULL, page, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	ro->vm_fd = self->vm->fd;
	ro->role = KVM_COCO_MIG_ROLE_SOURCE;
	ASSERT_EQ(0, mprotect(ro, page, PROT_READ));
	EXPECT_EQ(-1, ioctl(self->dev, KVM_COCO_MIG_CREATE_SESSION, ro));
	EXPECT_EQ(EFAULT, errno);
	munmap(ro, page);

	sfd = kcm_create(self->dev, self->vm->fd, KVM_COCO_MIG_ROLE_SOURCE);
	EXPECT_EQ(-1, ioctl(sfd, KVM_COCO_MIG_STATUS, NULL));
	EXPECT_EQ(EFAULT, errno);
	close(sfd);
	kcm_assert_vm_free_for_session(self->dev, self->vm->fd);
}

TEST_F_TIMEOUT(session, unknown_ioctls, SMALL_TIMEOUT)
{
	int sfd = kcm_create(self->dev, self->vm->fd, KVM_COCO_MIG_ROLE_SOURCE);

	EXPECT_EQ(-1, ioctl(self->dev, _IO(KVM_COCO_MIG_IO, 0x7f), 0));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(self->dev, KVM_COCO_MIG_STATUS, 0));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(sfd, KVM_COCO_MIG_CREATE_SESSION, 0));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(sfd, KVM_CREATE_VCPU, 0));
	EXPECT_EQ(ENOTTY, errno);
	close(sfd);
}

/* Lifetime tests use raw VM fds, so that closing them is the only reference. */
FIXTURE(lifetime) {
	int dev;
	int kvm_fd;
};

FIXTURE_SETUP(lifetime)
{
	if (!kcm_sw_vm_supported())
		SKIP(return, "KVM_X86_SW_PROTECTED_VM is not supported");
	self->dev = kcm_open_dev();
	self->kvm_fd = open_kvm_dev_path_or_exit();
}

FIXTURE_TEARDOWN(lifetime)
{
	if (self->kvm_fd > 0)
		close(self->kvm_fd);
	if (self->dev > 0)
		close(self->dev);
}

TEST_F_TIMEOUT(lifetime, close_vm_first, SMALL_TIMEOUT)
{
	struct kvm_coco_mig_status st;
	int vm_fd = kcm_raw_sw_vm(self->kvm_fd);
	int sfd = kcm_create(self->dev, vm_fd, KVM_COCO_MIG_ROLE_SOURCE);

	close(vm_fd);
	/* The session keeps the VM: it still answers. */
	ASSERT_EQ(0, __kcm_status(sfd, &st));
	EXPECT_EQ(KVM_COCO_MIG_STATE_CREATED, st.state);
	close(sfd);
}

TEST_F_TIMEOUT(lifetime, close_session_first, SMALL_TIMEOUT)
{
	int vm_fd = kcm_raw_sw_vm(self->kvm_fd);
	int sfd = kcm_create(self->dev, vm_fd, KVM_COCO_MIG_ROLE_SOURCE);

	close(sfd);
	/* A source VM still works and takes a new session. */
	EXPECT_LE(0, ioctl(vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY));
	kcm_assert_vm_free_for_session(self->dev, vm_fd);
	close(vm_fd);
}

TEST_F_TIMEOUT(lifetime, close_target_session_first, SMALL_TIMEOUT)
{
	int vm_fd = kcm_raw_sw_vm(self->kvm_fd);
	int sfd = kcm_create(self->dev, vm_fd, KVM_COCO_MIG_ROLE_TARGET);

	close(sfd);
	/*
	 * A target closed before its FINISH may hold part of a guest: its VM
	 * is dead, to KVM and to a new session alike.
	 */
	EXPECT_EQ(-1, ioctl(vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY));
	EXPECT_EQ(EIO, errno);
	EXPECT_EQ(-EIO, __kcm_create(self->dev, vm_fd,
				     KVM_COCO_MIG_ROLE_TARGET, NULL));
	close(vm_fd);
}

TEST_F_TIMEOUT(lifetime, close_device_first, SMALL_TIMEOUT)
{
	int vm_fd = kcm_raw_sw_vm(self->kvm_fd);
	int sfd = kcm_create(self->dev, vm_fd, KVM_COCO_MIG_ROLE_SOURCE);
	struct kvm_coco_mig_status st;

	close(self->dev);
	self->dev = -1;
	close(vm_fd);
	EXPECT_EQ(0, __kcm_status(sfd, &st));
	close(sfd);
}

/*
 * Create/close cycles in every order; kmemleak, scanned after the run, sees
 * anything a cycle leaks. VM creation is slow under TCG with KASAN, hence
 * 200 cycles and a long timeout; quiet: at most 50 s.
 */
TEST_F_TIMEOUT(lifetime, many_cycles, 600)
{
	int i, vm_fd, sfd;

	for (i = 0; i < 200; i++) {
		vm_fd = kcm_raw_sw_vm(self->kvm_fd);
		sfd = kcm_create(self->dev, vm_fd, i & 1 ? KVM_COCO_MIG_ROLE_TARGET :
					       KVM_COCO_MIG_ROLE_SOURCE);
		if (i & 2) {
			close(vm_fd);
			close(sfd);
		} else {
			close(sfd);
			close(vm_fd);
		}
	}
}

#define RACERS		3
#define RACE_WINS	1000	/* all racers race until this many creations won */

/*
 * Racers share @open, the number of sessions of the VM they hold, and
 * publish in @tries how many attempts each has finished.
 */
struct kcm_race {
	int dev;
	int vm_fd;
	int open;
	int overlaps;		/* a session created while another was open */
	int wins;
	int tries[RACERS];
	bool done[RACERS];
};

struct kcm_racer {
	struct kcm_race *race;
	pthread_t thread;
	int id;
	int won;
	int busy;
};

/*
 * @r won, with session @sfd: hold it while probing. The winner's own
 * second creation is refused, and so is every attempt of the others that
 * starts after the win: the winner keeps the session until each other
 * racer has finished two more attempts (the second began after the win),
 * or has finished altogether. Polls, no deadline: a racer that stopped is
 * ended by the test's timeout.
 */
static void kcm_race_hold(struct kcm_racer *r, int sfd)
{
	struct kcm_race *race = r->race;
	struct kvm_coco_mig_status st;
	int snap[RACERS], j, fd;

	for (j = 0; j < RACERS; j++)
		snap[j] = __atomic_load_n(&race->tries[j], __ATOMIC_ACQUIRE);
	fd = __kcm_create(race->dev, race->vm_fd, KVM_COCO_MIG_ROLE_TARGET, NULL);
	if (fd >= 0) {
		__atomic_fetch_add(&race->overlaps, 1, __ATOMIC_SEQ_CST);
		close(fd);
	} else {
		TEST_ASSERT(fd == -EBUSY, "create while holding: %s", strerror(-fd));
	}
	TEST_ASSERT(!__kcm_status(sfd, &st), "STATUS: %s", strerror(errno));
	TEST_ASSERT_EQ(st.state, KVM_COCO_MIG_STATE_CREATED);

	for (j = 0; j < RACERS; j++) {
		if (j == r->id)
			continue;
		while (__atomic_load_n(&race->tries[j], __ATOMIC_ACQUIRE) < snap[j] + 2 &&
		       !__atomic_load_n(&race->done[j], __ATOMIC_ACQUIRE))
			sched_yield();
	}
}

static void *kcm_race_thread(void *arg)
{
	struct kcm_racer *r = arg;
	struct kcm_race *race = r->race;
	int i, fd;

	for (i = 0; __atomic_load_n(&race->wins, __ATOMIC_ACQUIRE) < RACE_WINS; i++) {
		fd = __kcm_create(race->dev, race->vm_fd, KVM_COCO_MIG_ROLE_SOURCE, NULL);
		if (fd >= 0) {
			r->won++;
			__atomic_fetch_add(&race->wins, 1, __ATOMIC_SEQ_CST);
			/*
			 * Counted open from after it was created to before it
			 * is closed (within its binding): whichever of two
			 * sessions open at once counts itself second sees the
			 * other, as the first holds on until then.
			 */
			if (__atomic_fetch_add(&race->open, 1, __ATOMIC_SEQ_CST))
				__atomic_fetch_add(&race->overlaps, 1, __ATOMIC_SEQ_CST);
			else
				kcm_race_hold(r, fd);
			__atomic_fetch_sub(&race->open, 1, __ATOMIC_SEQ_CST);
			close(fd);
		} else {
			TEST_ASSERT(fd == -EBUSY, "racing create: %s", strerror(-fd));
			r->busy++;
		}
		__atomic_store_n(&race->tries[r->id], i + 1, __ATOMIC_RELEASE);
	}
	__atomic_store_n(&race->done[r->id], true, __ATOMIC_RELEASE);
	return NULL;
}

/*
 * Threads racing to bind one VM: each call either wins or gets EBUSY, and
 * never do two sessions of the VM exist at once. Each winner holds its
 * session until the other racers have tried again (see kcm_race_hold()),
 * so a VM that took a second session fails at the first win; when no
 * session is held, the racers' creations run concurrently, so a check of
 * the binding that is not atomic with the binding shows as two winners
 * holding at once. All race until RACE_WINS creations were won in all: a
 * VM that no racer can bind is ended by the timeout. Quiet: at most 20 s
 * (1000 sessions created, the losers' tens of thousands of EBUSY attempts
 * meanwhile, on two CPUs; 17 s measured beside another QEMU boot).
 */
TEST_F_TIMEOUT(lifetime, racing_creates, 240)
{
	struct kcm_race race = { .dev = self->dev };
	struct kcm_racer r[RACERS];
	int i;

	race.vm_fd = kcm_raw_sw_vm(self->kvm_fd);
	for (i = 0; i < RACERS; i++) {
		r[i] = (struct kcm_racer){ .race = &race, .id = i };
		ASSERT_EQ(0, pthread_create(&r[i].thread, NULL, kcm_race_thread, &r[i]));
	}
	for (i = 0; i < RACERS; i++) {
		ASSERT_EQ(0, pthread_join(r[i].thread, NULL));
		ksft_print_msg("racer %d: %d won, %d busy\n", i, r[i].won, r[i].busy);
	}
	EXPECT_EQ(0, race.overlaps)
		TH_LOG("%d sessions created while another was open", race.overlaps);
	kcm_assert_vm_free_for_session(self->dev, race.vm_fd);
	close(race.vm_fd);
}

TEST_HARNESS_MAIN
