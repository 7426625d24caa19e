#!/usr/bin/env python3
"""Writes lossy.trace: a synthetic trace of a bulk transfer from tapstack
(the client) to a peer, 10 ms away, with one lost segment (three duplicate
ACKs, fast recovery) and later a blackout (an RTO, loss, slow start up to
ssthresh, congestion avoidance); then an active close. A simple NewReno
sender, simulated; only for the plot's tests (run: python3 make_lossy.py >
lossy.trace)."""
import heapq, json

MSS = 1448
OUR_ISN = 4294900000  # our data wraps past 2^32
PEER_ISN = 4294967290
LOCAL, REMOTE = "198.18.0.2:41000", "198.18.0.1:5001"
CONN = f"{LOCAL}-{REMOTE}"
TOTAL = 180 * MSS
OWD = 5000  # one-way delay, us
LOST_ONCE = {44}  # segment indexes lost on first transmission
BLACKOUT = (None, None)

out = []
def ev(t, kind, **kw):
    d = {"t_us": t, "conn": CONN, "ev": kind}
    d.update(kw)
    out.append(json.dumps(d, separators=(",", ":")))

def u32(x):
    return x % (1 << 32)

class S: pass
s = S()
s.una = s.nxt = 0  # relative data offsets
s.cwnd = 4 * MSS
s.ssthresh = None
s.ca = "open"
s.dup = 0
s.recover = 0
s.srtt = 0
s.rttvar = 0
s.rto = 1000000
s.sent_at = {}
s.rto_deadline = None
s.backoff = 0
s.link = 0
q = []  # (time, seq, kind, data)
n = 0
def push(t, kind, data):
    global n
    n += 1
    heapq.heappush(q, (t, n, kind, data))

last_cc = None
def cc(t):
    global last_cc
    flight = s.nxt - s.una - (s.dup * MSS if s.ca == "recovery" else 0)
    key = (s.cwnd, s.ssthresh, s.ca, s.srtt)
    if key == last_cc:
        return
    last_cc = key
    ev(t, "cc", cwnd=s.cwnd, ssthresh=s.ssthresh if s.ssthresh else 4294967295,
       flight=max(flight, 0), rwnd=262144, srtt_us=s.srtt, rttvar_us=s.rttvar,
       rto_us=s.rto, mss=MSS, ca_state=s.ca)

state = ["CLOSED"]
def st(t, to, cause):
    ev(t, "state", **{"from": state[0], "to": to, "cause": cause})
    state[0] = to

lost_seen = set()
def send_data(t, off, retrans=False):
    # One segment at a time on the link, 100 us each.
    t = max(t, s.link)
    s.link = t + 100
    idx = off // MSS
    ln = min(MSS, TOTAL - off)
    ev(t, "seg", dir="out", flags="P." if off + ln == TOTAL else ".", seq=u32(OUR_ISN + 1 + off),
       ack=u32(PEER_ISN + 1), win=262144, len=ln, opts="")
    lost = False
    if idx in LOST_ONCE and idx not in lost_seen:
        lost_seen.add(idx); lost = True
    if BLACKOUT[0] is not None and BLACKOUT[0] <= t < BLACKOUT[1]:
        lost = True
    if not retrans:
        s.sent_at[off] = t
    else:
        s.sent_at.pop(off, None)  # Karn: no sample from a retransmission
    if not lost:
        push(t + OWD, "arrive", (off, ln))
    if s.rto_deadline is None:
        s.rto_deadline = t + s.rto
        push(s.rto_deadline, "rto", s.rto_deadline)

def try_send(t):
    while s.nxt < TOTAL:
        flight = s.nxt - s.una - (s.dup * MSS if s.ca == "recovery" else 0)
        if flight + MSS > s.cwnd:
            break
        send_data(t, s.nxt)
        s.nxt += min(MSS, TOTAL - s.nxt)

# Receiver state.
rcv = {"nxt": 0, "ooo": set()}

# Handshake.
t = 1000
st(t, "SYN_SENT", "connect")
ev(t, "seg", dir="out", flags="S", seq=OUR_ISN, ack=0, win=64240, len=0, opts="mss 1448,sackOK,TS val 1 ecr 0,nop,wscale 7")
cc(t)
t += 2 * OWD
ev(t, "seg", dir="in", flags="S.", seq=PEER_ISN, ack=u32(OUR_ISN + 1), win=65160, len=0, opts="mss 1460,sackOK,TS val 9 ecr 1,nop,wscale 7")
st(t, "ESTABLISHED", "rcvd SYN-ACK")
s.srtt, s.rttvar = 2 * OWD, OWD
s.rto = max(200000, s.srtt + 4 * s.rttvar)
cc(t)
ev(t, "seg", dir="out", flags=".", seq=u32(OUR_ISN + 1), ack=u32(PEER_ISN + 1), win=262144, len=0, opts="")
try_send(t + 10)

