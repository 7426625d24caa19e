#!/usr/bin/env bash
# Usage: scripts/system/real_gunicorn.sh   (root; after cargo build --release)
# modes: tapstack kernel
#
# Unmodified gunicorn (pre-fork: the arbiter binds, then forks its sync
# workers, which accept on the inherited listener) with 2 workers and a
# tiny WSGI app on the tapstack side. From the kernel side: 20 GETs whose
# bodies name the path, a 1 MiB POST echoed back (sha256), and wrk for 2 s
# with every body checked and no socket error. Both workers must stay up.
source "$(dirname "$0")/../lib/netns.sh"
source "$(dirname "$0")/../lib/real.sh"
T=real_gunicorn
need gunicorn curl wrk
need_built $T
real_setup gunicorn

cat >"$TEST_TMP/app.py" <<'PY'
def app(environ, start_response):
    if environ["REQUEST_METHOD"] == "POST":
        n = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(n)
    else:
        body = ("hello " + environ["PATH_INFO"] + "\n").encode()
    start_response("200 OK", [("Content-Type", "application/octet-stream"),
                              ("Content-Length", str(len(body)))])
    return [body]
PY

start_bg "$TEST_TMP/g.out" "$TEST_TMP/g.err" "${UNDER[@]}" "$(command -v gunicorn)" \
    --workers 2 --bind "$STACK_IP:8000" --chdir "$TEST_TMP" --log-level info app:app
pid=$BG_PID
own_tree "$pid" gunicorn
wait_for 15 ns_exec curl -s --max-time 2 -o /dev/null "http://$STACK_IP:8000/probe" ||
    fail "$T: gunicorn does not answer: $(tail -n 3 "$TEST_TMP/g.err" | tr '\n' ' ')"
two_workers() { (($(pgrep -P "$pid" | wc -l) == 2)); }
wait_for 10 two_workers ||
    fail "$T: gunicorn has $(pgrep -P "$pid" | wc -l) workers, want 2"
workers=$(pgrep -P "$pid" | sort | tr '\n' ' ')

for i in $(seq 1 20); do
    got=$(ns_exec curl -s --max-time 10 "http://$STACK_IP:8000/path$i") ||
        fail "$T: GET /path$i failed"
    [[ $got == "hello /path$i" ]] || fail "$T: GET /path$i answered '$got'"
done
echo "  20 GETs answered with their path"

make_file "$TEST_TMP/post" $((1 << 20))
ns_exec curl -s --max-time 20 --data-binary @"$TEST_TMP/post" -H 'Content-Type: application/octet-stream' \
    -o "$TEST_TMP/posted" "http://$STACK_IP:8000/echo" || fail "$T: the 1 MiB POST failed"
[[ $(sha "$TEST_TMP/posted") == $(sha "$TEST_TMP/post") ]] ||
    fail "$T: the 1 MiB POST came back with other content ($(stat -c %s "$TEST_TMP/posted") bytes)"
echo "  1 MiB POST echoed back (sha256)"

cat >"$TEST_TMP/check.lua" <<'LUA'
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) good = 0; bad = 0 end
function response(status, headers, body)
  if status == 200 and body == "hello /wrk\n" then good = good + 1 else bad = bad + 1 end
end
function done(summary, latency, requests)
  local g, b = 0, 0
  for _, t in ipairs(threads) do g = g + t:get("good"); b = b + t:get("bad") end
  io.write(string.format("CHECKED good=%d bad=%d\n", g, b))
end
LUA
out=$(timeout 30 ip netns exec "$NS" wrk -t 2 -c 4 -d 2s --timeout 5s -s "$TEST_TMP/check.lua" \
    "http://$STACK_IP:8000/wrk" 2>&1) || fail "$T: wrk failed: $(tail -n 3 <<<"$out" | tr '\n' ' ')"
checked=$(grep -o 'CHECKED good=[0-9]* bad=[0-9]*' <<<"$out") || fail "$T: wrk printed no check"
[[ $checked =~ good=([0-9]+)\ bad=0$ ]] && ((BASH_REMATCH[1] > 0)) || fail "$T: wrk: $checked"
! grep -q 'Socket errors' <<<"$out" || fail "$T: wrk: $(grep 'Socket errors' <<<"$out")"
echo "  wrk: ${BASH_REMATCH[1]} responses checked, no socket error"

[[ $(pgrep -P "$pid" | sort | tr '\n' ' ') == "$workers" ]] ||
    fail "$T: the workers changed (a worker died): $(grep -iE 'error|exit' "$TEST_TMP/g.err" | tail -n 3 | tr '\n' ' ')"
stop_pid "$pid"
pass $T
