# VM suite: the production path. systemd is PID 1 (journald, systemd-udevd with
# its real sandbox, sanhook's own units), sanhook installed as README "Install
# on a host" says: `dpkg -i` of the .deb this checkout built, then `sanhook
# coexist mask`; the last scenario purges it. Runs in the guest of
# test/system/vm/sanhook-vm.sh.
# init: systemd
# scenarios: installed boot-unit udev-aen burst lost-reconnect give-up disconnect socket-activation coexist journal-clean purge
#
# One boot; the scenarios share the target port and the persistent discovery
# controller, each uses its own subsystems and asserts on its own. Every
# assertion is on the kernel's controllers, the units' state or the journal.
source test/system/scenarios/lib.sh

NQN_P=nqn.2026-11.io.sanhook.sd
NQN_BOOT=($NQN_P:boot-1 $NQN_P:boot-2 $NQN_P:boot-3)
NQN_AEN=($NQN_P:aen-1 $NQN_P:aen-2 $NQN_P:aen-3)
NQN_BURST=($NQN_P:burst-1 $NQN_P:burst-2 $NQN_P:burst-3 $NQN_P:burst-4 $NQN_P:burst-5 $NQN_P:burst-6)
NQN_LOST=$NQN_P:lost-1
NQN_GONE=$NQN_P:gone-1
NQN_DISC=$NQN_P:disc-1
NQN_LATE=$NQN_P:late-1
W=/var/lib/sanhook-vm/w; mkdir -p $W

CONFIG_60='nvmf:
  reconnect-delay: 1
  ctrl-loss-tmo: 3
  lost:
    reconnect-delay: 2
    ctrl-loss-tmo: 60'
setup_systemd_host "$CONFIG_60" || { echo "@@suite end fail setup"; exit 125; }

# target: one port, every subsystem backed by its own null_blk
tgt_port
i=0
for nqn in "${NQN_BOOT[@]}" "${NQN_AEN[@]}" "${NQN_BURST[@]}" $NQN_LOST $NQN_GONE $NQN_DISC $NQN_LATE; do
  tgt_subsys "$nqn" $i; i=$((i + 1))
done

# hook HOOK OUTCOME: journal lines (identifier sanhook) of HOOK with OUTCOME, whatever the log format
sd_journal_since() { journal_since "$@"; }
hook_lines() {  # SINCE HOOK OUTCOME [WORD...]
  local since=$1 hook=$2 outcome=$3; shift 3
  journal_since "$since" | grep_all "hook=$hook " "outcome=$outcome" "$@"
}
timerd_journal_since() { journalctl -u sanhook-timerd --no-pager -o cat --since "@${1%.*}" 2>/dev/null || true; }
all_live() { local q; for q in "$@"; do is_live "$q" || return 1; done; }
states() { local q; for q in "$@"; do echo -n "${q##*:}=$(io_ctrls "$q" | tr '\n' ' ')$(for c in $(io_ctrls "$q"); do ctrl_state "$c"; done) "; done; }

