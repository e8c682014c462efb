# SPDX-License-Identifier: GPL-2.0-or-later
#
# memslot: the only Makefile. Every output goes under $(O) (default build/).
#   make [all|check|vmtest|corpus|bench|man|install|uninstall|clean] [O=dir] [V=1] [SAN=1]

O ?= build
ifeq ($(SAN),1)
OUT := $(O)/san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
OUT := $(O)
SANFLAGS :=
endif

CC ?= gcc
PREFIX ?= /usr/local
VERSION := 0.2.0

ifeq ($(V),1)
Q :=
msg = @true
else
Q := @
msg = @printf '  %-5s %s\n' "$(1)" "$(2)"
endif

WARN := -Wall -Wextra -Werror -Wmissing-prototypes -Wstrict-prototypes -Wformat=2
CFLAGS ?= -O2 -g
BASE_CFLAGS = -std=gnu11 $(WARN) $(SANFLAGS) -D_GNU_SOURCE -MMD -MP \
	-Ilib/include -DMS_VERSION='"$(VERSION)"' $(FEATURE_CFLAGS)
LDFLAGS += $(SANFLAGS)

.DELETE_ON_ERROR:
.SECONDARY:
.PHONY: all check vmtest corpus bench man install uninstall clean deps FORCE

all: $(O)/FEATURES $(OUT)/memslot $(OUT)/libmemslot.so $(OUT)/memslot-vmtest man

# --- dependencies --------------------------------------------------------
# Before anything else, and before the feature probes below are evaluated:
# scripts/deps.sh (idempotent) installs the Debian packages, and on a host
# without a usable /dev/kvm the default guest kernel is fetched for the
# kernel-in-the-loop runner. The stamp makes this happen once per build
# directory (again when deps.sh changes). "Usable" is asked of the runner,
# which owns the test for the scripts (vmtest.sh --kvm-usable: /dev/kvm
# opens read-write and creates a VM), so that the KVM tests stay on the
# host exactly when the runner would pick -accel kvm. `memslot run` makes
# the same test in C (tool/vmfallback.c); test_vmtest checks they agree.
DEPS_STAMP := $(O)/.deps-ok
VMTEST_CACHE := $(abspath $(O))/vmtest
KVM_USABLE := $(shell bash selftests/vmtest.sh --kvm-usable 2>/dev/null && echo 1 || echo 0)
VMTEST_DEFAULT := debian-6.12

ifeq ($(filter clean,$(MAKECMDGOALS)),)
ifneq ($(shell test -e $(DEPS_STAMP) -a ! scripts/deps.sh -nt $(DEPS_STAMP) && echo ok),ok)
$(info $(shell printf '  %-5s %s' DEPS scripts/deps.sh))
DEPS_RC := $(shell { bash scripts/deps.sh && \
	{ [ "$(KVM_USABLE)" = 1 ] || bash selftests/vmtest.sh --fetch -k $(VMTEST_DEFAULT) \
		--cache $(VMTEST_CACHE); } && mkdir -p $(O) && touch $(DEPS_STAMP); } >&2; echo $$?)
ifneq ($(DEPS_RC),0)
$(error scripts/deps.sh or the guest kernel fetch failed (exit status $(DEPS_RC)))
endif
endif
endif
deps:
	$(Q)bash scripts/deps.sh

# --- feature probes ----------------------------------------------------------
# Each probe compiles a small snippet; the results go to $(O)/FEATURES and
# HAVE_* flags. clang with CO-RE BTF, bpftool with skeletons and libbpf with
# skeleton support are must-haves: a missing one stops the build and names
# the Debian package (scripts/deps.sh installs them).
CLANG ?= clang
LLVM_STRIP ?= llvm-strip
BPFTOOL ?= bpftool
VMLINUX_BTF ?= /sys/kernel/btf/vmlinux

ifeq ($(filter clean deps uninstall,$(MAKECMDGOALS)),)
HAVE_CLANG_BPF := $(shell printf 'struct s { int a; } __attribute__((preserve_access_index));\nint f(struct s *p) { return __builtin_preserve_field_info(p->a, 0) + p->a; }\n' | \
	$(CLANG) -target bpf -g -O2 -c -x c - -o /dev/null >/dev/null 2>&1 && echo 1 || echo 0)
