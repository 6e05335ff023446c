# shellcheck shell=bash
# Shared by the VM scenarios (test/system/scenarios/*.sh). Sourced inside the
# guest of test/system/vm/sanhook-vm.sh: root, chroot of the host root with a
# throw-away overlay, cwd = the checkout, real 6.1 kernel with nvmet and
# nvme-tcp loaded (and nvme-rdma, nvmet-rdma, rdma_rxe for NVMF_TRANSPORT=rdma).
#
# What it provides:
#   * setup_host (chroot suites): installs sanhook by hand as the README's
#     manual steps say: /usr/bin/sanhook -> bin/sanhook.js, the shipped
#     rules in /etc/udev/rules.d, `sanhook coexist mask`, a config in
#     /etc/sanhook/sanhook.yaml; starts systemd-journald (so the rules' own
#     `systemd-cat --identifier=sanhook` branch runs and `journalctl -t
#     sanhook` holds the hooks' log lines, as on a systemd host),
#     systemd-udevd, and `sanhook timerd` with the clean environment a
#     service gets (log: $TIMERD_LOG).
#   * observers (host side only): a wrapper bind-mounted over /usr/sbin/nvme
#     that logs every nvme-cli call's start and end ($NVME_CALLS), and a
#     test-only udev rule that logs when udevd handles each nvme uevent
#     ($UEVENTS). Neither changes what sanhook does.
#   * target helpers (nvmet configfs): tgt_port, tgt_subsys, tgt_link, tgt_unlink,
#     on the transport NVMF_TRANSPORT names (tcp, or rdma over Soft-RoCE).
#   * scenario bookkeeping: scenario NAME FUNCTION runs one scenario in a
#     subshell and prints machine-readable markers for test/system/run-vm.mjs:
#       @@scenario start NAME
#       @@measure NAME KEY VALUE        (numbers in seconds unless the key says otherwise)
#       @@scenario end NAME pass|fail SECONDS
#     and on failure a block with the step, expected vs seen, and the
#     relevant kernel, sanhook, timerd and nvme-cli lines.
set -u
set -o pipefail

CFG=/sys/kernel/config/nvmet
# The NVMe-oF transport of the nvmf suites: tcp on loopback (default), or
# rdma over Soft-RoCE (the *-rdma suites set NVMF_TRANSPORT=rdma and source
# the tcp suite: same scenarios, same assertions). The target's port, the
# `sanhook connect -t` of the scenarios and ADDR follow it; tgt_port brings
# the rdma fabric up first (nvmf_rdma_fabric).
NVMF_TRANSPORT=${NVMF_TRANSPORT:-tcp}
case $NVMF_TRANSPORT in
  tcp) ADDR=127.0.0.1 ;;
  rdma) ADDR=10.92.0.1 ;;       # on the veth end nvmf_rdma_fabric puts rxe0 on
  *) echo "lib.sh: NVMF_TRANSPORT must be tcp or rdma, not '$NVMF_TRANSPORT'"; exit 125 ;;
esac
PORT=4420
NVMF_RXE=rxe0
# Under systemd the units' ProtectSystem=strict makes /var and /run read-only
# for hooks; /dev/shm stays writable, so the observers log there.
if [ "${SANHOOK_VM_INIT:-chroot}" = systemd ]; then SANHOOK_LOG_DIR=/dev/shm/sanhook-test; else SANHOOK_LOG_DIR=/var/log/sanhook-test; fi
TIMERD_LOG=$SANHOOK_LOG_DIR/timerd.log
NVME_CALLS=$SANHOOK_LOG_DIR/nvme-calls.log
UEVENTS=$SANHOOK_LOG_DIR/uevents.log
SYS_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
SCENARIO_FAILED=0
T_BOOT=$EPOCHREALTIME

now() { echo "$EPOCHREALTIME"; }
# elapsed FROM [TO]: seconds with 2 decimals
elapsed() { awk -v a="$1" -v b="${2:-$EPOCHREALTIME}" 'BEGIN{printf "%.2f", b-a}'; }
log() { echo "[$(elapsed "$T_BOOT")] $*"; }
measure() { echo "@@measure $CURRENT $1 $2"; }

# ---------------------------------------------------------------- failure ----
# fail STEP EXPECTED SEEN: print the failure block and end the scenario.
fail() {
  local step=$1 expected=$2 seen=$3
  {
    echo "@@fail $CURRENT step: $step"
    echo "@@fail $CURRENT expected: $expected"
    echo "@@fail $CURRENT seen:     $seen"
    diagnostics
  } 2>&1
  exit 1
}
diagnostics() {
  local from=${SCENARIO_T0:-$T_BOOT}
  echo "----- controllers now"
  controllers_table | sed 's/^/  /'
  echo "----- dmesg | grep nvme (last 25)"
  dmesg | grep -i nvme | tail -25 | sed 's/^/  /'
  echo "----- sanhook hooks run by udev: journalctl -t sanhook (this scenario, last 40)"
  journalctl -t sanhook --no-pager -o cat --since "@${from%.*}" 2>/dev/null | tail -40 | sed 's/^/  /'
  if [ "${SANHOOK_VM_INIT:-chroot}" = systemd ]; then
    echo "----- timerd: journalctl -u sanhook-timerd (this scenario, last 25)"
    journalctl -u sanhook-timerd --no-pager -o cat --since "@${from%.*}" 2>/dev/null | tail -25 | sed 's/^/  /'
    echo "----- units: systemctl list-units 'sanhook*' 'run-u*' --all"
    systemctl list-units --all --no-pager --plain 'sanhook*' 'run-u*' 2>&1 | head -20 | sed 's/^/  /'
  else
    echo "----- timerd log $TIMERD_LOG (last 25)"
    tail -25 "$TIMERD_LOG" 2>/dev/null | sed 's/^/  /'
  fi
  echo "----- nvme-cli calls $NVME_CALLS (this scenario, last 30)"
  awk -v t="$from" '$1 >= t' "$NVME_CALLS" 2>/dev/null | tail -30 | sed 's/^/  /'
  echo "----- nvme uevents handled by udevd $UEVENTS (this scenario, last 20)"
  awk -v t="$from" '$1 >= t' "$UEVENTS" 2>/dev/null | tail -20 | sed 's/^/  /'
  echo "----- sanhook timers -o json"
  sanhook timers -o json 2>&1 | sed 's/^/  /'
  [ "$NVMF_TRANSPORT" = rdma ] && nvmf_rdma_diagnostics
  # a suite may add its fabric's state (the FCoE suites: fcoe_diagnostics)
  if declare -F suite_diagnostics >/dev/null; then suite_diagnostics; fi
  echo "-----"
}

# scenario NAME FUNCTION: runs FUNCTION in a subshell; it fails through
# `fail` (an assertion) or by returning non-zero.
scenario() {
  local name=$1 fn=$2 t0 rc
  t0=$EPOCHREALTIME
  echo "@@scenario start $name"
  (
    CURRENT=$name
    SCENARIO_T0=$t0
    "$fn" || fail "scenario body" "every step to succeed" "$fn returned $? at a step without an assertion (see the lines above)"
  )
  rc=$?
  if [ $rc -eq 0 ]; then
    echo "@@scenario end $name pass $(elapsed "$t0")"
  else
    echo "@@scenario end $name fail $(elapsed "$t0")"
    SCENARIO_FAILED=1
  fi
}