# 1. Installed as the README says: dpkg has the package, its postinst started
#    timerd's unit and socket and enabled the boot unit, nvme-cli's
#    autoconnect is masked, /usr/sbin/sanhook and its manual are there.
installed() {
  local s
  [ "$(dpkg-query -W -f='${Status}' sanhook 2>&1)" = "install ok installed" ] || fail "dpkg -i" "install ok installed" "$(dpkg-query -W -f='${Status}' sanhook 2>&1)"
  [ "$(command -v sanhook)" = /usr/sbin/sanhook ] || fail "entry" "/usr/sbin/sanhook on PATH" "$(command -v sanhook)"
  [ -r /usr/share/man/man8/sanhook.8.gz ] && [ -r /usr/share/man/man5/sanhook.conf.5.gz ] || fail "manual" "sanhook(8), sanhook.conf(5) installed" "$(ls /usr/share/man/man8/sanhook* 2>&1)"
  grep -q '^ExecStart=/usr/sbin/sanhook timerd' /lib/systemd/system/sanhook-timerd.service || fail "unit" "ExecStart=/usr/sbin/sanhook timerd" "$(grep ExecStart /lib/systemd/system/sanhook-timerd.service)"
  for s in sanhook-timerd.service sanhook-timerd.socket; do
    [ "$(systemctl is-active $s)" = active ] || fail "unit $s" "active" "$(systemctl is-active $s); $(systemctl status $s --no-pager 2>&1 | tail -5)"
  done
  [ "$(systemctl is-enabled sanhook-connect-boot.service)" = enabled ] || fail "boot unit" "enabled" "$(systemctl is-enabled sanhook-connect-boot.service)"
  [ "$(systemctl is-enabled nvmf-autoconnect.service 2>&1)" = masked ] || fail "coexist mask" "nvmf-autoconnect.service masked" "$(systemctl is-enabled nvmf-autoconnect.service 2>&1)"
  [ "$(readlink /etc/udev/rules.d/70-nvmf-autoconnect.rules)" = /dev/null ] || fail "coexist mask" "/etc/udev/rules.d/70-nvmf-autoconnect.rules -> /dev/null" "$(ls -l /etc/udev/rules.d/ 2>&1)"
  sanhook status > $W/status.out 2>&1 || fail "sanhook status" "exit 0 (timerd reachable through the socket)" "$(cat $W/status.out)"
  log "$(head -2 $W/status.out | tr '\n' ' ')"
}

# 2. The boot unit connects every subsystem of a multi-subsystem discovery
#    controller listed in /etc/nvme/discovery.conf (nvme-cli's format).
boot_unit() {
  local q t0 t1 result
  for q in "${NQN_BOOT[@]}"; do tgt_link "$q"; done
  echo "--transport=tcp --traddr=$ADDR --trsvcid=$PORT" > /etc/nvme/discovery.conf
  t0=$(now)
  systemctl start sanhook-connect-boot.service > $W/boot.out 2>&1
  t1=$(now)
  result=$(systemctl show -p Result --value sanhook-connect-boot.service)
  [ "$result" = success ] || fail "systemctl start sanhook-connect-boot.service" "Result=success" "Result=$result: $(cat $W/boot.out) $(journalctl -u sanhook-connect-boot --no-pager -o cat | tail -8)"
  all_live "${NQN_BOOT[@]}" || fail "boot unit connects every subsystem" "3 of 3 live: ${NQN_BOOT[*]}" "$(states "${NQN_BOOT[@]}")"
  log "boot unit: 3/3 subsystems live, unit ran $(elapsed "$t0" "$t1") s"
  measure boot_unit_3_subsystems "$(elapsed "$t0" "$t1")"
  rm -f /etc/nvme/discovery.conf
}

