# VM suite: FCoE on the production path. systemd is PID 1, sanhook installed
# as README "Install on a host" and docs/fcoe-events.md say (the udev rule,
# the networkd-dispatcher script linked into its state directories, the
# recheck timer enabled), and link up/down reaches sanhook through the real
# systemd-networkd + networkd-dispatcher: the test only runs `ip link` and
# writes cfg files; it never calls a hook. Runs in the guest of
# test/system/vm/sanhook-vm.sh.
# init: systemd
# scenarios: installed link-up-creates link-down-cancels recheck-timer
#
# networkd manages the test's veths through a .network file with
# ActivationPolicy=manual (it reports their state but leaves up/down to
# `ip link`), LinkLocalAddressing=no (their up state is "carrier").
# networkd-dispatcher is the Debian package's unit (networkd-dispatcher 2.2);
# it runs nothing at boot here (its unit's condition wants a script in
# /etc/networkd-dispatcher), so the suite starts it after installing.
source test/system/scenarios/lib.sh

W=/var/lib/sanhook-vm/w; mkdir -p $W
DISPATCHED=$SANHOOK_LOG_DIR/dispatched.log
setup_systemd_host 'fcoe:
  retry:
    delay: 0.2
    growth: linear
    attempts: 10' || { echo "@@suite end fail setup"; exit 125; }
setup_fcoe || { echo "@@suite end fail setup"; exit 125; }
suite_diagnostics() {
  fcoe_diagnostics
  echo "----- networkctl list"; networkctl list --no-pager 2>&1 | sed 's/^/  /'
  echo "----- journalctl -u networkd-dispatcher (this scenario, last 20)"
  journalctl -u networkd-dispatcher --no-pager -o cat --since "@${SCENARIO_T0%.*}" 2>/dev/null | tail -20 | sed 's/^/  /'
}

setup_fcoe_systemd() {
  local out t0 st
  [ -r /lib/systemd/system/sanhook-dcb-recheck.timer ] && [ -r /lib/systemd/system/sanhook-dcb-recheck.service ] || { echo "SETUP: the package did not install sanhook-dcb-recheck.{timer,service} in /lib/systemd/system"; return 1; }
  mkdir -p /etc/systemd/network
  # test-only observer: when networkd-dispatcher ran a state's scripts for a
  # link ($DISPATCHED); sorts after sanhook-fcoe (it runs them by name, one
  # after the other), so a line means sanhook-fcoe has finished for that event
  printf '#!/bin/sh\necho "$(date +%%s.%%N) $STATE $IFACE" >> %s\n' "$DISPATCHED" > /usr/local/sbin/.nd-observer
  chmod 755 /usr/local/sbin/.nd-observer
  for st in $ND_STATES; do ln -sf /usr/local/sbin/.nd-observer $ND_DIR/$st.d/zz-sanhook-test-observer; done
  : > "$DISPATCHED"
  printf '[Match]\nName=v0 v1 w0 w1 y0 y1\n[Link]\nActivationPolicy=manual\n[Network]\nLinkLocalAddressing=no\nIPv6AcceptRA=no\n' > /etc/systemd/network/50-sanhook-fcoe-test.network
  t0=$(now)
  out=$( {
    systemctl enable --now sanhook-dcb-recheck.timer &&
    systemctl start systemd-networkd.service &&
    systemctl restart networkd-dispatcher.service
  } 2>&1 ) || { echo "SETUP: FCoE units failed:"; echo "$out"; systemctl status networkd-dispatcher systemd-networkd --no-pager 2>&1 | tail -20; return 1; }
  log "networkd $(systemctl is-active systemd-networkd), networkd-dispatcher $(systemctl is-active networkd-dispatcher) ($(elapsed "$t0") s to start both), recheck timer $(systemctl is-enabled sanhook-dcb-recheck.timer)/$(systemctl is-active sanhook-dcb-recheck.timer), lldpad $(systemctl is-active lldpad 2>&1)"
}
setup_fcoe_systemd || { echo "@@suite end fail setup"; exit 125; }

fcoe_lines() {  # SINCE HOOK IF [WORD...]
  local since=$1 hook=$2 ifname=$3; shift 3
  journal_since "$since" | grep_all "hook=$hook " "fcoe:$ifname:" "$@"
}
# the first time networkd-dispatcher finished STATE's scripts for IF since T (epoch), or nothing
dispatched() { awk -v t="$1" -v s="$3" -v i="$2" '$1 >= t && $2 == s && $3 == i {print $1; exit}' "$DISPATCHED"; }
oper() { networkctl list --no-pager --no-legend 2>/dev/null | awk -v i="$1" '$2==i{print $4}'; }

