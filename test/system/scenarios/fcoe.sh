# VM suite: software FCoE on veth and VLAN, driven by sanhook's shipped udev
# rule (81-sanhook-fcoe.rules) and networkd-dispatcher script, with timerd.
# Runs in the chroot guest of test/system/vm/sanhook-vm.sh (see lib.sh).
# scenarios: dcb-not-required dcb-required link-down-cancels
#
# The test never calls a sanhook hook itself. Events reach sanhook the way a
# host delivers them:
#  * net add/remove: the kernel's uevents through systemd-udevd and the
#    shipped rule (dcb-check --uevent / fcoe-destroy --uevent);
#  * link up/down: Linux sends no uevent for it. On a host it reaches sanhook
#    through networkd-dispatcher; no systemd-networkd runs in this chroot, so
#    nd_dispatch (lib.sh) does networkd-dispatcher's part: it runs the scripts
#    of /etc/networkd-dispatcher/<state>.d with the environment
#    networkd-dispatcher gives them (IFACE, STATE, OperationalState,
#    AdministrativeState, ...), right after `ip link set ... up/down`. The
#    script and its links are the shipped ones, installed as the docs say.
#    fcoe-systemd.sh runs the real networkd + networkd-dispatcher.
#  * a netdev that is already up when the rules (re)run: `udevadm trigger
#    --action=add`, what coldplug does at boot.
# Every assertion reads the kernel (/sys/bus/fcoe, fc_host, fc_remote_ports),
# timerd (its table and log) or the journal of the hooks.
source test/system/scenarios/lib.sh

W=/tmp/fcoe; mkdir -p $W
# fcoemon's retry schedule, written out (the defaults): 0.2 s × n, 10 checks
setup_host "$(cat <<'EOF'
fcoe:
  retry:
    delay: 0.2
    growth: linear
    attempts: 10
EOF
)" || { echo "@@suite end fail setup"; exit 125; }
setup_fcoe || { echo "@@suite end fail setup"; exit 125; }
suite_diagnostics() { fcoe_diagnostics; }

# journal lines of HOOK for INTERFACE since T (the hooks' journal format: `HOOK fcoe:IF: ... outcome=...`)
fcoe_lines() {  # SINCE HOOK IF [WORD...]
  local since=$1 hook=$2 ifname=$3; shift 3
  journal_since "$since" | grep_all "hook=$hook " "fcoe:$ifname:" "$@"
}
settle() { udevadm settle -t 30; }