# 3. udev -> hook -> transient unit: an AEN on a persistent discovery
#    controller connects the new subsystem; no manual nvme connect.
udev_aen() {
  local out rc dc i nqn t_link t_live n units
  out=$(sanhook connect -t tcp -a $ADDR -s $PORT --persistent 2>&1); rc=$?
  [ $rc = 0 ] || fail "sanhook connect --persistent" "exit 0" "exit $rc: $out"
  udevadm settle -t 20
  dc=$(discovery_ctrls)
  [ "$(echo "$dc" | grep -c .)" = 1 ] || fail "persistent discovery controller" "exactly one" "'$dc'"
  for i in 0 1 2; do
    nqn=${NQN_AEN[$i]}
    udevadm settle -t 30; sleep 0.5
    t_link=$(now)
    tgt_link "$nqn"
    wait_for 45 is_live "$nqn" || fail "AEN autoconnect #$((i + 1))" "$nqn live within 45 s of the link" \
      "'$(io_ctrls "$nqn")'; AENs on $dc: $(awk -v t="$t_link" '$1>=t' $UEVENTS | grep -F " $dc " | grep -c 'NVME_AEN=0x70f002')"
    t_live=$(now)
    log "$nqn live $(elapsed "$t_link" "$t_live") s after the link"
    measure "aen_link_to_live_$((i + 1))" "$(elapsed "$t_link" "$t_live")"
    breakdown "$t_link" "$t_live" "$nqn"
  done
  udevadm settle -t 30
  n=$(hook_lines "$T_BOOT" connect connected "${NQN_AEN[0]}" | count)
  [ "$n" = 1 ] || fail "journal" "one connect line outcome connected for ${NQN_AEN[0]} under the identifier sanhook" "$n: $(sd_journal_since "$T_BOOT" | tail -5)"
  # the hook ran in a transient unit, not in udevd's worker
  units=$(journalctl -t sanhook --no-pager -o json --output-fields=_SYSTEMD_UNIT,MESSAGE | grep -F "${NQN_AEN[0]}" | grep -o '"_SYSTEMD_UNIT":"[^"]*"' | sort -u | tr '\n' ' ')
  # systemd-run names them run-u<N> or run-r<id> (systemd 252); never udevd's own unit
  [[ $units == *'"_SYSTEMD_UNIT":"run-'* && $units != *systemd-udevd* ]] || fail "hand-off" "every connect line for it logged by a transient unit run-*.service" "units: '$units'"
  log "connect hooks ran in transient units ($units)"
}

# breakdown T_LINK T_LIVE NQN: where the time of one AEN went, from the
# observers (udevd's PROGRAM, the nvme wrapper) and systemd's journal.
breakdown() {
  local t_link=$1 t_live=$2 nqn=$3 t_aen t_getlog t_getlog_end t_disc t_disc_end t_conn t_conn_end
  t_aen=$(awk -v t="$t_link" '$1>=t && /NVME_AEN=0x70f002/ {print $1; exit}' $UEVENTS)
  read -r t_getlog t_getlog_end < <(awk -v t="$t_link" '$1>=t && $2=="start" && / get-log / {s=$1; p=$3} $1>=t && $2=="end" && $3==p && s {print s, $1; exit}' $NVME_CALLS)
  read -r t_disc t_disc_end < <(awk -v t="$t_link" '$1>=t && $2=="start" && / discover / {s=$1; p=$3} $1>=t && $2=="end" && $3==p && s {print s, $1; exit}' $NVME_CALLS)
  read -r t_conn t_conn_end < <(awk -v t="$t_link" -v q="--nqn $nqn " '$1>=t && $2=="start" && index($0, q) {s=$1; p=$3} $1>=t && $2=="end" && $3==p && s {print s, $1; exit}' $NVME_CALLS)
  [ -n "$t_aen" ] && [ -n "$t_getlog" ] && [ -n "$t_disc" ] && [ -n "$t_conn_end" ] || { log "breakdown: incomplete (aen=$t_aen get-log=$t_getlog discover=$t_disc connect=$t_conn_end)"; return 0; }
  log "breakdown: link->AEN at udevd $(elapsed "$t_link" "$t_aen"); ->first nvme call (systemd-run, unit, node+sanhook start) $(elapsed "$t_aen" "$t_getlog"); get-log $(elapsed "$t_getlog" "$t_getlog_end"); ->discover $(elapsed "$t_getlog_end" "$t_disc"); discover $(elapsed "$t_disc" "$t_disc_end"); ->connect $(elapsed "$t_disc_end" "$t_conn"); connect $(elapsed "$t_conn" "$t_conn_end"); ->seen live $(elapsed "$t_conn_end" "$t_live")"
  measure aen_breakdown "udevd=$(elapsed "$t_link" "$t_aen"),to_first_nvme=$(elapsed "$t_aen" "$t_getlog"),getlog=$(elapsed "$t_getlog" "$t_getlog_end"),gap1=$(elapsed "$t_getlog_end" "$t_disc"),discover=$(elapsed "$t_disc" "$t_disc_end"),gap2=$(elapsed "$t_disc_end" "$t_conn"),connect=$(elapsed "$t_conn" "$t_conn_end"),live=$(elapsed "$t_conn_end" "$t_live")"
}

