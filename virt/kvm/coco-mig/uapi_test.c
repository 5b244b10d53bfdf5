// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for the checks on userspace arguments (suite kvm_coco_mig_uapi).
 */
#include <kunit/test.h>

#include "coco_mig.h"

static void kcm_create_valid_args(struct kvm_coco_mig_create *args, u32 role)
{
	memset(args, 0, sizeof(*args));
	args->vm_fd = 3;
	args->role = role;
}

static void create_args_check_accepts_both_roles(struct kunit *test)
{
	struct kvm_coco_mig_create args;

	kcm_create_valid_args(&args, KVM_COCO_MIG_ROLE_SOURCE);
	KUNIT_EXPECT_EQ(test, kcm_create_args_check(&args), 0);
	kcm_create_valid_args(&args, KVM_COCO_MIG_ROLE_TARGET);
	KUNIT_EXPECT_EQ(test, kcm_create_args_check(&args), 0);
}

static void create_args_check_ignores_output_backend(struct kunit *test)
{
	struct kvm_coco_mig_create args;

	kcm_create_valid_args(&args, KVM_COCO_MIG_ROLE_SOURCE);
	args.backend = 0xdeadbeef;
	KUNIT_EXPECT_EQ(test, kcm_create_args_check(&args), 0);
}

static void create_args_check_rejects_bad_role(struct kunit *test)
{
	static const u32 bad[] = { 0, 3, 4, 0x80000000, U32_MAX };
	struct kvm_coco_mig_create args;
	int i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		kcm_create_valid_args(&args, bad[i]);
		KUNIT_EXPECT_EQ_MSG(test, kcm_create_args_check(&args), -EINVAL,
				    "role %#x", bad[i]);
	}
}

static void create_args_check_rejects_every_flag(struct kunit *test)
{
	struct kvm_coco_mig_create args;
	int bit;

	for (bit = 0; bit < 32; bit++) {
		kcm_create_valid_args(&args, KVM_COCO_MIG_ROLE_SOURCE);
		args.flags = BIT(bit);
		KUNIT_EXPECT_EQ_MSG(test, kcm_create_args_check(&args), -EINVAL,
				    "flag bit %d", bit);
	}
}

static void create_args_check_rejects_every_reserved_bit(struct kunit *test)
{
	struct kvm_coco_mig_create args;
	int i, bit;

	for (i = 0; i < ARRAY_SIZE(args.reserved); i++) {
		for (bit = 0; bit < 64; bit++) {
			kcm_create_valid_args(&args, KVM_COCO_MIG_ROLE_TARGET);
			args.reserved[i] = BIT_ULL(bit);
			KUNIT_EXPECT_EQ_MSG(test, kcm_create_args_check(&args),
					    -EINVAL, "reserved[%d] bit %d", i, bit);
		}
	}
}

static void status_args_check_rejects_every_flag(struct kunit *test)
{
	struct kvm_coco_mig_status st = {};
	int bit;

	KUNIT_EXPECT_EQ(test, kcm_status_args_check(&st), 0);
	for (bit = 0; bit < 32; bit++) {
		st.flags = BIT(bit);
		KUNIT_EXPECT_EQ_MSG(test, kcm_status_args_check(&st), -EINVAL,
				    "flag bit %d", bit);
	}
}

