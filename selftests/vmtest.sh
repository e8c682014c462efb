#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# vmtest.sh: run a command inside a guest kernel booted under QEMU, with
# the host's / shared read-only (9p, tmpfs overlay on top) and KVM loaded,
# so that memslot's KVM and BPF work runs on kernels the host does not run
# or on a host without /dev/kvm.
#
#   vmtest.sh [OPTIONS] [--] COMMAND [ARG...]
#   vmtest.sh [OPTIONS] --fetch
#   vmtest.sh --kvm-usable
#
#   -k, --kernel K   debian-X.Y (a Debian linux-image package, fetched with
#                    apt-get download and cached, keyed by its version), or
#                    the path of a bzImage (default: debian-6.12)
#   --modules DIR    modules of a bzImage: a directory holding
#                    lib/modules/<release> (INSTALL_MOD_PATH) or
#                    <release> itself; without it, what the guest needs
#                    must be built in
#   --cache DIR      package cache (default: $MEMSLOT_VMTEST_CACHE, else
#                    @CACHE@)
#   -m, --memory M   guest memory (QEMU -m syntax, default 8G)
#   --smp N          guest CPUs (default 2)
#   --accel A        kvm or tcg (default: kvm if /dev/kvm can create a VM)
#   --rw DIR         share DIR read-write at the same path (repeatable)
#   --env NAME       pass NAME from the environment (repeatable; MEMSLOT, MEMSLOT_*,
#                    ASAN_OPTIONS, UBSAN_OPTIONS, LSAN_OPTIONS and PATH
#                    always pass)
#   --timeout S      kill the guest after S seconds (default 3600)
#   --fetch          fetch and prepare the kernel only
#   --kvm-usable     exit 0 if /dev/kvm can create a VM, else print why
#                    and exit 1 (the test behind the default --accel)
#   -v, --verbose    stream the guest kernel's console to stderr
#   -q, --quiet      do not print the kernel/acceleration line
#
# The command runs as root in the host's working directory, with stdin
# from /dev/null; its stdout and stderr are streamed to ours and its exit
# status is ours. The runner's own messages start with "vmtest: " and go
# to stderr; it exits 125 when it cannot start the guest or the guest ends
# without reporting an exit status (the console's tail is printed then).
# Inside, MEMSLOT_VMTEST names the kernel and MEMSLOT_VMTEST_ACCEL the
# acceleration; under TCG MEMSLOT_TIMEOUT_SCALE (default 4) scales the
# selftests' per-test timeouts.
set -euo pipefail

prog=vmtest
die() {
	echo "$prog: $*" >&2
	exit 125
}

kernel=debian-6.12
modules=''
tmp_modroot=''
cache=${MEMSLOT_VMTEST_CACHE:-@CACHE@}
case $cache in @*) cache=${XDG_CACHE_HOME:-$HOME/.cache}/memslot/vmtest ;; esac
memory=8G
smp=2
accel=''
rw=()
envs=()
timeout_s=3600
fetch_only=0
verbose=0
quiet=0

# Can /dev/kvm run a guest? It must open read-write and create a VM: a
# guest without nested virtualization may have the node, or a container
# may forbid the ioctl. This is the test of kvm_usable() in
# tool/vmfallback.c, which decides for `memslot run` and passes --accel
# on; the Makefile's KVM_USABLE asks --kvm-usable. Prints why not.
kvm_usable() {
	command -v python3 >/dev/null || { echo "python3 not found, /dev/kvm untested"; return 1; }
	python3 -c '
import fcntl, os, sys
try:
    fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
except OSError as e:
    sys.exit("/dev/kvm: " + os.strerror(e.errno))
try:
    os.close(fcntl.ioctl(fd, 0xAE01, 0))  # KVM_CREATE_VM, _IO(KVMIO, 0x01)
except OSError as e:
    sys.exit("/dev/kvm: KVM_CREATE_VM: " + os.strerror(e.errno))
' 2>&1
}

