// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The VMM's vCPU loop: KVM_RUN until the probe guest reports, with exit
 * handling that sends MMIO exits through the "memory" address space and
 * port I/O through "I/O", as QEMU's KVM loop does
 * (Documentation/virt/kvm/api.rst 4.10 KVM_RUN, 5. struct kvm_run), and
 * the mailbox commands built on it. No in-kernel irqchip is created (see
 * vmm.c), so that the IOAPIC and APIC windows exit to user space like any
 * other MMIO, and HLT exits as KVM_EXIT_HLT.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include <linux/kvm.h>

#include "vmm_internal.h"

static const char *vector_name(uint64_t vec)
{
	static const char *const names[] = {
		"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "vector 9",
		"#TS", "#NP", "#SS", "#GP", "#PF", "vector 15", "#MF", "#AC", "#MC", "#XM",
		"#VE", "#CP",
	};

	return vec < sizeof(names) / sizeof(names[0]) ? names[vec] : "exception";
}

/* The guest (or the vCPU) is gone for good: remember why. */
int vcpu_die(struct vmm *v, struct ms_error *err, int ret, const char *fmt, ...)
{
	va_list ap;

	v->dead = true;
	v->death.err = ret;
	va_start(ap, fmt);
	vsnprintf(v->death.msg, sizeof(v->death.msg), fmt, ap);
	va_end(ap);
	if (err)
		*err = v->death;
	return ret;
}

int vcpu_check_alive(struct vmm *v, struct ms_error *err)
{
	if (!v->dead)
		return 0;
	return ms_error_set(err, -EIO, "vcpu: dead since: %s", v->death.msg);
}

static uint64_t guest_rip(struct vmm *v)
{
	struct kvm_regs regs;

	return ioctl(v->vcpu_fd, KVM_GET_REGS, &regs) ? 0 : regs.rip;
}

void vcpu_name_region(const struct ms_flat_range *fr, char name[VMM_NAME_LEN])
{
	const char *s = fr ? ms_region__name(fr->mr) : "";

	snprintf(name, VMM_NAME_LEN, "%s", s ? s : "(null)");
}

static void record(struct vmm *v, const struct vmm_access *a)
{
	if (!v->nr_access++)
		v->first_access = *a;
}

/* KVM_EXIT_MMIO: serve it through "memory" like QEMU's kvm_cpu_exec(). */
static void handle_mmio(struct vmm *v)
{
	struct kvm_run *run = v->run;
	const struct ms_flat_range *fr;
	struct vmm_access a = {
		.is_write = run->mmio.is_write,
		.addr = run->mmio.phys_addr,
		.size = run->mmio.len,
	};
	uint64_t len = run->mmio.len, data = 0;

	fr = ms_as__translate(v->mem_as, a.addr, &a.offset, &len);
	vcpu_name_region(fr, a.region);
	if (!a.is_write)
		memset(run->mmio.data, 0, sizeof(run->mmio.data));
	a.memtx = ms_as__rw(v->mem_as, a.addr, run->mmio.data, run->mmio.len, a.is_write);
	memcpy(&data, run->mmio.data, a.size < 8 ? a.size : 8);
	a.data = data;
	/*
	 * RAM in the flat view but an exit from KVM: no slot covers it. A write
	 * to ROM is the one expected case (READONLY slot, rule 10.7).
	 */
	if (fr && ms_region__is_ram(fr->mr) && !ms_region__is_ram_device(fr->mr) &&
	    !(a.is_write && ms_region__is_rom(fr->mr))) {
		if (!v->unslotted++)
			v->first_unslotted = a.addr;
	}
	record(v, &a);
}