# 4. A burst of 6 subsystem links 0.3 s apart: every one is connected, once.
burst() {
  local q t0 t_all n
  udevadm settle -t 30; sleep 1
  t0=$(now)
  for q in "${NQN_BURST[@]}"; do tgt_link "$q"; sleep 0.3; done
  wait_for 90 all_live "${NQN_BURST[@]}" || fail "burst of 6" "6 of 6 live within 90 s" "$(states "${NQN_BURST[@]}")"
  t_all=$(now)
  udevadm settle -t 30; sleep 2
  for q in "${NQN_BURST[@]}"; do
    n=$(io_ctrl_count "$q"); [ "$n" = 1 ] || fail "connected once" "1 controller for $q" "$n"
  done
  log "burst: 6/6 live, the last $(elapsed "$t0" "$t_all") s after the first link"
  measure burst6_first_link_to_all_live "$(elapsed "$t0" "$t_all")"
}

# 5. lost -> timerd -> reconnect: the kernel gives up (ctrl_loss_tmo 3 s) and
#    removes the controller; udev's `lost` (inside systemd-udevd's sandbox)
#    arms timerd; once the target is back, timerd's reconnect brings it back.
lost_reconnect() {
  local t_unlink t_removed t_armed t_relink t_live
  tgt_link $NQN_LOST
  wait_for 45 is_live $NQN_LOST || fail "setup" "$NQN_LOST live (AEN)" "$(states $NQN_LOST)"
  udevadm settle -t 30; sleep 1
  t_unlink=$(now)
  tgt_unlink $NQN_LOST
  wait_for 30 is_gone $NQN_LOST || fail "kernel gives up" "controller removed within 30 s (ctrl_loss_tmo 3)" "$(states $NQN_LOST)"
  t_removed=$(now)
  wait_for 20 timer_armed_for $NQN_LOST || fail "lost arms timerd" "a timer for $NQN_LOST within 20 s of the removal" \
    "timers: $(timer_keys | tr '\n' ' '); lost lines: $(sd_journal_since "$t_unlink" | grep -E 'lost' | tail -3)"
  t_armed=$(now)
  log "removed by the kernel $(elapsed "$t_unlink" "$t_removed") s after the unlink; timer armed $(elapsed "$t_removed" "$t_armed") s later"
  sleep 3
  t_relink=$(now)
  tgt_link $NQN_LOST
  wait_for 30 is_live $NQN_LOST || fail "timerd reconnects" "$NQN_LOST live within 30 s of the target's return (reconnect-delay 2 s)" \
    "$(states $NQN_LOST); timerd: $(timerd_journal_since "$t_relink" | tail -5)"
  t_live=$(now)
  wait_for 15 eval '! timer_armed_for $NQN_LOST' || fail "disarmed" "no timer for $NQN_LOST once live" "$(timer_keys)"
  log "back $(elapsed "$t_relink" "$t_live") s after the target returned"
  measure lost_removed_to_armed "$(elapsed "$t_removed" "$t_armed")"
  measure lost_target_back_to_live "$(elapsed "$t_relink" "$t_live")"
}

