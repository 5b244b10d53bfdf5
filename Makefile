# SPDX-License-Identifier: GPL-2.0
#
# kvm-coco-mig, out of tree. Kbuild reads ./Kbuild; this file is for people.
#
#   make                 the module (and its KUnit test module) against KDIR
#   make check           everything CI runs: builds, style, sparse, QEMU tests
#   make check-repeat    make check's QEMU step N times [N=10] [LOAD=1]
#   make stress          the stress mode of the harness (scripts/repeat.sh)
#   make only TESTS=..   some kselftests [KUNIT=suites] once, as make check runs them
#   make bench           PACKAGE/RECEIVE throughput against the raw AEAD (QEMU)
#   make run             the live-migration demo
#   make install         install the module into KDIR's /lib/modules
#
# KDIR is a built kernel tree or a distro headers package; KSRC is the
# matching kernel source, for kvm_amd's internal headers. Both default to
# the project's own test kernel (scripts/kernel.sh builds and caches it).
# A host builds for its running Debian kernel with, for example:
#   make KDIR=/lib/modules/$(uname -r)/build KSRC=/path/to/linux-source-6.12

ifeq ($(KDIR),)
KDIR = $(eval KDIR := $(shell scripts/kernel.sh debug))$(KDIR)
endif
ifeq ($(KSRC),)
KSRC = $(eval KSRC := $(shell scripts/kernel.sh ksrc))$(KSRC)
endif

KCM_SOURCES := $(shell find virt arch include compat tools -name '*.[ch]' | sort)

all: module

module:
	$(MAKE) -C $(KDIR) M=$(CURDIR) KSRC=$(KSRC) modules

install: module
	$(MAKE) -C $(KDIR) M=$(CURDIR) KSRC=$(KSRC) modules_install
	depmod -a $(shell cat $(KDIR)/include/config/kernel.release)

# sparse over every object, whether or not it needs rebuilding.
sparse:
	$(MAKE) -C $(KDIR) M=$(CURDIR) KSRC=$(KSRC) C=2 CHECK="sparse -Wsparse-error" modules

# Debian's codespell keeps its dictionary where checkpatch does not look.
CODESPELL_DICT := $(firstword $(wildcard /usr/share/codespell/dictionary.txt \
	/usr/lib/python3/dist-packages/codespell_lib/data/dictionary.txt))

checkpatch:
	@test -n "$(CODESPELL_DICT)" || { echo "codespell dictionary not found" >&2; exit 1; }
	@scripts/checkpatch.sh $(KSRC) $(CODESPELL_DICT) $(KCM_SOURCES)

selftests:
	$(MAKE) -C tools/testing/selftests/kvm-coco-mig KSRC=$(KSRC) \
		KHDR=$(KDIR)/usr/include OUTPUT=$(CURDIR)/build/selftests \
		UPSTREAM_OUTPUT=$(KDIR)/kselftest-kvm

check:
	@scripts/check.sh

check-repeat:
	@scripts/repeat.sh check $(N)

stress:
	@scripts/repeat.sh stress $(N)

only:
	@scripts/repeat.sh only $(N)

bench:
	@scripts/bench.sh

run:
	@scripts/run.sh

clean:
	-$(MAKE) -C $(KDIR) M=$(CURDIR) clean
	rm -rf build

.PHONY: all module install sparse checkpatch selftests check check-repeat stress only \
	bench run clean
