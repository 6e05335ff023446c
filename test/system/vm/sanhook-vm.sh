#!/bin/bash
# sanhook-vm.sh - run one scenario script as root inside a real Linux kernel.
#
# Boots Debian's own kernel (linux-image-amd64, 6.1.x on Debian 12) under QEMU
# with a tiny busybox initramfs that loads the NVMe-oF host and target stacks
# (nvme-core, nvme-fabrics, nvme-tcp, nvmet, nvmet-tcp, null_blk, configfs;
# nvme-rdma and nvmet-rdma for NVMe/RDMA over Soft-RoCE) and software FCoE
# on veth/VLAN (veth, 8021q, fcoe with libfcoe, libfc, scsi_transport_fc)
# and SRP over Soft-RoCE (rdma_rxe, the ib_srp initiator with
# scsi_transport_srp, the LIO ib_srpt target with target_core_*),
# shares the host root file system read-only over virtio-9p with a tmpfs
# overlay on top (so the guest can write; every write is lost at exit), chroots
# into it and runs the scenario there, in the caller's working directory.  The
# host's node, nvme-cli, systemd-udevd and this checkout are therefore the ones
# the guest runs.  The guest console goes to stdout.
#
# Derived from ../shared/tools/fabric-vm.sh (which also carries FCoE and SRP
# stacks); this copy is self-contained and carries only what sanhook's NVMe-oF,
# FCoE and SRP scenarios need.
#
# usage: sanhook-vm.sh SCENARIO_SCRIPT [ARGS...]
#
# Downloads: only Debian packages, with `apt-get download` (never installed:
#   extracted with `dpkg -x` into the cache): linux-image-amd64 and the
#   versioned linux-image-<abi>-amd64 it depends on, and busybox-static.
# Cache: $SANHOOK_VM_CACHE, default ${XDG_CACHE_HOME:-/var/cache}/sanhook-vm
#   (about 410 MB; first run about 40 s for download + initramfs, later boots
#   about 8 s to a guest shell with TCG).  `rm -rf` it to start over.
# Boots are serialised: one VM at a time per cache (flock on $CACHE/.lock);
#   a second caller waits and says so.
# Other settings (env):
#   SANHOOK_VM_TIMEOUT  seconds before QEMU is killed (default 300) -> exit 124
#   SANHOOK_VM_MEM      guest MiB (default 1024)
#   SANHOOK_VM_SMP      guest CPUs (default 2)
#   SANHOOK_VM_ACCEL    kvm|tcg (default: kvm only with /dev/kvm AND vmx/svm)
#   SANHOOK_VM_DEBUG=1  kernel messages on the console (no `quiet`)
#   SANHOOK_VM_CONSOLE  also write the console log to this file
#   SANHOOK_VM_INIT     chroot (default): the scenario runs in a chroot, no init;
#                       systemd: the host's systemd boots as PID 1 (journald,
#                       systemd-udevd with its real sandbox, the host's units and
#                       rules, nvme-cli's autoconnect among them) and runs the
#                       scenario as a oneshot unit after multi-user.target; its
#                       files are in /var/lib/sanhook-vm (systemd mounts its own
#                       /tmp and /run; a caller's directory under them gets its
#                       own overlay at /var/lib/sanhook-vm/checkout and the
#                       scenario runs there). The scenario sees SANHOOK_VM_INIT and
#                       SANHOOK_VM_DIR.
#                       initramfs-handover: as systemd, but first an initramfs
#                       stage: the scenario runs once in a chroot of the
#                       overlay root with SANHOOK_VM_STAGE=initramfs (its
#                       stage 1: install sanhook, set up the target, run the
#                       shipped initramfs boot script), then systemd boots and
#                       the scenario runs again as under systemd (it sees
#                       SANHOOK_VM_INIT=systemd and SANHOOK_VM_HANDOVER=1).
#                       /run is kept across switch_root, as dracut and
#                       initramfs-tools move it into the real root; /dev is
#                       not (so /dev/shm starts empty in the real root).
#                       Stage 1's exit status is in /run/sanhook-vm-stage1.rc.
# The scenario runs with: /proc /sys /dev /dev/pts /dev/shm /run (tmpfs)
#   /sys/kernel/config mounted, lo up, the modules above loaded (null_blk with
#   nr_devices=16, so /dev/nullb0..15 exist), PATH set, SYSTEMD_IGNORE_CHROOT=1
#   (otherwise udevadm and friends say "Running in chroot, ignoring request").
# Exit status: the scenario's; 124 = timeout (QEMU killed); 125 = harness
#   error or the guest never reported a status; 130/143 = interrupted.
set -euo pipefail