# 6. give-up: the target stays gone; attempts stop at sanhook's ctrl-loss (8 s).
give_up() {
  local t_unlink t_armed t_loss
  tgt_link $NQN_GONE
  wait_for 45 is_live $NQN_GONE || fail "setup" "$NQN_GONE live (AEN)" "$(states $NQN_GONE)"
  printf '%s\n' 'nvmf:' '  reconnect-delay: 1' '  ctrl-loss-tmo: 3' '  lost:' '    reconnect-delay: 2' '    ctrl-loss-tmo: 8' > /etc/sanhook/sanhook.yaml
  udevadm settle -t 30; sleep 1
  t_unlink=$(now)
  tgt_unlink $NQN_GONE
  wait_for 30 is_gone $NQN_GONE || fail "kernel gives up" "controller removed" "$(states $NQN_GONE)"
  wait_for 20 timer_armed_for $NQN_GONE || fail "lost arms timerd" "a timer for $NQN_GONE" "$(timer_keys)"
  t_armed=$(now)
  wait_for 40 eval '! timer_armed_for $NQN_GONE' || fail "give-up at ctrl-loss" "timer gone within 40 s of the arm (ctrl-loss 8 s)" "$(timer_keys)"
  t_loss=$(now)
  timerd_journal_since "$t_unlink" | grep -F "$NQN_GONE" | grep -q 'give-up' || fail "give-up ran" "timerd's journal names give-up for $NQN_GONE" "$(timerd_journal_since "$t_unlink" | tail -6)"
  is_gone $NQN_GONE || fail "stays gone" "no controller" "$(states $NQN_GONE)"
  printf '%s\n' "$CONFIG_60" > /etc/sanhook/sanhook.yaml
  log "given up $(elapsed "$t_armed" "$t_loss") s after the arm"
  measure armed_to_given_up "$(elapsed "$t_armed" "$t_loss")"
}

# 7. sanhook disconnect keeps the path disconnected: no timer, no reconnect,
#    and a later AEN does not connect it again.
disconnect() {
  local t_d out rc t_aen
  tgt_link $NQN_DISC
  wait_for 45 is_live $NQN_DISC || fail "setup" "$NQN_DISC live (AEN)" "$(states $NQN_DISC)"
  udevadm settle -t 30
  t_d=$(now)
  out=$(sanhook disconnect --nqn $NQN_DISC 2>&1); rc=$?
  [ $rc = 0 ] || fail "sanhook disconnect --nqn" "exit 0" "exit $rc: $out"
  wait_for 10 is_gone $NQN_DISC || fail "removed" "no controller for $NQN_DISC" "$(states $NQN_DISC)"
  sleep 6
  ! timer_armed_for $NQN_DISC || fail "no timer" "no timer for $NQN_DISC" "$(timer_keys)"
  t_aen=$(now)
  tgt_link $NQN_LATE
  wait_for 45 is_live $NQN_LATE || fail "a later AEN" "$NQN_LATE live" "$(states $NQN_LATE)"
  udevadm settle -t 30; sleep 2
  is_gone $NQN_DISC || fail "stays disconnected" "no controller for $NQN_DISC after the AEN" "$(states $NQN_DISC)"
  [ "$(nvme_calls_since "$t_d" " connect " "--nqn $NQN_DISC " | count)" = 0 ] || fail "no reconnect attempt" "0 nvme connect for $NQN_DISC" "$(nvme_calls_since "$t_d" " connect " "--nqn $NQN_DISC ")"
  log "$NQN_DISC stayed disconnected $(elapsed "$t_d") s, through an AEN"
}

# 8. Socket activation: with timerd's service stopped, a client's connect to
#    sanhook-timerd.socket starts it again, and the durable timers are back.
socket_activation() {
  local before after t0
  before=$(timer_keys | sort | tr '\n' ' ')
  systemctl stop sanhook-timerd.service
  [ "$(systemctl is-active sanhook-timerd.service)" != active ] || fail "stop" "timerd service stopped" "active"
  [ "$(systemctl is-active sanhook-timerd.socket)" = active ] || fail "socket stays" "sanhook-timerd.socket active while the service is stopped" "$(systemctl is-active sanhook-timerd.socket)"
  t0=$(now)
  after=$(timer_keys | sort | tr '\n' ' ')
  [ "$(systemctl is-active sanhook-timerd.service)" = active ] || fail "activation" "a client connect starts sanhook-timerd.service" "$(systemctl is-active sanhook-timerd.service)"
  [ "$before" = "$after" ] || fail "durable timers" "the same timers after the restart" "before '$before' after '$after'"
  log "timerd socket-activated in $(elapsed "$t0") s (timers: '${after}')"
  measure socket_activation "$(elapsed "$t0")"
}

