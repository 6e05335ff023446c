# VM suite: discovery AENs through a persistent discovery controller.
# Runs in the guest of test/system/vm/sanhook-vm.sh (see lib.sh).
# Over NVMe/TCP on 127.0.0.1; nvmf-aen-rdma.sh sources this file with
# NVMF_TRANSPORT=rdma to run the same scenarios over RDMA on Soft-RoCE.
# scenarios: aen-autoconnect racing-events deliberate-disconnect
#
# One boot, three scenarios that share the daemons and the persistent
# discovery controller; each uses its own subsystems and asserts on its own.
source test/system/scenarios/lib.sh

NQN_BASE=nqn.2026-11.io.sanhook.vm:base
NQN_A=(nqn.2026-11.io.sanhook.vm:aen-a nqn.2026-11.io.sanhook.vm:aen-b nqn.2026-11.io.sanhook.vm:aen-c)
NQN_R=(nqn.2026-11.io.sanhook.vm:race-1 nqn.2026-11.io.sanhook.vm:race-2 nqn.2026-11.io.sanhook.vm:race-3 nqn.2026-11.io.sanhook.vm:race-4)
NQN_D=nqn.2026-11.io.sanhook.vm:disc-d
NQN_E=nqn.2026-11.io.sanhook.vm:disc-e
W=/tmp/aen; mkdir -p $W

# sanhook's timers after the kernel gives up; kernel timers small so nothing lingers.
setup_host "$(cat <<'EOF'
nvmf:
  reconnect-delay: 1
  ctrl-loss-tmo: 3
  lost:
    reconnect-delay: 2
    ctrl-loss-tmo: 60
EOF
)" || { echo "@@suite end fail setup"; exit 125; }

tgt_port
tgt_subsys $NQN_BASE 0
tgt_link $NQN_BASE              # an enabled port needs one linked subsystem
for i in 0 1 2; do tgt_subsys "${NQN_A[$i]}" $((i + 1)); done
for i in 0 1 2 3; do tgt_subsys "${NQN_R[$i]}" $((i + 4)); done
tgt_subsys $NQN_D 8
tgt_subsys $NQN_E 9

# 1. A persistent discovery controller is connected; linking a new subsystem
#    raises NVME_AEN=0x70f002 and the shipped rule's `sanhook connect --uevent`
#    connects it: live I/O controller and namespace block device, no manual
#    `nvme connect`. Three subsystems one after the other: the AENs must keep
#    coming once the discovery log outgrows one 4 KiB page (5 records).
aen_autoconnect() {
  local out rc dc t_link t_live t_blk ctrl ns n i nqn
  out=$(sanhook connect -t $NVMF_TRANSPORT -a $ADDR -s $PORT --persistent -o json 2> $W/s1-connect.log); rc=$?
  [ $rc = 0 ] || fail "sanhook connect --persistent" "exit 0" "exit $rc: $out $(tail -3 $W/s1-connect.log)"
  udevadm settle -t 10
  dc=$(discovery_ctrls)
  [ "$(echo "$dc" | grep -c .)" = 1 ] || fail "persistent discovery controller" "exactly one controller with cntrltype discovery" "'$dc'"
  [ "$(ctrl_state "$dc")" = live ] || fail "persistent discovery controller" "$dc live" "$(ctrl_state "$dc")"
  is_live $NQN_BASE || fail "initial connect" "$NQN_BASE live (connected by sanhook connect)" "$(io_ctrls $NQN_BASE) $(echo "$out" | tail -2)"
  log "discovery controller $dc live; $NQN_BASE connected"

  for i in 0 1 2; do
    nqn=${NQN_A[$i]}
    udevadm settle -t 30
    t_link=$(now)
    tgt_link "$nqn"
    log "linked $nqn to port 1 (the discovery log now has $((i + 3)) records, $(( (i + 4) * 1024 )) bytes)"
    wait_for 45 is_live "$nqn" || fail "AEN autoconnect #$((i + 1))" "an I/O controller for $nqn goes live within 45 s of the link" \
      "controllers for it: '$(io_ctrls "$nqn")'; AEN uevents on $dc since the link: $(awk -v t="$t_link" '$1>=t' $UEVENTS | grep -F " $dc " | grep -c 'NVME_AEN=0x70f002')"
    t_live=$(now)
    wait_for 15 has_blockdev "$nqn" || fail "namespace block device" "/dev/nvmeXnY of $nqn within 15 s" "none (controller $(io_ctrls "$nqn") $(ctrl_state "$(io_ctrls "$nqn")"))"
    t_blk=$(now)
    ctrl=$(io_ctrls "$nqn"); ns=$(ns_blockdevs "$nqn" | head -1)
    dd if=/dev/$ns of=/dev/null bs=4k count=16 iflag=direct 2>/dev/null || fail "namespace I/O" "reading 64 KiB from /dev/$ns succeeds" "dd failed"
    n=$(awk -v t="$t_link" '$1>=t' $UEVENTS | grep -F " $dc " | grep -c 'NVME_AEN=0x70f002' || true)
    [ "$n" -ge 1 ] || fail "the AEN" "a change uevent with NVME_AEN=0x70f002 on $dc" "$n such uevents"
    n=$(journal_since "$t_link" | grep_all 'hook=connect' 'trigger=aen' 'outcome=connected' "subnqn=$nqn" | count)
    [ "$n" = 1 ] || fail "connected by the udev rule" "one journal line: connect trigger=aen outcome=connected subnqn=$nqn" "$n lines"
    n=$(nvme_calls_since "$t_link" " connect " "--nqn $nqn " | count)
    [ "$n" = 1 ] || fail "one nvme connect" "exactly 1 'nvme connect ... $nqn' since the link (sanhook's)" "$n"
    log "$nqn: $ctrl live $(elapsed "$t_link" "$t_live") s after the link, /dev/$ns $(elapsed "$t_link" "$t_blk") s"
    if [ $i = 0 ]; then
      measure link_to_live "$(elapsed "$t_link" "$t_live")"
      measure link_to_blockdev "$(elapsed "$t_link" "$t_blk")"
    else
      measure "link_to_live_$((i + 1))" "$(elapsed "$t_link" "$t_live")"
    fi
  done
}