static void blob_args_check_in_and_out_rules(struct kunit *test)
{
	struct kvm_coco_mig_blob b = {};

	/* An ioctl with input needs 1..max bytes of it. */
	KUNIT_EXPECT_EQ(test, kcm_blob_args_check(&b, KCM_IN_REQUIRED, false, 4096), -EINVAL);
	b.in_len = 4096;
	KUNIT_EXPECT_EQ(test, kcm_blob_args_check(&b, KCM_IN_REQUIRED, false, 4096), 0);
	b.in_len = 4097;
	KUNIT_EXPECT_EQ(test, kcm_blob_args_check(&b, KCM_IN_REQUIRED, false, 4096), -EINVAL);
	/* One without input takes none, not even a pointer. */
	b.in_len = 0;
	b.in_uaddr = 0x1000;
	KUNIT_EXPECT_EQ(test, kcm_blob_args_check(&b, KCM_IN_NONE, true, 4096), -EINVAL);
	b.in_uaddr = 0;
	KUNIT_EXPECT_EQ(test, kcm_blob_args_check(&b, KCM_IN_NONE, true, 4096), 0);
	/* Optional input: none, or up to the maximum. */
	KUNIT_EXPECT_EQ(test, kcm_blob_args_check(&b, KCM_IN_OPTIONAL, true, 4096), 0);
	b.in_len = 4096;
	KUNIT_EXPECT_EQ(test, kcm_blob_args_check(&b, KCM_IN_OPTIONAL, true, 4096), 0);
	b.in_len = 4097;
	KUNIT_EXPECT_EQ(test, kcm_blob_args_check(&b, KCM_IN_OPTIONAL, true, 4096), -EINVAL);
	/* One without output takes no output buffer. */
	b.in_len = 8;
	b.out_len = 8;
	KUNIT_EXPECT_EQ(test, kcm_blob_args_check(&b, KCM_IN_REQUIRED, false, 4096), -EINVAL);
	b.out_len = 0;
	b.out_uaddr = 0x1000;
	KUNIT_EXPECT_EQ(test, kcm_blob_args_check(&b, KCM_IN_REQUIRED, false, 4096), -EINVAL);
}

static void blob_args_check_rejects_reserved_bits(struct kunit *test)
{
	struct kvm_coco_mig_blob b;
	int i, bit;

	for (bit = 0; bit < 32; bit++) {
		memset(&b, 0, sizeof(b));
		b.flags = BIT(bit);
		KUNIT_EXPECT_EQ(test, kcm_blob_args_check(&b, KCM_IN_NONE, true, 4096), -EINVAL);
		memset(&b, 0, sizeof(b));
		b.pad = BIT(bit);
		KUNIT_EXPECT_EQ(test, kcm_blob_args_check(&b, KCM_IN_NONE, true, 4096), -EINVAL);
	}
	for (i = 0; i < ARRAY_SIZE(b.reserved); i++) {
		for (bit = 0; bit < 64; bit++) {
			memset(&b, 0, sizeof(b));
			b.reserved[i] = BIT_ULL(bit);
			KUNIT_EXPECT_EQ_MSG(test, kcm_blob_args_check(&b, KCM_IN_NONE, true, 4096),
					    -EINVAL, "reserved[%d] bit %d", i, bit);
		}
	}
}

