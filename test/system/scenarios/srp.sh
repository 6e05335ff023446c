# VM suite: SRP over Soft-RoCE (rdma_rxe) with an LIO ib_srpt target and the
# ib_srp initiator on the same guest kernel, driven by sanhook's shipped udev
# rule (70-sanhook-srp.rules) and timerd.
# Runs in the chroot guest of test/system/vm/sanhook-vm.sh (see lib.sh, SRP part).
# scenarios: policy-by-rule blocked-and-back deleted-and-re-added erase-stays-gone disconnect-reconnect
#
# The test never calls a hook itself (srp-setup, lost): the kernel's uevents
# reach them through systemd-udevd and the shipped rule. It logs in the way an
# administrator does, with `sanhook srp-add` (an RDMA/CM target can only be
# added again by sanhook when it was added through srp-add: the kernel shows no
# dest in sysfs), and breaks the path on the TARGET side, by disabling the LIO
# tpg (`echo 0 > tpgt_1/enable`): taking the rxe netdev down panics this 6.1
# kernel (ib_srp list corruption) while a login is up.
# Every assertion reads the kernel (/sys/class/srp_remote_ports, scsi_host,
# scsi_device, a direct read from the disk), the udev events udevd handled
# (a test-only observer rule), timerd (its table and log) or the hooks'
# journal lines.
source test/system/scenarios/lib.sh

W=/tmp/srp; mkdir -p $W
RD=1 FF=2 DL=6          # the policy: reconnect-delay, fast-io-fail, dev-loss (s)
READD=1                 # srp.re-add.delay (s), growth fixed
setup_host "$(cat <<EOF
srp:
  reconnect-delay: $RD
  fast-io-fail: $FF
  dev-loss: $DL
  re-add:
    delay: $READD
    growth: fixed
EOF
)" || { echo "@@suite end fail setup"; exit 125; }
setup_srp || { echo "@@suite end fail setup"; exit 125; }
suite_diagnostics() { srp_diagnostics; }
KEY=$(srp_key)
log "target key $KEY; add_target line: $(srp_login_line)"

# timerd's log: MARK is its line count at a point in time (tmark); the lines
# about our key after MARK with message MSG and every further fixed string
# (no node: polled)
tmark() { wc -l < "$TIMERD_LOG"; }
timerd_lines() {  # MARK MSG [WORD...]
  local mark=$1 msg=$2; shift 2
  tail -n +$((mark + 1)) "$TIMERD_LOG" | grep -F "\"key\":\"$KEY\"" | grep -F "\"msg\":\"$msg\"" | grep_all "$@"
}

# no remove of the port or of its SCSI host since T (udevd's view)
never_removed() {  # SINCE WHAT
  local gone
  srp_settle
  gone=$( { srp_uevents "$1" remove srp_remote_ports; srp_uevents "$1" remove scsi_host; } )
  [ -z "$gone" ] || fail "$2" "no remove uevent of srp_remote_ports or scsi_host" "$gone"
}