need_arg() {
	[[ $# -ge 2 ]] || { echo "$prog: $1: missing argument" >&2; exit 2; }
}
while [[ $# -gt 0 ]]; do
	case $1 in
	-k|--kernel)	need_arg "$@"; kernel=$2; shift 2 ;;
	--modules)	need_arg "$@"; modules=$2; shift 2 ;;
	--cache)	need_arg "$@"; cache=$2; shift 2 ;;
	-m|--memory)	need_arg "$@"; memory=$2; shift 2 ;;
	--smp)		need_arg "$@"; smp=$2; shift 2 ;;
	--accel)	need_arg "$@"; accel=$2; shift 2 ;;
	--rw)		need_arg "$@"; rw+=("$(realpath -e -- "$2")") || exit 2; shift 2 ;;
	--env)		need_arg "$@"; envs+=("$2"); shift 2 ;;
	--timeout)	need_arg "$@"; timeout_s=$2; shift 2 ;;
	--fetch)	fetch_only=1; shift ;;
	--kvm-usable)	why=$(kvm_usable) && exit 0; echo "$prog: $why" >&2; exit 1 ;;
	-v|--verbose)	verbose=1; shift ;;
	-q|--quiet)	quiet=1; shift ;;
	-h|--help)	sed -n '/^# vmtest.sh:/,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	--)		shift; break ;;
	-*)		echo "$prog: unknown option: $1" >&2; exit 2 ;;
	*)		break ;;
	esac
done
if ((!fetch_only)) && [[ $# -eq 0 ]]; then
	echo "$prog: no command given (try --help)" >&2
	exit 2
fi
[[ $timeout_s =~ ^[1-9][0-9]*$ ]] || { echo "$prog: --timeout: not a number of seconds: $timeout_s" >&2; exit 2; }
[[ $smp =~ ^[1-9][0-9]*$ ]] || { echo "$prog: --smp: not a CPU count: $smp" >&2; exit 2; }
case $accel in ''|kvm|tcg) ;; *) echo "$prog: --accel: kvm or tcg, not: $accel" >&2; exit 2 ;; esac

# Modules the guest loads, by module name; missing ones must be built in.
# kvm-intel or kvm-amd, whichever the (virtual) CPU supports, loads.
want_mods=(virtio_pci virtio_console 9pnet_virtio 9p overlay kvm_amd kvm_intel)

