// SPDX-License-Identifier: GPL-2.0
/*
 * Tracepoints of kvm.ko that it does not export.
 *
 * kvm.ko exports a few of its tracepoints for the vendor modules
 * (EXPORT_TRACEPOINT_SYMBOL_GPL); the others are reachable by name through
 * the tracepoint core's module notifier, which lists every loaded module's
 * tracepoints. kvm-coco-mig links against kvm.ko, so kvm.ko stays loaded,
 * and a struct tracepoint found here stays valid, as long as this module.
 */
#include <linux/module.h>
#include <linux/notifier.h>
#include <linux/string.h>
#include <linux/tracepoint.h>

#include "coco_mig.h"

struct kcm_tp_lookup {
	struct notifier_block nb;
	const char *name;
	struct tracepoint *tp;
};

static int kcm_tp_module_cb(struct notifier_block *nb, unsigned long val,
			    void *data)
{
	struct kcm_tp_lookup *l = container_of(nb, struct kcm_tp_lookup, nb);
	struct tp_module *tp_mod = data;
	struct module *mod = tp_mod->mod;
	unsigned int i;

	if (val != MODULE_STATE_COMING || strcmp(mod->name, "kvm"))
		return NOTIFY_DONE;
	for (i = 0; i < mod->num_tracepoints; i++) {
		struct tracepoint *tp = tracepoint_ptr_deref(&mod->tracepoints_ptrs[i]);

		if (!strcmp(tp->name, l->name)) {
			l->tp = tp;
			break;
		}
	}
	return NOTIFY_OK;
}

/**
 * kcm_kvm_tracepoint - a tracepoint of kvm.ko, by name
 * @name: the tracepoint's name, e.g. "kvm_fpu"
 *
 * Context: process context; takes the tracepoint core's module list mutex.
 * Return: the tracepoint, for tracepoint_probe_register(), or NULL if
 * kvm.ko has none of that name.
 */
struct tracepoint *kcm_kvm_tracepoint(const char *name)
{
	struct kcm_tp_lookup l = {
		.nb.notifier_call = kcm_tp_module_cb,
		.name = name,
	};

	/* Registering calls back for every module already loaded. */
	if (register_tracepoint_module_notifier(&l.nb))
		return NULL;
	unregister_tracepoint_module_notifier(&l.nb);
	return l.tp;
}