# 1. DCB not required (vn2vn): a veth pair and a VLAN pair on it. Link up ->
#    ctlrs created, vn2vn, enabled; the FC hosts log in to each other. Netdev
#    removal -> the kernel removes the ctlrs, fcoe-destroy --uevent leaves no
#    timer.
dcb_not_required() {
  local t0 t_up t_ctlr t_on t_vlan t_vctlr t_von t_del i n
  for i in v0 v1 v0.100 v1.100; do fcoe_cfg $i no vn2vn; done
  t0=$(now)
  ip link add v0 type veth peer name v1 || fail "ip link add" "veth v0/v1" "failed"
  settle
  # the net add uevents ran dcb-check --uevent; the links are still down: nothing to do yet
  n=$(fcoe_lines "$t0" dcb-check v0 'outcome=link-down' | count)
  [ "$n" -ge 1 ] || fail "udev add of v0" "dcb-check --uevent for v0 (rule) saying link-down" "$n lines; journal: $(journal_since "$t0" | tail -5)"
  has_ctlr v0 && fail "link down" "no ctlr on v0 while the link is down" "$(ctlr_attrs v0)"

  # link up; networkd-dispatcher's part: carrier.d for each link that came up
  ip link set v0 mtu 2500 && ip link set v1 mtu 2500 || fail "mtu" "2500" "ip link failed"
  t_up=$(now)
  ip link set v0 up && ip link set v1 up
  nd_dispatch v0 carrier
  nd_dispatch v1 carrier
  wait_for 20 has_ctlr v0 && wait_for 20 has_ctlr v1 || fail "ctlr after link up" "a ctlr on v0 and on v1 within 20 s" "v0: $(ctlr_attrs v0); v1: $(ctlr_attrs v1)"
  t_ctlr=$(now)
  for i in v0 v1; do
    wait_for 10 ctlr_vn2vn_enabled $i || fail "ctlr of $i" "mode VN2VN, enabled 1" "$(ctlr_attrs $i)"
    n=$(fcoe_lines "$t_up" dcb-check $i 'trigger=link' | count)
    [ "$n" -ge 1 ] || fail "created by the dispatcher path" "journal: dcb-check fcoe:$i trigger=link" "$n lines: $(journal_since "$t_up" | tail -6)"
  done
  log "link up -> ctlrs: v0 $(ctlr_attrs v0), v1 $(ctlr_attrs v1), $(elapsed "$t_up" "$t_ctlr") s"
  wait_for 30 pair_online v0 v1 || fail "vn2vn login on the veth pair" "both FC hosts Online, each the other's remote port Online, within 30 s" "$(fc_view v0 v1)"
  t_on=$(now)
  log "veth pair online: $(fc_view v0 v1)"
  measure up_to_ctlr "$(elapsed "$t_up" "$t_ctlr")"
  measure up_to_online "$(elapsed "$t_up" "$t_on")"

  # VLAN 100 on both ends, brought up; then the rules see them again as
  # coldplug at boot does (udevadm trigger --action=add): the add event of a
  # link that is up creates the ctlr.
  # The VLANs get their own MAC addresses. With the veth's (a VLAN's default)
  # a VN2VN port on v0.100 has the same WWPN and port ID as the one on v0,
  # and on 6.1 the veth pair's remote ports go Blocked once the VLAN pair
  # logs in (seen here; the real interface's FIP receive also gets the VLAN's
  # frames). Real hosts run FCoE on the VLAN or untagged, not both.
  t_vlan=$(now)
  ip link add link v0 name v0.100 address 02:00:00:00:01:00 type vlan id 100 &&
    ip link add link v1 name v1.100 address 02:00:00:00:01:01 type vlan id 100 || fail "vlan" "v0.100 and v1.100" "ip link add failed"
  settle
  n=$(fcoe_lines "$t_vlan" dcb-check v0.100 'outcome=link-down' | count)
  [ "$n" -ge 1 ] || fail "udev add of v0.100" "dcb-check --uevent for v0.100 saying link-down (a new VLAN is down)" "$n lines: $(journal_since "$t_vlan" | tail -5)"
  ip link set v0.100 up && ip link set v1.100 up
  t_vlan=$(now)
  udevadm trigger --action=add /sys/class/net/v0.100 /sys/class/net/v1.100
  wait_for 20 has_ctlr v0.100 && wait_for 20 has_ctlr v1.100 || fail "ctlr on the VLANs" "a ctlr on v0.100 and v1.100 within 20 s of the coldplug add" "v0.100: $(ctlr_attrs v0.100); v1.100: $(ctlr_attrs v1.100)"
  t_vctlr=$(now)
  for i in v0.100 v1.100; do
    wait_for 10 ctlr_vn2vn_enabled $i || fail "ctlr of $i" "mode VN2VN, enabled 1" "$(ctlr_attrs $i)"
    n=$(fcoe_lines "$t_vlan" dcb-check $i 'trigger=uevent' | count)
    [ "$n" -ge 1 ] || fail "created by the udev rule" "journal: dcb-check fcoe:$i trigger=uevent" "$n lines: $(journal_since "$t_vlan" | tail -6)"
  done
  wait_for 30 pair_online v0.100 v1.100 || fail "vn2vn login on VLAN 100" "both FC hosts Online and each other's remote port, within 30 s" "$(fc_view v0.100 v1.100)"
  t_von=$(now)
  log "VLAN pair online: $(fc_view v0.100 v1.100)"
  measure coldplug_to_ctlr "$(elapsed "$t_vlan" "$t_vctlr")"
  measure coldplug_to_online "$(elapsed "$t_vlan" "$t_von")"
  # the veth pair is still logged in (its own fabric, VLAN traffic aside)
  pair_online v0 v1 || fail "veth pair after the VLAN" "still Online" "$(fc_view v0 v1)"
  [ -z "$(fcoe_timer_keys)" ] || fail "no retry timers" "no fcoe timer armed (DCB not required)" "$(fcoe_timer_keys)"

  # remove the VLAN: the kernel removes its ctlr, the rule runs fcoe-destroy --uevent
  t_del=$(now)
  ip link del v0.100 || fail "ip link del v0.100" "ok" "failed"
  wait_for 20 no_ctlr v0.100 || fail "ctlr of a removed VLAN" "gone within 20 s" "$(ctlr_netdevs | tr '\n' ' ')"
  ctlr_netdevs | grep -qx v0.100 && fail "ctlr of a removed VLAN" "no /sys/bus/fcoe/devices ctlr on v0.100" "$(ctlr_netdevs | tr '\n' ' ')"
  log "v0.100 deleted: its ctlr gone $(elapsed "$t_del") s later; ctlrs now on: $(ctlr_netdevs | tr '\n' ' ')"
  measure del_vlan_to_gone "$(elapsed "$t_del")"
  settle
  n=$(fcoe_lines "$t_del" fcoe-destroy v0.100 | count)
  [ "$n" -ge 1 ] || fail "udev remove of v0.100" "journal: fcoe-destroy fcoe:v0.100 (rule)" "$n lines: $(journal_since "$t_del" | tail -5)"
  [ -z "$(fcoe_timer_keys)" ] || fail "timers after the VLAN's removal" "none" "$(fcoe_timer_keys)"
  has_ctlr v1.100 || fail "the peer VLAN" "v1.100 keeps its ctlr (its netdev is still there)" "none"

  # remove the veth (both ends and v1.100 with them)
  t_del=$(now)
  ip link del v0
  wait_for 20 no_ctlrs || fail "ctlrs after ip link del v0" "none left" "$(ctlr_netdevs | tr '\n' ' ')"
  log "v0 deleted (v1, v1.100 with it): no ctlr left $(elapsed "$t_del") s later"
  measure del_veth_to_gone "$(elapsed "$t_del")"
  settle
  for i in v0 v1 v1.100; do
    n=$(fcoe_lines "$t_del" fcoe-destroy $i | count)
    [ "$n" -ge 1 ] || fail "udev remove of $i" "journal: fcoe-destroy fcoe:$i" "$n lines: $(journal_since "$t_del" | tail -8)"
  done
  [ -z "$(fcoe_timer_keys)" ] || fail "timers at the end" "no fcoe timer" "$(fcoe_timer_keys)"
  [ -z "$(ls /sys/class/fc_host)" ] || fail "FC hosts at the end" "none" "$(ls /sys/class/fc_host | tr '\n' ' ')"
  rm -f /etc/fcoe/cfg-v*
}

