#!/usr/bin/env bash
# Tansu restart under memory storage: 3 consumers (cooperative-sticky) + producer; TERM tansu at +15 s,
# restart at +20 s; recreate the topic (as deploy/services.sh does) at +22 s; observe until +50 s.
cd "$(dirname "$0")"; B=127.0.0.1:61092; U=tcp://$B; T=${TANSU:-$(cd "$(dirname "$0")/../.." && pwd)/var/tools/tansu}
R=runs/restart; rm -rf $R; mkdir -p $R; cd $R
ms() { date +%s%3N; }; ev() { echo "$(ms) $1 ${2:--}" >> events.log; }
../../probe create $B t-restart 6 > create.log
ev start3
for c in c1 c2 c3; do ../../probe consume $B t-restart g-restart $c cooperative-sticky 5 > $c.log 2>&1 & echo $! > $c.pid; done
../../probe produce $B t-restart 12 20 0 > prod.log 2>&1 & echo $! > prod.pid
sleep 15
../../probe committed $B t-restart g-restart 6 > committed-before.log 2>&1
ev tansu-stop; kill -TERM $(cat ../../tansu.pid); sleep 5
ev tansu-start
nohup $T broker --listener-url $U --advertised-listener-url $U --storage-engine memory://tansu/ >> ../../tansu.log 2>&1 &
echo $! > ../../tansu.pid; sleep 2
../../probe committed $B t-restart g-restart 6 > committed-after-restart.log 2>&1
ev topic-recreate; ../../probe create $B t-restart 6 > create2.log 2>&1
sleep 25
ev quiesce; kill -TERM $(cat prod.pid); sleep 6
../../probe committed $B t-restart g-restart 6 > committed-end.log 2>&1
ev shutdown; for c in c1 c2 c3; do kill -TERM $(cat $c.pid); done; for c in c1 c2 c3; do wait $(cat $c.pid); done; ev end