# --- kernel -------------------------------------------------------------
# A Debian series X.Y resolves to the newest linux-image-X.Y...-amd64-unsigned
# package apt knows; it is unpacked once into $cache/debian-X.Y/<package>
# and depmod'ed there. Without network or package lists, the newest
# package already in the cache is used.
prepare_debian() {
	local series=$1 re pkg dir
	[[ $series =~ ^[0-9]+\.[0-9]+$ ]] || die "kernel: not debian-X.Y or a bzImage path: $kernel"
	re="^linux-image-${series//./\\.}(\\.0-[0-9]+|\\.[0-9]+\\+deb[0-9]+)-amd64-unsigned\$"
	pkg=$(apt-cache pkgnames "linux-image-$series" 2>/dev/null | grep -E "$re" | sort -V | tail -n1) || true
	if [[ -z $pkg && $(id -u) -eq 0 && ! -e $cache/debian-$series ]]; then
		# A machine whose package lists were never fetched.
		apt-get update -q >/dev/null 2>&1 || true
		pkg=$(apt-cache pkgnames "linux-image-$series" 2>/dev/null | grep -E "$re" | sort -V | tail -n1) || true
	fi
	if [[ -z $pkg ]]; then
		pkg=$(ls -1 "$cache/debian-$series" 2>/dev/null | grep -E "$re" | sort -V | tail -n1) || true
		[[ -n $pkg ]] || die "kernel debian-$series: no linux-image-$series.*-amd64-unsigned package known to apt (apt-get update?) and none cached in $cache"
	fi
	dir=$cache/debian-$series/$pkg
	if [[ ! -e $dir/.ok ]]; then
		command -v depmod >/dev/null || die "depmod not found: install the Debian package kmod"
		rm -rf "$dir" "$dir.tmp"
		mkdir -p "$dir.tmp"
		echo "$prog: fetching $pkg into $dir" >&2
		(cd "$dir.tmp" && apt-get download -q "$pkg" >/dev/null 2>&1) ||
			{ rm -rf "$dir.tmp"; die "kernel debian-$series: apt-get download $pkg failed"; }
		dpkg-deb -x "$dir.tmp"/*.deb "$dir.tmp/root" && rm -f "$dir.tmp"/*.deb ||
			{ rm -rf "$dir.tmp"; die "kernel debian-$series: cannot unpack $pkg"; }
		rm -rf "$dir.tmp/root/usr"
		depmod -b "$dir.tmp/root" "$(ls "$dir.tmp/root/lib/modules")" ||
			{ rm -rf "$dir.tmp"; die "kernel debian-$series: depmod failed"; }
		touch "$dir.tmp/.ok"
		mv "$dir.tmp" "$dir"
	fi
	kimage=$(ls "$dir"/root/boot/vmlinuz-*)
	kmodroot=$dir/root
	krelease=$(ls "$dir/root/lib/modules")
	kdesc="debian-$series ($krelease)"
}

prepare_path() {
	kimage=$(realpath -e -- "$kernel" 2>/dev/null) || die "kernel: no such file: $kernel"
	# The release string sits in the bzImage header (kernel_version field).
	krelease=$(file -bL "$kimage" 2>/dev/null | sed -n 's/.*version \([^ ,]*\).*/\1/p')
	kmodroot=''
	if [[ -n $modules ]]; then
		[[ -d $modules ]] || die "--modules: no such directory: $modules"
		modules=$(realpath "$modules")
		if [[ -d $modules/lib/modules ]]; then
			[[ -n $krelease && -d $modules/lib/modules/$krelease ]] ||
				krelease=$(ls "$modules/lib/modules" | head -n1)
			kmodroot=$modules
		elif [[ -e $modules/modules.dep || -e $modules/modules.order ]]; then
			krelease=${modules##*/}
			kmodroot=$(mktemp -d)
			tmp_modroot=$kmodroot
			mkdir -p "$kmodroot/lib/modules"
			ln -s "$modules" "$kmodroot/lib/modules/$krelease"
		else
			die "--modules: neither lib/modules/<release> nor a modules directory: $modules"
		fi
		[[ -e $kmodroot/lib/modules/$krelease/modules.dep ]] ||
			die "--modules: no modules.dep in $kmodroot/lib/modules/$krelease (run depmod)"
	fi
	kdesc="$kimage${krelease:+ ($krelease)}"
}

mkdir -p "$cache" || die "cannot create the cache directory $cache"
case $kernel in
debian-*)	prepare_debian "${kernel#debian-}" ;;
*)		prepare_path ;;
esac
((fetch_only)) && { echo "$prog: kernel $kdesc ready" >&2; exit 0; }

# --- QEMU and acceleration ---------------------------------------------
qemu=${QEMU:-qemu-system-x86_64}
command -v "$qemu" >/dev/null || die "$qemu not found: install the Debian package qemu-system-x86"
busybox=$(command -v busybox) || die "busybox not found: install the Debian package busybox-static"
file -bL "$busybox" | grep -q 'statically linked' ||
	die "$busybox is not statically linked: install the Debian package busybox-static"
command -v cpio >/dev/null || die "cpio not found: install the Debian package cpio"

if [[ -z $accel ]]; then
	if kvm_usable >/dev/null; then
		accel=kvm
		why='/dev/kvm'
	else
		accel=tcg
		why='no usable /dev/kvm'
	fi
else
	why='--accel'
fi
if [[ $accel == kvm ]]; then
	accel_opts=(-accel kvm -cpu host)
else
	# thread=single: multi-threaded TCG has been seen to oops the guest
	# while it patches kernel text. -cpu max gives SVM with NPT.
	accel_opts=(-accel tcg,thread=single -cpu max)
