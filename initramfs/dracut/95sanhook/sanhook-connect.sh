#!/bin/sh
# sanhook's dracut initqueue/online hook (module-setup.sh): run the boot
# connect, `sanhook connect --all --initramfs`, each time an interface comes
# online (a later run connects what an earlier one could not reach; what is
# connected stays as it is). Sourced by dracut: `return`, never `exit`.
# `rd.sanhook=0` on the kernel command line skips it.
type getargbool >/dev/null 2>&1 || . /lib/dracut-lib.sh

if getargbool 1 rd.sanhook && command -v sanhook >/dev/null 2>&1; then
	info "sanhook: connecting NVMe-oF subsystems (sanhook connect --all --initramfs)"
	sanhook connect --all --initramfs || warn "sanhook: some NVMe-oF paths did not connect; the real root's sanhook retries them"
fi
return 0 2>/dev/null || exit 0