HAVE_BPFTOOL := $(shell $(BPFTOOL) gen help 2>&1 | grep -q 'gen skeleton' && echo 1 || echo 0)
HAVE_LIBBPF_SKEL := $(shell printf '\043include <bpf/libbpf.h>\nint main(void) { struct bpf_object_skeleton *s = 0; return bpf_object__open_skeleton(s, 0) + bpf_object__load_skeleton(s); }\n' | \
	$(CC) -x c - -o /dev/null -lbpf -lelf -lz >/dev/null 2>&1 && echo 1 || echo 0)
HAVE_KVM_SET_USER_MEMORY_REGION2 := $(shell printf '\043include <linux/kvm.h>\nint x = KVM_SET_USER_MEMORY_REGION2;\n' | \
	$(CC) -x c -c - -o /dev/null >/dev/null 2>&1 && echo 1 || echo 0)
HAVE_RST2MAN := $(shell command -v rst2man >/dev/null 2>&1 && echo 1 || echo 0)

ifneq ($(HAVE_CLANG_BPF),1)
$(error clang cannot emit CO-RE BPF objects: install the Debian package clang (and llvm))
endif
ifneq ($(HAVE_BPFTOOL),1)
$(error bpftool with 'gen skeleton' not found: install the Debian package bpftool)
endif
ifneq ($(HAVE_LIBBPF_SKEL),1)
$(error libbpf with skeleton support not found: install the Debian package libbpf-dev (and libelf-dev zlib1g-dev))
endif
endif

FEATURES := CLANG_BPF BPFTOOL LIBBPF_SKEL KVM_SET_USER_MEMORY_REGION2 RST2MAN
FEATURE_CFLAGS := $(foreach f,$(FEATURES),$(if $(filter 1,$(HAVE_$(f))),-DHAVE_$(f)))
FEATURE_TEXT := $(foreach f,$(FEATURES),HAVE_$(f)=$(HAVE_$(f)))

$(O)/FEATURES: FORCE
	$(Q)mkdir -p $(@D) && printf '%s\n' $(FEATURE_TEXT) | cmp -s - $@ || \
		{ printf '%s\n' $(FEATURE_TEXT) > $@; printf '  %-5s %s\n' GEN $@; }

# --- BPF programs --------------------------------------------------------------
# vmlinux.h -> x.bpf.o -> x.skel.h. vmlinux.h comes from the running kernel's
# BTF (or VMLINUX_BTF=) and is never committed. The objects do not depend on
# SAN=, so they live in $(O)/bpf for both builds.
BPF_DIR := $(O)/bpf
BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_SKELS := $(BPF_SRCS:bpf/%.bpf.c=$(BPF_DIR)/%.skel.h)
BPF_ARCH := $(shell uname -m | sed 's/x86_64/x86/; s/aarch64/arm64/')
BPF_CFLAGS := -target bpf -g -O2 -D__TARGET_ARCH_$(BPF_ARCH) -Wall -Werror -I$(BPF_DIR) -Ibpf

$(BPF_DIR)/vmlinux.h: $(VMLINUX_BTF) 
	$(call msg,BTF,$@)
	$(Q)mkdir -p $(@D) && $(BPFTOOL) btf dump file $< format c > $@

$(BPF_DIR)/%.bpf.o: bpf/%.bpf.c bpf/memslot_bpf.h $(BPF_DIR)/vmlinux.h
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -MMD -MP -c $< -o $@ && $(LLVM_STRIP) -g $@

$(BPF_DIR)/%.skel.h: $(BPF_DIR)/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $*_bpf > $@

# --- kselftest harness, from Debian's linux-source-6.12 -----------------
KSRC_TAR ?= /usr/src/linux-source-6.12.tar.xz
HARNESS := $(O)/include/kselftest_harness.h $(O)/include/kselftest.h
$(O)/include/kselftest.h: $(O)/include/kselftest_harness.h
$(O)/include/kselftest_harness.h: 
	$(call msg,TAR,$@)
	$(Q)mkdir -p $(@D) && tar -xJf $(KSRC_TAR) -C $(@D) --strip-components=4 \
		linux-source-6.12/tools/testing/selftests/kselftest_harness.h \
		linux-source-6.12/tools/testing/selftests/kselftest.h
	$(Q)touch $@

