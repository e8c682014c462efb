// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * What QEMU 7.2's qemu-system-x86_64 knows, for reading real command lines
 * (plan.h): its options and whether each takes an argument (`-help`, each
 * option tried without its argument), its device models (`-device help`),
 * its user-creatable object types (`-object help`) and the pc and q35
 * machine types with their versions (`-machine help`). Generated from the
 * Debian 7.2 binary; names only.
 */
#include <stdlib.h>
#include <string.h>

#include "plan.h"

static const char *const qemu_devices[] = {
	"486-v1-x86_64-cpu", "486-x86_64-cpu", "AC97", "AMDVI-PCI",
	"Broadwell-IBRS-x86_64-cpu", "Broadwell-noTSX-IBRS-x86_64-cpu",
	"Broadwell-noTSX-x86_64-cpu", "Broadwell-v1-x86_64-cpu", "Broadwell-v2-x86_64-cpu",
	"Broadwell-v3-x86_64-cpu", "Broadwell-v4-x86_64-cpu", "Broadwell-x86_64-cpu",
	"Cascadelake-Server-noTSX-x86_64-cpu", "Cascadelake-Server-v1-x86_64-cpu",
	"Cascadelake-Server-v2-x86_64-cpu", "Cascadelake-Server-v3-x86_64-cpu",
	"Cascadelake-Server-v4-x86_64-cpu", "Cascadelake-Server-v5-x86_64-cpu",
	"Cascadelake-Server-x86_64-cpu", "Conroe-v1-x86_64-cpu", "Conroe-x86_64-cpu",
	"Cooperlake-v1-x86_64-cpu", "Cooperlake-v2-x86_64-cpu", "Cooperlake-x86_64-cpu",
	"Denverton-v1-x86_64-cpu", "Denverton-v2-x86_64-cpu", "Denverton-v3-x86_64-cpu",
	"Denverton-x86_64-cpu", "Dhyana-v1-x86_64-cpu", "Dhyana-v2-x86_64-cpu",
	"Dhyana-x86_64-cpu", "EPYC-IBPB-x86_64-cpu", "EPYC-Milan-v1-x86_64-cpu",
	"EPYC-Milan-x86_64-cpu", "EPYC-Rome-v1-x86_64-cpu", "EPYC-Rome-v2-x86_64-cpu",
	"EPYC-Rome-x86_64-cpu", "EPYC-v1-x86_64-cpu", "EPYC-v2-x86_64-cpu",
	"EPYC-v3-x86_64-cpu", "EPYC-x86_64-cpu", "ES1370", "Haswell-IBRS-x86_64-cpu",
	"Haswell-noTSX-IBRS-x86_64-cpu", "Haswell-noTSX-x86_64-cpu", "Haswell-v1-x86_64-cpu",
	"Haswell-v2-x86_64-cpu", "Haswell-v3-x86_64-cpu", "Haswell-v4-x86_64-cpu",
	"Haswell-x86_64-cpu", "Icelake-Server-noTSX-x86_64-cpu",
	"Icelake-Server-v1-x86_64-cpu", "Icelake-Server-v2-x86_64-cpu",
	"Icelake-Server-v3-x86_64-cpu", "Icelake-Server-v4-x86_64-cpu",
	"Icelake-Server-v5-x86_64-cpu", "Icelake-Server-v6-x86_64-cpu",
	"Icelake-Server-x86_64-cpu", "IvyBridge-IBRS-x86_64-cpu", "IvyBridge-v1-x86_64-cpu",
	"IvyBridge-v2-x86_64-cpu", "IvyBridge-x86_64-cpu", "KnightsMill-v1-x86_64-cpu",
	"KnightsMill-x86_64-cpu", "Nehalem-IBRS-x86_64-cpu", "Nehalem-v1-x86_64-cpu",
	"Nehalem-v2-x86_64-cpu", "Nehalem-x86_64-cpu", "Opteron_G1-v1-x86_64-cpu",
	"Opteron_G1-x86_64-cpu", "Opteron_G2-v1-x86_64-cpu", "Opteron_G2-x86_64-cpu",
	"Opteron_G3-v1-x86_64-cpu", "Opteron_G3-x86_64-cpu", "Opteron_G4-v1-x86_64-cpu",
	"Opteron_G4-x86_64-cpu", "Opteron_G5-v1-x86_64-cpu", "Opteron_G5-x86_64-cpu",
	"Penryn-v1-x86_64-cpu", "Penryn-x86_64-cpu", "SandyBridge-IBRS-x86_64-cpu",
	"SandyBridge-v1-x86_64-cpu", "SandyBridge-v2-x86_64-cpu", "SandyBridge-x86_64-cpu",
	"Skylake-Client-IBRS-x86_64-cpu", "Skylake-Client-noTSX-IBRS-x86_64-cpu",
	"Skylake-Client-v1-x86_64-cpu", "Skylake-Client-v2-x86_64-cpu",
	"Skylake-Client-v3-x86_64-cpu", "Skylake-Client-v4-x86_64-cpu",
	"Skylake-Client-x86_64-cpu", "Skylake-Server-IBRS-x86_64-cpu",
	"Skylake-Server-noTSX-IBRS-x86_64-cpu", "Skylake-Server-v1-x86_64-cpu",
	"Skylake-Server-v2-x86_64-cpu", "Skylake-Server-v3-x86_64-cpu",
	"Skylake-Server-v4-x86_64-cpu", "Skylake-Server-v5-x86_64-cpu",
	"Skylake-Server-x86_64-cpu", "Snowridge-v1-x86_64-cpu", "Snowridge-v2-x86_64-cpu",
	"Snowridge-v3-x86_64-cpu", "Snowridge-v4-x86_64-cpu", "Snowridge-x86_64-cpu", "VGA",
	"Westmere-IBRS-x86_64-cpu", "Westmere-v1-x86_64-cpu", "Westmere-v2-x86_64-cpu",
	"Westmere-x86_64-cpu", "acpi-erst", "adlib", "am53c974", "amd-iommu",
	"athlon-v1-x86_64-cpu", "athlon-x86_64-cpu", "ati-vga", "base-x86_64-cpu",
	"bochs-display", "ccid-card-emulated", "ccid-card-passthru", "cirrus-vga",
	"core2duo-v1-x86_64-cpu", "core2duo-x86_64-cpu", "coreduo-v1-x86_64-cpu",
	"coreduo-x86_64-cpu", "cs4231a", "ctucan_pci", "cxl-downstream", "cxl-rp", "cxl-type3",
	"cxl-upstream", "dc390", "e1000", "e1000-82544gc", "e1000-82545em", "e1000e", "edu",
	"floppy", "guest-loader", "gus", "hda-duplex", "hda-micro", "hda-output",
	"host-x86_64-cpu", "hv-syndbg", "hyperv-testdev", "i2c-ddc", "i6300esb", "i8042",
	"i82550", "i82551", "i82557a", "i82557b", "i82557c", "i82558a", "i82558b", "i82559a",
	"i82559b", "i82559c", "i82559er", "i82562", "i82801", "i82801b11-bridge", "ib700",
	"ich9-ahci", "ich9-intel-hda", "ich9-usb-ehci1", "ich9-usb-ehci2", "ich9-usb-uhci1",
	"ich9-usb-uhci2", "ich9-usb-uhci3", "ich9-usb-uhci4", "ich9-usb-uhci5",
	"ich9-usb-uhci6", "ide-cd", "ide-hd", "intel-hda", "intel-iommu", "ioh3420",
	"ipmi-bmc-extern", "ipmi-bmc-sim", "ipoctal232", "isa-applesmc", "isa-cirrus-vga",
	"isa-debug-exit", "isa-debugcon", "isa-fdc", "isa-ide", "isa-ipmi-bt", "isa-ipmi-kcs",
	"isa-parallel", "isa-serial", "isa-vga", "ivshmem-doorbell", "ivshmem-plain",
	"kvaser_pci", "kvm32-v1-x86_64-cpu", "kvm32-x86_64-cpu", "kvm64-v1-x86_64-cpu",
	"kvm64-x86_64-cpu", "loader", "lsi53c810", "lsi53c895a", "max-x86_64-cpu",
	"mc146818rtc", "megasas", "megasas-gen2", "mioe3680_pci", "mptsas1068",
	"n270-v1-x86_64-cpu", "n270-x86_64-cpu", "ne2k_isa", "ne2k_pci", "nec-usb-xhci",
	"nvdimm", "nvme", "nvme-ns", "nvme-subsys", "pc-dimm", "pc-testdev", "pci-bridge",
	"pci-bridge-seat", "pci-ipmi-bt", "pci-ipmi-kcs", "pci-ohci", "pci-serial",
	"pci-serial-2x", "pci-serial-4x", "pci-testdev", "pcie-pci-bridge", "pcie-root-port",
	"pcm3680_pci", "pcnet", "pentium-v1-x86_64-cpu", "pentium-x86_64-cpu",
	"pentium2-v1-x86_64-cpu", "pentium2-x86_64-cpu", "pentium3-v1-x86_64-cpu",
	"pentium3-x86_64-cpu", "phenom-v1-x86_64-cpu", "phenom-x86_64-cpu", "piix3-ide",
	"piix3-usb-uhci", "piix4-ide", "piix4-usb-uhci", "pvpanic", "pvpanic-pci", "pvrdma",
	"pvscsi", "pxb", "pxb-cxl", "pxb-pcie", "qemu-xhci", "qemu32-v1-x86_64-cpu",
	"qemu32-x86_64-cpu", "qemu64-v1-x86_64-cpu", "qemu64-x86_64-cpu", "qxl", "qxl-vga",
	"ramfb", "rocker", "rtl8139", "sb16", "scsi-block", "scsi-cd", "scsi-generic",
	"scsi-hd", "sd-card", "sdhci-pci", "secondary-vga", "sga", "smbus-ipmi", "tpci200",
	"tpm-crb", "tpm-tis", "tulip", "u2f-passthru", "usb-audio", "usb-bot", "usb-braille",
	"usb-ccid", "usb-ehci", "usb-host", "usb-hub", "usb-kbd", "usb-mouse", "usb-mtp",
	"usb-net", "usb-redir", "usb-serial", "usb-storage", "usb-tablet", "usb-uas",
	"usb-wacom-tablet", "vfio-pci", "vfio-pci-igd-lpc-bridge", "vfio-pci-nohotplug",
	"vhost-scsi", "vhost-scsi-pci", "vhost-scsi-pci-non-transitional",
	"vhost-scsi-pci-transitional", "vhost-user-blk", "vhost-user-blk-pci",
	"vhost-user-blk-pci-non-transitional", "vhost-user-blk-pci-transitional",
	"vhost-user-fs-device", "vhost-user-fs-pci", "vhost-user-gpio-device",
	"vhost-user-gpio-pci", "vhost-user-gpu", "vhost-user-gpu-pci", "vhost-user-i2c-device",
	"vhost-user-i2c-pci", "vhost-user-input", "vhost-user-input-pci", "vhost-user-rng",
	"vhost-user-rng-pci", "vhost-user-scsi", "vhost-user-scsi-pci",
	"vhost-user-scsi-pci-non-transitional", "vhost-user-scsi-pci-transitional",
	"vhost-user-vga", "vhost-user-vsock-device", "vhost-user-vsock-pci",
	"vhost-user-vsock-pci-non-transitional", "vhost-vsock-device", "vhost-vsock-pci",
	"vhost-vsock-pci-non-transitional", "virtconsole", "virtio-9p-device", "virtio-9p-pci",
	"virtio-9p-pci-non-transitional", "virtio-9p-pci-transitional",
	"virtio-balloon-device", "virtio-balloon-pci", "virtio-balloon-pci-non-transitional",
	"virtio-balloon-pci-transitional", "virtio-blk-device", "virtio-blk-pci",
	"virtio-blk-pci-non-transitional", "virtio-blk-pci-transitional",
	"virtio-crypto-device", "virtio-crypto-pci", "virtio-gpu-device", "virtio-gpu-gl-pci",
	"virtio-gpu-pci", "virtio-input-host-device", "virtio-input-host-pci",
	"virtio-iommu-device", "virtio-iommu-pci", "virtio-keyboard-device",
	"virtio-keyboard-pci", "virtio-mem", "virtio-mem-pci", "virtio-mouse-device",
	"virtio-mouse-pci", "virtio-net-device", "virtio-net-pci",
	"virtio-net-pci-non-transitional", "virtio-net-pci-transitional", "virtio-pmem",
	"virtio-pmem-pci", "virtio-rng-device", "virtio-rng-pci",
	"virtio-rng-pci-non-transitional", "virtio-rng-pci-transitional", "virtio-scsi-device",
	"virtio-scsi-pci", "virtio-scsi-pci-non-transitional", "virtio-scsi-pci-transitional",
	"virtio-serial-device", "virtio-serial-pci", "virtio-serial-pci-non-transitional",
	"virtio-serial-pci-transitional", "virtio-tablet-device", "virtio-tablet-pci",
	"virtio-vga", "virtio-vga-gl", "virtserialport", "vmbus-bridge", "vmcoreinfo",
	"vmgenid", "vmmouse", "vmware-svga", "vmxnet3", "x-pci-proxy-dev", "x3130-upstream",
	"xio3130-downstream",
};

