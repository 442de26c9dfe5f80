#!/usr/bin/env bash
# Does Tansu fence offset commits? 2 consumers (range) own the 6 partitions and have committed;
# producer stops; a client OUTSIDE the group (generation -1, no member id) commits partition 0 -> 0
# and partition 1 -> 5. Kafka rejects such a commit while the group has members (UNKNOWN_MEMBER_ID /
# ILLEGAL_GENERATION). Then c3 joins (rebalance): where do the new owners resume?
cd "$(dirname "$0")"; B=127.0.0.1:61092
R=runs/fence-range-1; rm -rf $R; mkdir -p $R; cd $R
ms() { date +%s%3N; }; ev() { echo "$(ms) $1 ${2:--}" >> events.log; }
TOPIC=t-fence-$RANDOM GROUP=g-fence-$RANDOM; echo "$TOPIC $GROUP" > meta
../../probe create $B $TOPIC 6 > create.log
ev start3
declare -A PID
for c in c1 c2; do ../../probe consume $B $TOPIC $GROUP $c range 5 > $c.log 2>&1 & PID[$c]=$!; done
../../probe produce $B $TOPIC 12 20 0 > prod.log 2>&1 & PP=$!
sleep 15; ev quiesce; kill -TERM $PP; wait $PP; sleep 5
../../probe committed $B $TOPIC $GROUP 6 > committed-1-before.log 2>&1
ev rawcommit
../../probe rawcommit $B $TOPIC $GROUP 0 0 > rawcommit.log 2>&1
../../probe rawcommit $B $TOPIC $GROUP 1 5 >> rawcommit.log 2>&1
../../probe committed $B $TOPIC $GROUP 6 > committed-2-after-rawcommit.log 2>&1
ev join c3; ../../probe consume $B $TOPIC $GROUP c3 range 5 > c3.log 2>&1 & PID[c3]=$!
sleep 12
../../probe committed $B $TOPIC $GROUP 6 > committed-3-after-rebalance.log 2>&1
ev shutdown; for c in c1 c2 c3; do kill -TERM ${PID[$c]}; done; wait; ev end
python3 ../../analyze.py . > summary.json
cat rawcommit.log committed-1-before.log committed-2-after-rawcommit.log committed-3-after-rebalance.log | grep -v COMMITTED-CALL