# 1. Installed: the FCoE pieces from the package, the recheck timer enabled
#    as the docs say, the daemons that deliver the events running.
installed() {
  local s
  for s in sanhook-timerd.service sanhook-dcb-recheck.timer systemd-networkd.service networkd-dispatcher.service systemd-udevd.service; do
    [ "$(systemctl is-active $s)" = active ] || fail "unit $s" "active" "$(systemctl is-active $s); $(systemctl status $s --no-pager 2>&1 | tail -5)"
  done
  [ "$(systemctl is-enabled sanhook-dcb-recheck.timer)" = enabled ] || fail "recheck timer" "enabled" "$(systemctl is-enabled sanhook-dcb-recheck.timer)"
  for s in $ND_STATES; do
    [ -x $ND_DIR/$s.d/sanhook-fcoe ] || fail "dispatcher script" "$ND_DIR/$s.d/sanhook-fcoe executable" "$(ls -l $ND_DIR/$s.d 2>&1)"
  done
  [ -e /lib/udev/rules.d/81-sanhook-fcoe.rules ] || fail "udev rule" "/lib/udev/rules.d/81-sanhook-fcoe.rules (the package's)" "$(ls /lib/udev/rules.d | grep sanhook)"
  [ ! -e /etc/udev/rules.d/81-sanhook-fcoe.rules ] || fail "udev rule" "no copy in /etc/udev/rules.d shadowing the package's" "$(ls -l /etc/udev/rules.d/81-sanhook-fcoe.rules)"
  log "networkctl: $(networkctl list --no-pager --no-legend 2>&1 | tr -s ' ' | tr '\n' ';')"
}

# 2. DCB not required (vn2vn) on a veth pair: `ip link set up` -> networkd
#    reports carrier -> networkd-dispatcher runs sanhook-fcoe -> dcb-check
#    --ifname creates the ctlrs; the FC hosts log in to each other. Down and
#    up again: dcb-check runs for each (link-down, then already-created).
link_up_creates() {
  local t0 t_up t_ctlr t_on t_down n i
  # what acts here must be the dispatcher, not the periodic recheck (scenario 4 runs it)
  systemctl stop sanhook-dcb-recheck.timer
  fcoe_cfg v0 no vn2vn; fcoe_cfg v1 no vn2vn
  t0=$(now)
  ip link add v0 mtu 2500 type veth peer name v1 mtu 2500 || fail "ip link add" "veth v0/v1" "failed"
  udevadm settle -t 30
  wait_for 30 eval '[ -n "$(fcoe_lines "$t0" dcb-check v0 outcome=link-down)" ]' || fail "udev add of v0" "dcb-check --uevent (rule) for v0: link-down" "$(journal_since "$t0" | tail -5)"
  wait_for 30 eval '[ "$(oper v0)" = off ]' || fail "networkd" "manages v0 (operational off)" "$(networkctl list --no-pager 2>&1)"
  has_ctlr v0 && fail "link down" "no ctlr yet" "$(ctlr_attrs v0)"
  t_up=$(now)
  ip link set v0 up && ip link set v1 up
  wait_for 90 has_ctlr v0 && wait_for 30 has_ctlr v1 || fail "ctlrs after ip link set up" "a ctlr on v0 and v1 within 90 s (networkd -> networkd-dispatcher -> dcb-check)" "v0: $(ctlr_attrs v0) v1: $(ctlr_attrs v1); networkctl: $(oper v0)/$(oper v1)"
  t_ctlr=$(now)
  for i in v0 v1; do
    wait_for 10 ctlr_vn2vn_enabled $i || fail "ctlr of $i" "VN2VN, enabled 1" "$(ctlr_attrs $i)"
    n=$(fcoe_lines "$t_up" dcb-check $i trigger=link outcome=created | count)
    # trigger=link: `dcb-check --ifname` not run by timerd, i.e. the dispatcher script
    [ "$n" -ge 1 ] || fail "created through the dispatcher" "journal: dcb-check fcoe:$i trigger=link outcome=created" "$(journal_since "$t_up" | tail -6)"
  done
  log "ip link set up -> ctlrs $(elapsed "$t_up" "$t_ctlr") s: v0 $(ctlr_attrs v0), v1 $(ctlr_attrs v1)"
  wait_for 30 pair_online v0 v1 || fail "vn2vn login" "both FC hosts Online, each the other's remote port, within 30 s" "$(fc_view v0 v1)"
  t_on=$(now)
  log "online: $(fc_view v0 v1)"
  if wait_for 10 eval '[ -n "$(dispatched "$t_up" v1 carrier)" ]'; then
    log "networkd-dispatcher finished carrier.d (sanhook-fcoe included) for v0 $(elapsed "$t_up" "$(dispatched "$t_up" v0 carrier)") s, for v1 $(elapsed "$t_up" "$(dispatched "$t_up" v1 carrier)") s after ip link set up"
    measure up_to_dispatched_v1 "$(elapsed "$t_up" "$(dispatched "$t_up" v1 carrier)")"
  fi
  measure up_to_ctlr "$(elapsed "$t_up" "$t_ctlr")"
  measure up_to_online "$(elapsed "$t_up" "$t_on")"

  t_down=$(now)
  ip link set v0 down
  wait_for 60 eval '[ -n "$(fcoe_lines "$t_down" dcb-check v0 trigger=link outcome=link-down)" ]' || fail "link down" "dcb-check fcoe:v0 trigger=link outcome=link-down through the dispatcher within 60 s" "$(journal_since "$t_down" | tail -5)"
  measure down_to_check "$(elapsed "$t_down")"
  log "ip link set v0 down -> dcb-check link-down $(elapsed "$t_down") s later; FC: $(fc_view v0 v1)"
  t_up=$(now)
  ip link set v0 up
  wait_for 60 eval '[ -n "$(fcoe_lines "$t_up" dcb-check v0 trigger=link)" ]' || fail "link up again" "dcb-check fcoe:v0 trigger=link" "$(journal_since "$t_up" | tail -5)"
  wait_for 30 pair_online v0 v1 || fail "login after the flap" "both Online again" "$(fc_view v0 v1)"
  log "up again: $(fcoe_lines "$t_up" dcb-check v0 trigger=link | tail -1); $(fc_view v0 v1)"
  measure reup_to_online "$(elapsed "$t_up")"
  [ -z "$(fcoe_timer_keys)" ] || fail "timers" "none (DCB not required)" "$(fcoe_timer_keys)"
  t0=$(now)
  ip link del v0
  wait_for 20 no_ctlrs || fail "ip link del v0" "no ctlr left" "$(ctlr_netdevs | tr '\n' ' ')"
  wait_for 30 eval '[ -n "$(fcoe_lines "$t0" fcoe-destroy v1)" ]' || fail "udev remove" "fcoe-destroy --uevent for v0 and v1" "$(journal_since "$t0" | tail -5)"
  [ -z "$(fcoe_timer_keys)" ] || fail "timers at the end" "none" "$(fcoe_timer_keys)"
  rm -f /etc/fcoe/cfg-v0 /etc/fcoe/cfg-v1
}