# --- libmemslot ----------------------------------------------------------
LIB_SRCS := $(wildcard lib/*.c)
LIB_OBJS := $(LIB_SRCS:%.c=$(OUT)/%.o)
LIB_CFLAGS := -fPIC -fvisibility=hidden
SONAME := libmemslot.so.0

$(OUT)/lib/%.o: lib/%.c 
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D) && $(CC) $(BASE_CFLAGS) $(LIB_CFLAGS) $(CFLAGS) -c $< -o $@

$(OUT)/libmemslot.a: $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

# The version script must list every MS_API function of the headers.
$(OUT)/libmemslot.so: $(LIB_OBJS) lib/libmemslot.map
	$(call msg,LD,$@)
	$(Q)bash scripts/gen-map.sh --check >/dev/null
	$(Q)$(CC) -shared -Wl,--version-script=lib/libmemslot.map -Wl,-soname,$(SONAME) \
		$(LDFLAGS) -o $@ $(LIB_OBJS)

# --- probe guest (tool/guest) ------------------------------------------------
# probe.S goes through cpp (probe.h is shared with tool/vmm*.c) and GNU as,
# is linked at its load address PROBE_CODE_GPA (read from probe.h) and
# flattened; embed.S wraps the flat image with .incbin into an object that
# the tool and the VMM selftest link.
GUEST_DIR := $(OUT)/tool/guest
GUEST_BIN := $(GUEST_DIR)/probe.bin
GUEST_OBJ := $(GUEST_DIR)/embed.o
GUEST_LOAD = $(shell $(CC) -E -dM tool/guest/probe.h | awk '$$2 == "PROBE_CODE_GPA" { print $$3 }')

$(GUEST_DIR)/probe.o: tool/guest/probe.S 
	$(call msg,AS,$@)
	$(Q)mkdir -p $(@D) && $(CC) -E -MMD -MP -MF $(@:.o=.d) -MT $@ -Itool/guest $< -o $(@:.o=.s) && \
		$(AS) --64 -o $@ $(@:.o=.s)

$(GUEST_DIR)/probe.elf: $(GUEST_DIR)/probe.o tool/guest/probe.h
	$(call msg,LD,$@)
	$(Q)$(LD) -m elf_x86_64 --fatal-warnings -Ttext=$(GUEST_LOAD) -e _start -o $@ $<

$(GUEST_BIN): $(GUEST_DIR)/probe.elf
	$(call msg,BIN,$@)
	$(Q)objcopy -O binary -j .text $< $@

$(GUEST_OBJ): tool/guest/embed.S $(GUEST_BIN)
	$(call msg,AS,$@)
	$(Q)$(CC) -c -MMD -MP -Itool/guest -DPROBE_BIN='"$(GUEST_BIN)"' $< -o $@

# --- memslot tool ----------------------------------------------------------
TOOL_SRCS := $(wildcard tool/*.c)
TOOL_OBJS := $(TOOL_SRCS:%.c=$(OUT)/%.o)
TOOL_LIBS := -ljson-c -lbpf -lelf -lz

$(OUT)/tool/%.o: tool/%.c 
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D) && $(CC) $(BASE_CFLAGS) -Itool -Ibpf -I$(BPF_DIR) \
		-DMS_LIBEXECDIR='"$(PREFIX)/libexec/memslot"' $(CFLAGS) -c $< -o $@

# Tool objects that load a skeleton depend on it by name.
$(OUT)/tool/trace_prog.o: $(BPF_DIR)/trace.skel.h
$(OUT)/tool/census_prog.o: $(BPF_DIR)/census.skel.h

$(OUT)/memslot: $(TOOL_OBJS) $(GUEST_OBJ) $(OUT)/libmemslot.a
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $(TOOL_OBJS) $(GUEST_OBJ) $(OUT)/libmemslot.a $(TOOL_LIBS)

# --- selftests -------------------------------------------------------------
TEST_SRCS := $(wildcard selftests/test_*.c)
TEST_BINS := $(TEST_SRCS:selftests/%.c=$(OUT)/selftests/%)
TESTLIB_SRCS := $(wildcard selftests/lib/*.c)
TESTLIB_OBJS := $(TESTLIB_SRCS:%.c=$(OUT)/%.o)
TEST_CFLAGS := -I$(O)/include -Iselftests/lib -Ilib -Ibpf -I$(BPF_DIR) -Wno-missing-prototypes

$(OUT)/selftests/%.o: selftests/%.c $(HARNESS)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D) && $(CC) $(BASE_CFLAGS) $(TEST_CFLAGS) $(CFLAGS) -c $< -o $@

$(OUT)/selftests/test_%: $(OUT)/selftests/test_%.o $(TESTLIB_OBJS) $(OUT)/libmemslot.a
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $< $(TESTLIB_OBJS) $(OUT)/libmemslot.a $(TOOL_LIBS)

# The allocation-failure selftest brings its own allocator: every allocation
# of the library (and of the test) goes through its __wrap_ functions.
$(OUT)/selftests/test_alloc_fail: private LDFLAGS += \
	-Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup,--wrap=strndup,--wrap=asprintf

# The VMM selftest runs the tool's VMM and its embedded guest.
VMM_OBJS := $(addprefix $(OUT)/tool/,vmm.o vmm_vcpu.o vmm_window.o vmm_verify.o vmm_probe.o)
$(OUT)/selftests/test_vmm.o: TEST_CFLAGS += -Itool
$(OUT)/selftests/test_vmm: $(OUT)/selftests/test_vmm.o $(VMM_OBJS) $(GUEST_OBJ) \
		$(TESTLIB_OBJS) $(OUT)/libmemslot.a
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $(filter %.o %.a,$^) $(TOOL_LIBS)

# The census selftest loads its skeleton itself; the trace selftests use
# the tool's one loader of the trace skeleton.
$(OUT)/selftests/test_census.o: $(BPF_DIR)/census.skel.h
TRACE_TESTS := test_trace test_trace_qemu
$(TRACE_TESTS:%=$(OUT)/selftests/%.o): TEST_CFLAGS += -Itool
$(TRACE_TESTS:%=$(OUT)/selftests/%): $(OUT)/selftests/%: $(OUT)/selftests/%.o \
		$(OUT)/tool/trace_prog.o $(TESTLIB_OBJS) $(OUT)/libmemslot.a
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $(filter %.o %.a,$^) $(TOOL_LIBS)

# The KVM fault-injection selftest brings its own ioctl(): every memslot
# ioctl of the library goes through its __wrap_ioctl. It reads the
# kernel's slots with the tool's census loader.
$(OUT)/selftests/test_kvm_fault.o: TEST_CFLAGS += -Itool
$(OUT)/selftests/test_kvm_fault: private LDFLAGS += -Wl,--wrap=ioctl
$(OUT)/selftests/test_kvm_fault: $(OUT)/selftests/test_kvm_fault.o $(OUT)/tool/census_prog.o \
		$(TESTLIB_OBJS) $(OUT)/libmemslot.a
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $(filter %.o %.a,$^) $(TOOL_LIBS)

# QEMU 7.2 reference output the host tests compare against (selftests/samples/README).
SAMPLES ?= $(abspath selftests/samples/qemu-7.2)
# The committed QEMU corpus test_qemu reads (selftests/corpus/README).
CORPUS := $(abspath selftests/corpus/qemu-7.2)

# --- kernel in the loop ------------------------------------------------------
# The runner (selftests/vmtest.sh) is installed into the build with its
# package cache there. The tests that need KVM run on the host when it has
# a usable /dev/kvm, else inside the default guest kernel; make vmtest runs
# them in every kernel of VMTEST_KERNELS.
KVM_TESTS := test_kvm test_vmm test_run test_census test_trace test_trace_qemu test_plan_qemu \
	test_kvm_fault test_plan_live test_json_kvm
KVM_TEST_BINS := $(filter $(KVM_TESTS:%=$(OUT)/selftests/%),$(TEST_BINS))
HOST_TEST_BINS := $(filter-out $(KVM_TEST_BINS),$(TEST_BINS))
VMTEST_KERNELS ?= debian-6.1 debian-6.12
CHECK_KERNELS := $(if $(filter 1,$(KVM_USABLE)),,$(VMTEST_DEFAULT))

$(OUT)/memslot-vmtest: selftests/vmtest.sh
	$(call msg,GEN,$@)
	$(Q)mkdir -p $(@D) && sed 's|@CACHE@|$(VMTEST_CACHE)|' $< > $@.tmp && chmod +x $@.tmp && \
		mv -f $@.tmp $@

TEST_ENV = MEMSLOT=$(abspath $(OUT)/memslot) MEMSLOT_SAMPLES=$(SAMPLES) MEMSLOT_CORPUS=$(CORPUS) \
	MEMSLOT_MAKE_ARGS='O=$(abspath $(O)) SAN=$(SAN)' MEMSLOT_SANFLAGS='$(SANFLAGS)'

check: $(O)/FEATURES $(TEST_BINS) $(OUT)/memslot $(OUT)/memslot-vmtest
	$(Q)$(TEST_ENV) bash selftests/run.sh --kernels "$(CHECK_KERNELS)" \
		--runner $(OUT)/memslot-vmtest $(HOST_TEST_BINS) -- $(KVM_TEST_BINS)

vmtest: $(O)/FEATURES $(KVM_TEST_BINS) $(OUT)/memslot $(OUT)/memslot-vmtest
	$(Q)$(TEST_ENV) bash selftests/run.sh --kernels "$(VMTEST_KERNELS)" \
		--runner $(OUT)/memslot-vmtest -- $(KVM_TEST_BINS)

# Regenerate the committed corpus: scripts/qemu-corpus.py inside the default
# guest kernel (whatever the host has: the corpus names the kernel it comes
# from), as root there so that every configuration gets its census from
# MEMSLOT; the directory is shared read-write.
corpus: $(OUT)/memslot $(OUT)/memslot-vmtest
	$(Q)MEMSLOT=$(abspath $(OUT)/memslot) $(OUT)/memslot-vmtest -k $(VMTEST_DEFAULT) \
		--env MEMSLOT --rw $(CORPUS) -- python3 scripts/qemu-corpus.py $(CORPUS)

# --- benchmarks ------------------------------------------------------------
BENCH_SRCS := $(wildcard bench/*.c)
BENCH_BINS := $(BENCH_SRCS:bench/%.c=$(OUT)/bench/%)

$(OUT)/bench/%: bench/%.c $(OUT)/libmemslot.a 
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D) && $(CC) $(BASE_CFLAGS) -Ilib $(CFLAGS) -o $@ $< $(OUT)/libmemslot.a $(TOOL_LIBS)

# The BPF bench loads the census skeleton itself and the tracer through
# the tool's loader. It needs KVM: without a usable /dev/kvm it runs in the
# default guest kernel.
$(OUT)/bench/bench_bpf: bench/bench_bpf.c $(BPF_DIR)/census.skel.h $(OUT)/tool/trace_prog.o \
		$(OUT)/libmemslot.a 
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D) && $(CC) $(BASE_CFLAGS) -Ilib -Ibpf -Itool -I$(BPF_DIR) $(CFLAGS) -o $@ \
		$< $(OUT)/tool/trace_prog.o $(OUT)/libmemslot.a $(TOOL_LIBS)

# Each bench writes its named figures (bench/bench.h) as a JSON fragment
# into BENCH_FRAGS; scripts/bench-results.py gathers them into
# $(OUT)/bench/results.json. The benches that need KVM run on the host when
# it has a usable /dev/kvm, else together in one boot of the default guest
# kernel, with BENCH_FRAGS shared read-write. bench_qemu (QEMU 7.2 under
# TCG against the library) runs on the host; bench_qemu_kvm (QEMU with
# accel=kvm, traced by $(OUT)/memslot) with the KVM ones.
BENCH_FRAGS := $(OUT)/bench/fragments
BENCH_KVM := $(OUT)/bench/bench_run $(OUT)/bench/bench_bpf $(OUT)/bench/bench_qemu_kvm $(OUT)/bench/bench_kvmslots
BENCH_HOST := $(filter-out $(BENCH_KVM),$(BENCH_BINS))
BENCH_GUEST := $(if $(filter 1,$(KVM_USABLE)),,$(OUT)/memslot-vmtest -q -k $(VMTEST_DEFAULT) \
	--rw $(abspath $(BENCH_FRAGS)) --)

bench: $(BENCH_BINS) $(OUT)/memslot $(OUT)/memslot-vmtest
	$(Q)rm -rf $(BENCH_FRAGS) && mkdir -p $(BENCH_FRAGS) && date +%s > $(BENCH_FRAGS)/.start
	$(Q)for b in $(BENCH_HOST); do $$b $(abspath $(BENCH_FRAGS)) && echo || exit 1; done
	$(Q)$(BENCH_GUEST) bash -c 'for b; do "$$b" $(abspath $(BENCH_FRAGS)) && echo || exit 1; done' \
		bench $(abspath $(BENCH_KVM))
	$(Q)python3 scripts/bench-results.py $(OUT)/bench/results.json $(BENCH_FRAGS) \
		$$(( $$(date +%s) - $$(cat $(BENCH_FRAGS)/.start) ))

# --- fuzzing ---------------------------------------------------------------
# libFuzzer targets (fuzz/fuzz.h), built with clang and ASan+UBSan: the
# library, the tool files that parse QEMU options, scripts and --expect
# JSON, and the model of selftests/lib are compiled again with coverage
# into $(FUZZ_DIR). `make fuzz` runs every target for FUZZ_SECONDS from its
# committed seeds (fuzz/corpus/<target>/, never written) with new inputs
# in $(FUZZ_DIR)/corpus/<target>/ and findings in
# $(FUZZ_DIR)/findings/<target>/, prints executions, coverage and
# findings per target (fuzz/run.sh) and fails on a finding. `make
# fuzz-diff` runs fuzz_api's checks over seeded random inputs, built with
# $(CC) (fuzz/diff.c), until FUZZ_DIFF_OPS operations. The corpus replay
# of `make check` is selftests/test_fuzz_corpus.c, built with $(CC).
FUZZ_SECONDS ?= 60
FUZZ_DIFF_OPS ?= 10000000
FUZZ_TARGETS := import qemu_opts script expect api
FUZZ_DIR := $(O)/fuzz
FUZZ_SAN := -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
FUZZ_CFLAGS = -std=gnu11 $(WARN) -Wno-format-nonliteral -D_GNU_SOURCE -MMD -MP -Ilib/include \
	-Ilib -Itool -Ibpf -I$(BPF_DIR) -Iselftests/lib -Ifuzz -DMS_VERSION='"$(VERSION)"' \
	$(FEATURE_CFLAGS) $(FUZZ_SAN) -O1 -g
# the tool files the targets call into (verify.c's BPF side is fuzz/expect.c)
FUZZ_TOOL_SRCS := $(addprefix tool/,common.c cmdline.c qemu_table.c machine.c scenario.c \
	verify.c vmsel.c report.c report_json.c)
FUZZ_TARGET_SRCS := $(filter-out fuzz/libfuzzer.c fuzz/diff.c,$(wildcard fuzz/*.c))
FUZZ_SRCS := $(LIB_SRCS) $(FUZZ_TOOL_SRCS) selftests/lib/model.c $(FUZZ_TARGET_SRCS)
FUZZ_OBJS := $(FUZZ_SRCS:%.c=$(FUZZ_DIR)/clang/%.o)
FUZZ_BINS := $(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz_%)
# the same targets built with $(CC), for the corpus replay and fuzz-diff
FUZZ_HOST_OBJS := $(FUZZ_TARGET_SRCS:fuzz/%.c=$(OUT)/fuzz/host/%.o) \
	$(FUZZ_TOOL_SRCS:%.c=$(OUT)/%.o)

.PHONY: fuzz fuzz-diff

$(FUZZ_DIR)/clang/%.o: %.c
	$(call msg,CLANG,$@)
	$(Q)mkdir -p $(@D) && $(CLANG) $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_DIR)/clang/libfuzzer_%.o: fuzz/libfuzzer.c fuzz/fuzz.h
	$(call msg,CLANG,$@)
	$(Q)mkdir -p $(@D) && $(CLANG) $(FUZZ_CFLAGS) -DFUZZ_ENTRY=fuzz_$* -c $< -o $@

$(FUZZ_DIR)/fuzz_%: $(FUZZ_DIR)/clang/libfuzzer_%.o $(FUZZ_OBJS)
	$(call msg,LD,$@)
	$(Q)$(CLANG) -fsanitize=fuzzer,address,undefined -o $@ $^ -ljson-c

fuzz: $(FUZZ_BINS)
	$(Q)bash fuzz/run.sh --seconds $(FUZZ_SECONDS) --dir $(FUZZ_DIR) $(FUZZ_TARGETS)

$(OUT)/fuzz/host/%.o: fuzz/%.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D) && $(CC) $(BASE_CFLAGS) -Itool -Ibpf -I$(BPF_DIR) -Iselftests/lib -Ifuzz \
		$(CFLAGS) -c $< -o $@

$(OUT)/fuzz/fuzz-diff: $(OUT)/fuzz/host/diff.o $(OUT)/fuzz/host/api.o $(OUT)/fuzz/host/util.o \
		$(OUT)/selftests/lib/model.o $(OUT)/libmemslot.a
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^

fuzz-diff: $(OUT)/fuzz/fuzz-diff
	$(Q)mkdir -p $(OUT)/fuzz/diff && $< -n $(FUZZ_DIFF_OPS) -o $(OUT)/fuzz/diff

# The corpus replay: every committed input through the same entry points.
$(OUT)/selftests/test_fuzz_corpus.o: TEST_CFLAGS += -Ifuzz \
	-DFUZZ_CORPUS='"$(abspath fuzz/corpus)"'
$(OUT)/selftests/test_fuzz_corpus: $(OUT)/selftests/test_fuzz_corpus.o $(FUZZ_HOST_OBJS) \
		$(TESTLIB_OBJS) $(OUT)/libmemslot.a
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $(filter %.o %.a,$^) $(TOOL_LIBS)

# --- man pages -------------------------------------------------------------
# rst2man reads the page from stdin in man/, so that includes resolve there.
MAN_SRCS := $(filter-out man/common_options.rst man/substitutions.rst,$(wildcard man/*.rst))
MAN_PAGES := $(MAN_SRCS:man/%.rst=$(O)/man/%)
MAN_NAMES := $(basename $(notdir $(MAN_SRCS)))

man: $(MAN_PAGES)

# Every page lists the others under SEE ALSO: rebuild them all when the set
# of pages changes.
$(O)/man/.pages: FORCE
	$(Q)mkdir -p $(@D) && echo '$(MAN_NAMES)' | cmp -s - $@ || echo '$(MAN_NAMES)' > $@

$(O)/man/%: man/%.rst man/common_options.rst man/substitutions.rst $(O)/man/.pages 
	$(call msg,MAN,$@)
	$(Q)mkdir -p $(@D) && { cat $<; printf '\nSEE ALSO\n========\n'; \
		for p in $(MAN_NAMES); do [ "$$p" = "$*" ] || printf '**%s**\\ (%s), ' "$${p%.*}" "$${p##*.}"; \
		done | sed 's/, $$/\n/'; } | (cd man && rst2man --halt=warning - $(abspath $@))

FORCE:

# --- install / uninstall / clean -------------------------------------------
# INSTALL_FILES is the one list of what install installs and uninstall
# removes: MODE:SOURCE:DEST entries, DEST under $(DESTDIR); MODE "link"
# makes DEST a symbolic link to SOURCE. install records the directories
# it had to create (relative to DESTDIR) in INSTALL_DIRS_LOG; uninstall
# removes the files and that record, then those directories if empty.
LIBDIR := $(PREFIX)/lib
INCLUDEDIR := $(PREFIX)/include
MANDIR := $(PREFIX)/share/man
DATADIR := $(PREFIX)/share/memslot
PUBLIC_HEADERS := $(wildcard lib/include/memslot/*.h)
# the helper scripts README.rst tells users to run
USER_SCRIPTS := scripts/qmp-mtree.py scripts/trace-hotplug.py
INSTALL_FILES := \
	0755:$(OUT)/memslot:$(PREFIX)/sbin/memslot \
	0755:$(O)/memslot-vmtest.install:$(PREFIX)/libexec/memslot/memslot-vmtest \
	0644:$(OUT)/libmemslot.a:$(LIBDIR)/libmemslot.a \
	0644:$(OUT)/libmemslot.so:$(LIBDIR)/$(SONAME) \
	link:$(SONAME):$(LIBDIR)/libmemslot.so \
	0644:$(O)/libmemslot.pc:$(LIBDIR)/pkgconfig/libmemslot.pc \
	$(foreach h,$(PUBLIC_HEADERS),0644:$(h):$(INCLUDEDIR)/memslot/$(notdir $(h))) \
	$(foreach p,$(MAN_PAGES),0644:$(p):$(MANDIR)/man$(subst .,,$(suffix $(p)))/$(notdir $(p))) \
	$(foreach f,$(USER_SCRIPTS),0755:$(f):$(DATADIR)/$(notdir $(f))) \
	0644:completion/memslot.bash:$(PREFIX)/share/bash-completion/completions/memslot
INSTALL_SRCS := $(foreach e,$(filter-out link:%,$(INSTALL_FILES)),$(word 2,$(subst :, ,$(e))))
INSTALL_DIRS_LOG := $(DATADIR)/install-dirs

# selftests/test_install.c runs make install: what it copies is built first.
check: $(INSTALL_SRCS)

$(O)/memslot-vmtest.install: selftests/vmtest.sh
	$(call msg,GEN,$@)
	$(Q)mkdir -p $(@D) && sed 's|@CACHE@|/var/cache/memslot/vmtest|' $< > $@

# pkg-config file; rewritten only when PREFIX or VERSION change
PC_TEXT := 'prefix=$(PREFIX)' 'exec_prefix=$${prefix}' 'libdir=$${exec_prefix}/lib' \
	'includedir=$${prefix}/include' '' 'Name: libmemslot' \
	'Description: QEMU-exact memory regions, flat views, listeners and KVM memslots' \
	'Version: $(VERSION)' 'Libs: -L$${libdir} -lmemslot' 'Cflags: -I$${includedir}'
$(O)/libmemslot.pc: FORCE
	$(Q)mkdir -p $(@D) && printf '%s\n' $(PC_TEXT) | cmp -s - $@ || \
		{ printf '%s\n' $(PC_TEXT) > $@; printf '  %-5s %s\n' GEN $@; }

install: $(INSTALL_SRCS)
	$(Q)set -e; new=; for e in $(INSTALL_FILES); do \
		mode=$${e%%:*}; src=$${e#*:}; src=$${src%%:*}; dst='$(DESTDIR)'$${e##*:}; \
		d=$${dst%/*}; while [ -n "$$d" ] && [ "$$d" != '$(DESTDIR)' ] && [ ! -d "$$d" ]; do \
			new="$$new $${d#'$(DESTDIR)'}"; d=$${d%/*}; done; \
		printf '  %-5s %s\n' INST "$$dst"; \
		if [ "$$mode" = link ]; then mkdir -p "$${dst%/*}" && ln -sfn "$$src" "$$dst"; \
		else install -D -m "$$mode" "$$src" "$$dst"; fi; \
	done; log='$(DESTDIR)$(INSTALL_DIRS_LOG)'; \
	{ cat "$$log" 2>/dev/null || true; printf '%s\n' $$new; } | sed '/^$$/d' | sort -u > "$$log.tmp"; \
	mv -f "$$log.tmp" "$$log"

uninstall:
	$(Q)log='$(DESTDIR)$(INSTALL_DIRS_LOG)'; dirs=$$(sort -r "$$log" 2>/dev/null); rm -f "$$log"; \
	for e in $(INSTALL_FILES); do rm -f '$(DESTDIR)'$${e##*:}; done; \
	for d in $$dirs; do rmdir '$(DESTDIR)'"$$d" 2>/dev/null || true; done

clean:
	rm -rf $(O)

-include $(shell find $(OUT) $(BPF_DIR) -name '*.d'  2>/dev/null | sort -u)