die() { echo "sanhook-vm: $*" >&2; exit 125; }
[ $# -ge 1 ] || die "usage: $0 SCENARIO_SCRIPT [ARGS...]"
SCEN=$1; shift
[ -r "$SCEN" ] || die "scenario $SCEN not readable"
[ "$(id -u)" = 0 ] || die "must run as root (the guest shares / over 9p and runs nvme connect)"

CACHE=${SANHOOK_VM_CACHE:-${XDG_CACHE_HOME:-/var/cache}/sanhook-vm}
TIMEOUT=${SANHOOK_VM_TIMEOUT:-300}
MEM=${SANHOOK_VM_MEM:-1024}
SMP=${SANHOOK_VM_SMP:-2}
[[ $TIMEOUT =~ ^[0-9]+$ ]] || die "SANHOOK_VM_TIMEOUT must be whole seconds, got '$TIMEOUT'"

missing=()
for tool in qemu-system-x86_64 apt-get dpkg dpkg-deb gzip flock timeout; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
[ ${#missing[@]} -eq 0 ] || die "missing on this host: ${missing[*]} (Debian: apt-get install --no-install-recommends qemu-system-x86)"

mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
if ! flock -n 9; then
  echo "sanhook-vm: another VM holds $CACHE/.lock; waiting for it (one VM at a time)" >&2
  flock 9
fi

# ---------- 1. kernel + busybox-static from Debian's packages (cached) ---------
if [ ! -e "$CACHE/.extracted" ]; then
  echo "sanhook-vm: downloading linux-image-amd64 + busybox-static .debs into $CACHE" >&2
  rm -rf "$CACHE/debs" "$CACHE/kroot" "$CACHE/bb"
  mkdir -p "$CACHE/debs"
  fetch() {  # apt-get download, with one `apt-get update` if the lists are missing/stale
    ( cd "$CACHE/debs" && apt-get download "$@" >/dev/null 2>"$CACHE/debs/apt.err" ) && return 0
    echo "sanhook-vm: apt-get download $* failed; running apt-get update once" >&2
    apt-get update -qq >&2 || true
    ( cd "$CACHE/debs" && apt-get download "$@" >/dev/null 2>"$CACHE/debs/apt.err" ) \
      || die "apt-get download $* failed: $(grep -v unsandboxed "$CACHE/debs/apt.err" | head -3)"
  }
  fetch linux-image-amd64 busybox-static
  meta=$(ls "$CACHE"/debs/linux-image-amd64_*.deb) || die "linux-image-amd64 download failed"
  dep=$(dpkg-deb -f "$meta" Depends | tr ',' '\n' | grep -o 'linux-image-[0-9][^ ]*' | head -1)
  [ -n "$dep" ] || die "cannot find the versioned kernel package linux-image-amd64 depends on"
  fetch "$dep"
  dpkg -x "$(ls "$CACHE"/debs/"$dep"_*.deb | head -1)" "$CACHE/kroot"
  dpkg -x "$(ls "$CACHE"/debs/busybox-static_*.deb | head -1)" "$CACHE/bb"
  rm -f "$CACHE"/debs/*.deb   # extracted; keep the cache small
  touch "$CACHE/.extracted"
fi
KV=$(ls "$CACHE/kroot/lib/modules" | head -1)
VMLINUZ="$CACHE/kroot/boot/vmlinuz-$KV"
BB="$CACHE/bb/bin/busybox"
[ -r "$VMLINUZ" ] && [ -x "$BB" ] || die "kernel or busybox missing in $CACHE (rm -rf it and retry)"
MODDIR="$CACHE/kroot/lib/modules/$KV"
[ -s "$MODDIR/modules.dep" ] || "$BB" depmod -b "$CACHE/kroot" "$KV"

# ---------- 2. base initramfs (cached; rebuilt when this script changes) -------
# One module (with options) per line, loaded in order by /init; the initramfs
# gets their modules.dep closure.  A module the kernel does not ship only warns.
MODS='virtio_pci
9pnet_virtio
9p
overlay
configfs
null_blk nr_devices=16
crc32c_generic
crc32c-intel
libcrc32c
nvme-core
nvme-fabrics
nvme-tcp
nvmet
nvmet-tcp
veth
8021q
fcoe
crc32_generic
crc32-pclmul
scsi_mod
sd_mod
sg
ib_core
ib_uverbs
ib_umad
ib_cm
iw_cm
rdma_cm
rdma_ucm
rdma_rxe
nvme-rdma
nvmet-rdma
scsi_transport_srp
ib_srp
target_core_mod
target_core_iblock
target_core_file
ib_srpt'
# Named after this script's contents: checkouts with different versions of
# /init share one cache (and its lock) without booting each other's.
BASE="$CACHE/initrd-base-$(sha256sum "$0" | cut -c1-16).cpio.gz"
if [ ! -s "$BASE" ]; then
  echo "sanhook-vm: building the base initramfs for $KV" >&2
  IR="$CACHE/initrd-root"; rm -rf "$IR"
  mkdir -p "$IR"/{bin,sbin,proc,sys,dev,run,tmp,newroot,lower,upper,etc,lib/modules/$KV}
  cp "$BB" "$IR/bin/busybox"
  for a in $("$BB" --list); do [ "$a" = busybox ] || ln -sf busybox "$IR/bin/$a"; done
  for a in modprobe insmod rmmod lsmod depmod; do ln -sf ../bin/busybox "$IR/sbin/$a"; done
  declare -A seen=()
  add_mod() {
    local n=${1//-/_} line f
    line=$(awk -v n="$n" -F: '{ b=$1; sub(/.*\//,"",b); sub(/\.ko.*$/,"",b); gsub(/-/,"_",b);
                               if (b==n) { print; exit } }' "$MODDIR/modules.dep")
    if [ -z "$line" ]; then
      grep -q "/${1}.ko" "$MODDIR/modules.builtin" 2>/dev/null || echo "sanhook-vm: warning: module $1 not in $KV (skipped)" >&2
      return 0
    fi
    for f in ${line%%:*} ${line#*:}; do
      [ -n "${seen[$f]:-}" ] && continue; seen[$f]=1
      mkdir -p "$IR/lib/modules/$KV/$(dirname "$f")"
      cp "$MODDIR/$f" "$IR/lib/modules/$KV/$f"
    done
  }
  while read -r m _; do [ -n "$m" ] && add_mod "$m"; done <<< "$MODS"
  cp "$MODDIR"/modules.{dep,alias,builtin,order,symbols} "$IR/lib/modules/$KV/" 2>/dev/null || true
  printf '%s\n' "$MODS" > "$IR/etc/modules-load"
  cat > "$IR/init" <<'EOF'
#!/bin/busybox sh
export PATH=/bin:/sbin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
echo /sbin/modprobe > /proc/sys/kernel/modprobe
while read -r m args; do [ -n "$m" ] && { modprobe $m $args || echo "init: modprobe $m failed"; }; done < /etc/modules-load
mount -t configfs none /sys/kernel/config
ip link set lo up
# host root (read-only 9p) + tmpfs upper -> writable overlay as /newroot
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose hostroot /lower || echo "init: 9p mount failed"
mount -t tmpfs -o size=60% tmp /upper; mkdir -p /upper/u /upper/w
if ! mount -t overlay overlay -o lowerdir=/lower,upperdir=/upper/u,workdir=/upper/w /newroot; then
  echo "init: overlay failed, falling back to read-only 9p root + tmpfs /tmp /var/tmp"
  mount --bind /lower /newroot; mount -t tmpfs t /newroot/tmp; mount -t tmpfs t /newroot/var/tmp
fi
mount -t proc proc /newroot/proc; mount -t sysfs sys /newroot/sys
mount -t devtmpfs dev /newroot/dev; mkdir -p /newroot/dev/pts /newroot/dev/shm
mount -t devpts devpts /newroot/dev/pts; mount -t tmpfs shm /newroot/dev/shm
mount -t configfs none /newroot/sys/kernel/config
mount -t tmpfs run /newroot/run; mkdir -p /newroot/run/udev /newroot/run/lock
mkdir -p /newroot/tmp/sanhook-vm; cp /scenario/* /newroot/tmp/sanhook-vm/
KV=$(uname -r); mkdir -p /newroot/lib/modules/$KV
mount --bind /lib/modules/$KV /newroot/lib/modules/$KV
echo "SANHOOK_VM_READY uptime=$(cut -d' ' -f1 /proc/uptime)"
cd /newroot
INIT_MODE=$(cat /scenario/init 2>/dev/null)
if [ "$INIT_MODE" = systemd ] || [ "$INIT_MODE" = initramfs-handover ]; then
  # systemd as PID 1 (the path admins run): it mounts its own /tmp and /run,
  # so the scenario lives in /var/lib/sanhook-vm and runs as a oneshot unit
  # after multi-user.target, its output on the console.
  mkdir -p /newroot/var/lib/sanhook-vm /newroot/etc/systemd/system/multi-user.target.wants
  cp -a /newroot/tmp/sanhook-vm/. /newroot/var/lib/sanhook-vm/
  # A checkout under /tmp or /run (CI clones into a temp folder) vanishes
  # under systemd: it mounts a tmpfs on /run, and systemd-tmpfiles empties
  # /tmp at boot (tmp.conf `D /tmp`; in the overlay that whites the files
  # out). So it gets its own overlay on the host's copy (9p, read-only) at a
  # stable path, and the scenario runs there.
  CWD=$(cat /scenario/cwd)
  case $CWD in
    /tmp|/tmp/*|/run|/run/*)
      mkdir -p /newroot/var/lib/sanhook-vm/checkout /upper/checkout/u /upper/checkout/w
      mount -t overlay overlay -o "lowerdir=/lower$CWD,upperdir=/upper/checkout/u,workdir=/upper/checkout/w" /newroot/var/lib/sanhook-vm/checkout &&
        echo /var/lib/sanhook-vm/checkout > /newroot/var/lib/sanhook-vm/cwd ;;
  esac
  # modprobe@*.service needs a modprobe; the host may have no kmod
  [ -e /newroot/sbin/modprobe ] || { cp /bin/busybox /newroot/sbin/busybox-vm; for a in modprobe rmmod insmod lsmod modinfo; do ln -sf busybox-vm /newroot/sbin/$a; done; }
  # The host's /tmp (whatever this machine's other work left there) would be
  # emptied by systemd-tmpfiles-setup (tmp.conf `D /tmp`) file by file through
  # 9p and the overlay: minutes under TCG for tens of thousands of files. A
  # booting host starts with an empty /tmp: so does the guest.
  mount -t tmpfs -o mode=1777 tmp /newroot/tmp
  rm -f /newroot/etc/machine-id; : > /newroot/etc/machine-id
  cat > /newroot/etc/systemd/system/sanhook-vm-scenario.service <<'UNIT'
[Unit]
Description=sanhook-vm scenario
After=multi-user.target
[Service]
Type=oneshot
Environment=SANHOOK_VM_INIT=systemd
ExecStart=/bin/bash -c 'cd "$(cat /var/lib/sanhook-vm/cwd)" 2>/dev/null || cd /; /bin/bash /var/lib/sanhook-vm/run.sh; echo "SANHOOK_VM_EXIT=$? uptime=$(cut -d" " -f1 /proc/uptime)" > /dev/console; sync; echo b > /proc/sysrq-trigger'
StandardOutput=tty
StandardError=tty
TTYPath=/dev/console
UNIT
  ln -sf ../sanhook-vm-scenario.service /newroot/etc/systemd/system/multi-user.target.wants/sanhook-vm-scenario.service
  KEEP=
  if [ "$INIT_MODE" = initramfs-handover ]; then
    # The initramfs stage (the suite's stage 1) in the root it will switch
    # into; /run stays mounted across switch_root, as a real initramfs moves it.
    echo "SANHOOK_VM_STAGE1 start uptime=$(cut -d' ' -f1 /proc/uptime)"
    chroot /newroot /bin/bash -c 'cd "$(cat /var/lib/sanhook-vm/cwd)" 2>/dev/null || cd /; SANHOOK_VM_STAGE=initramfs /bin/bash /var/lib/sanhook-vm/run.sh'
    rc=$?
    echo "$rc" > /newroot/run/sanhook-vm-stage1.rc
    echo "SANHOOK_VM_STAGE1 exit=$rc uptime=$(cut -d' ' -f1 /proc/uptime)"
    KEEP=run
  fi
  for m in dev/pts dev/shm dev run sys/kernel/config sys proc; do [ "$m" = "$KEEP" ] || umount /newroot/$m 2>/dev/null; done
  exec switch_root /newroot /lib/systemd/systemd --log-target=console --show-status=false
fi
chroot /newroot /bin/sh -c 'cd "$(cat /tmp/sanhook-vm/cwd)" 2>/dev/null || cd /; exec /bin/bash /tmp/sanhook-vm/run.sh'
rc=$?
echo "SANHOOK_VM_EXIT=$rc uptime=$(cut -d' ' -f1 /proc/uptime)"
sync; echo b > /proc/sysrq-trigger 2>/dev/null; reboot -f
EOF
  chmod +x "$IR/init"
  ( cd "$IR" && find . | "$BB" cpio -o -H newc 2>/dev/null | gzip -1 ) > "$BASE.tmp" && mv "$BASE.tmp" "$BASE"
  rm -rf "$IR"
fi

# ---------- 3. per-run cpio with the scenario, appended to the base ------------
RUN=$(mktemp -d "$CACHE/run.XXXXXX")
QPID=
cleanup() {
  [ -n "$QPID" ] && kill -TERM "$QPID" 2>/dev/null || true
  rm -rf "$RUN"
}
trap cleanup EXIT
trap 'echo "sanhook-vm: interrupted; stopping QEMU" >&2; exit 130' INT
trap 'echo "sanhook-vm: terminated; stopping QEMU" >&2; exit 143' TERM HUP
mkdir -p "$RUN/scenario"
cp "$SCEN" "$RUN/scenario/scenario.sh"
pwd > "$RUN/scenario/cwd"
INIT=${SANHOOK_VM_INIT:-chroot}
case $INIT in chroot) SDIR=/tmp/sanhook-vm ;; systemd|initramfs-handover) SDIR=/var/lib/sanhook-vm ;; *) die "SANHOOK_VM_INIT must be chroot, systemd or initramfs-handover, got '$INIT'" ;; esac
echo "$INIT" > "$RUN/scenario/init"
{ echo '#!/bin/bash'
  echo 'export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb LANG=C.UTF-8'
  # in a chroot, udevadm and friends otherwise say "Running in chroot, ignoring request"
  [ "$INIT" = chroot ] && echo 'export SYSTEMD_IGNORE_CHROOT=1'
  # initramfs-handover: the scenario itself runs under systemd (its stage 1 sees SANHOOK_VM_STAGE)
  if [ "$INIT" = initramfs-handover ]; then echo "export SANHOOK_VM_INIT=systemd SANHOOK_VM_HANDOVER=1 SANHOOK_VM_DIR=$SDIR"; else echo "export SANHOOK_VM_INIT=$INIT SANHOOK_VM_DIR=$SDIR"; fi
  printf 'exec /bin/bash %s/scenario.sh' "$SDIR"; for a in "$@"; do printf ' %q' "$a"; done; echo
} > "$RUN/scenario/run.sh"
( cd "$RUN" && find scenario | "$BB" cpio -o -H newc 2>/dev/null | gzip -1 ) > "$RUN/scen.cpio.gz"
cat "$BASE" "$RUN/scen.cpio.gz" > "$RUN/initrd"

ACCEL=${SANHOOK_VM_ACCEL:-}
if [ -z "$ACCEL" ]; then
  # /dev/kvm alone is not enough: on PVM hosts (no vmx/svm flag) a stock
  # kernel hangs right after "Probing EDD".
  if [ -w /dev/kvm ] && grep -qwE 'vmx|svm' /proc/cpuinfo; then ACCEL=kvm; else ACCEL=tcg; fi
fi
if [ "$ACCEL" = kvm ]; then ACC=(-enable-kvm -cpu host); else ACC=(-accel tcg,thread=multi -cpu max); fi
QUIET=quiet; [ "${SANHOOK_VM_DEBUG:-0}" = 1 ] && QUIET=

LOG="$RUN/console.log"; : > "$LOG"
T0=$EPOCHREALTIME
# QEMU in the background (killed by `timeout` after TIMEOUT s, SIGKILL 5 s
# later; by the traps above when this script is stopped); its console is
# followed from the log file until it exits.
timeout -k 5 "$TIMEOUT" qemu-system-x86_64 "${ACC[@]}" -m "$MEM" -smp "$SMP" \
  -nodefaults -no-user-config -display none -serial stdio -monitor none -no-reboot \
  -kernel "$VMLINUZ" -initrd "$RUN/initrd" \
  -append "console=ttyS0 rdinit=/init panic=-1 oops=panic loglevel=4 $QUIET" \
  -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
  < /dev/null >> "$LOG" 2>&1 &
QPID=$!
tail --pid="$QPID" -n +1 -f "$LOG" | while IFS= read -r line; do
  line=${line%$'\r'}; printf '%s\n' "$line"
  [[ $line == SANHOOK_VM_READY* ]] && awk -v a="$T0" -v b="$EPOCHREALTIME" \
    'BEGIN{printf "sanhook-vm: guest ready %.2fs after qemu start\n", b-a}' >&2
done &
RPID=$!
set +e
wait "$QPID"; qrc=$?     # `wait` (unlike a foreground pipeline) lets the traps run at once
wait "$RPID"
set -e
QPID=
[ -n "${SANHOOK_VM_CONSOLE:-}" ] && tr -d '\r' < "$LOG" > "$SANHOOK_VM_CONSOLE"
awk -v a="$T0" -v b="$EPOCHREALTIME" -v acc="$ACCEL" 'BEGIN{printf "sanhook-vm: qemu ran %.1fs (accel=%s)\n", b-a, acc}' >&2
if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then echo "sanhook-vm: TIMEOUT after ${TIMEOUT}s: QEMU killed" >&2; exit 124; fi
rc=$(tr -d '\r' < "$LOG" | grep -ao 'SANHOOK_VM_EXIT=[0-9]*' | tail -1 | cut -d= -f2 || true)
[ -n "$rc" ] || { echo "sanhook-vm: the guest did not report an exit status (qemu exit $qrc)" >&2; exit 125; }
exit "$rc"