# 2. DCB required on a veth (no dcbnl there: `dcb` says "Operation not
#    supported"): link up -> the DCB query fails -> timerd retries dcb-check
#    on fcoemon's 0.2 s × n schedule, 10 times, then runs fcoe-destroy.
#    Nothing is left: no ctlr, no timer.
dcb_required() {
  local t_up t_end n recs attempts gaps
  fcoe_cfg w0 yes fabric
  ip link add w0 type veth peer name w1 && settle
  dcb -j app show dev w0 > $W/dcb.out 2>&1; log "dcb -j app show dev w0: exit $? $(head -c 200 $W/dcb.out)"
  # what one attempt is made of, timed here: a node start, lldpad's ping (auto source), the dcb query
  t_up=$(now); node -e 0; log "costs here: node -e 0 $(elapsed "$t_up") s; $(t_up=$(now); lldptool -p >/dev/null 2>&1; echo "lldptool -p exit $? $(elapsed "$t_up") s"); $(t_up=$(now); dcb -j dcbx show dev w0 >/dev/null 2>&1; echo "dcb -j dcbx show exit $? $(elapsed "$t_up") s"); $(t_up=$(now); sanhook --version >/dev/null 2>&1; echo "sanhook --version $(elapsed "$t_up") s")"
  t_up=$(now)
  ip link set w0 up && ip link set w1 up
  nd_dispatch w0 carrier
  nd_dispatch w1 carrier      # no cfg-w1: the script's pre-filter ends it without node
  n=$(fcoe_lines "$t_up" dcb-check w0 'trigger=link' | count)
  [ "$n" -ge 1 ] || fail "the dispatcher's dcb-check" "journal: dcb-check fcoe:w0 trigger=link" "$n lines: $(journal_since "$t_up" | tail -5)"
  wait_for 10 test -n "$(fcoe_timer_keys w0)" || timerd_records fcoe:w0 "$t_up" | grep -q armed ||
    fail "retry armed" "timerd arms fcoe:w0 after the failed DCB query" "timers: $(fcoe_timer_keys); journal: $(journal_since "$t_up" | tail -5)"
  # 10 attempts at 0.2 s × n (11 s of waiting) plus each attempt's own run
  wait_for 90 eval '[ -z "$(fcoe_timer_keys w0)" ]' || fail "the schedule ends" "fcoe:w0 disarmed within 90 s (10 attempts, then fcoe-destroy)" "$(fcoe_timer_keys w0)"
  t_end=$(now)
  sleep 0.5
  recs=$(timerd_records fcoe:w0 "$t_up")
  printf '%s\n' "$recs" > $W/timerd-w0.txt
  log "timerd records for fcoe:w0:"; sed 's/^/    /' $W/timerd-w0.txt
  attempts=$(grep -c 'event-fired event=reconnect' <<< "$recs" || true)
  [ "$attempts" = 10 ] || fail "retries" "10 dcb-check attempts run by timerd" "$attempts: $recs"
  n=$(grep 'hook-finished hook=dcb-check' <<< "$recs" | grep -vc 'exit_code=1' || true)
  [ "$n" = 0 ] || fail "each attempt" "dcb-check exits 1 (DCB still unavailable)" "$n attempts with another exit code: $recs"
  grep -q 'event-fired event=loss attempt=null hook=fcoe-destroy' <<< "$recs" || fail "after the last attempt" "timerd runs fcoe-destroy (its loss hook)" "$recs"
  grep -q 'hook-finished hook=fcoe-destroy exit_code=0' <<< "$recs" || fail "fcoe-destroy" "exit 0" "$recs"
  n=$(fcoe_lines "$t_up" dcb-check w0 'Operation not supported' | count)
  [ "$n" -ge 1 ] || n=$(grep -c 'Operation not supported' "$TIMERD_LOG" || true)
  [ "$n" -ge 1 ] || fail "the DCB answer" "the failure names dcb's 'Operation not supported'" "journal: $(journal_since "$t_up" | grep -F fcoe:w0 | tail -3)"
  no_ctlr w0 || fail "after fcoe-destroy" "no ctlr on w0" "$(ctlr_attrs w0)"
  [ -z "$(fcoe_timer_keys)" ] || fail "after fcoe-destroy" "no fcoe timer" "$(fcoe_timer_keys)"
  # spacing: start of attempt k+1 minus end of attempt k (timerd counts from the end)
  gaps=$(awk '/hook-finished hook=dcb-check/{e=$1} /event-fired event=reconnect/ && e{printf "%.2f ", $1-e} /event-fired event=reconnect/{n++}' $W/timerd-w0.txt)
  log "gaps between an attempt's end and the next start (s): $gaps (schedule 0.4 ... 2.0: the first attempt 0.2 s after the arm)"
  # where an attempt's time goes: its own log records (timerd keeps the hook's stderr)
  log "attempt 2's own records:"
  node -e '
    const recs = require("fs").readFileSync(process.argv[1], "utf8").split("\n").flatMap((l) => { try { return [JSON.parse(l)]; } catch { return []; } })
      .filter((o) => o.key === "fcoe:w0" && o.msg === "hook finished" && o.hook === "dcb-check");
    const r = recs[1]; if (!r) process.exit(0);
    for (const l of String(r.stderr ?? "").split("\n")) { let o; try { o = JSON.parse(l); } catch { continue; }
      const { level, time, pid, name, msg, ...f } = o; console.log(`    ${time} ${msg} ${JSON.stringify(f).slice(0, 300)}`); }' "$TIMERD_LOG"
  measure attempts "$attempts"
  measure up_to_destroy "$(elapsed "$t_up" "$t_end")"
  measure gap_2 "$(awk '{print $1}' <<< "$gaps")"
  measure gap_10 "$(awk '{print $NF}' <<< "$gaps")"
  measure attempt_run_ms "$(awk '/hook-finished hook=dcb-check/{sub("duration_ms=","",$5); s+=$5; n++} END{printf "%d", n? s/n : 0}' $W/timerd-w0.txt)"
}