# 1. Policy by rule: log in with sanhook srp-add; the kernel's srp_remote_ports
#    add uevent runs `sanhook srp-setup --uevent` (the rule), which writes the
#    configured timers to the new port (kernel defaults: 10 / 15 / 600).
policy_by_rule() {
  local t_port t_policy n st
  srp_no_port || fail "start" "no SRP port yet" "$(srp_ports_table | head -2)"
  srp_add
  t_port=$T_PORT
  H=$(srp_host_of "$P")
  log "srp-add: $P on $H after $(elapsed "$T_ADD" "$T_PORT") s: $(srp_state "$P") $(srp_timers "$P")"
  wait_for 30 srp_timers_are "$P" $RD $FF $DL || fail "policy by the rule's srp-setup" "$P: reconnect_delay=$RD fast_io_fail_tmo=$FF dev_loss_tmo=$DL within 30 s" "$(srp_timers "$P"); journal: $(journal_since "$T_ADD" | tail -5)"
  t_policy=$(now)
  log "policy applied $(elapsed "$t_port" "$t_policy") s after the port appeared: $(srp_timers "$P")"
  srp_settle
  n=$(srp_uevents "$T_ADD" add srp_remote_ports | count)
  [ "$n" = 1 ] || fail "the kernel's event" "one srp_remote_ports add uevent handled by udevd" "$n: $(srp_uevents_since "$T_ADD")"
  wait_for 10 eval '[ -n "$(srp_lines "$T_ADD" srp-setup outcome=)" ]' ||
    fail "the rule ran srp-setup" "journal: srp-setup $KEY: ... outcome=..." "$(journal_since "$T_ADD" | tail -6)"
  log "journal (srp-setup, by the rule):"; srp_lines "$T_ADD" srp-setup | cut -c1-220 | sed 's/^/    /'
  st=$(srp_state "$P")
  [ "$st" = running ] || fail "the port" "$P running" "$st"
  D=$(srp_disks "$H" | head -1)
  [ -n "$D" ] || fail "the disk" "an sd disk on $H" "none"
  wait_for 10 test -b "/dev/$D" || fail "the disk" "/dev/$D" "no block device node"
  srp_read_ok "$D" "the disk after login"
  srp_key_not_armed || fail "no timer for a healthy port" "$KEY not in sanhook timers" "$(timer_keys)"
  sanhook status > $W/status.out 2>&1 || fail "sanhook status" "exit 0" "exit $?: $(tail -3 $W/status.out)"
  grep -qF "$P" $W/status.out || fail "sanhook status" "lists $P" "$(cat $W/status.out)"
  log "sanhook status:"; sed 's/^/    /' $W/status.out | head -20
  measure add_to_port "$(elapsed "$T_ADD" "$t_port")"
  measure add_to_policy "$(elapsed "$T_ADD" "$t_policy")"
}

# 2. Blocked and back: the target goes away for less than dev-loss. The port
#    goes blocked, fail-fast after fast-io-fail; the target returns and the
#    kernel's own reconnect (every reconnect-delay) brings it back to running:
#    the same port and SCSI host throughout, nothing for sanhook to do.
blocked_and_back() {
  local t0 t_blocked t_ff t_en t_run r
  srp_logged_in
  log "before: $P $H disk $D $(srp_timers "$P")"
  t0=$(now)
  srp_tpg_enable 0 || fail "disable the tpg" "ok" "write failed"
  wait_for 5 srp_state_is "$P" blocked || wait_for 1 srp_state_is "$P" fail-fast || fail "target gone" "$P blocked within 5 s" "$(srp_state "$P")"
  t_blocked=$(now)
  wait_for $((FF + 4)) srp_state_is "$P" fail-fast || fail "fast-io-fail" "$P fail-fast about $FF s after blocked" "$(srp_state "$P") after $(elapsed "$t_blocked") s"
  t_ff=$(now)
  r=$(srp_dd "$D")
  [[ $r == error* ]] || fail "I/O while fail-fast" "a read from /dev/$D fails" "$r"
  log "blocked $(elapsed "$t0" "$t_blocked") s after the disable, fail-fast $(elapsed "$t_blocked" "$t_ff") s later; a read then: $r"
  t_en=$(now)
  srp_tpg_enable 1 || fail "enable the tpg" "ok" "write failed"
  wait_for $((DL + 4)) srp_state_is "$P" running || fail "the kernel reconnects" "$P running within dev-loss" "$(srp_state "$P") $(elapsed "$t_en") s after the enable"
  t_run=$(now)
  log "running $(elapsed "$t_en" "$t_run") s after the enable ($(elapsed "$t_blocked" "$t_run") s after blocked)"
  [ "$(srp_port)" = "$P" ] || fail "the same port" "$P" "$(srp_port)"
  [ -e /sys/class/scsi_host/$H ] || fail "the same SCSI host" "$H" "gone"
  never_removed "$t0" "port and host survive a short outage"
  srp_timers_are "$P" $RD $FF $DL || fail "the policy" "unchanged" "$(srp_timers "$P")"
  wait_for 10 srp_sdevs_all "$H" running || fail "SCSI devices" "running" "$(srp_sdev_states "$H")"
  srp_read_ok "$D" "the disk after the outage"
  srp_key_not_armed || fail "no timer" "nothing armed for a port the kernel kept" "$(timer_keys)"
  measure disable_to_blocked "$(elapsed "$t0" "$t_blocked")"
  measure blocked_to_failfast "$(elapsed "$t_blocked" "$t_ff")"
  measure enable_to_running "$(elapsed "$t_en" "$t_run")"
  measure blocked_to_running "$(elapsed "$t_blocked" "$t_run")"
}