fi
((quiet)) || echo "$prog: kernel $kdesc, accel $accel ($why), $smp CPUs, $memory" >&2

# --- initramfs ------------------------------------------------------------
run=$(mktemp -d "${TMPDIR:-/tmp}/memslot-vmtest.XXXXXX")
qpid=''
cleanup() {
	[[ -n $qpid ]] && kill "$qpid" 2>/dev/null
	rm -rf "$run" ${tmp_modroot:+"$tmp_modroot"}
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ir=$run/initramfs
mkdir -p "$ir"/{bin,dev,proc,sys,mnt/host,mnt/rw,mnt/root,modules}
cp "$busybox" "$ir/bin/busybox"
: >"$ir/modules/order"
if [[ -n $kmodroot ]]; then
	declare -A seen=()
	for m in "${want_mods[@]}"; do
		deps=$(modprobe -d "$kmodroot" -S "$krelease" --show-depends "$m" 2>/dev/null) || continue
		while read -r verb path _; do
			[[ $verb == insmod && -z ${seen[$path]:-} ]] || continue
			seen[$path]=1
			base=${path##*/}
			case $base in
			*.ko.xz)  xz -dc "$path" >"$ir/modules/${base%.xz}" ;;
			*.ko.zst) zstd -qdc "$path" >"$ir/modules/${base%.zst}" ;;
			*.ko.gz)  gzip -dc "$path" >"$ir/modules/${base%.gz}" ;;
			*)        cp "$path" "$ir/modules/$base" ;;
			esac || die "cannot unpack module $path"
			echo "${base%.ko*}.ko" >>"$ir/modules/order"
		done <<<"$deps"
	done
fi

# The guest's /init: modules, host root over 9p under a tmpfs overlay,
# the read-write shares, then the command in a chroot. Its stdout, stderr
# and exit status travel on three virtio serial ports.
cat >"$ir/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in $(cat /modules/order); do
	case $m in
	kvm-amd.ko)   grep -qw svm /proc/cpuinfo || continue ;;
	kvm-intel.ko) grep -qw vmx /proc/cpuinfo || continue ;;
	esac
	insmod /modules/$m
done
for p in /sys/class/virtio-ports/*; do
	[ -e "$p/name" ] && ln -sf /dev/${p##*/} /dev/port.$(cat $p/name)
done
status=/dev/port.memslot.status
fail() {
	echo "vmtest: guest: $*" >/dev/console
	echo 125 >$status
	poweroff -f
}
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=512000 hostroot /mnt/host ||
	fail "cannot mount the host's root over 9p"
mount -t tmpfs -o mode=0755 tmpfs /mnt/rw
mkdir -p /mnt/rw/upper /mnt/rw/work
mount -t overlay -o lowerdir=/mnt/host,upperdir=/mnt/rw/upper,workdir=/mnt/rw/work overlay /mnt/root ||
	fail "cannot mount the overlay"
r=/mnt/root
mount -t proc proc $r/proc
mount -t sysfs sysfs $r/sys
mount -t devtmpfs devtmpfs $r/dev
mkdir -p $r/dev/pts $r/dev/shm $r/run
mount -t devpts -o newinstance,ptmxmode=0666 devpts $r/dev/pts
mount -t tmpfs tmpfs $r/dev/shm
mount -t tmpfs tmpfs $r/run
mount -t bpf bpf $r/sys/fs/bpf
mount -t debugfs debugfs $r/sys/kernel/debug 2>/dev/null
mount -t tracefs tracefs $r/sys/kernel/tracing 2>/dev/null
ln -sfn /proc/self/fd $r/dev/fd
i=0
while read -r dir; do
	mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 rw$i $r$dir ||
		fail "cannot mount $dir read-write"
	i=$((i + 1))
