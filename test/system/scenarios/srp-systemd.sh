# VM suite: SRP on the production path. systemd is PID 1 (journald,
# systemd-udevd with its real sandbox, sanhook-timerd.service), sanhook is
# installed as README "Install on a host" says: `dpkg -i` of the .deb, which
# carries the SRP rule in /lib/udev/rules.d. Soft-RoCE rxe0 on a veth, an LIO ib_srpt target
# and the ib_srp initiator on the same guest kernel, as in srp.sh (lib.sh, SRP
# part). Runs in the guest of test/system/vm/sanhook-vm.sh.
# init: systemd
# scenarios: policy-by-rule deleted-and-re-added
#
# The test never runs a hook (srp-setup, lost, srp-reconnect): the shipped
# rule runs srp-setup and lost inline in systemd-udevd's worker (its sandbox:
# MemoryDenyWriteExecute, PrivateMounts, IPAddressDeny), under systemd-cat,
# and sanhook-timerd.service runs srp-reconnect in its own sandbox. The test
# logs in as an administrator does (`sanhook srp-add`) and breaks the path on
# the TARGET side only (`echo 0 > tpgt_1/enable`): taking the rxe netdev down
# panics this 6.1 kernel while a login is up. Every assertion reads the kernel
# (srp_remote_ports, scsi_host, a direct read from the disk), the uevents
# udevd handled (a test-only observer rule), timerd's table (`sanhook timers`
# over its socket) or the journal (`journalctl -t sanhook` for the udev
# hooks, `-u sanhook-timerd` for timerd and the hooks it runs).
source test/system/scenarios/lib.sh

W=/var/lib/sanhook-vm/w; mkdir -p $W
RD=1 FF=2 DL=6          # the policy: reconnect-delay, fast-io-fail, dev-loss (s)
READD=1                 # srp.re-add.delay (s), growth fixed
setup_systemd_host "$(cat <<EOF
srp:
  reconnect-delay: $RD
  fast-io-fail: $FF
  dev-loss: $DL
  re-add:
    delay: $READD
    growth: fixed
EOF
)" || { echo "@@suite end fail setup"; exit 125; }
# the SRP rule as README's SRP block says (install + udevadm control --reload),
# the observer rule, then rxe0 and the LIO target
setup_srp || { echo "@@suite end fail setup"; exit 125; }
suite_diagnostics() {
  srp_diagnostics
  echo "----- journalctl -u systemd-udevd (this scenario, last 10)"
  journalctl -u systemd-udevd --no-pager -o cat --since "@${SCENARIO_T0%.*}" 2>/dev/null | tail -10 | sed 's/^/  /'
}
for u in sanhook-timerd.service sanhook-timerd.socket systemd-udevd.service; do
  [ "$(systemctl is-active $u)" = active ] || { echo "SETUP: $u is $(systemctl is-active $u)"; echo "@@suite end fail setup"; exit 125; }
done
KEY=$(srp_key)
log "target key $KEY; add_target line: $(srp_login_line); rules: $(ls /lib/udev/rules.d | grep sanhook | tr '\n' ' ')"

# sanhook-timerd.service's journal lines about our key since T
timerd_lines() { local since=$1; shift; srp_sd_timerd_lines "$since" "$KEY" "$@"; }
# HOOK's journal lines about our key since T came from processes of
# systemd-udevd.service (the rule's RUN, inline in udevd's worker), only
ran_in_udevd() {  # SINCE HOOK
  local units; units=$(srp_sd_units "$1" "$2" "$KEY" | tr '\n' ' ')
  [ "$units" = "systemd-udevd.service " ] || fail "$2 ran inline in udevd" "its journal lines about $KEY from _SYSTEMD_UNIT=systemd-udevd.service only" "units: '$units'"
  log "$2 ran in: $units(identifier sanhook)"
}
no_sandbox_errors() {  # SINCE
  local bad; bad=$(srp_sd_sandbox_errors "$1")
  [ -z "$bad" ] || fail "sandboxes" "no SIGTRAP/EROFS/EPERM/internal error in the journal" "$bad"
}


