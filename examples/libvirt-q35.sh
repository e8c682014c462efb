#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# A command line as libvirt 9 generates it for a q35 guest with two NUMA
# nodes, a DIMM and virtio-mem (JSON -object/-device, -numa memdev=,
# -smp, -name, and the options that do not affect memory, which memslot
# names in one note line): planned as QEMU 7.2 would build it.
#
# $ sh examples/libvirt-q35.sh
memslot plan \
	-name guest=vm1,debug-threads=on -S \
	-machine pc-q35-7.2,usb=off,vmport=off,dump-guest-core=off \
	-accel kvm -cpu host,migratable=on \
	-m size=4194304k,slots=4,maxmem=16777216k \
	-overcommit mem-lock=off -smp 4,sockets=2,dies=1,cores=2,threads=1 \
	-object '{"qom-type":"memory-backend-ram","id":"ram-node0","size":2147483648}' \
	-numa node,nodeid=0,cpus=0-1,memdev=ram-node0 \
	-object '{"qom-type":"memory-backend-ram","id":"ram-node1","size":2147483648}' \
	-numa node,nodeid=1,cpus=2-3,memdev=ram-node1 \
	-uuid 0b7f4b4e-37c6-4bd1-9c3b-2a0d2e4e0f61 -display none -no-user-config -nodefaults \
	-rtc base=utc,driftfix=slew -no-shutdown -boot strict=on \
	-device '{"driver":"pcie-root-port","port":16,"chassis":1,"id":"pci.1","bus":"pcie.0","multifunction":true,"addr":"0x2"}' \
	-device '{"driver":"pcie-root-port","port":17,"chassis":2,"id":"pci.2","bus":"pcie.0","addr":"0x2.0x1"}' \
	-object '{"qom-type":"memory-backend-file","id":"memdimm0","mem-path":"/dev/shm","share":true,"size":1073741824,"host-nodes":[0],"policy":"bind"}' \
	-device '{"driver":"pc-dimm","node":0,"memdev":"memdimm0","id":"dimm0","slot":0}' \
	-object '{"qom-type":"memory-backend-ram","id":"memvirtiomem0","reserve":false,"size":4294967296}' \
	-device '{"driver":"virtio-mem-pci","node":1,"block-size":2097152,"requested-size":1073741824,"memdev":"memvirtiomem0","id":"virtiomem0","bus":"pci.2","addr":"0x0"}' \
	-sandbox on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny \
	-msg timestamp=on
