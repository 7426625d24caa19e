#!/usr/bin/env bash
# Usage: scripts/system/real_postgres.sh   (root; after cargo build --release)
# modes: tapstack kernel
#
# Unmodified PostgreSQL: a cluster made by initdb in a temp dir, the
# postmaster run as the postgres user (it refuses root; tap0 is made
# attachable by that user), listening on the stack's address only. The
# postmaster forks a backend per connection (and its background
# processes). From the kernel side, psql runs queries on 10 concurrent
# connections, each creating, filling and summing a table of its own; every
# result is checked. SIGINT (fast shutdown) then ends it.
source "$(dirname "$0")/../lib/netns.sh"
source "$(dirname "$0")/../lib/real.sh"
T=real_postgres
need psql pg_ctlcluster setpriv python3
need_built $T
PGBIN=$(find /usr/lib/postgresql -maxdepth 3 -path '*/bin/postgres' 2>/dev/null | sort -V | tail -n 1)
PGBIN=${PGBIN%/postgres}
[[ -n $PGBIN && -x $PGBIN/initdb ]] || fail "$T: no /usr/lib/postgresql/*/bin/postgres and initdb (apt-get install postgresql)"
id postgres >/dev/null 2>&1 || fail "$T: no postgres user (apt-get install postgresql makes it)"
# The postmaster opens the TAP as postgres: /dev/net/tun must be open to
# every user, as distributions ship it (mode 0666).
setpriv --reuid postgres --regid postgres --init-groups test -r /dev/net/tun -a -w /dev/net/tun ||
    fail "$T: /dev/net/tun is not open to the postgres user (mode $(stat -c %a /dev/net/tun); distributions ship 0666: chmod 0666 /dev/net/tun)"
TAP_USER=postgres real_setup postgres

AS_PG=(setpriv --reuid postgres --regid postgres --init-groups)
chmod 755 "$TEST_TMP"
pg=$TEST_TMP/pg
mkdir -p "$pg"
chown postgres:postgres "$pg"
LC_ALL=C timeout 60 "${AS_PG[@]}" "$PGBIN/initdb" -D "$pg/data" -A trust -U postgres --no-sync \
    >"$TEST_TMP/initdb.out" 2>&1 || fail "$T: initdb failed: $(tail -n 3 "$TEST_TMP/initdb.out" | tr '\n' ' ')"
# initdb's pg_hba.conf trusts local and loopback only: the kernel side too.
echo "host all all 198.18.0.0/24 trust" >>"$pg/data/pg_hba.conf"

# setpriv runs before the preload: UNDER is "ip netns exec NS" then "env
# VAR=...". (setpriv itself under the preload aborts with SIGABRT when it
# changes groups, before exec: not what this test is about.)
[[ ${UNDER[0]} == ip && ${UNDER[3]} == "$NS"* && ${UNDER[4]} == env ]] ||
    fail "$T: UNDER is not 'ip netns exec NS env ...': ${UNDER[*]}"
start_bg "$TEST_TMP/pg.out" "$TEST_TMP/pg.err" "${UNDER[@]:0:4}" "${AS_PG[@]}" "${UNDER[@]:4}" LC_ALL=C "$PGBIN/postgres" \
    -D "$pg/data" -p 5432 -c listen_addresses="$STACK_IP" -c unix_socket_directories="$pg" \
    -c fsync=off -c max_connections=40
pid=$BG_PID
own_tree "$pid" postgres
export PGCONNECT_TIMEOUT=3
wait_for 20 ns_exec psql -h "$STACK_IP" -p 5432 -U postgres -d postgres -Atc 'select 1' -o /dev/null ||
    fail "$T: postgres does not answer: $(tail -n 3 "$TEST_TMP/pg.err" | tr '\n' ' ')"

clients=()
for i in $(seq 1 10); do
    timeout 30 ip netns exec "$NS" psql -h "$STACK_IP" -p 5432 -U postgres -d postgres -At -v ON_ERROR_STOP=1 \
        >"$TEST_TMP/psql.$i" 2>&1 <<SQL &
create table t$i (n int, s text);
insert into t$i select g, md5(g::text || '-$i') from generate_series(1, 2000) g;
select count(*), sum(n) from t$i;
select md5(string_agg(s, ',' order by n)) from t$i;
select pg_sleep(0.2);
select current_setting('listen_addresses'), inet_server_addr();
SQL
    clients+=($!)
done
for i in $(seq 1 10); do
    wait "${clients[$((i - 1))]}" || fail "$T: psql connection $i failed: $(tail -n 2 "$TEST_TMP/psql.$i" | tr '\n' ' ')"
    want_md5=$(python3 -c '
import hashlib, sys
i = sys.argv[1]
rows = ",".join(hashlib.md5(f"{n}-{i}".encode()).hexdigest() for n in range(1, 2001))
print(hashlib.md5(rows.encode()).hexdigest())' "$i")
    want=$(printf 'CREATE TABLE\nINSERT 0 2000\n2000|2001000\n%s\n\n%s|%s' "$want_md5" "$STACK_IP" "$STACK_IP")
    [[ $(cat "$TEST_TMP/psql.$i") == "$want" ]] ||
        fail "$T: psql connection $i answered: $(tr '\n' ' ' <"$TEST_TMP/psql.$i"), want: $(tr '\n' ' ' <<<"$want")"
done
echo "  10 concurrent psql connections: tables made, counted, summed and hashed; results checked"
backends=$(pgrep -P "$pid" | wc -l)
echo "  postmaster has $backends child processes"
kill -INT "$pid"
wait_exit "$pid" 15 || fail "$T: postgres did not stop after SIGINT (fast shutdown)"
pass $T