static void pages_args_check_rules(struct kunit *test)
{
	const u32 streams = 4;
	struct kvm_coco_mig_pages p = { .nr_pages = 2, .gfns_uaddr = 0x1000 };
	int i, bit;

	KUNIT_EXPECT_EQ(test, kcm_pages_args_check(&p, true, streams), 0);
	p.nr_pages = 0;
	KUNIT_EXPECT_EQ(test, kcm_pages_args_check(&p, true, streams), -EINVAL);
	p.nr_pages = KVM_COCO_MIG_MAX_BATCH;
	KUNIT_EXPECT_EQ(test, kcm_pages_args_check(&p, true, streams), 0);
	p.nr_pages = KVM_COCO_MIG_MAX_BATCH + 1;
	KUNIT_EXPECT_EQ(test, kcm_pages_args_check(&p, true, streams), -E2BIG);
	p.nr_pages = U32_MAX;
	KUNIT_EXPECT_EQ(test, kcm_pages_args_check(&p, true, streams), -E2BIG);
	p.nr_pages = 2;
	p.gfns_uaddr = 0;
	KUNIT_EXPECT_EQ(test, kcm_pages_args_check(&p, true, streams), -EINVAL);

	/* Streams: below the session's number. */
	p.gfns_uaddr = 0x1000;
	p.stream = streams - 1;
	KUNIT_EXPECT_EQ(test, kcm_pages_args_check(&p, true, streams), 0);
	p.stream = streams;
	KUNIT_EXPECT_EQ(test, kcm_pages_args_check(&p, true, streams), -EINVAL);
	p.stream = U32_MAX;
	KUNIT_EXPECT_EQ(test, kcm_pages_args_check(&p, false, streams), -EINVAL);
	p.stream = 0;

	/* RECEIVE: no gfn list, and some bytes of packets. */
	p.gfns_uaddr = 0;
	p.buf_len = 1;
	KUNIT_EXPECT_EQ(test, kcm_pages_args_check(&p, false, streams), 0);
	p.buf_len = 0;
	KUNIT_EXPECT_EQ(test, kcm_pages_args_check(&p, false, streams), -EINVAL);
	p.buf_len = 4152;
	p.gfns_uaddr = 0x1000;
	KUNIT_EXPECT_EQ(test, kcm_pages_args_check(&p, false, streams), -EINVAL);

	for (bit = 0; bit < 32; bit++) {
		memset(&p, 0, sizeof(p));
		p.nr_pages = 1;
		p.gfns_uaddr = 0x1000;
		p.flags = BIT(bit);
		KUNIT_EXPECT_EQ(test, kcm_pages_args_check(&p, true, streams), -EINVAL);
	}
	for (i = 0; i < ARRAY_SIZE(p.reserved); i++) {
		for (bit = 0; bit < 64; bit++) {
			memset(&p, 0, sizeof(p));
			p.nr_pages = 1;
			p.gfns_uaddr = 0x1000;
			p.reserved[i] = BIT_ULL(bit);
			KUNIT_EXPECT_EQ(test, kcm_pages_args_check(&p, true, streams), -EINVAL);
		}
	}
}

static void exchange_args_check_rules(struct kunit *test)
{
	struct kvm_coco_mig_exchange x;
	int i, bit;

	memset(&x, 0, sizeof(x));
	x.out_len = 7;			/* outputs are not checked */
	x.done = 1;
	x.round = 9;
	KUNIT_EXPECT_EQ(test, kcm_exchange_args_check(&x, 4096), 0);
	x.in_len = 4096;
	x.in_uaddr = 0x1000;
	KUNIT_EXPECT_EQ(test, kcm_exchange_args_check(&x, 4096), 0);
	x.in_len = 4097;
	KUNIT_EXPECT_EQ(test, kcm_exchange_args_check(&x, 4096), -EINVAL);
	x.in_len = 0;			/* an address without a length */
	KUNIT_EXPECT_EQ(test, kcm_exchange_args_check(&x, 4096), -EINVAL);

	memset(&x, 0, sizeof(x));
	x.flags = KVM_COCO_MIG_EXCHANGE_F_QUERY;
	KUNIT_EXPECT_EQ(test, kcm_exchange_args_check(&x, 4096), 0);
	for (bit = 1; bit < 32; bit++) {	/* bit 0: F_QUERY */
		memset(&x, 0, sizeof(x));
		x.flags = BIT(bit);
		KUNIT_EXPECT_EQ(test, kcm_exchange_args_check(&x, 4096), -EINVAL);
		memset(&x, 0, sizeof(x));
		x.pad = BIT(bit);
		KUNIT_EXPECT_EQ(test, kcm_exchange_args_check(&x, 4096), -EINVAL);
	}
	for (i = 0; i < ARRAY_SIZE(x.reserved); i++) {
		for (bit = 0; bit < 64; bit++) {
			memset(&x, 0, sizeof(x));
			x.reserved[i] = BIT_ULL(bit);
			KUNIT_EXPECT_EQ(test, kcm_exchange_args_check(&x, 4096), -EINVAL);
		}
	}
}