# 1. Policy by rule: `sanhook srp-add` logs in; the kernel's srp_remote_ports
#    add uevent reaches the real systemd-udevd, whose worker runs the shipped
#    rule's `systemd-cat --identifier=sanhook sanhook srp-setup --uevent` in
#    udevd's sandbox; it writes the configured timers (kernel: 10 / 15 / 600).
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
    fail "the rule ran srp-setup" "journal (identifier sanhook): srp-setup $KEY: ... outcome=..." "$(journal_since "$T_ADD" | tail -6)"
  log "journal (srp-setup, by the rule):"; srp_lines "$T_ADD" srp-setup | cut -c1-220 | sed 's/^/    /'
  [ -n "$(srp_lines "$T_ADD" srp-setup outcome=set)" ] || fail "srp-setup wrote the timers" "a journal line outcome=set" "$(srp_lines "$T_ADD" srp-setup)"
  ran_in_udevd "$T_ADD" srp-setup
  st=$(srp_state "$P")
  [ "$st" = running ] || fail "the port" "$P running" "$st"
  D=$(srp_disks "$H" | head -1)
  [ -n "$D" ] || fail "the disk" "an sd disk on $H" "none"
  wait_for 10 test -b "/dev/$D" || fail "the disk" "/dev/$D" "no block device node"
  srp_read_ok "$D" "the disk after login"
  srp_key_not_armed || fail "no timer for a healthy port" "$KEY not in sanhook timers" "$(timer_keys)"
  no_sandbox_errors "$T_ADD"
  measure add_to_port "$(elapsed "$T_ADD" "$t_port")"
  measure port_to_policy "$(elapsed "$t_port" "$t_policy")"
}