done </rwdirs
cp /cmd.sh $r/tmp/.vmtest-cmd.sh
hostname memslot-vmtest
[ -e /dev/kvm ] || fail "/dev/kvm did not appear (no kvm module loaded)"
chroot $r /bin/bash /tmp/.vmtest-cmd.sh </dev/null >/dev/port.memslot.stdout 2>/dev/port.memslot.stderr
echo $? >$status
sync
poweroff -f
EOF
chmod +x "$ir/init"

# The command, quoted for bash, with the environment that passes through.
{
	echo "export HOME=/root TERM=dumb MEMSLOT_VMTEST=$(printf %q "${kernel}") MEMSLOT_VMTEST_ACCEL=$accel"
	[[ $accel == tcg ]] && echo "export MEMSLOT_TIMEOUT_SCALE=\${MEMSLOT_TIMEOUT_SCALE:-4}"
	# compgen -e: the exported names, whatever their values hold
	for name in $(compgen -e); do
		case $name in
		MEMSLOT_VMTEST|MEMSLOT_VMTEST_ACCEL) continue ;;
		MEMSLOT|MEMSLOT_*|ASAN_OPTIONS|UBSAN_OPTIONS|LSAN_OPTIONS|PATH) ;;
		*) continue ;;
		esac
		echo "export $name=$(printf %q "${!name}")"
	done
	for name in "${envs[@]}"; do
		[[ -v $name ]] && echo "export $name=$(printf %q "${!name}")"
	done
	printf 'cd %q || exit 125\n' "$PWD"
	printf 'exec'
	printf ' %q' "$@"
	printf '\n'
} >"$ir/cmd.sh"
: >"$ir/rwdirs"
((${#rw[@]} == 0)) || printf '%s\n' "${rw[@]}" >"$ir/rwdirs"

(cd "$ir" && find . | cpio -o -H newc --quiet) >"$run/initramfs.cpio" ||
	die "cannot build the initramfs"

# --- boot ------------------------------------------------------------------
: >"$run/status"
: >"$run/console"
shares=(-virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap")
i=0
for d in "${rw[@]}"; do
	shares+=(-virtfs "local,path=$d,mount_tag=rw$i,security_model=none,multidevs=remap")
	i=$((i + 1))
done
console=$run/console
((verbose)) && { mkfifo "$run/console"; cat "$run/console" >&2 & }
# The guest's stdout and stderr reach ours through FIFOs and cat, which
# writes at our file offsets (QEMU opening /proc/self/fd/N would not).
mkfifo "$run/stdout" "$run/stderr"
cat "$run/stdout" &
cat1=$!
cat "$run/stderr" >&2 &
cat2=$!
timeout -k 5 "$timeout_s" "$qemu" -nodefaults -no-user-config -display none -no-reboot \
	-machine pc "${accel_opts[@]}" -smp "$smp" -m "$memory" \
	-kernel "$kimage" -initrd "$run/initramfs.cpio" \
	-append "console=ttyS0 rdinit=/init panic=-1 oops=panic quiet loglevel=4 tsc=unstable" \
	-chardev "file,id=con,path=$console,append=on" -serial chardev:con \
	-device virtio-serial-pci \
	-chardev "file,id=out,path=$run/stdout" \
	-device virtserialport,chardev=out,name=memslot.stdout \
	-chardev "file,id=err,path=$run/stderr" \
	-device virtserialport,chardev=err,name=memslot.stderr \
	-chardev "file,id=st,path=$run/status" \
	-device virtserialport,chardev=st,name=memslot.status \
	"${shares[@]}" </dev/null &
qpid=$!

qrc=0
wait "$qpid" || qrc=$?
qpid=''
wait "$cat1" "$cat2" || true
((qrc == 124)) && echo "$prog: timed out after ${timeout_s}s" >&2

rc=$(tr -dc '0-9' <"$run/status")
if [[ -z $rc ]]; then
	echo "$prog: the guest ended without an exit status (QEMU exit status $qrc); console:" >&2
	((verbose)) || tail -n 40 "$run/console" >&2
	exit 125
fi
exit "$rc"
