#!/bin/sh
# sanhook's dracut module (docs/initramfs.md): sanhook's boot connect in the
# initramfs, included where the admin opted in with the line
#     SANHOOK_INITRAMFS=yes
# in /etc/sanhook/initramfs.conf (then `dracut -f`); `dracut --add sanhook`
# includes it too. Installs node, nvme-cli, sanhook, /etc/nvme/{discovery.conf,
# hostnqn,hostid}, /etc/sanhook and the NVMe-oF modules, and runs
# sanhook-connect.sh when the network is online (initqueue/online).

# 0: include; 255: only when asked for (--add sanhook); 1: cannot.
check() {
	require_binaries node nvme sanhook || return 1
	grep -qsx 'SANHOOK_INITRAMFS=yes' "${dracutsysrootdir-}/etc/sanhook/initramfs.conf" && return 0
	return 255
}

# NVMe/TCP and RDMA need the network in the initramfs.
depends() {
	echo network
	return 0
}

installkernel() {
	instmods nvme_fabrics nvme_tcp nvme_rdma nvme_fc
}

install() {
	inst_multiple node nvme sanhook
	# shellcheck disable=SC2046 # file names under /usr/lib/sanhook and /etc/sanhook have no blanks
	inst_multiple $(find "${dracutsysrootdir-}/usr/lib/sanhook" -type f | sed "s|^${dracutsysrootdir-}||" | sort)
	if [ -d "${dracutsysrootdir-}/etc/sanhook" ]; then
		# shellcheck disable=SC2046
		inst_multiple $(find "${dracutsysrootdir-}/etc/sanhook" -type f | sed "s|^${dracutsysrootdir-}||" | sort)
	fi
	inst_multiple -o /etc/nvme/discovery.conf /etc/nvme/hostnqn /etc/nvme/hostid
	inst_hook initqueue/online 95 "$moddir/sanhook-connect.sh"
	# the network module brings interfaces up only when something needs them
	mkdir -p "$initdir/etc/cmdline.d"
	echo 'rd.neednet=1' >"$initdir/etc/cmdline.d/95sanhook.conf"
}
