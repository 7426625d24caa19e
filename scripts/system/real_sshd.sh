#!/usr/bin/env bash
# Usage: scripts/system/real_sshd.sh   (root; after cargo build --release)
# modes: tapstack kernel
#
# Unmodified OpenSSH sshd -D on the tapstack side, with its own config and
# host key in a temp dir (port 2222 on 198.18.0.2, root login by key only,
# no PAM): for each connection it forks, re-executes itself with the
# connection on an inherited fd, and forks again for the session. From the
# kernel side, with a generated key: ssh runs a command (its output
# checked); scp copies a 2 MiB file there and back (SFTP protocol, then
# the legacy protocol, which runs scp on the server side), sha256 checked
# each way.
source "$(dirname "$0")/../lib/netns.sh"
source "$(dirname "$0")/../lib/real.sh"
T=real_sshd
need sshd ssh scp ssh-keygen
need_built $T
real_setup sshd

# sshd's privilege separation directory (the package's tmpfiles make it).
[[ -d /run/sshd ]] || mkdir -p -m 755 /run/sshd
d=$TEST_TMP/ssh
mkdir -p "$d"
ssh-keygen -q -t ed25519 -N '' -f "$d/host_key" || fail "$T: ssh-keygen (host key) failed"
ssh-keygen -q -t ed25519 -N '' -f "$d/client_key" || fail "$T: ssh-keygen (client key) failed"
cp "$d/client_key.pub" "$d/authorized_keys"
cat >"$d/sshd_config" <<CONF
Port 2222
ListenAddress $STACK_IP
HostKey $d/host_key
PidFile $d/sshd.pid
AuthorizedKeysFile $d/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
Subsystem sftp internal-sftp
CONF
start_bg "$TEST_TMP/sshd.out" "$TEST_TMP/sshd.err" "${UNDER[@]}" "$(command -v sshd)" -D -e -f "$d/sshd_config"
pid=$BG_PID
own_tree "$pid" sshd

SSH_OPTS=(-i "$d/client_key" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
    -o BatchMode=yes -o ConnectTimeout=5 -o LogLevel=ERROR)
login() {
    timeout 20 ip netns exec "$NS" ssh "${SSH_OPTS[@]}" -p 2222 "root@$STACK_IP" "$@"
}
wait_for 10 login true ||
    fail "$T: ssh login to sshd on the stack failed: $(tail -n 3 "$TEST_TMP/sshd.err" | tr '\n' ' ')"
got=$(login 'echo "hello from $(id -un)"; echo "$SSH_CONNECTION" | cut -d" " -f3,4') ||
    fail "$T: ssh command failed: $(tail -n 3 "$TEST_TMP/sshd.err" | tr '\n' ' ')"
[[ $got == $'hello from root\n'"$STACK_IP 2222" ]] || fail "$T: ssh command printed: $got"
echo "  ssh login ran a command: $(head -n 1 <<<"$got")"

make_file "$TEST_TMP/file" $((2 << 20))
want=$(sha "$TEST_TMP/file")
for proto in sftp legacy; do
    flag=()
    [[ $proto == legacy ]] && flag=(-O)
    rm -f "$d/remote" "$TEST_TMP/back"
    timeout 30 ip netns exec "$NS" scp "${flag[@]}" "${SSH_OPTS[@]}" -P 2222 "$TEST_TMP/file" "root@$STACK_IP:$d/remote" ||
        fail "$T: scp ($proto) to the server failed: $(tail -n 3 "$TEST_TMP/sshd.err" | tr '\n' ' ')"
    remote=$(login "sha256sum $d/remote" | cut -d' ' -f1)
    [[ $remote == "$want" ]] || fail "$T: scp ($proto): the server's copy has sha256 $remote, want $want"
    timeout 30 ip netns exec "$NS" scp "${flag[@]}" "${SSH_OPTS[@]}" -P 2222 "root@$STACK_IP:$d/remote" "$TEST_TMP/back" ||
        fail "$T: scp ($proto) from the server failed"
    [[ $(sha "$TEST_TMP/back") == "$want" ]] || fail "$T: scp ($proto): the copy back differs"
    echo "  scp ($proto): 2 MiB there and back, sha256 checked"
done
stop_pid "$pid"
pass $T
