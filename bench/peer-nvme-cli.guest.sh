# bench/peer-nvme-cli: the workloads, run inside one guest of
# test/system/vm/sanhook-vm.sh with systemd as PID 1 (SANHOOK_VM_INIT=systemd).
# usage (in the guest): bash bench/peer-nvme-cli.guest.sh nvme-cli|sanhook SINGLE_EVENTS
#
#   nvme-cli: the stock peer: Debian's nvme-cli 70-nvmf-autoconnect.rules +
#             nvmf-connect@.service, live as the package installs them.
#   sanhook:  sanhook installed as README "Install on a host" says (which masks
#             nvme-cli's autoconnect), its timers: lost.reconnect-delay 5 s.
#
# Both see the same kernel, target and work: a persistent discovery controller
# at 127.0.0.1:4420, then
#   (a) SINGLE_EVENTS single subsystem links (one AEN each), time link -> live;
#   (b) bursts of 6 and 16 links 0.3 s apart: how many end up live within
#       BURST_WAIT s, and when the last went live;
#   (c) mass loss: 32 subsystems behind their own port 4421, connected with
#       the kernel's ctrl_loss_tmo 3 s; the port goes away until the kernel has
#       removed all 32 controllers, then comes back; how many are live again
#       within LOSS_WAIT s (default 300) of its return, and when the last was.
# Prints `@@bench TOOL METRIC VALUE` lines that bench/peer-nvme-cli.mjs reads.
set -u
TOOL=$1
SINGLE=${2:-8}
BURST_WAIT=${BURST_WAIT:-60}
LOSS_WAIT=${LOSS_WAIT:-300}
source test/system/scenarios/lib.sh
CURRENT=bench
OBSERVERS=0   # no nvme wrapper or udev PROGRAM: they would cost each tool per call and per event

emit() { echo "@@bench $TOOL $1 $2"; }
die() { echo "@@bench-error $TOOL $*"; echo "@@suite end fail $*"; exit 1; }

P=nqn.2026-11.io.sanhook.bench
NQN_SINGLE=(); for i in $(seq 1 "$SINGLE"); do NQN_SINGLE+=("$P:single-$i"); done
NQN_B6=(); for i in $(seq 1 6); do NQN_B6+=("$P:b6-$i"); done
NQN_B16=(); for i in $(seq 1 16); do NQN_B16+=("$P:b16-$i"); done
NQN_LOSS=(); for i in $(seq 1 32); do NQN_LOSS+=("$P:loss-$i"); done

if [ "$TOOL" = sanhook ]; then
  setup_systemd_host 'nvmf:
  ctrl-loss-tmo: 3
  lost:
    reconnect-delay: 5
    ctrl-loss-tmo: 600' || die "setup"