# wait_for SECONDS CMD...: run CMD every 0.2 s until it succeeds; 1 on timeout.
# The checks polled this way avoid forks where they can: under TCG every
# fork costs CPU that the hooks under test need.
# (Its locals have odd names: bash scoping is dynamic, CMD sees them.)
wait_for() {
  local _wf_limit=$(( $1 * 1000000 )) _wf_t0=${EPOCHREALTIME/./}; shift
  while :; do
    "$@" && return 0
    (( ${EPOCHREALTIME/./} - _wf_t0 > _wf_limit )) && return 1
    sleep 0.2
  done
}

# ------------------------------------------------------------- host side -----
# I/O controllers (not discovery) whose subsysnqn is NQN, any state.
io_ctrls() {
  local c v t
  for c in /sys/class/nvme/nvme*; do
    [ -e "$c/subsysnqn" ] || continue
    read -r v < "$c/subsysnqn" 2>/dev/null || continue
    read -r t < "$c/cntrltype" 2>/dev/null || t=
    [ "$v" = "$1" ] && [ "$t" != discovery ] && echo "${c##*/}"
  done
  return 0
}
io_ctrl_count() { io_ctrls "$1" | wc -l; }
ctrl_state() { local s; read -r s < "/sys/class/nvme/$1/state" 2>/dev/null && echo "$s" || echo gone; }
# exactly one I/O controller for NQN, and it is live, over $NVMF_TRANSPORT (no forks)
is_live() {
  local c v t s tr n=0 live=0
  for c in /sys/class/nvme/nvme*; do
    read -r v < "$c/subsysnqn" 2>/dev/null || continue
    [ "$v" = "$1" ] || continue
    read -r t < "$c/cntrltype" 2>/dev/null || t=
    [ "$t" = discovery ] && continue
    n=$((n + 1))
    read -r s < "$c/state" 2>/dev/null && [ "$s" = live ] &&
      read -r tr < "$c/transport" 2>/dev/null && [ "$tr" = "$NVMF_TRANSPORT" ] && live=1
  done
  [ $n = 1 ] && [ $live = 1 ]
}
# no I/O controller for NQN (no forks)
is_gone() {
  local c v t
  for c in /sys/class/nvme/nvme*; do
    read -r v < "$c/subsysnqn" 2>/dev/null || continue
    read -r t < "$c/cntrltype" 2>/dev/null || t=
    [ "$v" = "$1" ] && [ "$t" != discovery ] && return 1
  done
  return 0
}
discovery_ctrls() {
  local c t
  for c in /sys/class/nvme/nvme*; do
    read -r t < "$c/cntrltype" 2>/dev/null || continue
    [ "$t" = discovery ] && echo "${c##*/}"
  done
  return 0
}
# namespace block devices (multipath heads) of subsystem NQN that exist in /dev;
# with "any" as $2: print nothing, succeed at the first one (no forks: polled)
ns_blockdevs() {
  local s v n
  for s in /sys/class/nvme-subsystem/nvme-subsys*; do
    read -r v < "$s/subsysnqn" 2>/dev/null || continue
    [ "$v" = "$1" ] || continue
    for n in "$s"/nvme*n*; do
      n=${n##*/}
      [[ $n =~ ^nvme[0-9]+n[0-9]+$ ]] && [ -b "/dev/$n" ] || continue
      [ "${2:-}" = any ] && return 0
      echo "$n"
    done
  done
  [ "${2:-}" != any ]
}
# a namespace block device of NQN exists in /dev
has_blockdev() { ns_blockdevs "$1" any; }
controllers_table() {
  local c
  for c in /sys/class/nvme/nvme*; do
    [ -e "$c" ] || { echo "(no nvme controllers)"; return 0; }
    echo "${c##*/} $(cat "$c/transport" 2>/dev/null) $(cat "$c/cntrltype" 2>/dev/null) $(cat "$c/state" 2>/dev/null) $(cat "$c/subsysnqn" 2>/dev/null) [$(cat "$c/address" 2>/dev/null)] ctrl_loss_tmo=$(cat "$c/ctrl_loss_tmo" 2>/dev/null)"
  done
}
# armed timers (NDJSON lines of `sanhook timers -o json` with outcome armed)
timers_json() { sanhook timers -o json 2>/dev/null; }
timer_keys() { timers_json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{for(const l of s.split("\n"))if(l.trim()){const o=JSON.parse(l);if(o.outcome==="armed")console.log(o.key)}})'; }
timer_armed_for() { timer_keys | grep -qF ":$1:"; }
timers_empty() { [ -z "$(timer_keys)" ]; }
# sanhook's log lines from hooks run by udev (journal), since epoch T, in the
# journal format (`HOOK KEY: message field=value ...`) with the leading hook
# word written as `hook=HOOK`, so a check names every field the same way
journal_since() { journalctl -t sanhook --no-pager -o cat --since "@${1%.*}" 2>/dev/null | sed -E 's/^([a-z-]+) /hook=\1 /' || true; }
# grep_all WORD...: the stdin lines that contain every WORD (fixed strings)
grep_all() {
  local text; text=$(cat)
  for p in "$@"; do text=$(printf '%s\n' "$text" | grep -F -- "$p" || true); done
  [ -n "$text" ] && printf '%s\n' "$text"
  return 0
}
count() { grep -c . || true; }
# nvme-cli calls started since epoch T whose argv contains every WORD
nvme_calls_since() {  # T WORD...
  local t=$1; shift
  awk -v t="$t" '$1 >= t && $2 == "start"' "$NVME_CALLS" | grep_all "$@"
}

# ----------------------------------------------------------- target side -----
# tgt_port: nvmet port 1 on $NVMF_TRANSPORT $ADDR:$PORT (enabled once a subsystem is linked)
tgt_port() {
  if [ "$NVMF_TRANSPORT" = rdma ]; then
    nvmf_rdma_fabric || { echo "@@suite end fail setup"; exit 125; }
  fi
  mkdir -p $CFG/ports/1
  echo $NVMF_TRANSPORT > $CFG/ports/1/addr_trtype; echo ipv4 > $CFG/ports/1/addr_adrfam
  echo $ADDR > $CFG/ports/1/addr_traddr; echo $PORT > $CFG/ports/1/addr_trsvcid
}
tgt_subsys() {  # NQN NULLB_INDEX
  mkdir $CFG/subsystems/$1
  echo 1 > $CFG/subsystems/$1/attr_allow_any_host
  mkdir $CFG/subsystems/$1/namespaces/1
  echo -n /dev/nullb$2 > $CFG/subsystems/$1/namespaces/1/device_path
  echo 1 > $CFG/subsystems/$1/namespaces/1/enable
}
# nvmf_rdma_fabric: NVMe/RDMA over Soft-RoCE (REAL-SYSTEMS.md): a veth pair,
# $ADDR on s0, rdma_rxe's rxe0 on s0, ACTIVE before nvmet enables the port
# (nvmet-rdma binds its RDMA/CM listener to the address when the first
# subsystem is linked). Host and target share rxe0. Paths are broken on the
# target side (tgt_unlink), never by taking s0 down: with controllers on it
# that can panic the 6.1 kernel (as with SRP).
nvmf_rdma_fabric() {
  local m
  for m in nvme_rdma nvmet_rdma rdma_rxe; do
    [ -d /sys/module/$m ] || { echo "SETUP: module $m is not loaded (vm/sanhook-vm.sh MODS; a stale base initramfs? touch the script)"; return 1; }
  done
  ip link add s0 type veth peer name s1 && ip addr add $ADDR/24 dev s0 && ip link set s1 up && ip link set s0 up ||
    { echo "SETUP: veth s0/s1 with $ADDR"; return 1; }
  rdma link add $NVMF_RXE type rxe netdev s0 || { echo "SETUP: rdma link add $NVMF_RXE type rxe netdev s0 failed"; return 1; }
  rxe_active() { local s; read -r s < /sys/class/infiniband/$NVMF_RXE/ports/1/state 2>/dev/null && [[ $s == *ACTIVE* ]]; }
  wait_for 20 rxe_active || { echo "SETUP: $NVMF_RXE port not ACTIVE: $(cat /sys/class/infiniband/$NVMF_RXE/ports/1/state 2>&1)"; return 1; }
  log "rdma fabric: $NVMF_RXE on s0 ($ADDR), $(rdma link show 2>&1 | head -1)"
}
nvmf_rdma_diagnostics() {
  echo "----- rdma: rdma link show; s0"
  { rdma link show; ip -br addr show dev s0; } 2>&1 | sed 's/^/  /'
  echo "----- dmesg | grep -iE 'rdma|rxe' (last 15)"
  dmesg | grep -iE 'rdma|rxe' | tail -15 | sed 's/^/  /'
}
tgt_link() { ln -s $CFG/subsystems/$1 $CFG/ports/1/subsystems/$1; }
tgt_unlink() { rm $CFG/ports/1/subsystems/$1; }

# ----------------------------------------------------------------- setup -----
# Observers (host side only; neither changes what sanhook does): every
# nvme-cli call's start and end ($NVME_CALLS: a wrapper bind-mounted over
# /usr/sbin/nvme catches every caller, whatever its PATH or unit), and when
# udevd handles each nvme uevent ($UEVENTS: a PROGRAM that never matches).
install_observers() {
  cp /usr/sbin/nvme /usr/local/sbin/.nvme-real-for-test
  cat > /usr/local/sbin/.nvme-logging-wrapper <<EOF
#!/bin/bash
printf '%s start %s %s\n' "\$EPOCHREALTIME" "\$\$" " \$*" >> $NVME_CALLS
/usr/local/sbin/.nvme-real-for-test "\$@"; rc=\$?
printf '%s end %s rc=%s\n' "\$EPOCHREALTIME" "\$\$" "\$rc" >> $NVME_CALLS
exit \$rc
EOF
  chmod 755 /usr/local/sbin/.nvme-logging-wrapper
  if [ "${SANHOOK_VM_INIT:-chroot}" = systemd ]; then
    # sandboxed units (udevd's PrivateMounts, ProtectSystem=) may not see a
    # bind mount made now: replace the file in the guest's overlay instead
    cp /usr/local/sbin/.nvme-logging-wrapper /usr/sbin/nvme
  else
    mount --bind /usr/local/sbin/.nvme-logging-wrapper /usr/sbin/nvme
  fi
  : > $NVME_CALLS
  # when udevd handles an nvme uevent (PROGRAM runs while rules are evaluated,
  # before any RUN program); never matches, changes nothing.
  cat > /usr/local/sbin/.uevent-observer <<EOF
#!/bin/bash
printf '%s %s %s %s NVME_AEN=%s NVME_EVENT=%s\n' "\$EPOCHREALTIME" "\$SEQNUM" "\$ACTION" "\${DEVPATH##*/}" "\${NVME_AEN:-}" "\${NVME_EVENT:-}" >> $UEVENTS
exit 1
EOF
  chmod 755 /usr/local/sbin/.uevent-observer
  : > $UEVENTS

}

# setup_host CONFIG_YAML
setup_host() {
  dmesg -n 1                       # keep printk off the console (our report lines)
  mkdir -p $SANHOOK_LOG_DIR
  # Whatever the host has in these directories (rules from other tests, state
  # from a root run of sanhook) must not leak into the guest.
  for d in /etc/udev/rules.d /etc/sanhook /var/lib/sanhook; do mkdir -p $d; mount -t tmpfs tmp $d; done

  # journald (needs a cgroup2 mount outside systemd); its stream socket makes
  # the shipped rules run sanhook under `systemd-cat --identifier=sanhook`.
  mkdir -p /sys/fs/cgroup /run/systemd/journal /run/log/journal
  mount -t cgroup2 none /sys/fs/cgroup
  /lib/systemd/systemd-journald > $SANHOOK_LOG_DIR/journald.out 2>&1 &
  wait_for 10 test -S /run/systemd/journal/stdout || { echo "SETUP: journald did not start"; cat $SANHOOK_LOG_DIR/journald.out; return 1; }

  install_observers

  /lib/systemd/systemd-udevd --daemon
  wait_for 10 test -S /run/udev/control || { echo "SETUP: systemd-udevd did not start"; return 1; }

  # --- sanhook, installed as README "Install on a host" says ---
  ln -sf "$PWD/bin/sanhook.js" /usr/bin/sanhook
  install -m 644 rules.d/70-sanhook-nvmf.rules /etc/udev/rules.d/
  echo 'SUBSYSTEM=="nvme", PROGRAM="/usr/local/sbin/.uevent-observer"' > /etc/udev/rules.d/10-sanhook-test-observer.rules
  sanhook coexist mask > $SANHOOK_LOG_DIR/coexist.out 2>&1 || { echo "SETUP: sanhook coexist mask failed"; cat $SANHOOK_LOG_DIR/coexist.out; return 1; }
  COEXIST=$(sanhook coexist status 2>&1)
  [[ $COEXIST == masked*"udev rule: masked"* ]] || { echo "SETUP: nvme-cli's rule is not masked: $COEXIST"; return 1; }
  printf '%s\n' "$1" > /etc/sanhook/sanhook.yaml
  udevadm control --reload
  # timerd as sanhook-timerd.service starts it: ExecStart=/usr/bin/sanhook timerd
  # (node --jitless from its #! line), a service's clean environment (PATH
  # only); its output to a file.
  env -i PATH=$SYS_PATH LANG=C.UTF-8 /usr/bin/sanhook timerd >> $TIMERD_LOG 2>&1 &
  TIMERD_PID=$!
  wait_for 15 test -S /run/sanhook/timerd.sock || { echo "SETUP: timerd did not start"; cat $TIMERD_LOG; return 1; }
  log "host ready: journald, udevd $(pidof systemd-udevd), timerd $TIMERD_PID; ${COEXIST%%$'\n'*}"
  log "kernel $(uname -r), $(nvme version | head -1), node $(node --version), udev $(udevadm --version)"
}

# setup_systemd_host CONFIG_YAML: with systemd as PID 1 (SANHOOK_VM_INIT=systemd),
# installs sanhook exactly as README "Install on a host" says for Debian: the
# package this checkout built (dist/deb/sanhook_*_all.deb, `npm run deb`; run-vm
# builds it) with `dpkg -i`, whose postinst reloads udev and systemd and
# enables and starts timerd and the boot unit; then `sanhook coexist mask`.
# journald, systemd-udevd (with its real sandbox) and the units are systemd's.
# SANHOOK_DEB: the package's path once installed (the purge scenario).
SANHOOK_DEB=
setup_systemd_host() {
  local out deb
  dmesg -n 1
  [ "$(cat /proc/1/comm)" = systemd ] || { echo "SETUP: PID 1 is $(cat /proc/1/comm), not systemd"; return 1; }
  mkdir -p $SANHOOK_LOG_DIR
  deb=$(ls dist/deb/sanhook_*_all.deb 2>/dev/null | tail -1)
  [ -n "$deb" ] || { echo "SETUP: no dist/deb/sanhook_*_all.deb in this checkout (npm run deb builds it; npm run test:system does)"; return 1; }
  # whatever the host root carries (rules left by other tests, a root run's
  # state) must not leak into the guest: start from empty directories
  # No tmpfs over them here: systemd-udevd runs with PrivateMounts=yes and
  # would not see a mount made now. The root is the guest's throw-away
  # overlay, so deleting is safe.
  rm -rf /etc/udev/rules.d/* /etc/sanhook /var/lib/sanhook /run/sanhook /etc/nvme/discovery.conf
  mkdir -p /etc/sanhook
  # OBSERVERS=0 (the benchmark): no nvme wrapper, no udev PROGRAM; each costs
  # a bash start per call or event under TCG, which is not the tool's cost
  if [ "${OBSERVERS:-1}" = 1 ]; then
    install_observers
    echo 'SUBSYSTEM=="nvme", PROGRAM="/usr/local/sbin/.uevent-observer"' > /etc/udev/rules.d/10-sanhook-test-observer.rules
  fi
  printf '%s\n' "$1" > /etc/sanhook/sanhook.yaml
  # Not the admin's step, only this guest's time: man-db's dpkg trigger would
  # re-index every manual page of the host root under TCG (minutes); its
  # documented switch is this file (man-db's postinst, debconf man-db/auto-update).
  rm -f /var/lib/man-db/auto-update
  # Not a real host's either: this machine's root is a Docker image, whose
  # /usr/sbin/policy-rc.d (exit 101) tells deb-systemd-invoke and invoke-rc.d
  # never to start a service. A Debian host has none; with it, the postinst
  # could not start timerd.
  rm -f /usr/sbin/policy-rc.d
  # --- README "Install on a host" (Debian), word for word ---
  local t0=$EPOCHREALTIME
  out=$( {
    dpkg -i "$deb" &&
    sanhook coexist mask
  } 2>&1 ) || { echo "SETUP: install as the README says failed:"; echo "$out"; return 1; }
  SANHOOK_DEB=$deb
  log "installed $(basename "$deb") with dpkg -i in $(elapsed "$t0") s: $(dpkg-query -W -f='${Package} ${Version} ${Status}' sanhook); $(command -v sanhook); $(sanhook coexist status 2>&1 | head -1)"
  log "kernel $(uname -r), $(nvme version | head -1), node $(node --version), systemd $(systemctl --version | head -1 | cut -d' ' -f2); PID 1 $(cat /proc/1/comm)"
  log "units: timerd $(systemctl is-active sanhook-timerd.service), socket $(systemctl is-active sanhook-timerd.socket), boot $(systemctl is-enabled sanhook-connect-boot.service), udevd $(systemctl is-active systemd-udevd.service)"
}

# sanhook_packaged: under systemd the .deb installed every rule, unit and
# dispatcher script; the chroot suites install the ones they need by hand.
sanhook_packaged() { [ -n "$SANHOOK_DEB" ]; }

# purge_leaves_nothing: `dpkg --purge sanhook`, then nothing of sanhook is
# left: every path the package listed, its state and settings, the unit links
# and masks, timerd stopped, and nvme-cli's autoconnect unmasked again.
purge_leaves_nothing() {
  local listed left=() f t0 unit
  sanhook_packaged || fail "installed" "sanhook installed from the .deb" "SANHOOK_DEB empty"
  listed=$(dpkg -L sanhook | grep -v '^/\.$')
  t0=$EPOCHREALTIME
  dpkg --purge sanhook > $W/purge.out 2>&1 || fail "dpkg --purge sanhook" "exit 0" "$(cat $W/purge.out)"
  log "purged in $(elapsed "$t0") s: $(tr '\n' ' ' < $W/purge.out | cut -c1-200)"
  [ -z "$(dpkg-query -W -f='${Status}' sanhook 2>/dev/null | grep -v 'not-installed')" ] || fail "dpkg status" "not-installed" "$(dpkg-query -W -f='${Status}' sanhook)"
  # the package's own paths: all of them are named for sanhook; the rest of
  # what dpkg -L lists are the directories they sit in (/lib, /etc, ...),
  # which are other packages' too
  while read -r f; do
    [[ $f == *sanhook* ]] || continue
    { [ -e "$f" ] || [ -L "$f" ]; } && left+=("$f")
  done <<< "$listed"
  # what sanhook made at run time, and the unit links deb-systemd-helper made
  for f in /etc/sanhook /var/lib/sanhook /run/sanhook /usr/sbin/sanhook /usr/lib/sanhook /var/lib/systemd/deb-systemd-helper-enabled/sanhook-timerd.service.dsh-also; do
    { [ -e "$f" ] || [ -L "$f" ]; } && left+=("$f")
  done
  # (sanhook-vm-scenario.service is this harness's own unit, not sanhook's)
  while read -r f; do left+=("$f"); done < <(find /etc/systemd/system /var/lib/systemd/deb-systemd-helper-enabled /var/lib/systemd/deb-systemd-helper-masked -name '*sanhook*' ! -name 'sanhook-vm-*' 2>/dev/null)
  [ ${#left[@]} -eq 0 ] || fail "purge" "nothing of sanhook left" "${left[*]}"
  for unit in sanhook-timerd.service sanhook-timerd.socket; do
    [ "$(systemctl is-active $unit 2>&1)" != active ] || fail "purge" "$unit stopped" "$(systemctl is-active $unit)"
  done
  [ ! -L /etc/udev/rules.d/70-nvmf-autoconnect.rules ] || fail "purge" "nvme-cli's autoconnect rule unmasked again (prerm: sanhook coexist unmask)" "$(ls -l /etc/udev/rules.d/70-nvmf-autoconnect.rules)"
  [ "$(systemctl is-enabled nvmf-autoconnect.service 2>&1)" != masked ] || fail "purge" "nvmf-autoconnect.service unmasked again" "masked"
  log "nothing left: $(echo "$listed" | wc -l) packaged paths, /etc/sanhook, /var/lib/sanhook, /run/sanhook, unit links; nvme-cli autoconnect: rule $( [ -e /lib/udev/rules.d/70-nvmf-autoconnect.rules ] && echo active), nvmf-autoconnect.service $(systemctl is-enabled nvmf-autoconnect.service 2>&1)"
}

# ------------------------------------------------------------------ FCoE -----
# Software FCoE on veth/VLAN (vm/sanhook-vm.sh loads veth, 8021q and fcoe at
# boot). Controllers, FC hosts and remote ports are the kernel's (libfcoe's
# /sys/bus/fcoe, scsi_transport_fc's classes); every check reads them.
NET_UEVENTS=$SANHOOK_LOG_DIR/net-uevents.log
FCOE_BUS=/sys/bus/fcoe
ND_DIR=/etc/networkd-dispatcher
ND_STATES="carrier degraded routable enslaved no-carrier off"

# setup_fcoe: after setup_host (chroot) or setup_systemd_host (systemd),
# installs sanhook's FCoE pieces as docs/fcoe-events.md says:
# rules.d/81-sanhook-fcoe.rules in /etc/udev/rules.d, the networkd-dispatcher
# script once as /usr/lib/sanhook/networkd-dispatcher/sanhook-fcoe, linked
# into each state directory it serves; /etc/fcoe starts empty (the cfg files
# are the scenarios'). Plus a test-only observer that logs when udevd handles
# each net uevent ($NET_UEVENTS; a PROGRAM that never matches, changes nothing).
setup_fcoe() {
  local f st
  for f in rules.d/81-sanhook-fcoe.rules dispatcher/networkd-dispatcher/sanhook-fcoe; do
    [ -r "$f" ] || { echo "SETUP: $f is not in this checkout"; return 1; }
  done
  [ -e $FCOE_BUS/ctlr_create ] || { echo "SETUP: no $FCOE_BUS/ctlr_create (the fcoe module is not loaded)"; return 1; }
  rm -rf /etc/fcoe; mkdir -p /etc/fcoe
  if sanhook_packaged; then
    # the .deb put them in place: check, do not copy
    for f in /lib/udev/rules.d/81-sanhook-fcoe.rules /usr/lib/sanhook/networkd-dispatcher/sanhook-fcoe $(for st in $ND_STATES; do echo $ND_DIR/$st.d/sanhook-fcoe; done); do
      [ -e "$f" ] || { echo "SETUP: the package did not install $f"; return 1; }
    done
  else
    install -m 644 rules.d/81-sanhook-fcoe.rules /etc/udev/rules.d/
    install -D -m 755 dispatcher/networkd-dispatcher/sanhook-fcoe /usr/lib/sanhook/networkd-dispatcher/sanhook-fcoe
    for st in $ND_STATES; do
      mkdir -p $ND_DIR/$st.d
      ln -sf /usr/lib/sanhook/networkd-dispatcher/sanhook-fcoe $ND_DIR/$st.d/sanhook-fcoe
    done
  fi
  printf '#!/bin/bash\nprintf "%%s %%s %%s %%s\\n" "$EPOCHREALTIME" "$SEQNUM" "$ACTION" "$INTERFACE" >> %s\nexit 1\n' "$NET_UEVENTS" > /usr/local/sbin/.net-uevent-observer
  chmod 755 /usr/local/sbin/.net-uevent-observer
  : > "$NET_UEVENTS"
  echo 'SUBSYSTEM=="net", PROGRAM="/usr/local/sbin/.net-uevent-observer"' > /etc/udev/rules.d/10-sanhook-test-net-observer.rules
  udevadm control --reload
  log "FCoE installed: 81-sanhook-fcoe.rules; networkd-dispatcher script in ${ND_STATES// /.d, }.d; libfcoe: $(head -1 /sys/module/libfcoe/parameters/show 2>/dev/null)"
}

# fcoe_cfg IF DCB_REQUIRED MODE: fcoe-utils' /etc/fcoe/cfg-IF
fcoe_cfg() {
  printf 'FCOE_ENABLE="yes"\nDCB_REQUIRED="%s"\nAUTO_VLAN="no"\nMODE="%s"\n' "$2" "$3" > "/etc/fcoe/cfg-$1"
}

# nd_dispatch IF STATE [ADMIN]: what networkd-dispatcher does when
# systemd-networkd reports that IF entered operational STATE: it runs every
# script of /etc/networkd-dispatcher/STATE.d, one after the other, with its
# service's environment plus the variables it sets (networkd-dispatcher 2.2,
# run_hooks_for_state). For the chroot guest, where no networkd runs.
nd_dispatch() {
  local ifname=$1 state=$2 admin=${3:-configured} script
  for script in "$ND_DIR/$state.d"/*; do
    [ -x "$script" ] || continue
    env -i PATH=$SYS_PATH LANG=C.UTF-8 ADDR= ESSID= IP_ADDRS= IP6_ADDRS= \
      IFACE="$ifname" STATE="$state" AdministrativeState="$admin" OperationalState="$state" \
      json="{\"AdministrativeState\": \"$admin\", \"OperationalState\": \"$state\", \"Type\": \"ether\"}" \
      "$script" || echo "nd_dispatch: $script $ifname $state: exit $?"
  done
}

# The ctlr on netdev IF (ctlr_N); none: empty. No forks (polled).
ctlr_on() {
  local c
  for c in /sys/class/net/$1/ctlr_*; do [ -d "$c" ] && { echo "${c##*/}"; return 0; }; done
  return 0
}
has_ctlr() { local c; for c in /sys/class/net/$1/ctlr_*; do [ -d "$c" ] && return 0; done; return 1; }
no_ctlr() { ! has_ctlr "$1"; }
# the netdevs that have a ctlr, from /sys/bus/fcoe/devices
ctlr_netdevs() {
  local c d
  for c in $FCOE_BUS/devices/ctlr_*; do
    [ -e "$c" ] || continue
    d=$(readlink -f "$c"); d=${d%/ctlr_*}; echo "${d##*/}"
  done
  return 0
}
no_ctlrs() { local c; for c in $FCOE_BUS/devices/ctlr_*; do [ -e "$c" ] && return 1; done; return 0; }
# IF's ctlr is enabled (1) in VN2VN mode (no forks)
ctlr_vn2vn_enabled() {
  local c m e
  for c in /sys/class/net/$1/ctlr_*; do
    [ -d "$c" ] || return 1
    read -r m < "$c/mode" || return 1
    read -r e < "$c/enabled" || return 1
    [ "${m,,}" = vn2vn ] && [ "$e" = 1 ]; return
  done
  return 1
}
ctlr_attrs() {  # IF: "ctlr_N mode=.. enabled=.."
  local c; c=$(ctlr_on "$1")
  [ -n "$c" ] && echo "$c mode=$(cat /sys/class/net/$1/$c/mode 2>&1) enabled=$(cat /sys/class/net/$1/$c/enabled 2>&1)" || echo none
}
# the SCSI/FC host of IF's ctlr (hostN)
fc_host_of() {
  local h
  for h in /sys/class/net/$1/ctlr_*/host*; do [ -d "$h" ] && { echo "${h##*/}"; return 0; }; done
  return 0
}
fc_port_state() { local s; read -r s < "/sys/class/fc_host/$1/port_state" 2>/dev/null && echo "$s" || echo gone; }
# IF_A's FC host is Online and has IF_B's FC host as a remote port, Online
sees_peer() {
  local ha hb r pn want s
  ha=$(fc_host_of "$1"); hb=$(fc_host_of "$2")
  [ -n "$ha" ] && [ -n "$hb" ] || return 1
  [ "$(fc_port_state "$ha")" = Online ] || return 1
  read -r want < "/sys/class/fc_host/$hb/port_name" || return 1
  for r in /sys/class/fc_remote_ports/rport-"${ha#host}":*; do
    read -r pn < "$r/port_name" 2>/dev/null || continue
    read -r s < "$r/port_state" 2>/dev/null || continue
    [ "$pn" = "$want" ] && [ "$s" = Online ] && return 0
  done
  return 1
}
pair_online() { sees_peer "$1" "$2" && sees_peer "$2" "$1"; }
fc_view() {  # IF...: each one's host, port state and remote ports
  local i h r
  for i in "$@"; do
    h=$(fc_host_of "$i")
    echo -n "$i: ${h:-no-host} $( [ -n "$h" ] && fc_port_state "$h") rports:"
    [ -n "$h" ] && for r in /sys/class/fc_remote_ports/rport-"${h#host}":*; do [ -e "$r" ] && echo -n " ${r##*/}=$(cat "$r/port_state")"; done
    echo -n "; "
  done
  echo
}
# armed timers of FCoE interface IF (key fcoe:IF); without IF, all FCoE ones
fcoe_timer_keys() { timer_keys | grep -E "^fcoe:${1:-}" || true; }
# timerd's records about key K since epoch T, one per line:
#   EPOCH RECORD fields   (RECORD: event-fired, hook-finished, armed, timer-...)
# chroot: timerd's JSON lines in $TIMERD_LOG
timerd_records() {  # KEY SINCE
  node -e '
    const [key, since, file] = process.argv.slice(1);
    for (const l of require("fs").readFileSync(file, "utf8").split("\n")) {
      let o; try { o = JSON.parse(l); } catch { continue; }
      if (o.key !== key) continue;
      const t = (typeof o.time === "number" ? o.time : Date.parse(o.time)) / 1000;
      if (!(t >= Number(since))) continue;
      const f = o.msg === "event fired" ? `event=${o.event} attempt=${o.attempt} hook=${o.hook} late_ms=${o.late_ms}`
              : o.msg === "hook finished" ? `hook=${o.hook} exit_code=${o.exit_code} duration_ms=${o.duration_ms}`
              : `outcome=${o.outcome ?? ""}`;
      console.log(`${t.toFixed(3)} ${String(o.msg).replace(/ /g, "-")} ${f}`);
    }' "$1" "$2" "$TIMERD_LOG"
}
fcoe_diagnostics() {
  local c d
  echo "----- FCoE: /sys/bus/fcoe/devices"
  for c in $FCOE_BUS/devices/ctlr_*; do
    [ -e "$c" ] || { echo "  (no ctlrs)"; break; }
    d=$(readlink -f "$c")
    echo "  ${c##*/} on ${d%/ctlr_*} mode=$(cat "$c/mode" 2>&1) enabled=$(cat "$c/enabled" 2>&1) hosts: $(cd "$c" && ls -d host* 2>/dev/null | tr '\n' ' ')"
  done
  for c in /sys/class/fc_host/host*; do [ -e "$c" ] && echo "  ${c##*/} port_state=$(cat "$c/port_state") port_name=$(cat "$c/port_name") port_id=$(cat "$c/port_id")"; done
  for c in /sys/class/fc_remote_ports/rport-*; do [ -e "$c" ] && echo "  ${c##*/} port_state=$(cat "$c/port_state") port_name=$(cat "$c/port_name")"; done
  echo "----- links"; ip -br link 2>&1 | sed 's/^/  /'
  echo "----- /etc/fcoe"; for c in /etc/fcoe/cfg-*; do [ -e "$c" ] && echo "  ${c##*/}: $(tr '\n' ' ' < "$c")"; done
  echo "----- net uevents handled by udevd $NET_UEVENTS (this scenario, last 20)"
  awk -v t="${SCENARIO_T0:-0}" '$1 >= t' "$NET_UEVENTS" 2>/dev/null | tail -20 | sed 's/^/  /'
  echo "----- dmesg | grep -iE 'fcoe|libfc|fip|host[0-9]' (last 15)"
  dmesg | grep -iE 'fcoe|libfc|fip|host[0-9]' | tail -15 | sed 's/^/  /'
}