# 3. A link down cancels the retry schedule: DCB required, link up arms it,
#    `ip link set down` (networkd-dispatcher: off.d) disarms it before the
#    attempts run out; no fcoe-destroy ran, no ctlr.
link_down_cancels() {
  local t_up t_down n recs
  ip link add x0 type veth peer name x1 && settle
  fcoe_cfg x0 yes fabric
  t_up=$(now)
  ip link set x0 up && ip link set x1 up
  nd_dispatch x0 carrier
  wait_for 10 test -n "$(fcoe_timer_keys x0)" || fail "retry armed" "fcoe:x0 armed after link up" "timers: $(fcoe_timer_keys); journal: $(journal_since "$t_up" | tail -5)"
  t_down=$(now)
  ip link set x0 down
  nd_dispatch x0 off
  wait_for 10 eval '[ -z "$(fcoe_timer_keys x0)" ]' || fail "link down" "fcoe:x0 disarmed within 10 s" "$(fcoe_timer_keys)"
  measure down_to_disarmed "$(elapsed "$t_down")"
  log "after ip link set x0 down (journal): $(journal_since "$t_down" | grep -F fcoe:x0 | grep -E "outcome=(link-down|queued)" | cut -c1-150 | tr '\n' ';')"
  # the dispatcher's dcb-check (trigger=link) sees the link down and disarms;
  # an attempt timerd runs meanwhile sees it too and ends the schedule (exit 0)
  # (if an attempt holds the interface's lock then, the dispatcher's run is queued
  # for it, outcome=queued, and the holder runs it)
  wait_for 30 eval '[ -n "$(fcoe_lines "$t_down" dcb-check x0 trigger=link outcome=link-down)$(fcoe_lines "$t_down" dcb-check x0 outcome=queued)" ]' ||
    fail "the disarm" "journal: dcb-check fcoe:x0 trigger=link outcome=link-down or outcome=queued (the dispatcher script's run)" "$(journal_since "$t_down" | grep -F fcoe:x0 | tail -5)"
  sleep 3
  recs=$(timerd_records fcoe:x0 "$t_up")
  log "timerd records for fcoe:x0: $(echo "$recs" | awk '{print $2, $3, $4}' | tr '\n' ';')"
  grep -q 'hook=fcoe-destroy' <<< "$recs" && fail "no loss hook" "fcoe-destroy never runs for a cancelled schedule" "$recs"
  no_ctlr x0 || fail "no ctlr" "none on x0" "$(ctlr_attrs x0)"
  [ -z "$(fcoe_timer_keys)" ] || fail "no timer" "none" "$(fcoe_timer_keys)"
  measure attempts_before_cancel "$(grep -c 'event-fired event=reconnect' <<< "$recs" || true)"
  ip link del x0
}

want() { [ $# -eq 0 ] || [[ " $* " == *" $CASE "* ]]; }
for CASE in dcb-not-required dcb-required link-down-cancels; do
  want "$@" || continue
  case $CASE in
    dcb-not-required) scenario dcb-not-required dcb_not_required ;;
    dcb-required) scenario dcb-required dcb_required ;;
    link-down-cancels) scenario link-down-cancels link_down_cancels ;;
  esac
done
finish
