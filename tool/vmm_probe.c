// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Single guest commands of the VMM (vmm.h): one MMIO or port access, a
 * write to ROM read back by guest and host, hlt, and ud2.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "vmm_internal.h"

int vmm_halt(struct vmm *v, struct ms_error *err)
{
	int ret = vcpu_check_alive(v, err);

	if (ret)
		return ret;
	ret = vcpu_command(v, PROBE_CMD_HLT, err);
	if (ret)
		return ret;
	if (!v->cmd_hlts)
		return ms_error_set(err, -EIO, "guest: hlt did not exit with KVM_EXIT_HLT");
	return 0;
}

int vmm_crash(struct vmm *v, struct ms_error *err)
{
	int ret = vcpu_check_alive(v, err);

	if (ret)
		return ret;
	ret = vcpu_command(v, PROBE_CMD_UD2, err);
	if (ret == -EIO && v->mb->fault_vector == 6)
		return ret;
	if (!ret)
		vcpu_die(v, NULL, -EIO, "guest: survived ud2");
	return ms_error_set(err, -EPROTO, "guest: ud2 not reported as #UD: %s", v->death.msg);
}

static int access_cmd(struct vmm *v, uint64_t cmd, uint64_t addr, unsigned int size,
		      uint64_t value, struct ms_error *err)
{
	struct probe_mbox *mb = v->mb;
	uint64_t gibs[2] = { addr / GiB, (addr + size - 1) / GiB };
	size_t ngibs = 0;

	if (cmd != PROBE_CMD_PIO_IN && cmd != PROBE_CMD_PIO_OUT) {
		if (gibs[0])
			gibs[ngibs++] = gibs[0];
		if (gibs[1] && gibs[1] != gibs[0])
			gibs[ngibs++] = gibs[1];
		window_map(v, gibs, ngibs);
	}
	mb->addr = addr;
	mb->size = size;
	mb->value = value;
	mb->value_out = 0;
	mb->value_before = 0;
	return vcpu_command(v, cmd, err);
}

/*
 * Clear @res and check that the vCPU runs and that @size is 1, 2, 4 or (if
 * @max_size is 8) 8 bytes; @what names the access kind in the error.
 */
static int probe_start(struct vmm *v, const char *what, unsigned int size,
		       unsigned int max_size, struct vmm_probe_result *res, struct ms_error *err)
{
	int ret;

	memset(res, 0, sizeof(*res));
	ret = vcpu_check_alive(v, err);
	if (ret)
		return ret;
	if (size != 1 && size != 2 && size != 4 && (size != 8 || max_size != 8))
		return ms_error_set(err, -EINVAL, "%s: access size %u, not %s", what, size,
				    max_size == 8 ? "1, 2, 4 or 8" : "1, 2 or 4");
	return 0;
}

/* Run one access for vmm_probe_mmio() or vmm_probe_pio() and fill @res. */
static int probe_access(struct vmm *v, uint64_t cmd, uint64_t addr, unsigned int size,
			bool is_write, uint64_t value, struct vmm_probe_result *res,
			struct ms_error *err)
{
	int ret;

	ret = access_cmd(v, cmd, addr, size, value, err);
	if (ret)
		return ret;
	res->exits = v->nr_access;
	if (v->nr_access)
		res->access = v->first_access;
	res->value = is_write ? 0 : v->mb->value_out;
	return 0;
}

int vmm_probe_mmio(struct vmm *v, uint64_t gpa, unsigned int size, bool is_write,
		   uint64_t value, struct vmm_probe_result *res, struct ms_error *err)
{
	int ret = probe_start(v, "mmio", size, 8, res, err);

	if (ret)
		return ret;
	ret = window_check_gpa(v, gpa, size, err);
	if (ret)
		return ret;
	return probe_access(v, is_write ? PROBE_CMD_WRITE : PROBE_CMD_READ, gpa, size, is_write,
			    value, res, err);
}

int vmm_probe_pio(struct vmm *v, uint16_t port, unsigned int size, bool is_write,
		  uint64_t value, struct vmm_probe_result *res, struct ms_error *err)
{
	int ret = probe_start(v, "pio", size, 4, res, err);

	if (ret)
		return ret;
	if (port >= PROBE_PORT && port <= PROBE_PORT_FAULT)
		return ms_error_set(err, -EINVAL, "pio: port 0x%x is the guest's mailbox", port);
	return probe_access(v, is_write ? PROBE_CMD_PIO_OUT : PROBE_CMD_PIO_IN, port, size,
			    is_write, value, res, err);
}

int vmm_probe_rom_write(struct vmm *v, uint64_t gpa, uint8_t value, struct vmm_rom_result *res,
			struct ms_error *err)
{
	const struct ms_flat_range *fr;
	uint64_t len = 1;
	uint8_t *hva;
	int ret;

	memset(res, 0, sizeof(*res));
	ret = vcpu_check_alive(v, err);
	if (ret)
		return ret;
	ret = window_check_gpa(v, gpa, 1, err);
	if (ret)
		return ret;
	fr = ms_as__translate(v->mem_as, gpa, &res->offset, &len);
	if (!fr || !ms_region__host_ptr(fr->mr))
		return ms_error_set(err, -EINVAL, "rom: no host memory at 0x%" PRIx64 " (%s)", gpa,
				    fr ? ms_region__name(fr->mr) : "unassigned");
	vcpu_name_region(fr, res->region);
	hva = (uint8_t *)ms_region__host_ptr(fr->mr) + res->offset;
	res->host_before = *hva;
	if (value == res->host_before)
		return ms_error_set(err, -EINVAL,
				    "rom: 0x%" PRIx64 " already holds 0x%02x: write another value",
				    gpa, value);
	ret = access_cmd(v, PROBE_CMD_WRITE_READ, gpa, 1, value, err);
	if (ret)
		return ret;
	res->host_after = *hva;
	res->guest_before = (uint8_t)v->mb->value_before;
	res->guest_after = (uint8_t)v->mb->value_out;
	res->exited = v->nr_access > 0;
	if (res->exited)
		res->access = v->first_access;
	res->unchanged = res->host_after == res->host_before &&
			 res->guest_after == res->guest_before;
	return 0;
}