# Prints the result line the runner reads last, and exits with it.
finish() {
  udevadm settle -t 10 || true
  [ -n "${TIMERD_PID:-}" ] && kill "$TIMERD_PID" 2>/dev/null || true
  echo "@@suite end $([ $SCENARIO_FAILED = 0 ] && echo pass || echo fail) $(elapsed "$T_BOOT")"
  exit $SCENARIO_FAILED
}

# ------------------------------------------------------------------- SRP -----
# SRP over Soft-RoCE (vm/sanhook-vm.sh loads rdma_rxe, ib_srp with
# scsi_transport_srp, and the LIO ib_srpt target at boot): a veth end with an
# address carries rxe0; the LIO target listens on RDMA/CM port 5555 of that
# address; the initiator (ib_srp, /sys/class/infiniband_srp/srp-rxe0-1) logs in
# to it over the same rxe device. Observed on 6.1 (docs/srp-vm.md):
#  * NEVER take the rxe netdev down while a login is up: ib_srp hits a list
#    corruption BUG and the guest panics. The path is broken on the target
#    side instead: `echo 0 > tpgt_1/enable` (srp_tpg_enable 0).
#  * with RDMA/CM, ib_srpt names the initiator's session after its source IP
#    address: the ACL is named 10.91.0.1.
#  * no uevent for blocked / fail-fast / running: only add and remove of
#    srp_remote_ports, scsi_host, srp_host and the disks.
SRP_IP=10.91.0.1
SRP_CM_PORT=5555
SRP_IBDEV=rxe0
SRP_HOST=srp-rxe0-1                               # /sys/class/infiniband_srp/<this>
SRP_HOSTDIR=/sys/class/infiniband_srp/$SRP_HOST
SRP_INI_EXT=00000000000000a1                      # initiator_ext of our logins
SRP_TCFG=/sys/kernel/config/target
SRP_PORTS=/sys/class/srp_remote_ports
SRP_UEVENTS=$SANHOOK_LOG_DIR/srp-uevents.log
SRP_TPG=                                          # set by srp_target
SRP_IOC=                                          # 0x<16 hex>: srpt_service_guid (id_ext and ioc_guid)

