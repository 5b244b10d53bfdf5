/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Differences between the kernels kvm-coco-mig builds against, and nothing
 * else. Force-included into every object by Kbuild, so the sources read as
 * if they were in-tree. The upstream patch is the tree without compat/ and
 * without the -include line in Kbuild.
 */
#ifndef __KVM_COCO_MIG_COMPAT_H
#define __KVM_COCO_MIG_COMPAT_H

#include <linux/kvm.h>

/*
 * guest_memfd, KVM_X86_SW_PROTECTED_VM as a VM type and the KVM_X86_SEV*_VM
 * types arrived over 6.8 to 6.11: without them there is nothing to build.
 */
#ifndef KVM_X86_SNP_VM
#error "kvm-coco-mig needs KVM_X86_SNP_VM and guest_memfd (Linux 6.11 or later)"
#endif

/*
 * Dirty tracking (arch/x86/kvm/coco_mig_track.c) counts on a fault mapping
 * exactly the gfn it reports: true while guest_memfd hands out order-0
 * folios only, as up to 6.12. A kernel that maps private memory with huge
 * pages needs the tracker to mark the whole mapping: check this first when
 * porting to a newer kernel.
 */

#endif /* __KVM_COCO_MIG_COMPAT_H */