fin_sent = [False]
fin_acked = [False]
while q:
    t, _, kind, data = heapq.heappop(q)
    if kind == "arrive":
        off, ln = data
        if off == rcv["nxt"]:
            rcv["nxt"] += ln
            while rcv["nxt"] in rcv["ooo"]:
                rcv["ooo"].discard(rcv["nxt"])
                rcv["nxt"] += min(MSS, TOTAL - rcv["nxt"])
        elif off > rcv["nxt"]:
            rcv["ooo"].add(off)
        push(t + OWD, "ack", rcv["nxt"])
    elif kind == "ack":
        a = data
        ev(t, "seg", dir="in", flags=".", seq=u32(PEER_ISN + 1), ack=u32(OUR_ISN + 1 + a), win=262144, len=0, opts="")
        if a > s.una:
            sample = t - s.sent_at[a - min(MSS, a)] if (a - min(MSS, a)) in s.sent_at else None
            if sample:
                err = sample - s.srtt
                s.rttvar = (3 * s.rttvar + abs(err)) // 4
                s.srtt = (7 * s.srtt + sample) // 8
                s.rto = max(200000, s.srtt + 4 * s.rttvar)
            acked = a - s.una
            s.una = a
            s.backoff = 0
            if s.ca == "recovery":
                if a >= s.recover:
                    s.ca = "open"; s.cwnd = s.ssthresh; s.dup = 0
                else:
                    send_data(t, s.una, retrans=True)  # NewReno partial ACK
            elif s.ca == "loss":
                s.cwnd += MSS if s.cwnd < s.ssthresh else MSS * MSS // s.cwnd
                if a >= s.recover:
                    s.ca = "open"
            else:
                s.dup = 0
                if s.ssthresh is None or s.cwnd < s.ssthresh:
                    s.cwnd += min(acked, MSS)
                else:
                    s.cwnd += MSS * MSS // s.cwnd
            s.rto_deadline = t + s.rto if s.una < s.nxt else None
            if s.rto_deadline:
                push(s.rto_deadline, "rto", s.rto_deadline)
            cc(t)
            # Go-back-N after an RTO: resend from una.
            if s.ca == "loss" and s.nxt < s.recover:
                pass
            try_send(t + 10)
        elif a == s.una and s.nxt > s.una:
            s.dup += 1
            if s.dup == 3 and s.ca == "open":
                s.ssthresh = max((s.nxt - s.una) // 2, 2 * MSS)
                s.cwnd = s.ssthresh
                s.ca = "recovery"
                s.recover = s.nxt
                cc(t)
                send_data(t, s.una, retrans=True)
            elif s.ca == "recovery":
                cc(t)
                try_send(t + 10)
        if s.una >= TOTAL and not fin_sent[0]:
            fin_sent[0] = True
            st(t + 50, "FIN_WAIT_1", "close")
            ev(t + 50, "seg", dir="out", flags="F.", seq=u32(OUR_ISN + 1 + TOTAL), ack=u32(PEER_ISN + 1), win=262144, len=0, opts="")
            push(t + 50 + 2 * OWD, "finack", None)
        if a > 75 * MSS and BLACKOUT[0] is None and s.ca == "open" and s.ssthresh:
            # Lose everything sent next for a while: no duplicate ACKs, an RTO.
            BLACKOUT = (t, t + 30000)
    elif kind == "rto":
        if data != s.rto_deadline or s.una >= s.nxt:
            continue
        ev(t, "timer", timer="rto", action="fired")
        s.ssthresh = max((s.nxt - s.una) // 2, 2 * MSS)
        s.cwnd = MSS
        s.ca = "loss"
        s.recover = s.nxt
        s.dup = 0
        s.rto = min(s.rto * 2, 60000000)
        s.nxt = s.una
        s.rto_deadline = None
        cc(t)
        send_data(t, s.una, retrans=True)
        s.nxt = s.una + MSS
        # Retransmissions from una onwards are taken as such.
        for off in list(s.sent_at):
            if off >= s.una:
                s.sent_at.pop(off)
    elif kind == "finack":
        ev(t, "seg", dir="in", flags=".", seq=u32(PEER_ISN + 1), ack=u32(OUR_ISN + 2 + TOTAL), win=262144, len=0, opts="")
        st(t, "FIN_WAIT_2", "rcvd ACK of FIN")
        ev(t + 300, "seg", dir="in", flags="F.", seq=u32(PEER_ISN + 1), ack=u32(OUR_ISN + 2 + TOTAL), win=262144, len=0, opts="")
        st(t + 300, "TIME_WAIT", "rcvd FIN")
        ev(t + 310, "seg", dir="out", flags=".", seq=u32(OUR_ISN + 2 + TOTAL), ack=u32(PEER_ISN + 2), win=262144, len=0, opts="")
        ev(t + 310 + 60000000, "timer", timer="time_wait", action="fired")
        st(t + 310 + 60000000, "CLOSED", "2MSL timeout")

print(json.dumps({"trace": "tapstack", "version": 1, "pid": 777, "ifname": "tap0", "ip": "198.18.0.2"}, separators=(",", ":")))
# The library writes events as they happen: in time order.
for line in sorted(out, key=lambda l: json.loads(l)["t_us"]):
    print(line)