# srp_fabric: veth s0/s1, 10.91.0.1 on s0, rxe0 on s0; waits for ib_srp's
# srp-rxe0-1 host (add_target).
srp_fabric() {
  ip link add s0 type veth peer name s1 || { echo "SETUP: ip link add s0"; return 1; }
  ip addr add $SRP_IP/24 dev s0 && ip link set s1 up && ip link set s0 up || { echo "SETUP: address/up on s0"; return 1; }
  rdma link add $SRP_IBDEV type rxe netdev s0 || { echo "SETUP: rdma link add $SRP_IBDEV type rxe netdev s0 failed"; return 1; }
  wait_for 20 test -e $SRP_HOSTDIR/add_target || { echo "SETUP: no $SRP_HOSTDIR/add_target (ib_srp loaded? $(ls /sys/class/infiniband_srp 2>&1))"; return 1; }
}

# srp_target: LIO: a 32 MiB rd_mcp ramdisk as LUN 0 of srpt/<rxe0 node
# guid>/tpgt_1, the initiator's ACL (its source IP) mapping it, RDMA/CM port
# 5555, enabled. Sets SRP_TPG and SRP_IOC.
srp_target() {
  local guid
  read -r guid < /sys/class/infiniband/$SRP_IBDEV/node_guid || { echo "SETUP: no node_guid for $SRP_IBDEV"; return 1; }
  read -r SRP_IOC < /sys/module/ib_srpt/parameters/srpt_service_guid || { echo "SETUP: ib_srpt not loaded"; return 1; }
  mkdir -p $SRP_TCFG/core/rd_mcp_0/ram0 &&
    echo rd_pages=8192 > $SRP_TCFG/core/rd_mcp_0/ram0/control &&
    echo 1 > $SRP_TCFG/core/rd_mcp_0/ram0/enable || { echo "SETUP: rd_mcp backstore"; return 1; }
  mkdir -p $SRP_TCFG/srpt && echo $SRP_CM_PORT > $SRP_TCFG/srpt/discovery_auth/rdma_cm_port || { echo "SETUP: srpt rdma_cm_port"; return 1; }
  SRP_TPG=$SRP_TCFG/srpt/$guid/tpgt_1
  mkdir -p $SRP_TPG/lun/lun_0 && ln -s $SRP_TCFG/core/rd_mcp_0/ram0 $SRP_TPG/lun/lun_0/ram0 || { echo "SETUP: srpt/$guid/tpgt_1 lun_0"; return 1; }
  mkdir -p $SRP_TPG/acls/$SRP_IP/lun_0 && ln -s $SRP_TPG/lun/lun_0 $SRP_TPG/acls/$SRP_IP/lun_0/map || { echo "SETUP: ACL $SRP_IP"; return 1; }
  echo 1 > $SRP_TPG/enable || { echo "SETUP: tpgt_1 enable"; return 1; }
}
srp_tpg_enable() { echo "$1" > $SRP_TPG/enable; }

