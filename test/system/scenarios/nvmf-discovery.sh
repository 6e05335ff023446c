# VM suite: referrals, one persistent discovery controller per address, and
# the persistent discovery controller the kernel gives up on (issue 14).
# Runs in the guest of test/system/vm/sanhook-vm.sh (see lib.sh).
# scenarios: referral-loop referral-chain discovery-controller-lost
#
# Two nvmet ports on 127.0.0.1: port 1 (4420, discovery address A) and port 2
# (4421, address B), each a discovery service with its own subsystems. Port
# 1's discovery log refers to port 2, and port 2's refers back to port 1: a
# referral chain A -> B and a loop B -> A.
source test/system/scenarios/lib.sh

NQN_A1=nqn.2026-11.io.sanhook.vm:disc-a1
NQN_A2=nqn.2026-11.io.sanhook.vm:disc-a2
NQN_B1=nqn.2026-11.io.sanhook.vm:disc-b1
NQN_B2=nqn.2026-11.io.sanhook.vm:disc-b2
PORT_B=4421
KEY_A="nvmf-disc:tcp:$ADDR:$PORT:none:none"
KEY_B="nvmf-disc:tcp:$ADDR:$PORT_B:none:none"
W=/tmp/disc; mkdir -p $W

# the kernel's timers of what sanhook connects, small so a loss is quick; sanhook's after that.
setup_host "$(cat <<'EOF2'
nvmf:
  reconnect-delay: 1
  ctrl-loss-tmo: 3
  lost:
    reconnect-delay: 2
    ctrl-loss-tmo: 120
EOF2
)" || { echo "@@suite end fail setup"; exit 125; }

tgt_port
mkdir -p $CFG/ports/2
echo tcp > $CFG/ports/2/addr_trtype; echo ipv4 > $CFG/ports/2/addr_adrfam
echo $ADDR > $CFG/ports/2/addr_traddr; echo $PORT_B > $CFG/ports/2/addr_trsvcid
tgt_subsys $NQN_A1 0; tgt_subsys $NQN_A2 1; tgt_subsys $NQN_B1 2; tgt_subsys $NQN_B2 3
tgt_link $NQN_A1                                  # enables port 1
ln -s $CFG/subsystems/$NQN_B1 $CFG/ports/2/subsystems/$NQN_B1   # enables port 2
referral() {  # FROM_PORT_DIR NAME TO_TRSVCID
  mkdir -p $CFG/ports/$1/referrals/$2
  echo tcp > $CFG/ports/$1/referrals/$2/addr_trtype; echo ipv4 > $CFG/ports/$1/referrals/$2/addr_adrfam
  echo $ADDR > $CFG/ports/$1/referrals/$2/addr_traddr; echo $3 > $CFG/ports/$1/referrals/$2/addr_trsvcid
  echo 1 > $CFG/ports/$1/referrals/$2/enable
}
referral 1 to-b $PORT_B
referral 2 to-a $PORT

# discovery controllers at 127.0.0.1:PORT (any state)
dcs_at() { local c; for c in $(discovery_ctrls); do grep -q "trsvcid=$1\b" /sys/class/nvme/$c/address 2>/dev/null && echo "$c"; done; return 0; }
one_live_dc_at() { local d; d=$(dcs_at "$1"); [ "$(echo "$d" | grep -c .)" = 1 ] && [ "$(ctrl_state "$d")" = live ]; }
# the I/O controller of NQN goes through port P
via_port() { local c; c=$(io_ctrls "$1"); [ -n "$c" ] && grep -q "trsvcid=$2\b" /sys/class/nvme/$c/address; }
said() { grep -oE '"(hook|key|outcome|reason|trigger)":"[^"]*"' "$1" | tr -d '"' | paste -sd' '; }