# 3. DCB required on a veth (no dcbnl; lldpad, which runs here, has no DCB
#    for it either): `ip link set up` -> the DCB query fails -> timerd's retry
#    schedule is armed; `ip link set down` -> networkd-dispatcher -> dcb-check
#    link-down disarms it: fcoe-destroy never runs, no ctlr, no timer.
link_down_cancels() {
  local t0 t_up t_armed t_down n
  systemctl stop sanhook-dcb-recheck.timer
  fcoe_cfg w0 yes fabric
  ip link add w0 type veth peer name w1 && udevadm settle -t 30
  t_up=$(now)
  ip link set w0 up && ip link set w1 up
  wait_for 90 eval '[ -n "$(fcoe_timer_keys w0)" ]' || fail "retry armed" "fcoe:w0 armed within 90 s of ip link set up" "timers: $(fcoe_timer_keys); journal: $(journal_since "$t_up" | tail -5)"
  t_armed=$(now)
  log "armed $(elapsed "$t_up" "$t_armed") s after ip link set up: $(fcoe_lines "$t_up" dcb-check w0 trigger=link | tail -1 | cut -c1-300)"
  measure up_to_armed "$(elapsed "$t_up" "$t_armed")"
  t_down=$(now)
  ip link set w0 down
  wait_for 60 eval '[ -z "$(fcoe_timer_keys w0)" ]' || fail "link down" "fcoe:w0 disarmed within 60 s" "$(fcoe_timer_keys)"
  measure down_to_disarmed "$(elapsed "$t_down")"
  # the dispatcher's dcb-check (trigger=link) sees the link down and disarms;
  # an attempt timerd runs meanwhile sees it too and ends the schedule (exit 0)
  # (if an attempt holds the interface's lock then, the dispatcher's run is queued
  # for it, outcome=queued, and the holder runs it)
  wait_for 60 eval '[ -n "$(fcoe_lines "$t_down" dcb-check w0 trigger=link outcome=link-down)$(fcoe_lines "$t_down" dcb-check w0 outcome=queued)" ]' ||
    fail "the disarm" "journal: dcb-check fcoe:w0 trigger=link outcome=link-down or outcome=queued (networkd-dispatcher's run)" "$(journal_since "$t_down" | grep -F fcoe:w0 | tail -5)"
  log "after ip link set w0 down (journal): $(journal_since "$t_down" | grep -F fcoe:w0 | grep -E "outcome=(link-down|queued)" | cut -c1-150 | tr '\n' ';')"
  sleep 3
  n=$(journalctl -u sanhook-timerd --no-pager -o cat --since "@${t_up%.*}" 2>/dev/null | grep -F fcoe:w0 | grep -c 'fcoe-destroy' || true)
  [ "$n" = 0 ] || fail "no loss hook" "timerd never runs fcoe-destroy for a cancelled schedule" "$(journalctl -u sanhook-timerd --no-pager -o cat --since "@${t_up%.*}" | grep -F fcoe:w0 | tail -5)"
  measure attempts_before_cancel "$(journalctl -u sanhook-timerd --no-pager -o cat --since "@${t_up%.*}" 2>/dev/null | grep -F fcoe:w0 | grep -c 'event fired' || true)"
  no_ctlr w0 || fail "no ctlr" "none on w0" "$(ctlr_attrs w0)"
  log "timerd for fcoe:w0: $(journalctl -u sanhook-timerd --no-pager -o cat --since "@${t_up%.*}" 2>/dev/null | grep -F fcoe:w0 | cut -c1-160 | tr '\n' ';')"
  ip link del w0; rm -f /etc/fcoe/cfg-w0
}