else
  # the peer as Debian ships it: nothing to install; only keep this host's
  # other rules out of the guest, and observe like the sanhook run does
  dmesg -n 1
  rm -rf /etc/udev/rules.d/* /etc/sanhook /var/lib/sanhook /etc/nvme/discovery.conf   # the guest's throw-away overlay
  mkdir -p $SANHOOK_LOG_DIR
  udevadm control --reload
  [ -e /lib/udev/rules.d/70-nvmf-autoconnect.rules ] || die "nvme-cli's 70-nvmf-autoconnect.rules is not installed"
  log "peer: $(nvme version | head -1); $(systemctl is-enabled nvmf-autoconnect.service 2>&1); rule $(ls /lib/udev/rules.d/70-nvmf-autoconnect.rules)"
fi

# The target. Namespaces share the 16 null_blk devices (nvmet opens them
# without O_EXCL): every subsystem has its own namespace, none has its own disk.
tgt_port
i=0
for nqn in "${NQN_SINGLE[@]}" "${NQN_B6[@]}" "${NQN_B16[@]}" "${NQN_LOSS[@]}" $P:base; do
  tgt_subsys "$nqn" $((i % 16)); i=$((i + 1))
done
tgt_link $P:base
port2_up() {
  mkdir -p $CFG/ports/2
  echo tcp > $CFG/ports/2/addr_trtype; echo ipv4 > $CFG/ports/2/addr_adrfam
  echo $ADDR > $CFG/ports/2/addr_traddr; echo 4421 > $CFG/ports/2/addr_trsvcid
  local q; for q in "${NQN_LOSS[@]}"; do ln -s $CFG/subsystems/$q $CFG/ports/2/subsystems/$q; done
}
port2_down() { local q; for q in "${NQN_LOSS[@]}"; do rm -f $CFG/ports/2/subsystems/$q; done; rmdir $CFG/ports/2; }

# The persistent discovery controller the AENs come from.
if [ "$TOOL" = sanhook ]; then
  sanhook connect -t tcp -a $ADDR -s $PORT --persistent > /dev/null 2>&1 || die "sanhook connect --persistent"
else
  nvme discover -t tcp -a $ADDR -s $PORT --persistent > /dev/null 2>&1 || die "nvme discover --persistent"
fi
udevadm settle -t 30
DC=$(discovery_ctrls)
[ "$(echo "$DC" | grep -c .)" = 1 ] || die "expected one persistent discovery controller, have '$DC'"
wait_for 60 is_live $P:base
sleep 2; udevadm settle -t 30

# Between samples the discovery log goes back to the base subsystem alone:
# each tool disconnects what it connected (its own way), then the target
# unlinks it. (Linux 6.1 nvmet re-arms the discovery AEN only when a host
# reads the log's first 4 KiB as the final chunk: nvme-cli reading a longer
# log leaves AENs masked; sanhook re-arms them. A short log keeps workload
# (a) a latency measurement for both.)
reset_to_base() {  # NQN...
  local q
  for q in "$@"; do
    is_gone "$q" && { [ -e $CFG/ports/1/subsystems/$q ] && tgt_unlink "$q"; continue; }
    if [ "$TOOL" = sanhook ]; then sanhook disconnect --nqn "$q" > /dev/null 2>&1; else nvme disconnect -n "$q" > /dev/null 2>&1; fi
    [ -e $CFG/ports/1/subsystems/$q ] && tgt_unlink "$q"
  done
  udevadm settle -t 60
}

live_count() { local q n=0; for q in "$@"; do is_live "$q" && n=$((n + 1)); done; echo $n; }
# Quiet: udev's queue empty, and no unit of either tool still working on an
# earlier event (sanhook's transient run-*.service, nvme-cli's
# nvmf-connect@*.service), so each sample starts from rest.
busy_units() { systemctl list-units --no-legend --plain --state=activating,active 'run-*.service' 'nvmf-connect@*.service' 2>/dev/null | grep -c . ; }
quiet() { udevadm settle -t 60; wait_for 60 eval '[ "$(busy_units)" = 0 ]' || log "still busy: $(busy_units) units"; sleep "${1:-1}"; }

# split_sample T_LINK T_LIVE NQN (sanhook): where one sample's time went, from
# the hook's own journal lines (journald's receive time, and the duration_ms
# each line carries): link -> the round started (target's AEN, udevd,
# systemd-run, the unit, node and sanhook start, lock), the round up to
# `nvme connect` (AEN re-arm, discovery, decision), `nvme connect`, and
# connect done -> seen live. No observer process is added to the path.
split_sample() {
  local t_link=$1 t_live=$2 nqn=$3 lines round_end round_ms conn_end conn_ms
  udevadm settle -t 30; sleep 0.5
  lines=$(journalctl -t sanhook -o short-unix --no-pager --since "@${t_link%.*}" 2>/dev/null)
  read -r conn_end conn_ms < <(printf '%s\n' "$lines" | awk -v q="subnqn=$nqn " '$1 != "" && index($0, ": connected ") && index($0, q) {for (i = 1; i <= NF; i++) if ($i ~ /^duration_ms=/) {split($i, d, "="); print $1, d[2]; exit}}')
  read -r round_end round_ms < <(printf '%s\n' "$lines" | awk -v c="${conn_end:-0}" '$1 >= c && index($0, "discovery round finished") {for (i = 1; i <= NF; i++) if ($i ~ /^duration_ms=/) {split($i, d, "="); print $1, d[2]; exit}}')
  [ -n "$conn_end" ] && [ -n "$round_end" ] || { log "split: no journal lines for $nqn"; return 0; }
  awk -v l="$t_link" -v v="$t_live" -v re="$round_end" -v rm="$round_ms" -v ce="$conn_end" -v cm="$conn_ms" 'BEGIN {
    rs = re - rm / 1000; cs = ce - cm / 1000
    printf "@@bench sanhook split_link_to_round_start_s %.2f\n", rs - l
    printf "@@bench sanhook split_round_to_connect_s %.2f\n", cs - rs
    printf "@@bench sanhook split_nvme_connect_s %.2f\n", cm / 1000
    printf "@@bench sanhook split_connect_to_live_s %.2f\n", v - ce }'
}

# (a) single events
for i in $(seq 0 $((SINGLE - 1))); do
  quiet 1
  nqn=${NQN_SINGLE[$i]}
  t0=$(now); tgt_link "$nqn"
  if wait_for 30 is_live "$nqn"; then emit aen_live_s "$(elapsed "$t0")"; else emit aen_live_s timeout; fi
  t_live=$(now)
  [ "$TOOL" = sanhook ] && split_sample "$t0" "$t_live" "$nqn"
  log "single $((i + 1)): $nqn $(is_live "$nqn" && echo live || echo 'not live')"
  reset_to_base "$nqn"
done

# (b) bursts
burst() {  # NAME NQN...
  local name=$1 t0 t_last= n q; shift
  quiet 2
  t0=$(now)
  for q in "$@"; do tgt_link "$q"; sleep 0.3; done
  local limit=$(( ${EPOCHREALTIME/./} + BURST_WAIT * 1000000 ))
  while (( ${EPOCHREALTIME/./} < limit )); do
    n=$(live_count "$@")
    [ "$n" = $# ] && { t_last=$(now); break; }
    sleep 0.3
  done
  n=$(live_count "$@")
  emit "${name}_connected" "$n/$#"
  [ -n "$t_last" ] && emit "${name}_last_live_s" "$(elapsed "$t0" "$t_last")" || emit "${name}_last_live_s" "none"
  log "burst $name: $n/$# live"
}
burst burst6 "${NQN_B6[@]}"
reset_to_base "${NQN_B6[@]}"
burst burst16 "${NQN_B16[@]}"
reset_to_base "${NQN_B16[@]}"

# (c) mass loss
quiet 2
port2_up
t0=$(now)
if [ "$TOOL" = sanhook ]; then
  sanhook connect -t tcp -a $ADDR -s 4421 > $SANHOOK_LOG_DIR/loss-connect.out 2>&1
else
  nvme connect-all -t tcp -a $ADDR -s 4421 --ctrl-loss-tmo=3 > $SANHOOK_LOG_DIR/loss-connect.out 2>&1
fi
wait_for 180 eval '[ "$(live_count "${NQN_LOSS[@]}")" = 32 ]' || die "mass loss setup: $(live_count "${NQN_LOSS[@]}")/32 connected"
log "32 connected in $(elapsed "$t0") s; the port goes away"
quiet 2
t0=$(now)
port2_down
all_gone() { local q; for q in "${NQN_LOSS[@]}"; do is_gone "$q" || return 1; done; }
wait_for 120 all_gone || die "the kernel did not remove all 32 controllers"
emit loss_removed_s "$(elapsed "$t0")"
log "the kernel removed all 32 controllers $(elapsed "$t0") s after the port went away"
udevadm settle -t 120
if [ "$TOOL" = sanhook ]; then
  armed() { [ "$(timer_keys | grep -c ":$P:loss-")" = 32 ]; }
  wait_for 60 armed || log "only $(timer_keys | grep -c ":$P:loss-") timers armed"
  emit loss_timers_armed "$(timer_keys | grep -c ":$P:loss-")"
fi
sleep 3
t0=$(now)
port2_up
log "the port is back; load average $(cut -d' ' -f1-3 /proc/loadavg)"
t_last=
limit=$(( ${EPOCHREALTIME/./} + LOSS_WAIT * 1000000 ))
while (( ${EPOCHREALTIME/./} < limit )); do
  n=$(live_count "${NQN_LOSS[@]}")
  [ "$n" = 32 ] && { t_last=$(now); break; }
  sleep 0.5
done
n=$(live_count "${NQN_LOSS[@]}")
emit loss_back "$n/32"
log "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
[ "$TOOL" = sanhook ] && log "timers left: $(timer_keys | grep -c ":$P:loss-"); reconnect attempts run by timerd: $(journalctl -u sanhook-timerd -b --no-pager -o cat | grep -c 'event fired')"
[ -n "$t_last" ] && emit loss_last_back_s "$(elapsed "$t0" "$t_last")" || emit loss_last_back_s "none"
log "mass loss: $n/32 back within ${LOSS_WAIT} s of the port's return"
echo "@@suite end pass $(elapsed "$T_BOOT")"