# The add_target line of our target (RDMA/CM) and its sanhook key
# (srp:<ibdev>-<port>:<id_ext>:<ioc_guid>:<initiator_ext>, 16 lowercase hex each)
srp_login_line() { echo "id_ext=$SRP_IOC,ioc_guid=$SRP_IOC,initiator_ext=$SRP_INI_EXT,dest=$SRP_IP:$SRP_CM_PORT,src=$SRP_IP"; }
srp_key() { local id=${SRP_IOC#0x}; echo "srp:$SRP_IBDEV-1:${id,,}:${id,,}:$SRP_INI_EXT"; }

# The remote port (port-H:N) of our target: the srp_remote_ports entry whose
# SCSI host has our id_ext and ioc_guid; empty when none. No forks (polled).
srp_port() {
  local p n h id ioc
  for p in $SRP_PORTS/port-*; do
    [ -e "$p" ] || continue
    n=${p##*/}; h=${n#port-}; h=/sys/class/scsi_host/host${h%%:*}
    read -r id < "$h/id_ext" 2>/dev/null || continue
    read -r ioc < "$h/ioc_guid" 2>/dev/null || continue
    [ "$id" = "$SRP_IOC" ] && [ "$ioc" = "$SRP_IOC" ] && { echo "$n"; return 0; }
  done
  return 0
}
srp_has_port() { [ -n "$(srp_port)" ]; }
srp_no_port() { [ -z "$(srp_port)" ]; }
srp_host_of() { local h=${1#port-}; echo "host${h%%:*}"; }     # port-H:N -> hostH
srp_state() { local s; read -r s < "$SRP_PORTS/$1/state" 2>/dev/null && echo "$s" || echo gone; }
srp_state_is() { local s; read -r s < "$SRP_PORTS/$1/state" 2>/dev/null && [ "$s" = "$2" ]; }
srp_port_gone() { [ ! -e "$SRP_PORTS/$1" ]; }
# "reconnect_delay=R fast_io_fail_tmo=F dev_loss_tmo=D" of port P
srp_timers() {
  local a v out=
  for a in reconnect_delay fast_io_fail_tmo dev_loss_tmo; do
    read -r v < "$SRP_PORTS/$1/$a" 2>/dev/null || v=gone
    out+="$a=$v "
  done
  echo "${out% }"
}
# srp_timers_are P R F D (no forks: polled)
srp_timers_are() { [ "$(srp_timers "$1")" = "reconnect_delay=$2 fast_io_fail_tmo=$3 dev_loss_tmo=$4" ]; }
# the sd disks of SCSI host hostH, and the states of its SCSI devices
srp_disks() { local b; for b in /sys/class/scsi_host/$1/device/target*/*/block/*; do [ -e "$b" ] && echo "${b##*/}"; done; return 0; }
srp_sdev_states() { local d; for d in /sys/class/scsi_device/"${1#host}":*; do [ -e "$d" ] && echo "${d##*/}=$(cat "$d/device/state")"; done; return 0; }
srp_sdevs_all() {  # hostH STATE: every SCSI device of the host is in STATE (at least one)
  local d s n=0
  for d in /sys/class/scsi_device/"${1#host}":*; do
    read -r s < "$d/device/state" 2>/dev/null || return 1
    [ "$s" = "$2" ] || return 1
    n=$((n + 1))
  done
  [ $n -ge 1 ]
}
# direct read of 1 MiB from /dev/DISK: "ok SECONDS" or "error SECONDS: dd's message"
srp_dd() {
  local t0 out rc
  t0=$(now)
  out=$(timeout 60 dd if=/dev/$1 of=/dev/null bs=64k count=16 iflag=direct 2>&1); rc=$?
  if [ $rc = 0 ]; then echo "ok $(elapsed "$t0")"; else echo "error $(elapsed "$t0"): rc=$rc $(printf '%s' "$out" | head -1)"; fi
}
# SRP uevents handled by udevd since epoch T ($SRP_UEVENTS: EPOCH SEQNUM ACTION SUBSYSTEM NAME)
srp_uevents_since() { awk -v t="$1" '$1 >= t' "$SRP_UEVENTS" 2>/dev/null; }
srp_ports_table() {
  local p h
  for p in $SRP_PORTS/port-*; do
    [ -e "$p" ] || { echo "(no srp_remote_ports)"; break; }
    h=$(srp_host_of "${p##*/}")
    echo "${p##*/} state=$(cat "$p/state" 2>&1) $(srp_timers "${p##*/}") failed_reconnects=$(cat "$p/failed_reconnects" 2>&1) $h id_ext=$(cat /sys/class/scsi_host/$h/id_ext 2>&1) ioc_guid=$(cat /sys/class/scsi_host/$h/ioc_guid 2>&1) disks: $(srp_disks "$h" | tr '\n' ' ')sdevs: $(srp_sdev_states "$h" | tr '\n' ' ')"
  done
  echo "scsi_hosts: $(for h in /sys/class/scsi_host/host*; do [ -e "$h" ] && echo -n "${h##*/}($(cat "$h/proc_name" 2>/dev/null)) "; done)"
  echo "tpg enable=$(cat "$SRP_TPG/enable" 2>&1) sessions: $(cat "$SRP_TPG/acls/$SRP_IP/info" 2>/dev/null | head -2 | tr '\n' ' ')"
}

# setup_srp: after setup_host: sanhook's SRP rule (rules.d/70-sanhook-srp.rules)
# into /etc/udev/rules.d as the docs say, a test-only observer that logs when
# udevd handles each SRP/SCSI-host uevent ($SRP_UEVENTS; a PROGRAM that never
# matches, changes nothing); then the fabric (rxe0) and the LIO target.
setup_srp() {
  if sanhook_packaged; then
    [ -r /lib/udev/rules.d/70-sanhook-srp.rules ] || { echo "SETUP: the package did not install /lib/udev/rules.d/70-sanhook-srp.rules"; return 1; }
  else
    [ -r rules.d/70-sanhook-srp.rules ] || { echo "SETUP: rules.d/70-sanhook-srp.rules is not in this checkout"; return 1; }
    install -m 644 rules.d/70-sanhook-srp.rules /etc/udev/rules.d/
  fi
  printf '#!/bin/bash\nprintf "%%s %%s %%s %%s %%s\\n" "$EPOCHREALTIME" "$SEQNUM" "$ACTION" "$SUBSYSTEM" "${DEVPATH##*/}" >> %s\nexit 1\n' "$SRP_UEVENTS" > /usr/local/sbin/.srp-uevent-observer
  chmod 755 /usr/local/sbin/.srp-uevent-observer
  : > "$SRP_UEVENTS"
  echo 'SUBSYSTEM=="srp_remote_ports|srp_host|scsi_host", PROGRAM="/usr/local/sbin/.srp-uevent-observer"' > /etc/udev/rules.d/10-sanhook-test-srp-observer.rules
  udevadm control --reload
  srp_fabric || return 1
  srp_target || return 1
  log "SRP installed: 70-sanhook-srp.rules; $SRP_IBDEV on s0 ($SRP_IP), $SRP_HOST; LIO srpt target ${SRP_TPG#$SRP_TCFG/srpt/} (ioc_guid $SRP_IOC, rd_mcp 32 MiB LUN 0, ACL $SRP_IP, RDMA/CM port $SRP_CM_PORT)"
}
srp_diagnostics() {
  echo "----- SRP: srp_remote_ports, SCSI hosts, target"
  srp_ports_table 2>&1 | sed 's/^/  /'
  echo "----- sanhook status"
  sanhook status 2>&1 | head -30 | sed 's/^/  /'
  echo "----- SRP uevents handled by udevd $SRP_UEVENTS (this scenario, last 20)"
  srp_uevents_since "${SCENARIO_T0:-0}" | tail -20 | sed 's/^/  /'
  echo "----- dmesg | grep -iE 'srp|scsi' (last 30)"
  dmesg | grep -iE 'srp|scsi' | grep -v 'receiving failed for ioctx' | tail -30 | sed 's/^/  /'
}

# ------------------------------------------------------ SRP under systemd -----
# For srp-systemd.sh (systemd PID 1: setup_systemd_host, then setup_srp).
# There timerd is sanhook-timerd.service and logs to the journal in sanhook's
# journal format (`HOOK KEY: message field=value ...`, its hooks' records
# re-emitted the same way); the udev hooks log under the identifier sanhook
# through the rule's systemd-cat.

# srp_sd_timerd_lines SINCE KEY [WORD...]: sanhook-timerd.service's journal
# lines about KEY since epoch SINCE (whole seconds) containing every WORD
srp_sd_timerd_lines() {
  local since=$1 key=$2; shift 2
  journalctl -u sanhook-timerd.service --no-pager -o cat --since "@${since%.*}" 2>/dev/null | grep_all "$key:" "$@"
}
srp_sd_timerd_has() { [ -n "$(srp_sd_timerd_lines "$@")" ]; }
# srp_sd_units SINCE HOOK KEY: the units (_SYSTEMD_UNIT) whose processes
# logged HOOK's lines about KEY under the identifier sanhook since SINCE,
# sorted, one per line ("none" for a line without a unit)
srp_sd_units() {
  journalctl -t sanhook --no-pager -o json --output-fields=_SYSTEMD_UNIT,MESSAGE --since "@${1%.*}" 2>/dev/null |
    grep -F "\"MESSAGE\":\"$2 $3:" |
    while IFS= read -r l; do
      [[ $l =~ \"_SYSTEMD_UNIT\":\"([^\"]*)\" ]] && echo "${BASH_REMATCH[1]}" || echo none
    done | sort -u
}
# srp_sd_sandbox_errors SINCE: this boot's journal lines since SINCE that show
# a hook killed or refused by a sandbox (empty: none)
srp_sd_sandbox_errors() {
  journalctl --no-pager -o cat --since "@${1%.*}" 2>/dev/null |
    grep -E 'SIGTRAP|trap int3|SIGSYS|code=dumped|EROFS|Read-only file system|Operation not permitted|EACCES|internal error|MemoryDenyWriteExecute' | head -5 || true
}
# srp_sd_timerd_time SINCE KEY [WORD...]: the journal time (epoch, µs) of
# sanhook-timerd.service's first line about KEY since SINCE with every WORD
srp_sd_timerd_time() {
  local since=$1 key=$2; shift 2
  journalctl -u sanhook-timerd.service --no-pager -o short-unix --since "@${since%.*}" 2>/dev/null | grep_all "$key:" "$@" | awk '{print $1; exit}'
}

# ---- SRP suites (srp.sh, srp-systemd.sh): the scenario steps both use. They read the
# suite's W (work dir) and RD/FF/DL (the policy); srp_timerd_has reads the suite's timerd_lines.
# the outcomes a sanhook command printed (its JSON log lines in FILE), in one line
srp_said() { grep -oE '"(hook|outcome|reason)":"[^"]*"' "$1" | tr -d '"' | tr '\n' ' '; }
# sanhook srp-add of our target, as an admin types it; sets T_ADD, T_PORT and P (the port)
srp_add() {
  local out rc
  T_ADD=$(now)
  out=$(sanhook srp-add --srp-host $SRP_HOST --target "$(srp_login_line)" 2>&1); rc=$?
  printf '%s\n' "$out" > $W/srp-add.out
  log "sanhook srp-add --srp-host $SRP_HOST --target '$(srp_login_line)': exit $rc after $(elapsed "$T_ADD") s: $(srp_said $W/srp-add.out)"
  [ $rc = 0 ] || fail "sanhook srp-add --srp-host $SRP_HOST --target '$(srp_login_line)'" "exit 0" "exit $rc: $(tail -5 $W/srp-add.out)"
  wait_for 15 srp_has_port || fail "login by srp-add" "a port in $SRP_PORTS for ioc_guid $SRP_IOC within 15 s" "$(srp_ports_table | head -3); srp-add said: $(tail -3 $W/srp-add.out)"
  T_PORT=$(now)
  P=$(srp_port)
}
# the port with sanhook's policy; a login first when there is none (a scenario run alone)
srp_logged_in() {
  srp_has_port || srp_add
  P=$(srp_port); H=$(srp_host_of "$P")
  wait_for 30 srp_timers_are "$P" $RD $FF $DL || fail "the port's policy" "$P: reconnect_delay=$RD fast_io_fail_tmo=$FF dev_loss_tmo=$DL" "$(srp_timers "$P")"
  wait_for 10 srp_state_is "$P" running || fail "the port" "$P running" "$(srp_state "$P")"
  D=$(srp_disks "$H" | head -1)
  [ -n "$D" ] || fail "the disk" "an sd disk on $H (LUN 0, rd_mcp)" "none: $(srp_ports_table | head -2)"
  wait_for 10 test -b "/dev/$D" || fail "the disk" "/dev/$D" "no block device node"
}
# a direct read from /dev/DISK works
srp_read_ok() {  # DISK WHAT
  local r; r=$(srp_dd "$1")
  [[ $r == ok* ]] || fail "$2" "a direct 1 MiB read from /dev/$1 works" "$r"
  log "$2: read from /dev/$1: $r s"
}
srp_key_armed() { timer_keys | grep -qxF "$KEY"; }
srp_key_not_armed() { ! srp_key_armed; }
srp_settle() { udevadm settle -t 30; }
# journal lines of HOOK for our key since T (the hooks' format: `HOOK srp:...: ... outcome=...`)
srp_lines() {  # SINCE HOOK [WORD...]
  local since=$1 hook=$2; shift 2
  journal_since "$since" | grep_all "hook=$hook " "$KEY:" "$@"
}
# udev events of SUBSYSTEM with ACTION since T that udevd handled (observer log)
srp_uevents() {  # SINCE ACTION SUBSYSTEM
  srp_uevents_since "$1" | awk -v a="$2" -v s="$3" '$3 == a && $4 == s'
}
srp_timerd_has() { [ -n "$(timerd_lines "$@")" ]; }