# 1. A loop without persistent controllers: A's log refers to B, B's back to A.
#    One manual connect: A's round follows B (its own round, under B's lock),
#    B's referral back to A stops as a loop; both levels' subsystems connected;
#    exactly two discoveries; no discovery controller left behind.
referral_loop() {
  local t rc n
  t=$(now)
  sanhook connect -t tcp -a $ADDR -s $PORT -o json > $W/loop.json 2> $W/loop.err; rc=$?
  [ $rc = 0 ] || fail "connect A" "exit 0" "exit $rc: $(tail -3 $W/loop.err)"
  is_live $NQN_A1 || fail "level 1" "$NQN_A1 live" "$(io_ctrls $NQN_A1)"
  is_live $NQN_B1 && via_port $NQN_B1 $PORT_B || fail "level 2 (the referral)" "$NQN_B1 live through port $PORT_B" "$(io_ctrls $NQN_B1) $(cat /sys/class/nvme/$(io_ctrls $NQN_B1)/address 2>/dev/null)"
  grep -q '"reason":"referral-loop"' $W/loop.json || fail "the loop stops" "an item with reason referral-loop" "$(said $W/loop.json)"
  n=$(nvme_calls_since "$t" " discover " | count)
  [ "$n" = 2 ] || fail "bounded" "exactly 2 nvme discover calls (A, then B)" "$n: $(nvme_calls_since "$t" " discover ")"
  udevadm settle -t 10
  [ -z "$(discovery_ctrls)" ] || fail "no persistent controller asked" "no discovery controller left" "$(discovery_ctrls)"
  log "loop A -> B -> A stopped after 2 discoveries; $NQN_A1 and $NQN_B1 live"
  measure loop_connect "$(elapsed "$t")"
}

# 2. The chain with --persistent: each address gets exactly one persistent
#    discovery controller (A's by the connect, B's by the referral's round);
#    a second connect reuses both (no third); an AEN on B's controller (a
#    subsystem linked to port 2) is connected by the shipped rule.
referral_chain() {
  local t rc n dca dcb
  t=$(now)
  sanhook connect -t tcp -a $ADDR -s $PORT --persistent -o json > $W/chain.json 2> $W/chain.err; rc=$?
  [ $rc = 0 ] || fail "connect A --persistent" "exit 0" "exit $rc: $(tail -3 $W/chain.err)"
  udevadm settle -t 10
  one_live_dc_at $PORT || fail "A's discovery controller" "exactly one live at $PORT" "'$(dcs_at $PORT)'"
  one_live_dc_at $PORT_B || fail "B's discovery controller (through the referral)" "exactly one live at $PORT_B" "'$(dcs_at $PORT_B)'"
  dca=$(dcs_at $PORT); dcb=$(dcs_at $PORT_B)
  n=$(ls /var/lib/sanhook/nvmf/discovery | count)
  [ "$n" = 2 ] || fail "sanhook records what it created" "2 discovery records" "$n: $(ls /var/lib/sanhook/nvmf/discovery)"
  is_live $NQN_A1 && is_live $NQN_B1 || fail "both levels" "$NQN_A1 and $NQN_B1 live" "$(io_ctrls $NQN_A1) $(io_ctrls $NQN_B1)"
  log "A: $dca, B: $dcb (created through the referral)"
  t=$(now)
  sanhook connect -t tcp -a $ADDR -s $PORT --persistent -o json > $W/chain2.json 2> $W/chain2.err; rc=$?
  [ $rc = 0 ] || fail "connect A --persistent again" "exit 0" "exit $rc: $(tail -3 $W/chain2.err)"
  udevadm settle -t 10
  [ "$(dcs_at $PORT)" = "$dca" ] && [ "$(dcs_at $PORT_B)" = "$dcb" ] || fail "reuse, never a second" "still only $dca and $dcb" "'$(dcs_at $PORT)' '$(dcs_at $PORT_B)'"
  n=$(nvme_calls_since "$t" " discover " "--persistent" | count)
  [ "$n" = 0 ] || fail "reuse" "no 'nvme discover --persistent' on the second connect" "$n"
  grep -q '"reason":"referral-known"' $W/chain2.json || fail "B is known now" "an item with reason referral-known" "$(said $W/chain2.json)"
  t=$(now)
  ln -s $CFG/subsystems/$NQN_B2 $CFG/ports/2/subsystems/$NQN_B2
  wait_for 45 is_live $NQN_B2 || fail "AEN on B's controller" "$NQN_B2 live within 45 s of the link" "'$(io_ctrls $NQN_B2)'"
  n=$(journal_since "$t" | grep_all 'hook=connect' 'trigger=aen' 'outcome=connected' "subnqn=$NQN_B2" | count)
  [ "$n" = 1 ] || fail "connected by the rule" "one journal line connect trigger=aen outcome=connected $NQN_B2" "$n"
  measure aen_on_referred_dc "$(elapsed "$t")"
}