# 3. Deleted and re-added: the target stays away past dev-loss; the kernel
#    deletes the port and its SCSI host; the rule's `lost --uevent` arms
#    timerd, whose srp-reconnect adds the target again (the line srp-add
#    recorded) every re-add delay; the target returns -> a new port, the
#    rule's srp-setup applies the policy again, the timer is disarmed.
deleted_and_re_added() {
  local t0 tm0 t_gone t_armed t_en t_back t_policy n old_p old_h
  srp_logged_in
  old_p=$P old_h=$H
  t0=$(now); tm0=$(tmark)
  srp_tpg_enable 0 || fail "disable the tpg" "ok" "write failed"
  wait_for $((DL + 10)) srp_no_port || fail "the kernel deletes the port" "no port within dev-loss $DL s + 10 s" "$(srp_ports_table | head -2)"
  wait_for 10 eval '[ ! -e /sys/class/scsi_host/$old_h ]' || fail "the kernel deletes the host" "$old_h gone" "still there"
  t_gone=$(now)
  log "$old_p and $old_h deleted $(elapsed "$t0" "$t_gone") s after the disable"
  wait_for 30 srp_timerd_has "$tm0" armed || fail "remove uevent -> lost arms timerd" "timerd logs 'armed' for $KEY within 30 s" \
    "lost lines: $(journal_since "$t0" | grep 'hook=lost' | tail -3); timerd: $(tail -3 "$TIMERD_LOG")"
  t_armed=$(now)
  srp_key_armed || fail "sanhook timers" "$KEY armed" "$(timer_keys)"
  n=$(srp_lines "$t0" lost outcome=armed | count)
  [ "$n" = 1 ] || fail "lost --uevent (the rule)" "one journal line: lost $KEY: ... outcome=armed" "$n: $(journal_since "$t0" | grep 'hook=lost' | tail -3)"
  log "journal: $(srp_lines "$t0" lost | tail -1 | cut -c1-240)"
  # a re-add attempt while the target is still away: it fails, nothing appears
  wait_for 40 srp_timerd_has "$tm0" "hook finished" '"hook":"srp-reconnect"' ||
    fail "timerd re-adds" "an srp-reconnect attempt within 40 s of the arm" "$(timerd_lines "$tm0" 'event fired'; tail -3 "$TIMERD_LOG")"
  log "first re-add attempt (target away): $(timerd_lines "$tm0" 'hook finished' '"hook":"srp-reconnect"' | head -1 | grep -oE '"(exit_code|duration_ms)":[0-9-]*' | tr '\n' ' ')"
  srp_no_port || fail "an attempt while the target is away" "no port" "$(srp_ports_table | head -2)"
  srp_key_armed || fail "after a failed attempt" "$KEY still armed" "$(timer_keys)"
  t_en=$(now)
  srp_tpg_enable 1 || fail "enable the tpg" "ok" "write failed"
  wait_for 60 srp_has_port || fail "sanhook re-adds the target" "a port within 60 s of the enable" "$(timerd_lines "$tm0" 'hook finished' | tail -3)"
  t_back=$(now)
  P=$(srp_port); H=$(srp_host_of "$P")
  log "re-added: $P on $H $(elapsed "$t_en" "$t_back") s after the enable"
  srp_settle
  n=$(srp_uevents "$t_en" add srp_remote_ports | count)
  [ "$n" = 1 ] || fail "a new port" "one srp_remote_ports add uevent after the enable" "$n: $(srp_uevents_since "$t_en")"
  wait_for 30 srp_timers_are "$P" $RD $FF $DL || fail "policy on the re-added port" "$P: $RD/$FF/$DL" "$(srp_timers "$P"); journal: $(journal_since "$t_en" | tail -4)"
  t_policy=$(now)
  wait_for 10 eval '[ -n "$(srp_lines "$t_en" srp-setup outcome=)" ]' || fail "the rule ran srp-setup" "journal: srp-setup $KEY after the re-add" "$(journal_since "$t_en" | tail -5)"
  srp_timerd_has "$tm0" "hook finished" '"hook":"srp-reconnect"' '"exit_code":0' || fail "the re-add" "an srp-reconnect run by timerd, exit 0" "$(timerd_lines "$tm0" 'hook finished' | tail -3)"
  wait_for 20 srp_key_not_armed || fail "the timer" "$KEY disarmed once the port is back" "$(timer_keys)"
  log "timerd for $KEY: $(timerd_lines "$tm0" 'event fired' | count) attempts; journal: $(journal_since "$t_en" | grep -F "$KEY:" | cut -c1-160 | tr '\n' ';')"
  D=$(srp_disks "$H" | head -1)
  [ -n "$D" ] && wait_for 10 test -b "/dev/$D" || fail "the disk" "an sd disk on $H" "'$D'"
  srp_read_ok "$D" "the disk after the re-add"
  measure disable_to_deleted "$(elapsed "$t0" "$t_gone")"
  measure deleted_to_armed "$(elapsed "$t_gone" "$t_armed")"
  measure enable_to_port_back "$(elapsed "$t_en" "$t_back")"
  measure back_to_policy "$(elapsed "$t_back" "$t_policy")"
}

