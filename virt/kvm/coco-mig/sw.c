// SPDX-License-Identifier: GPL-2.0
/*
 * The sw backend: KVM_X86_SW_PROTECTED_VM guests, whose private memory lives
 * in guest_memfd and whose "confidentiality" is enforced by nothing but KVM.
 * The module itself packages and unpackages pages; it is the reference
 * semantics for the hardware backends.
 */
#include <kunit/visibility.h>

#include "coco_mig.h"

const struct kcm_backend kcm_sw_backend = {
	.name	= "sw",
	.id	= KVM_COCO_MIG_BACKEND_SW,
};
EXPORT_SYMBOL_IF_KUNIT(kcm_sw_backend);