static const char *const qemu_objects[] = {
	"authz-list", "authz-list-file", "authz-simple", "can-bus", "can-host-socketcan",
	"colo-compare", "cryptodev-backend", "cryptodev-backend-builtin",
	"cryptodev-vhost-user", "dbus-vmstate", "filter-buffer", "filter-dump",
	"filter-mirror", "filter-redirector", "filter-replay", "filter-rewriter",
	"input-barrier", "input-linux", "iothread", "main-loop", "memory-backend-file",
	"memory-backend-memfd", "memory-backend-ram", "pr-manager-helper", "qtest",
	"rng-builtin", "rng-egd", "rng-random", "secret", "secret_keyring", "sev-guest",
	"thread-context", "throttle-group", "tls-cipher-suites", "tls-creds-anon",
	"tls-creds-psk", "tls-creds-x509", "x-remote-object",
};

static const char *const qemu_arg_options[] = {
	"D", "L", "M", "accel", "acpitable", "action", "add-fd", "append", "audio", "audiodev",
	"bios", "blockdev", "boot", "cdrom", "chardev", "chroot", "compat", "cpu", "d",
	"debugcon", "device", "dfilter", "display", "drive", "dtb", "dump-vmstate", "echr",
	"fda", "fdb", "fsdev", "fw_cfg", "gdb", "global", "hda", "hdb", "hdc", "hdd", "icount",
	"incoming", "initrd", "iscsi", "k", "kernel", "loadvm", "m", "machine", "mem-path",
	"mon", "monitor", "msg", "mtdblock", "name", "net", "netdev", "nic", "numa", "object",
	"option-rom", "overcommit", "parallel", "pflash", "pidfile", "plugin", "qmp",
	"qmp-pretty", "readconfig", "rotate", "rtc", "runas", "sandbox", "sd", "seed",
	"serial", "set", "smbios", "smp", "spice", "tpmdev", "trace", "usbdevice", "uuid",
	"vga", "virtfs", "vnc", "watchdog-action", "xen-domid",
};