# 3. A's persistent discovery controller is lost past its ctrl_loss_tmo (3 s):
#    port 1 goes away (its last subsystem unlinked). `lost` arms timerd with
#    reconnect-discovery; when the port is back, timerd's attempt creates one
#    new discovery controller (exactly one), and its AENs work: a subsystem
#    linked to port 1 afterwards is connected by the rule.
discovery_controller_lost() {
  local t t_back rc dca new n
  dca=$(dcs_at $PORT)
  [ -n "$dca" ] || fail "precondition" "A's discovery controller from referral-chain" "none"
  t=$(now)
  rm $CFG/ports/1/subsystems/$NQN_A1         # the port's last subsystem: nvmet disables port 1
  wait_for 30 eval '[ -z "$(dcs_at $PORT)" ]' || fail "the kernel gives up" "$dca removed within 30 s (ctrl_loss_tmo 3)" "$(dcs_at $PORT) $(ctrl_state $dca)"
  log "$dca removed $(elapsed "$t") s after port 1 went away"
  wait_for 15 eval 'timer_keys | grep -qxF "$KEY_A"' || fail "lost arms timerd" "a timer for $KEY_A" "$(timer_keys) / $(journal_since "$t" | grep 'hook=lost' | tail -3)"
  n=$(journal_since "$t" | grep_all 'hook=lost' "$KEY_A" 'outcome=armed' | count)
  [ "$n" -ge 1 ] || fail "lost" "journal: lost $KEY_A armed" "$(journal_since "$t" | grep 'hook=lost' | tail -3)"
  sleep 3
  [ -z "$(dcs_at $PORT)" ] || fail "nothing while the port is away" "no discovery controller at $PORT" "$(dcs_at $PORT)"
  t_back=$(now)
  tgt_link $NQN_A1                           # port 1 back
  wait_for 60 one_live_dc_at $PORT || fail "timerd brings it back" "one live discovery controller at $PORT within 60 s" "'$(dcs_at $PORT)' timers: $(timer_keys)"
  new=$(dcs_at $PORT)
  log "$new live $(elapsed "$t_back") s after port 1 came back"
  measure back_after_port "$(elapsed "$t_back")"
  wait_for 30 eval '! timer_keys | grep -qxF "$KEY_A"' || fail "disarmed" "no timer for $KEY_A once it is back" "$(timer_keys)"
  n=$(grep -c 'reconnect-discovery' $TIMERD_LOG || true)
  [ "$n" -ge 1 ] || fail "through timerd" "timerd ran reconnect-discovery" "$(tail -5 $TIMERD_LOG)"
  sleep 2
  one_live_dc_at $PORT || fail "exactly one" "one discovery controller at $PORT" "'$(dcs_at $PORT)'"
  t=$(now)
  tgt_link $NQN_A2
  wait_for 45 is_live $NQN_A2 || fail "AENs work again" "$NQN_A2 (linked to port 1) live within 45 s" "'$(io_ctrls $NQN_A2)'"
  n=$(journal_since "$t" | grep_all 'hook=connect' 'trigger=aen' 'outcome=connected' "subnqn=$NQN_A2" | count)
  [ "$n" = 1 ] || fail "through the new controller's AEN" "one journal line connect trigger=aen outcome=connected $NQN_A2" "$n"
  measure aen_after_back "$(elapsed "$t")"
}

want() { [ $# -eq 0 ] || [[ " $* " == *" $CASE "* ]]; }
for CASE in referral-loop referral-chain discovery-controller-lost; do
  want "$@" || continue
  case $CASE in
    referral-loop) scenario referral-loop referral_loop ;;
    referral-chain) scenario referral-chain referral_chain ;;
    discovery-controller-lost) scenario discovery-controller-lost discovery_controller_lost ;;
  esac
done
finish