static void vcpu_args_check_rules(struct kunit *test)
{
	struct kvm_coco_mig_vcpu v;
	int i, bit;

	memset(&v, 0, sizeof(v));
	v.vcpu_id = 3;			/* any id: the VM decides */
	v.out_len = 7;			/* outputs are not checked */
	v.out_uaddr = 0x2000;
	KUNIT_EXPECT_EQ(test, kcm_vcpu_args_check(&v, 4096), 0);
	v.in_len = 4096;
	v.in_uaddr = 0x1000;
	KUNIT_EXPECT_EQ(test, kcm_vcpu_args_check(&v, 4096), 0);
	v.in_len = 4097;
	KUNIT_EXPECT_EQ(test, kcm_vcpu_args_check(&v, 4096), -EINVAL);
	v.in_len = 0;			/* an address without a length */
	KUNIT_EXPECT_EQ(test, kcm_vcpu_args_check(&v, 4096), -EINVAL);
	for (bit = 0; bit < 32; bit++) {
		memset(&v, 0, sizeof(v));
		v.flags = BIT(bit);
		KUNIT_EXPECT_EQ(test, kcm_vcpu_args_check(&v, 4096), -EINVAL);
	}
	for (i = 0; i < ARRAY_SIZE(v.reserved); i++) {
		for (bit = 0; bit < 64; bit++) {
			memset(&v, 0, sizeof(v));
			v.reserved[i] = BIT_ULL(bit);
			KUNIT_EXPECT_EQ(test, kcm_vcpu_args_check(&v, 4096), -EINVAL);
		}
	}
}

static void create_args_check_streams_and_pad(struct kunit *test)
{
	struct kvm_coco_mig_create args;
	int bit;

	kcm_create_valid_args(&args, KVM_COCO_MIG_ROLE_SOURCE);
	args.nr_streams = KVM_COCO_MIG_MAX_STREAMS;
	KUNIT_EXPECT_EQ(test, kcm_create_args_check(&args), 0);
	args.nr_streams = KVM_COCO_MIG_MAX_STREAMS + 1;
	KUNIT_EXPECT_EQ(test, kcm_create_args_check(&args), -EINVAL);
	args.nr_streams = U32_MAX;
	KUNIT_EXPECT_EQ(test, kcm_create_args_check(&args), -EINVAL);
	for (bit = 0; bit < 32; bit++) {
		kcm_create_valid_args(&args, KVM_COCO_MIG_ROLE_TARGET);
		args.pad = BIT(bit);
		KUNIT_EXPECT_EQ_MSG(test, kcm_create_args_check(&args), -EINVAL,
				    "pad bit %d", bit);
	}
}

static void track_and_dirty_args_reject_reserved_bits(struct kunit *test)
{
	struct kvm_coco_mig_track t;
	struct kvm_coco_mig_dirty d;
	int i, bit;

	memset(&t, 0, sizeof(t));
	t.nr_slots = 7;			/* outputs are not checked */
	t.nr_gfns = 7;
	KUNIT_EXPECT_EQ(test, kcm_track_args_check(&t), 0);
	memset(&d, 0, sizeof(d));
	d.first_gfn = 64;
	d.nr_gfns = 64;
	d.bitmap_uaddr = 0x1000;
	d.nr_dirty = 7;
	KUNIT_EXPECT_EQ(test, kcm_dirty_args_check(&d), 0);

	for (bit = 0; bit < 32; bit++) {
		memset(&t, 0, sizeof(t));
		t.flags = BIT(bit);
		KUNIT_EXPECT_EQ(test, kcm_track_args_check(&t), -EINVAL);
		memset(&d, 0, sizeof(d));
		d.flags = BIT(bit);
		/* Bit 0 is KVM_COCO_MIG_DIRTY_F_SHARED. */
		KUNIT_EXPECT_EQ(test, kcm_dirty_args_check(&d),
				BIT(bit) == KVM_COCO_MIG_DIRTY_F_SHARED ? 0 : -EINVAL);
		d.flags = 0;
		d.pad = BIT(bit);
		KUNIT_EXPECT_EQ(test, kcm_dirty_args_check(&d), -EINVAL);
	}
	for (bit = 0; bit < 64; bit++) {
		for (i = 0; i < ARRAY_SIZE(t.reserved); i++) {
			memset(&t, 0, sizeof(t));
			t.reserved[i] = BIT_ULL(bit);
			KUNIT_EXPECT_EQ(test, kcm_track_args_check(&t), -EINVAL);
		}
		for (i = 0; i < ARRAY_SIZE(d.reserved); i++) {
			memset(&d, 0, sizeof(d));
			d.reserved[i] = BIT_ULL(bit);
			KUNIT_EXPECT_EQ(test, kcm_dirty_args_check(&d), -EINVAL);
		}
	}
}