# 2. Racing events for one discovery address, delivered while discoveries
#    run: each wave links a subsystem (an AEN, handled by udev's `connect
#    --uevent`) and starts an administrator's `sanhook connect` for the same
#    address, the next wave as soon as the previous wave's discovery started.
#    Discoveries never overlap, the last event is followed by a discovery that
#    started after it, no subsystem is connected twice.
racing_events() {
  local t0 off t_last_event t_last_link i pids=() rc n_ev n_disc n_queued n_during overlap last_start n nqn t_all mon
  udevadm settle -t 10
  t0=$(now)
  off=$(awk -v e="$t0" '{printf "%.6f", e - $1}' /proc/uptime)   # epoch - monotonic
  udevadm monitor --kernel --subsystem-match=nvme --property > $W/s2-mon 2>&1 & mon=$!
  sleep 0.5
  manual() {  # N: an admin's sanhook connect for the same address, in the background
    now > $W/s2-manual$1.t
    sanhook connect -t $NVMF_TRANSPORT -a $ADDR -s $PORT -o json > $W/s2-manual$1.out 2> $W/s2-manual$1.log
    echo $? > $W/s2-manual$1.rc
  }
  discover_starts() { awk -v t="$t0" '$1>=t && $2=="start" && / discover /' $NVME_CALLS | wc -l; }
  started() { [ "$(discover_starts)" -ge "$1" ]; }
  for i in 0 1 2; do
    manual $((i + 1)) & pids+=($!)
    tgt_link "${NQN_R[$i]}"
    wait_for 60 started $((i + 1)) || fail "racing events: discovery $((i + 1)) starts" "an nvme discover within 60 s" "$(discover_starts) started"
  done
  sleep 0.2
  tgt_link "${NQN_R[3]}"; t_last_link=$(now)
  log "4 waves (link + manual connect) each as the previous discovery started, over $(elapsed "$t0") s"
  for i in "${pids[@]}"; do wait "$i"; done
  for i in 1 2 3; do
    rc=$(cat $W/s2-manual$i.rc)
    [ "$rc" = 0 ] || fail "manual sanhook connect #$i" "exit 0" "exit $rc: $(tail -2 $W/s2-manual$i.out) $(tail -2 $W/s2-manual$i.log)"
  done
  all_live() { local q; for q in "${NQN_R[@]}"; do is_live "$q" || return 1; done; }
  wait_for 60 all_live || fail "all linked subsystems connected" "${NQN_R[*]} each with one live I/O controller within 60 s" \
    "$(for q in "${NQN_R[@]}"; do echo -n "$q: $(io_ctrls "$q" | tr '\n' ' ')$(for c in $(io_ctrls "$q"); do ctrl_state "$c"; done); "; done)"
  t_all=$(now)
  # let every hook that is still running finish: udev's queue, then all discovers ended
  udevadm settle -t 60
  discovers_done() { awk -v t="$t0" '$1>=t && $2=="start" && / discover / {s[$3]=1} $1>=t && $2=="end" {delete s[$3]} END {for (p in s) exit 1}' $NVME_CALLS; }
  wait_for 30 discovers_done || fail "hooks finish" "every nvme discover started in this scenario ends within 30 s" "$(awk -v t="$t0" '$1>=t' $NVME_CALLS | tail -8)"
  sleep 1; udevadm settle -t 60
  kill "$mon" 2>/dev/null; wait "$mon" 2>/dev/null

  # (a) discoveries never overlap: intervals of every `nvme discover` since t0
  awk -v t="$t0" '$1>=t && $2=="start" && / discover / {s[$3]=$1} $1>=t && $2=="end" && ($3 in s) {print s[$3], $1, $3}' $NVME_CALLS | sort -n > $W/s2-discovers
  n_disc=$(count < $W/s2-discovers)
  overlap=$(awk 'NR>1 && $1 < maxend {printf "discover pid %s started %.3f s before pid %s ended; ", $3, maxend-$1, maxpid} {if ($2>maxend) {maxend=$2; maxpid=$3}}' $W/s2-discovers)
  [ -z "$overlap" ] || fail "discoveries never overlap" "each nvme discover for $ADDR:$PORT starts after the previous one ended" "$overlap"
  # (b) the last event (as sanhook receives it: udevd handling an AEN, or an admin's
  #     command starting) is followed by a discovery that started after it
  n_ev=$(awk -v t="$t0" '$1>=t' $UEVENTS | grep -c 'NVME_AEN=0x70f002' || true)
  t_last_event=$( { awk -v t="$t0" '$1>=t && /NVME_AEN=0x70f002/ {print $1}' $UEVENTS; cat $W/s2-manual*.t; } | sort -n | tail -1)
  last_start=$(tail -1 $W/s2-discovers | cut -d' ' -f1)
  awk -v a="$last_start" -v b="$t_last_event" 'BEGIN{exit !(a >= b)}' || fail "last event followed by a discovery" \
    "a discover starting after the last event (+$(elapsed "$t0" "$t_last_event") s)" "last discover started at +$(elapsed "$t0" "$last_start") s"
  # (c) no subsystem connected twice: one controller each, one `nvme connect` each
  for nqn in "${NQN_R[@]}"; do
    n=$(io_ctrl_count "$nqn"); [ "$n" = 1 ] || fail "no subsystem connected twice" "1 I/O controller for $nqn" "$n: $(io_ctrls "$nqn" | tr '\n' ' ')"
    n=$(nvme_calls_since "$t0" " connect " "--nqn $nqn " | count)
    [ "$n" = 1 ] || fail "no subsystem connected twice" "exactly 1 'nvme connect ... $nqn'" "$n: $(nvme_calls_since "$t0" " connect " "--nqn $nqn " | cut -c1-160)"
  done
  # (d) the events did race: kernel AENs and admin commands while discoveries ran,
  #     and some were queued for the running holder
  n_during=$( { awk -v o="$off" '/^KERNEL\[/ {t=substr($1,8)+0} /^NVME_AEN=0x70f002/ {printf "%.6f\n", t+o}' $W/s2-mon; cat $W/s2-manual*.t; } |
    awk -v first="$(head -1 $W/s2-discovers | cut -d' ' -f1)" -v last="$(tail -1 $W/s2-discovers | cut -d' ' -f2)" '$1 > first && $1 < last' | count)
  n_queued=$(( $(journal_since "$t0" | grep_all 'hook=connect' 'outcome=queued' | count) + $(cat $W/s2-manual*.out | grep -c '"outcome":"queued"' || true) ))
  [ "$n_during" -ge 1 ] && [ "$n_queued" -ge 1 ] || fail "the events raced" \
    "events arriving between the first discovery's start and the last one's end, some queued for a running holder" \
    "$n_during during, $n_queued queued; $((n_ev + 3)) events, $n_disc discoveries"
  log "$((n_ev + 3)) events ($n_ev AENs + 3 admin commands), $n_during of them while discoveries ran; $n_disc discoveries, none overlapping; $n_queued queued; all 4 live $(elapsed "$t_last_link" "$t_all") s after the last link"
  awk -v t="$t0" '{printf "    nvme discover pid %s  +%.2f .. +%.2f s\n", $3, $1-t, $2-t}' $W/s2-discovers
  measure events $((n_ev + 3))
  measure aen_events "$n_ev"
  measure events_during_discovery "$n_during"
  measure discoveries "$n_disc"
  measure queued "$n_queued"
  measure last_link_to_all_live "$(elapsed "$t_last_link" "$t_all")"
}

