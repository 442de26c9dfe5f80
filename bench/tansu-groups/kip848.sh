#!/usr/bin/env bash
# One consumer with group.protocol=consumer (KIP-848) for 20 s against Tansu; does it get an assignment?
cd "$(dirname "$0")"; B=${BROKER:-127.0.0.1:61092}
R=runs/kip848; rm -rf $R; mkdir -p $R
./probe create $B t-kip848 6 > $R/create.log
./probe produce $B t-kip848 12 10 5 > $R/prod.log 2>&1
timeout -s TERM 20 ./probe consume $B t-kip848 g-kip848 k1 cooperative-sticky 5 group.protocol=consumer debug=cgrp > $R/k1.log 2>&1
echo "MSG lines: $(grep -c ' MSG ' $R/k1.log)  ASSIGN lines: $(grep -c ' ASSIGN ' $R/k1.log)"
grep -E ' ERR |ConsumerGroupHeartbeat|not supported|UNSUPPORTED|group.protocol' $R/k1.log | head -15