/* KVM_EXIT_IO other than the mailbox: serve it through "I/O". */
static void handle_pio(struct vmm *v)
{
	struct kvm_run *run = v->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	const struct ms_flat_range *fr;
	struct vmm_access a = {
		.is_write = run->io.direction == KVM_EXIT_IO_OUT,
		.is_pio = true,
		.addr = run->io.port,
		.size = run->io.size,
	};
	uint64_t len = run->io.size, val = 0;

	fr = v->io_as ? ms_as__translate(v->io_as, a.addr, &a.offset, &len) : NULL;
	vcpu_name_region(fr, a.region);
	/* string I/O repeats the port access count times (api.rst, KVM_EXIT_IO) */
	for (uint32_t i = 0; i < run->io.count; i++) {
		uint8_t *p = data + (size_t)i * run->io.size;

		if (!a.is_write)
			memset(p, 0, run->io.size);
		if (v->io_as)
			a.memtx |= ms_as__rw(v->io_as, a.addr, p, run->io.size, a.is_write);
		else
			a.memtx |= MS_MEMTX_DECODE_ERROR;
	}
	memcpy(&val, data, a.size < 8 ? a.size : 8);
	a.data = val;
	record(v, &a);
}

/*
 * Run the vCPU until the guest reports on PROBE_PORT; serve every other
 * exit on the way. @status gets the guest's status word.
 */
int vcpu_run(struct vmm *v, uint32_t *status, struct ms_error *err)
{
	struct kvm_run *run = v->run;

	v->nr_access = 0;
	v->unslotted = 0;
	v->first_unslotted = UINT64_MAX;
	v->cmd_hlts = 0;
	for (;;) {
		uint64_t t0 = now_ns();
		int ret = ioctl(v->vcpu_fd, KVM_RUN, 0);
		int e = errno;

		v->st.run_ns += now_ns() - t0;
		v->st.runs++;
		if (ret < 0) {
			if (e == EINTR || e == EAGAIN)
				continue;
			return vcpu_die(v, err, -e, "vcpu: KVM_RUN: %s", strerror(e));
		}
		v->st.exits++;
		switch (run->exit_reason) {
		case KVM_EXIT_IO:
			v->st.io_exits++;
			if (run->io.port == PROBE_PORT && run->io.direction == KVM_EXIT_IO_OUT &&
			    run->io.size == 4 && run->io.count == 1) {
				memcpy(status, (uint8_t *)run + run->io.data_offset, 4);
				return 0;
			}
			if (run->io.port == PROBE_PORT_FAULT) {
				const struct probe_mbox *mb = v->mb;

				return vcpu_die(v, err, -EIO,
					   "guest: %s error 0x%" PRIx64 " at rip 0x%" PRIx64
					   " cr2 0x%" PRIx64, vector_name(mb->fault_vector),
					   mb->fault_error, mb->fault_rip, mb->fault_cr2);
			}
			handle_pio(v);
			break;
		case KVM_EXIT_MMIO:
			v->st.mmio_exits++;
			handle_mmio(v);
			break;
		case KVM_EXIT_HLT:
			/* without an in-kernel irqchip the next KVM_RUN resumes after hlt */
			v->st.hlt_exits++;
			v->cmd_hlts++;
			break;
		case KVM_EXIT_SHUTDOWN:
			return vcpu_die(v, err, -EIO, "guest: shutdown (triple fault) at rip 0x%" PRIx64,
				   guest_rip(v));
		case KVM_EXIT_INTERNAL_ERROR:
			return vcpu_die(v, err, -EIO,
				   "vcpu: KVM internal error, suberror %u at rip 0x%" PRIx64,
				   run->internal.suberror, guest_rip(v));
		case KVM_EXIT_FAIL_ENTRY:
			return vcpu_die(v, err, -EIO, "vcpu: entry failed, reason 0x%llx",
				   (unsigned long long)
				   run->fail_entry.hardware_entry_failure_reason);
		default:
			return vcpu_die(v, err, -EIO,
				   "vcpu: unexpected exit reason %u at rip 0x%" PRIx64,
				   run->exit_reason, guest_rip(v));
		}
	}
}

/* Issue the command in the mailbox and wait for its report. */
int vcpu_command(struct vmm *v, uint64_t cmd, struct ms_error *err)
{
	uint32_t status = 0;
	int ret;

	v->mb->cmd = cmd;
	v->mb->status = ~0ULL;
	v->st.commands++;
	ret = vcpu_run(v, &status, err);
	v->mb->nr_maps = 0;
	if (ret)
		return ret;
	if (status != PROBE_STATUS_OK)
		return vcpu_die(v, err, -EIO, "guest: command %" PRIu64 " failed with status %u", cmd,
			   status);
	return 0;
}