# 4. Erase stays gone: `sanhook srp-erase` deletes the port now; the remove
#    uevent runs the rule's `lost`, which must not arm anything; for several
#    re-add delays nothing adds it back (no srp_remote_ports add uevent, no
#    srp-reconnect from timerd); `sanhook srp-add` (on purpose) brings it back.
erase_stays_gone() {
  local t0 tm0 t_ret t_gone out rc n limit t_wait
  srp_logged_in
  t0=$(now); tm0=$(tmark)
  out=$(sanhook srp-erase --port "$P" 2>&1); rc=$?; t_ret=$(now)
  printf '%s\n' "$out" > $W/srp-erase.out
  [ $rc = 0 ] || fail "sanhook srp-erase --port $P" "exit 0" "exit $rc: $(tail -5 $W/srp-erase.out)"
  wait_for 10 srp_no_port || fail "srp-erase" "$P deleted" "$(srp_ports_table | head -2)"
  wait_for 10 eval '[ ! -e /sys/class/scsi_host/$H ]' || fail "srp-erase" "$H deleted" "still there"
  t_gone=$(now)
  log "srp-erase --port $P: exit 0 after $(elapsed "$t0" "$t_ret") s ($(srp_said $W/srp-erase.out)); port and $H gone $(elapsed "$t0" "$t_gone") s after the call"
  srp_settle
  wait_for 20 eval '[ -n "$(srp_lines "$t0" lost)" ]' || fail "the rule's lost" "journal: lost $KEY: ... (the remove uevent)" "$(journal_since "$t0" | tail -5)"
  log "journal: $(srp_lines "$t0" lost | tail -1 | cut -c1-240)"
  [ -z "$(srp_lines "$t0" lost outcome=armed)" ] || fail "lost after an erase" "no arm" "$(srp_lines "$t0" lost)"
  srp_key_not_armed || fail "no timer after an erase" "$KEY not armed" "$(timer_keys)"
  # several re-add delays (and a `lost` run's own time): nothing may come back
  t_wait=$(now)
  limit=$((READD * 10 + 2))
  wait_for $limit srp_has_port && fail "erase stays gone" "no port for $limit s" "$(srp_port) appeared $(elapsed "$t_wait") s into the wait"
  srp_settle
  n=$(srp_uevents "$t0" add srp_remote_ports | count)
  [ "$n" = 0 ] || fail "erase stays gone" "no srp_remote_ports add uevent" "$n: $(srp_uevents_since "$t0")"
  [ -z "$(timerd_lines "$tm0" 'event fired')" ] || fail "erase stays gone" "timerd fires nothing for $KEY" "$(timerd_lines "$tm0" 'event fired')"
  [ -z "$(journal_since "$t0" | grep_all "$KEY:" | grep -E '^hook=srp-(reconnect|add) ')" ] ||
    fail "erase stays gone" "no srp-reconnect / srp-add line in the journal" "$(journal_since "$t0" | grep -F "$KEY:" | grep -E '^hook=srp-(reconnect|add) ')"
  srp_key_not_armed || fail "erase stays gone" "$KEY not armed" "$(timer_keys)"
  log "still gone after $(elapsed "$t_gone") s: no port, no add uevent, no timer, no re-add"
  srp_add
  log "added on purpose: $P $(elapsed "$T_ADD" "$T_PORT") s after srp-add"
  wait_for 30 srp_timers_are "$P" $RD $FF $DL || fail "policy after srp-add" "$P: $RD/$FF/$DL" "$(srp_timers "$P")"
  H=$(srp_host_of "$P"); D=$(srp_disks "$H" | head -1)
  [ -n "$D" ] && wait_for 10 test -b "/dev/$D" || fail "the disk" "an sd disk on $H" "'$D'"
  srp_read_ok "$D" "the disk after srp-add"
  measure erase_to_gone "$(elapsed "$t0" "$t_gone")"
  measure add_again_to_port "$(elapsed "$T_ADD" "$T_PORT")"
}