static void uapi_layout_is_fixed(struct kunit *test)
{
	/* The sizes are ABI: they are encoded in the ioctl numbers. */
	KUNIT_EXPECT_EQ(test, sizeof(struct kvm_coco_mig_create), 64);
	KUNIT_EXPECT_EQ(test, sizeof(struct kvm_coco_mig_status), 128);
	KUNIT_EXPECT_EQ(test, _IOC_SIZE(KVM_COCO_MIG_CREATE_SESSION), 64);
	KUNIT_EXPECT_EQ(test, _IOC_SIZE(KVM_COCO_MIG_STATUS), 128);
	KUNIT_EXPECT_EQ(test, sizeof(struct kvm_coco_mig_blob), 64);
	KUNIT_EXPECT_EQ(test, sizeof(struct kvm_coco_mig_pages), 64);
	KUNIT_EXPECT_EQ(test, sizeof(struct kvm_coco_mig_track), 64);
	KUNIT_EXPECT_EQ(test, sizeof(struct kvm_coco_mig_dirty), 64);
	KUNIT_EXPECT_EQ(test, sizeof(struct kvm_coco_mig_caps), 64);
	KUNIT_EXPECT_EQ(test, sizeof(struct kvm_coco_mig_backend_caps), 64);
	KUNIT_EXPECT_EQ(test, sizeof(struct kvm_coco_mig_pkt_hdr), 40);
	KUNIT_EXPECT_EQ(test, sizeof(struct kvm_coco_mig_exchange), 64);
	KUNIT_EXPECT_EQ(test, sizeof(struct kvm_coco_mig_vcpu), 64);
	KUNIT_EXPECT_EQ(test, _IOC_SIZE(KVM_COCO_MIG_EXCHANGE), 64);
}

static struct kunit_case kcm_uapi_cases[] = {
	KUNIT_CASE(create_args_check_accepts_both_roles),
	KUNIT_CASE(create_args_check_ignores_output_backend),
	KUNIT_CASE(create_args_check_rejects_bad_role),
	KUNIT_CASE(create_args_check_rejects_every_flag),
	KUNIT_CASE(create_args_check_rejects_every_reserved_bit),
	KUNIT_CASE(status_args_check_rejects_every_flag),
	KUNIT_CASE(blob_args_check_in_and_out_rules),
	KUNIT_CASE(blob_args_check_rejects_reserved_bits),
	KUNIT_CASE(pages_args_check_rules),
	KUNIT_CASE(create_args_check_streams_and_pad),
	KUNIT_CASE(exchange_args_check_rules),
	KUNIT_CASE(vcpu_args_check_rules),
	KUNIT_CASE(track_and_dirty_args_reject_reserved_bits),
	KUNIT_CASE(uapi_layout_is_fixed),
	{}
};

static struct kunit_suite kcm_uapi_suite = {
	.name = "kvm_coco_mig_uapi",
	.test_cases = kcm_uapi_cases,
};

kunit_test_suite(kcm_uapi_suite);

MODULE_IMPORT_NS(EXPORTED_FOR_KUNIT_TESTING);
MODULE_DESCRIPTION("KUnit tests for kvm-coco-mig");
MODULE_LICENSE("GPL");