# 4. The recheck timer: a cfg file written for a link that is already up
#    raises no event; sanhook-dcb-recheck.service (`dcb-check --all`, every
#    30 s, in its sandbox) creates the ctlr within its bound. (Scenarios 2-3
#    stop the timer so that what acts there is the dispatcher path.)
recheck_timer() {
  local t0 t_ctlr n
  ip link add y0 type veth peer name y1 && ip link set y0 up && ip link set y1 up
  udevadm settle -t 30
  # the link-up events must be over before the cfg file exists, or the
  # dispatcher (not the recheck) would act on them
  wait_for 60 eval '[ -n "$(dispatched 0 y0 carrier)" ] && [ -n "$(dispatched 0 y1 carrier)" ]' || fail "setup" "networkd-dispatcher handled y0's and y1's carrier" "$(tail -5 "$DISPATCHED")"
  t0=$(now)
  fcoe_cfg y0 no vn2vn
  systemctl start sanhook-dcb-recheck.timer   # as at boot: its first run 30 s later
  wait_for 75 has_ctlr y0 || fail "recheck" "a ctlr on y0 within 75 s (30 s timer + AccuracySec + runs)" "$(ctlr_attrs y0); $(systemctl list-timers sanhook-dcb-recheck.timer --no-pager 2>&1 | head -3)"
  t_ctlr=$(now)
  n=$(fcoe_lines "$t0" dcb-check y0 trigger=recheck outcome=created | count)
  [ "$n" -ge 1 ] || fail "created by the recheck" "journal: dcb-check fcoe:y0 trigger=recheck outcome=created" "$(journal_since "$t0" | tail -6)"
  log "cfg-y0 written -> ctlr by sanhook-dcb-recheck.service $(elapsed "$t0" "$t_ctlr") s later ($(ctlr_attrs y0)); service: $(systemctl show sanhook-dcb-recheck.service -p Result -p ExecMainStatus --value | tr '\n' ' ')"
  measure cfg_to_ctlr "$(elapsed "$t0" "$t_ctlr")"
  ip link del y0; rm -f /etc/fcoe/cfg-y0
  wait_for 20 no_ctlrs || fail "cleanup" "no ctlr" "$(ctlr_netdevs)"
}

want() { [ $# -eq 0 ] || [[ " $* " == *" $CASE "* ]]; }
for CASE in installed link-up-creates link-down-cancels recheck-timer; do
  want "$@" || continue
  case $CASE in
    installed) scenario installed installed ;;
    link-up-creates) scenario link-up-creates link_up_creates ;;
    link-down-cancels) scenario link-down-cancels link_down_cancels ;;
    recheck-timer) scenario recheck-timer recheck_timer ;;
  esac
done
finish