# 5. Disconnect / reconnect: `sanhook srp-disconnect` offlines the host's SCSI
#    devices (I/O fails at once; the host and the RDMA login stay);
#    `sanhook srp-reconnect` brings them back to running.
disconnect_reconnect() {
  local t0 t_off t_rc t_on out rc r
  srp_logged_in
  t0=$(now)
  out=$(sanhook srp-disconnect --port "$P" 2>&1); rc=$?
  printf '%s\n' "$out" > $W/srp-disconnect.out
  [ $rc = 0 ] || fail "sanhook srp-disconnect --port $P" "exit 0" "exit $rc: $(tail -5 $W/srp-disconnect.out)"
  wait_for 10 srp_sdevs_all "$H" offline || fail "srp-disconnect" "every SCSI device of $H offline" "$(srp_sdev_states "$H" | tr '\n' ' ')"
  t_off=$(now)
  r=$(srp_dd "$D")
  [[ $r == error* ]] || fail "I/O after srp-disconnect" "a read from /dev/$D fails" "$r"
  awk -v s="${r#error }" 'BEGIN{exit !(s+0 < 5)}' || fail "I/O after srp-disconnect" "fails fast (< 5 s)" "$r"
  log "srp-disconnect ($(srp_said $W/srp-disconnect.out)): $(srp_sdev_states "$H" | tr '\n' ' ')after $(elapsed "$t0" "$t_off") s; a read: $r"
  [ "$(srp_port)" = "$P" ] && [ -e /sys/class/scsi_host/$H ] || fail "srp-disconnect keeps the login" "$P and $H still there" "$(srp_ports_table | head -2)"
  srp_state_is "$P" running || fail "srp-disconnect keeps the login" "$P running (the RDMA login stays)" "$(srp_state "$P")"
  t_rc=$(now)
  out=$(sanhook srp-reconnect --port "$P" 2>&1); rc=$?
  printf '%s\n' "$out" > $W/srp-reconnect.out
  [ $rc = 0 ] || fail "sanhook srp-reconnect --port $P" "exit 0" "exit $rc: $(tail -5 $W/srp-reconnect.out)"
  wait_for 10 srp_sdevs_all "$H" running || fail "srp-reconnect" "every SCSI device of $H running" "$(srp_sdev_states "$H" | tr '\n' ' ')"
  t_on=$(now)
  log "srp-reconnect ($(srp_said $W/srp-reconnect.out)): $(srp_sdev_states "$H" | tr '\n' ' ')after $(elapsed "$t_rc" "$t_on") s"
  srp_read_ok "$D" "the disk after srp-reconnect"
  never_removed "$t0" "disconnect/reconnect keeps port and host"
  srp_key_not_armed || fail "no timer" "nothing armed" "$(timer_keys)"
  measure disconnect_to_offline "$(elapsed "$t0" "$t_off")"
  measure offline_read_s "$(awk '{print $2}' <<< "${r%%:*}")"
  measure reconnect_to_running "$(elapsed "$t_rc" "$t_on")"
}

want() { [ $# -eq 0 ] || [[ " $* " == *" $CASE "* ]]; }
for CASE in policy-by-rule blocked-and-back deleted-and-re-added erase-stays-gone disconnect-reconnect; do
  want "$@" || continue
  case $CASE in
    policy-by-rule) scenario policy-by-rule policy_by_rule ;;
    blocked-and-back) scenario blocked-and-back blocked_and_back ;;
    deleted-and-re-added) scenario deleted-and-re-added deleted_and_re_added ;;
    erase-stays-gone) scenario erase-stays-gone erase_stays_gone ;;
    disconnect-reconnect) scenario disconnect-reconnect disconnect_reconnect ;;
  esac
done
finish