static const char *const qemu_flag_options[] = {
	"S", "async-teardown", "audio-help", "daemonize", "enable-kvm", "enable-sync-profile",
	"full-screen", "h", "help", "mem-prealloc", "no-acpi", "no-fd-bootchk", "no-hpet",
	"no-reboot", "no-shutdown", "no-user-config", "nodefaults", "nographic",
	"only-migratable", "portrait", "preconfig", "s", "singlestep", "snapshot", "usb",
	"version", "win2k-hack", "xen-attach", "xen-domid-restrict",
};

/* pc-i440fx-X.Y and pc-q35-X.Y as QEMU 7.2 lists them; "pc" and "q35" are aliases */
static const struct qemu_machine_type machine_types[] = {
	{ "pc", false, 7, 2 }, { "q35", true, 7, 2 },
	{ "pc-i440fx-7.2", false, 7, 2 }, { "pc-i440fx-7.1", false, 7, 1 },
	{ "pc-i440fx-7.0", false, 7, 0 }, { "pc-i440fx-6.2", false, 6, 2 },
	{ "pc-i440fx-6.1", false, 6, 1 }, { "pc-i440fx-6.0", false, 6, 0 },
	{ "pc-i440fx-5.2", false, 5, 2 }, { "pc-i440fx-5.1", false, 5, 1 },
	{ "pc-i440fx-5.0", false, 5, 0 }, { "pc-i440fx-4.2", false, 4, 2 },
	{ "pc-i440fx-4.1", false, 4, 1 }, { "pc-i440fx-4.0", false, 4, 0 },
	{ "pc-i440fx-3.1", false, 3, 1 }, { "pc-i440fx-3.0", false, 3, 0 },
	{ "pc-i440fx-2.9", false, 2, 9 }, { "pc-i440fx-2.8", false, 2, 8 },
	{ "pc-i440fx-2.7", false, 2, 7 }, { "pc-i440fx-2.6", false, 2, 6 },
	{ "pc-i440fx-2.5", false, 2, 5 }, { "pc-i440fx-2.4", false, 2, 4 },
	{ "pc-i440fx-2.3", false, 2, 3 }, { "pc-i440fx-2.2", false, 2, 2 },
	{ "pc-i440fx-2.12", false, 2, 12 }, { "pc-i440fx-2.11", false, 2, 11 },
	{ "pc-i440fx-2.10", false, 2, 10 }, { "pc-i440fx-2.1", false, 2, 1 },
	{ "pc-i440fx-2.0", false, 2, 0 }, { "pc-i440fx-1.7", false, 1, 7 },
	{ "pc-i440fx-1.6", false, 1, 6 }, { "pc-i440fx-1.5", false, 1, 5 },
	{ "pc-i440fx-1.4", false, 1, 4 }, { "pc-q35-7.2", true, 7, 2 },
	{ "pc-q35-7.1", true, 7, 1 }, { "pc-q35-7.0", true, 7, 0 },
	{ "pc-q35-6.2", true, 6, 2 }, { "pc-q35-6.1", true, 6, 1 },
	{ "pc-q35-6.0", true, 6, 0 }, { "pc-q35-5.2", true, 5, 2 },
	{ "pc-q35-5.1", true, 5, 1 }, { "pc-q35-5.0", true, 5, 0 },
	{ "pc-q35-4.2", true, 4, 2 }, { "pc-q35-4.1", true, 4, 1 },
	{ "pc-q35-4.0.1", true, 4, 0 }, { "pc-q35-4.0", true, 4, 0 },
	{ "pc-q35-3.1", true, 3, 1 }, { "pc-q35-3.0", true, 3, 0 },
	{ "pc-q35-2.9", true, 2, 9 }, { "pc-q35-2.8", true, 2, 8 },
	{ "pc-q35-2.7", true, 2, 7 }, { "pc-q35-2.6", true, 2, 6 },
	{ "pc-q35-2.5", true, 2, 5 }, { "pc-q35-2.4", true, 2, 4 },
	{ "pc-q35-2.12", true, 2, 12 }, { "pc-q35-2.11", true, 2, 11 },
	{ "pc-q35-2.10", true, 2, 10 },
};

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static int cmp_str(const void *key, const void *elem)
{
	return strcmp(key, *(const char *const *)elem);
}

static bool in_sorted(const char *s, const char *const *arr, size_t n)
{
	return bsearch(s, arr, n, sizeof(*arr), cmp_str) != NULL;
}

int qemu_option_kind(const char *name)
{
	if (in_sorted(name, qemu_arg_options, ARRAY_LEN(qemu_arg_options)))
		return 1;
	if (in_sorted(name, qemu_flag_options, ARRAY_LEN(qemu_flag_options)))
		return 0;
	return -1;
}

bool qemu_device_known(const char *driver)
{
	return in_sorted(driver, qemu_devices, ARRAY_LEN(qemu_devices));
}

bool qemu_object_known(const char *type)
{
	return in_sorted(type, qemu_objects, ARRAY_LEN(qemu_objects));
}

const struct qemu_machine_type *qemu_machine_type_find(const char *name)
{
	for (size_t i = 0; i < ARRAY_LEN(machine_types); i++)
		if (!strcmp(machine_types[i].name, name))
			return &machine_types[i];
	return NULL;
}

bool qemu_machine_at_most(const struct qemu_machine_type *t, int major, int minor)
{
	return t->major < major || (t->major == major && t->minor <= minor);
}
