# SPDX-License-Identifier: GPL-2.0-or-later
# bash completion for memslot(8): commands, options and their values.
# The option lists follow each command's --help; keep them in step.

# Pids of processes holding a KVM VM fd, else of processes named qemu-system-*.
_memslot_pids()
{
	local pids comm name

	# one find over every fd (a readlink per fd would fork thousands of times)
	pids=$(find /proc/[0-9]*/fd -maxdepth 1 -lname 'anon_inode:kvm-vm' 2>/dev/null |
		cut -d/ -f3 | sort -nu)
	if [[ -z $pids ]]; then
		for comm in /proc/[0-9]*/comm; do
			read -r name <"$comm" 2>/dev/null && [[ $name == qemu-system-* ]] || continue
			comm=${comm#/proc/}
			pids+="${comm%%/*}"$'\n'
		done
	fi
	[[ -z $pids ]] || printf '%s\n' $pids
}

# Complete file names (directories only with "-d").
_memslot_files()
{
	local IFS=$'\n'

	compopt -o filenames 2>/dev/null
	COMPREPLY=($(compgen "${1:--f}" -- "$cur"))
}

_memslot()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev= cmd= i w
	local global='-j --json -p --pretty -d --debug -V --version -h --help'
	local cmds='help mtree plan run trace census verify'
	local opts IFS=$' \t\n'

	((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
	# "--opt=value": COMP_WORDBREAKS splits it into "--opt" "=" "value"
	if [[ $cur == = ]]; then
		cur=
	elif [[ $prev == = ]] && ((COMP_CWORD > 1)); then
		prev=${COMP_WORDS[COMP_CWORD - 2]}
	fi

	# the command: the first word that is not a global option
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		if [[ $w != -* ]]; then
			cmd=$w
			break
		fi
	done

	if [[ -z $cmd ]]; then
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "$global" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$cmds" -- "$cur"))
		fi
		return 0
	fi

	case $cmd in
	help)
		COMPREPLY=($(compgen -W "$cmds" -- "$cur"))
		return 0
		;;
	mtree)
		case $prev in
		--import | --check-flat | --svg)
			_memslot_files
			return 0
			;;
		esac
		opts='-f --flat -o --owner -D --disabled --import --memslots --check-flat --svg'
		;;
	plan | run)
		case $prev in
		-M | -machine)
			COMPREPLY=($(compgen -W 'pc q35 pc-i440fx-7.2 pc-q35-7.2' -- "$cur"))
			return 0
			;;
		-accel)
			COMPREPLY=($(compgen -W 'kvm tcg' -- "$cur"))
			return 0
			;;
		-numa | -smp | -name)
			return 0
			;;
		-object)
			[[ $cur == *,* ]] ||
				COMPREPLY=($(compgen -W 'memory-backend-ram memory-backend-memfd
					memory-backend-file' -- "$cur"))
			return 0
			;;
		-device)
			[[ $cur == *,* ]] ||
				COMPREPLY=($(compgen -W 'pc-dimm nvdimm virtio-pmem-pci
					virtio-mem-pci' -- "$cur"))
			return 0
			;;
		--script)
			_memslot_files
			return 0
			;;
		-m | --vhost-limit | --kvm-memslots | --cpu)
			return 0
			;;
		esac
		opts='-M -machine -m -object -device -numa -accel -smp -name --script --strict'
		if [[ $cmd == plan ]]; then
			case $prev in
			--kvm-smm)
				COMPREPLY=($(compgen -W 'on off' -- "$cur"))
				return 0
				;;
			--firmware)
				COMPREPLY=($(compgen -W 'none seabios' -- "$cur"))
				return 0
				;;
			--from-pid)
				COMPREPLY=($(compgen -W "$(_memslot_pids)" -- "$cur"))
				return 0
				;;
			--from-name)
				return 0
				;;
			--qmp | --svg)
				_memslot_files
				return 0
				;;
			esac
			opts+=' --vhost-limit --kvm-memslots --kvm-smm --firmware --from-pid --from-name
				--qmp --svg'
		else
			case $prev in
			--kernel)
				_memslot_files
				COMPREPLY+=($(compgen -W 'debian-6.1 debian-6.12' -- "$cur"))
				return 0
				;;
			--modules)
				_memslot_files -d
				return 0
				;;
			esac
			opts+=' --cpu --dirty-log --full --verify --kernel --modules --no-vm'
		fi
		;;
	census | trace | verify)
		case $prev in
		-p | --pid)
			COMPREPLY=($(compgen -W "$(_memslot_pids)" -- "$cur"))
			return 0
			;;
		-e | --expect)
			[[ $cmd == verify ]] && _memslot_files
			return 0
			;;
		--svg)
			[[ $cmd == census ]] && _memslot_files
			return 0
			;;
		--qmp)
			_memslot_files
			return 0
			;;
		-n | --name)
			return 0
			;;
		--vhost-limit)
			[[ $cmd == census ]] && return 0
			;;
		--vm | -D | --duration | -c | --count | -B | --ring-size)
			[[ $cmd == trace ]] && return 0
			;;
		-a | --attach)
			if [[ $cmd == trace ]]; then
				COMPREPLY=($(compgen -W 'fentry kprobe syscall' -- "$cur"))
				return 0
			fi
			;;
		esac
		# -p is --pid here, not --pretty
		global='-j --json --pretty -d --debug -V --version -h --help'
		opts='-p --pid --qmp -n --name'
		case $cmd in
		census)
			opts+=' --prometheus --vhost-limit --svg'
			;;
		trace)
			opts+=' --vm -D --duration -c --count -a --attach -L --latency -s --summary
				-g --gaps -B --ring-size'
			;;
		verify)
			opts+=' -e --expect'
			;;
		esac
		;;
	*)
		return 0
		;;
	esac

	# no command takes operands: offer the options
	COMPREPLY=($(compgen -W "$opts $global" -- "$cur"))
	return 0
}

complete -F _memslot memslot