# 9. coexist: unmask gives nvme-cli's rule and unit back, mask takes them away again.
coexist() {
  local out
  out=$(sanhook coexist unmask 2>&1) || fail "coexist unmask" "exit 0" "$out"
  [ "$(systemctl is-enabled nvmf-autoconnect.service 2>&1)" != masked ] || fail "unmask" "nvmf-autoconnect.service not masked" "masked"
  [ ! -e /etc/udev/rules.d/70-nvmf-autoconnect.rules ] || fail "unmask" "no /etc/udev/rules.d/70-nvmf-autoconnect.rules" "$(ls -l /etc/udev/rules.d/70-nvmf-autoconnect.rules)"
  out=$(sanhook coexist status 2>&1)
  [[ $out != masked* ]] || fail "coexist status" "not masked after unmask" "$out"
  out=$(sanhook coexist mask 2>&1) || fail "coexist mask" "exit 0" "$out"
  [ "$(systemctl is-enabled nvmf-autoconnect.service 2>&1)" = masked ] || fail "mask" "nvmf-autoconnect.service masked" "$(systemctl is-enabled nvmf-autoconnect.service 2>&1)"
  [ "$(readlink /etc/udev/rules.d/70-nvmf-autoconnect.rules)" = /dev/null ] || fail "mask" "rule masked" "$(ls -l /etc/udev/rules.d/)"
  log "unmask and mask again: $(sanhook coexist status 2>&1 | head -1)"
}

# 10. Nothing in this boot's journal shows a hook killed by the sandbox or a
#     write the units refused, and no sanhook unit failed.
journal_clean() {
  local bad failed
  bad=$(journalctl -b --no-pager -o cat 2>/dev/null | grep -E 'SIGTRAP|trap int3|SIGSYS|core-dump|code=dumped|EROFS|EPERM|EACCES|Read-only file system|Operation not permitted|internal error|MemoryDenyWriteExecute' | grep -v 'sanhook-test-expect' | head -10)
  [ -z "$bad" ] || fail "journal clean" "no SIGTRAP/EROFS/EPERM/internal error in this boot's journal" "$bad"
  failed=$(journalctl -b --no-pager -o cat 2>/dev/null | grep -E '^(sanhook|run-)[^ ]*\.service: (Failed|Main process exited, code=(killed|dumped))' | head -5)
  [ -z "$failed" ] || fail "no failed sanhook units" "none" "$failed"
  [ -z "$(systemctl list-units --failed --no-legend --plain 'sanhook*' 2>/dev/null)" ] || fail "no failed sanhook units" "none" "$(systemctl list-units --failed --no-pager)"
  log "journal: $(journalctl -t sanhook -b --no-pager -o cat | count) sanhook lines, $(journalctl -u sanhook-timerd -b --no-pager -o cat | count) timerd lines; none of SIGTRAP/EROFS/EPERM"
  journalctl -t sanhook -b --no-pager -o short-monotonic | tail -4 | sed 's/^/    /'
}

# 11. dpkg --purge: nothing of sanhook is left (lib.sh purge_leaves_nothing).
purge() { purge_leaves_nothing; }

want() { [ $# -eq 0 ] || [[ " $* " == *" $CASE "* ]]; }
for CASE in installed boot-unit udev-aen burst lost-reconnect give-up disconnect socket-activation coexist journal-clean purge; do
  want "$@" || continue
  scenario "$CASE" "${CASE//-/_}"
done
finish