# 5. `sanhook disconnect --nqn` keeps the path disconnected: the remove
#    uevent's `lost` ignores it, no timer, no `nvme connect` for several
#    reconnect-delays, and a later AEN does not reconnect it either.
deliberate_disconnect() {
  local t_link t_d out rc n t_aen
  t_link=$(now)
  tgt_link $NQN_D
  wait_for 30 is_live $NQN_D || fail "setup: AEN connects $NQN_D" "live within 30 s" "'$(io_ctrls $NQN_D)'"
  udevadm settle -t 10
  t_d=$(now)
  out=$(sanhook disconnect --nqn $NQN_D -o json 2> $W/s5-disconnect.log); rc=$?
  [ $rc = 0 ] || fail "sanhook disconnect --nqn" "exit 0" "exit $rc: $out $(tail -2 $W/s5-disconnect.log)"
  echo "$out" | grep -q '"outcome":"disconnected"' || fail "sanhook disconnect report" "outcome disconnected" "$out"
  wait_for 10 is_gone $NQN_D || fail "controller removed" "no I/O controller for $NQN_D within 10 s" "$(io_ctrls $NQN_D)"
  lost_ignored() { journal_since "$t_d" | grep_all 'hook=lost' 'outcome=ignored' 'reason=disconnected-by-admin' "$NQN_D" | grep -q .; }
  wait_for 15 lost_ignored || fail "remove uevent -> sanhook lost" "journal: lost outcome=ignored reason=disconnected-by-admin for $NQN_D" \
    "$(journal_since "$t_d" | grep 'hook=lost' | tail -3)"
  ! timer_armed_for $NQN_D || fail "no timer" "no timerd entry for $NQN_D" "$(timer_keys)"
  log "disconnected; lost ignored it; waiting 7 s (> 3 x nvmf.lost.reconnect-delay 2 s)"
  sleep 7
  is_gone $NQN_D || fail "stays disconnected" "no I/O controller for $NQN_D 7 s later" "$(io_ctrls $NQN_D)"
  ! timer_armed_for $NQN_D || fail "no timer" "no timerd entry for $NQN_D 7 s later" "$(timer_keys)"
  n=$(nvme_calls_since "$t_d" " connect " "--nqn $NQN_D " | count)
  [ "$n" = 0 ] || fail "no reconnect attempts" "0 'nvme connect ... $NQN_D' since the disconnect" "$n"

  t_aen=$(now)
  tgt_link $NQN_E
  wait_for 30 is_live $NQN_E || fail "a later AEN" "$NQN_E (newly linked) live within 30 s" "'$(io_ctrls $NQN_E)'"
  udevadm settle -t 10
  n=$(journal_since "$t_aen" | grep_all 'hook=connect' 'reason=disconnected-by-admin' "$NQN_D" | count)
  [ "$n" -ge 1 ] || fail "AEN skips the disconnected path" "journal: connect skipped $NQN_D reason=disconnected-by-admin" \
    "$(journal_since "$t_aen" | grep "$NQN_D" | tail -3)"
  is_gone $NQN_D || fail "stays disconnected after an AEN" "no I/O controller for $NQN_D" "$(io_ctrls $NQN_D)"
  n=$(nvme_calls_since "$t_d" " connect " "--nqn $NQN_D " | count)
  [ "$n" = 0 ] || fail "no reconnect attempts after the AEN" "0 'nvme connect ... $NQN_D'" "$n"
  log "$NQN_D stayed disconnected for $(elapsed "$t_d") s, through a reconnect-delay window and an AEN ($NQN_E connected meanwhile)"
  measure disconnected_for "$(elapsed "$t_d")"
}

want() { [ $# -eq 0 ] || [[ " $* " == *" $CASE "* ]]; }
for CASE in aen-autoconnect racing-events deliberate-disconnect; do
  want "$@" || continue
  case $CASE in
    aen-autoconnect) scenario aen-autoconnect aen_autoconnect ;;
    racing-events) scenario racing-events racing_events ;;
    deliberate-disconnect) scenario deliberate-disconnect deliberate_disconnect ;;
  esac
done
finish