# 2. Deleted and re-added: the target stays away past dev-loss; the kernel
#    deletes the port and its SCSI host; the host's remove uevent runs the
#    rule's `lost --uevent` inline in udevd's sandbox, which arms timerd over
#    its socket (the service's table shows the key); the target returns;
#    sanhook-timerd.service runs srp-reconnect, which writes add_target from
#    srp-add's record -> a new port, the rule applies the policy again, the
#    timer is disarmed.
deleted_and_re_added() {
  local t0 t_gone t_rm t_armed t_armed_j t_en t_back t_policy n old_p old_h pid0 attempts
  srp_logged_in
  old_p=$P old_h=$H
  pid0=$(systemctl show -p MainPID --value sanhook-timerd.service)
  srp_settle
  t0=$(now)
  srp_tpg_enable 0 || fail "disable the tpg" "ok" "write failed"
  wait_for $((DL + 10)) srp_no_port || fail "the kernel deletes the port" "no port within dev-loss $DL s + 10 s" "$(srp_ports_table | head -2)"
  wait_for 10 eval '[ ! -e /sys/class/scsi_host/$old_h ]' || fail "the kernel deletes the host" "$old_h gone" "still there"
  t_gone=$(now)
  log "$old_p and $old_h deleted $(elapsed "$t0" "$t_gone") s after the disable"
  wait_for 90 srp_key_armed || fail "remove uevent -> lost arms timerd" "$KEY in sanhook timers (the service's table) within 90 s" \
    "timers: $(timer_keys | tr '\n' ' '); lost: $(journal_since "$t0" | grep 'hook=lost' | tail -3); timerd: $(timerd_lines "$t0" | tail -3)"
  t_armed=$(now)
  # the target comes back as soon as the table shows the key: the checks on
  # how it got there run while timerd re-adds (its attempts go on meanwhile)
  srp_no_port || fail "while the target is away" "no port" "$(srp_ports_table | head -2)"
  t_en=$(now)
  srp_tpg_enable 1 || fail "enable the tpg" "ok" "write failed"
  wait_for 90 srp_has_port || fail "timerd re-adds the target" "a port within 90 s of the enable" "timerd: $(timerd_lines "$t0" | tail -4)"
  t_back=$(now)
  P=$(srp_port); H=$(srp_host_of "$P")
  wait_for 30 srp_timers_are "$P" $RD $FF $DL || fail "policy on the re-added port" "$P: $RD/$FF/$DL" "$(srp_timers "$P"); journal: $(journal_since "$t_en" | tail -4)"
  t_policy=$(now)
  log "armed (seen in sanhook timers) $(elapsed "$t_gone" "$t_armed") s after the deletion; tpg enabled; $P on $H $(elapsed "$t_en" "$t_back") s after the enable; policy applied again $(elapsed "$t_back" "$t_policy") s after the port came back: $(srp_timers "$P")"
  # when udevd took the host's remove uevent (the observer's PROGRAM, just
  # before the rule's RUN) and when timerd logged the arm (its journal entry)
  t_rm=$(srp_uevents "$t0" remove scsi_host | awk '{print $1; exit}')
  [ -n "$t_rm" ] || fail "the kernel's event" "a scsi_host remove uevent handled by udevd" "$(srp_uevents_since "$t0")"
  t_armed_j=$(srp_sd_timerd_time "$t0" "$KEY" ": armed ")
  [ -n "$t_armed_j" ] || fail "timerd" "its journal: $KEY: armed" "$(timerd_lines "$t0" | tail -3)"
  log "udevd took $old_h's remove uevent $(elapsed "$t_gone" "$t_rm") s after the deletion was seen; timerd logged the arm $(elapsed "$t_rm" "$t_armed_j") s later; uevents: $(srp_uevents_since "$t0" | awk '$1 < '"$t_en"' {print $3, $4, $5}' | tr '\n' ';')"
  wait_for 10 eval '[ -n "$(srp_lines "$t0" lost outcome=armed)" ]' ||
    fail "lost --uevent (the rule)" "journal (identifier sanhook): lost $KEY: ... outcome=armed" "$(journal_since "$t0" | grep 'hook=lost' | tail -3)"
  n=$(srp_lines "$t0" lost outcome=armed | count)
  [ "$n" = 1 ] || fail "lost --uevent (the rule)" "one journal line (identifier sanhook): lost $KEY: ... outcome=armed" "$n: $(journal_since "$t0" | grep 'hook=lost' | tail -3)"
  log "journal: $(srp_lines "$t0" lost | tail -1 | cut -c1-240)"
  ran_in_udevd "$t0" lost
  srp_settle
  n=$(srp_uevents "$t_en" add srp_remote_ports | count)
  [ "$n" = 1 ] || fail "a new port" "one srp_remote_ports add uevent after the enable" "$n: $(srp_uevents_since "$t_en")"
  wait_for 10 eval '[ -n "$(srp_lines "$t_en" srp-setup outcome=set)" ]' || fail "the rule ran srp-setup again" "journal: srp-setup $KEY: ... outcome=set after the re-add" "$(journal_since "$t_en" | tail -5)"
  ran_in_udevd "$t_en" srp-setup
  # the re-add: srp-reconnect run by the service (its journal, read once the
  # timer is gone): exit 0, after writing add_target
  wait_for 20 srp_key_not_armed || fail "the timer" "$KEY disarmed once the port is back" "$(timer_keys)"
  wait_for 20 srp_timerd_has "$t0" "hook finished" "exit_code=0" || fail "the re-add" "sanhook-timerd's journal: srp-reconnect $KEY: hook finished exit_code=0" "$(timerd_lines "$t0" | tail -5)"
  timerd_lines "$t0" > $W/timerd.txt
  grep -E '^srp-reconnect ' $W/timerd.txt | grep -F 'hook finished' | grep -qF 'exit_code=0' || fail "the re-add" "the hook that finished with exit 0 is srp-reconnect" "$(grep -F 'hook finished' $W/timerd.txt)"
  grep -E '^srp-reconnect ' $W/timerd.txt | grep -qF 'outcome=added' || fail "the re-add" "srp-reconnect's record (re-emitted by timerd): outcome=added (add_target written)" "$(grep -v 'event fired' $W/timerd.txt | tail -5)"
  grep -F 'timer disarmed' $W/timerd.txt | grep -qF 'outcome=disarmed' || fail "the timer" "timerd's journal: $KEY: timer disarmed" "$(tail -5 $W/timerd.txt)"
  [ "$(systemctl show -p MainPID --value sanhook-timerd.service)" = "$pid0" ] || fail "timerd" "the same service process throughout (MainPID $pid0)" "MainPID $(systemctl show -p MainPID --value sanhook-timerd.service)"
  attempts=$(grep -F 'event fired' $W/timerd.txt | grep -cF 'event=reconnect' || true)
  log "timerd (sanhook-timerd.service, pid $pid0) for $KEY: $attempts attempt(s):"
  head -20 $W/timerd.txt | cut -c1-220 | sed 's/^/    /'
  D=$(srp_disks "$H" | head -1)
  [ -n "$D" ] && wait_for 10 test -b "/dev/$D" || fail "the disk" "an sd disk on $H" "'$D'"
  srp_read_ok "$D" "the disk after the re-add"
  no_sandbox_errors "$t0"
  measure disable_to_deleted "$(elapsed "$t0" "$t_gone")"
  measure deleted_to_armed "$(elapsed "$t_gone" "$t_armed_j")"
  measure udevd_remove_to_armed "$(elapsed "$t_rm" "$t_armed_j")"
  measure enable_to_port_back "$(elapsed "$t_en" "$t_back")"
  measure port_back_to_policy "$(elapsed "$t_back" "$t_policy")"
  measure readd_attempts "$attempts"
}

want() { [ $# -eq 0 ] || [[ " $* " == *" $CASE "* ]]; }
for CASE in policy-by-rule deleted-and-re-added; do
  want "$@" || continue
  scenario "$CASE" "${CASE//-/_}"
done
finish
