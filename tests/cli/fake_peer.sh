#!/bin/sh
# fake_peer.sh - a stand-in for a framework in `cl16 bench train --peer`
# (test_cli.sh): called as `fake_peer.sh --serve MODEL --batch B`, it greets
# with a JSON line (its "device" echoes MODEL and B), then answers each
# "step" line after 50 ms with "ok 2.5". FAKE_PEER_MODE makes it misbehave:
# silent (exits 3 before greeting), garbled (greets with text that is not
# JSON), dies (exits 5 at its third step), refuses (answers "error ...").
mode=${FAKE_PEER_MODE:-ok}
case "$mode" in
silent) exit 3 ;;
garbled) echo "hello there"; cat >/dev/null; exit 0 ;;
esac
echo "{\"peer\": \"fake\", \"version\": \"0.1\", \"precision\": \"fp32\", \"threads\": 1, \"device\": \"$2 at $4\"}"
n=0
while read -r line; do
    n=$((n + 1))
    [ "$mode" = dies ] && [ "$n" -ge 3 ] && exit 5
    if [ "$mode" = refuses ]; then
        echo "error out of memory"
        continue
    fi
    sleep 0.05
    echo "ok 2.5"
done
