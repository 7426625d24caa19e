#!/usr/bin/env bash
# Usage: scripts/system/plot_browser.sh [TRACE]   (after cargo build --release;
#        as root: chromium runs with --no-sandbox)
#
# `tapstack plot` draws a trace (TAPSTACK_TRACE=FILE; by default the
# synthetic lossy bulk transfer in tools/tapstack/tests/data/lossy.trace),
# and a headless chromium shows the pictures: an HTML page embeds the four
# SVGs of the busiest connection, and a script in it measures what the
# browser laid out (getBBox of every text and curve) into the page, which
# --dump-dom prints. Checks: each SVG has its declared size; every text
# with something in it renders with a non-zero box; the ladder has SYN and
# ESTABLISHED on both sides and its peer states are italic; the cwnd chart
# has cwnd, ssthresh and flight curves of non-zero extent and its legend;
# the RTT chart its srtt curve. A screenshot of the page is taken too
# (PLOT_KEEP=DIR keeps it and the SVGs there, to look at).
source "$(dirname "$0")/../lib/netns.sh"
T=plot_browser
TAPSTACK="$ROOT/target/release/tapstack"
[[ -x $TAPSTACK ]] || fail "$T: $TAPSTACK is missing (cargo build --release)"
need chromium python3
TRACE=${1:-$ROOT/tools/tapstack/tests/data/lossy.trace}
[[ -r $TRACE ]] || fail "$T: cannot read the trace $TRACE"

"$TAPSTACK" plot "$TRACE" -o "$TEST_TMP/svg" >"$TEST_TMP/paths" 2>"$TEST_TMP/plot.err" ||
    fail "$T: tapstack plot $TRACE: $(head -c 400 "$TEST_TMP/plot.err")"
[[ -s $TEST_TMP/paths ]] || fail "$T: tapstack plot wrote nothing"
while read -r p; do
    [[ -s $p ]] || fail "$T: tapstack plot printed $p but it is not there"
done <"$TEST_TMP/paths"
# The busiest connection: the one with the biggest ladder.
ladder=$(ls -S "$TEST_TMP"/svg/*-ladder.svg | head -1)
base=${ladder%-ladder.svg}
echo "  $(wc -l <"$TEST_TMP/paths") pictures; checking $(basename "$base")"

page="$TEST_TMP/page.html"
{
    echo '<!DOCTYPE html><html><head><meta charset="utf-8"><title>tapstack plot</title></head><body style="margin:0">'
    for kind in ladder cwnd states rtt; do
        echo "<div id=\"$kind\">"
        cat "$base-$kind.svg"
        echo '</div>'
    done
    cat <<'JS'
<pre id="report"></pre>
<script>
const report = {};
for (const kind of ["ladder", "cwnd", "states", "rtt"]) {
  const svg = document.querySelector("#" + kind + " svg");
  const r = svg.getBoundingClientRect();
  const texts = [...svg.querySelectorAll("text")];
  const empty = texts.filter(t => t.textContent.trim() !== "").filter(t => {
    const b = t.getBBox();
    return !(b.width > 0 && b.height > 0);
  }).map(t => t.textContent);
  const box = sel => {
    const e = svg.querySelector(sel);
    if (!e) return null;
    const b = e.getBBox();
    return [b.width, b.height];
  };
  const grab = sel => [...svg.querySelectorAll(sel)].map(t => t.textContent);
  report[kind] = {
    size: [r.width, r.height],
    declared: [+svg.getAttribute("width"), +svg.getAttribute("height")],
    texts: texts.length,
    zero_size_texts: empty,
    min_text_height: Math.min(...texts.filter(t => t.textContent.trim() !== "").map(t => t.getBBox().height)),
    ours: grab("text.state.ours"),
    peer: grab("text.state.peer"),
    peer_styles: [...svg.querySelectorAll("text.state.peer")].map(t => getComputedStyle(t).fontStyle),
    legend: grab("text.legend-entry"),
    segs: grab("text.seg-label").length,
    cwnd: box("polyline.series.cwnd"),
    ssthresh: box("polyline.series.ssthresh"),
    flight: box("polyline.series.flight"),
    srtt: box("polyline.series.srtt"),
    rows: grab("text.state-row"),
  };
}
document.getElementById("report").textContent = "REPORT " + JSON.stringify(report) + " END";
</script></body></html>
JS
} >"$page"

chrome() {
    chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$(mktemp -d "$TEST_TMP/profile.XXXXXX")" --hide-scrollbars "$@" 2>>"$TEST_TMP/chromium.err"
}
chrome --virtual-time-budget=10000 --dump-dom "file://$page" >"$TEST_TMP/dom.html" ||
    fail "$T: chromium --dump-dom failed: $(tail -c 400 "$TEST_TMP/chromium.err")"
python3 - "$TEST_TMP/dom.html" <<'EOF' || fail "$T: the browser's layout is wrong (page and DOM in $TEST_TMP)"
import html, json, re, sys
dom = open(sys.argv[1], encoding="utf-8").read()
m = re.search(r"REPORT (.*?) END", dom, re.S)
assert m, "the page's script did not run"
r = json.loads(html.unescape(m.group(1)))
for kind, k in r.items():
    assert k["size"] == k["declared"] and k["size"][0] > 500, (kind, k["size"], k["declared"])
    assert k["texts"] > 5, (kind, k["texts"])
    assert not k["zero_size_texts"], (kind, "texts with an empty box", k["zero_size_texts"][:10])
    assert k["min_text_height"] >= 8, (kind, "text too small", k["min_text_height"])
l = r["ladder"]
assert l["segs"] >= 3, l["segs"]
for s in ("SYN-SENT", "ESTABLISHED"):
    assert s in l["ours"] or s in l["peer"], (s, l["ours"], l["peer"])
assert "ESTABLISHED" in l["ours"] and "ESTABLISHED" in l["peer"], (l["ours"], l["peer"])
assert l["peer_styles"] and set(l["peer_styles"]) == {"italic"}, l["peer_styles"]
c = r["cwnd"]
# Curves that span the time axis (a short connection's may be flat).
for series in ("cwnd", "flight"):
    assert c[series] and c[series][0] > 50, (series, c[series])
assert c["legend"][:3] == ["cwnd", "ssthresh", "bytes in flight"], c["legend"]
assert "slow start" in c["legend"], c["legend"]
assert r["rtt"]["srtt"] and r["rtt"]["srtt"][0] > 50, r["rtt"]["srtt"]
assert "ESTABLISHED" in r["states"]["rows"], r["states"]["rows"]
print("  in chromium: %d texts, all with a size; ladder %d segments, ours %s, peer (inferred) %s; cwnd curve %.0fx%.0f px" % (
    sum(k["texts"] for k in r.values()), l["segs"], "/".join(l["ours"]), "/".join(l["peer"]), c["cwnd"][0], c["cwnd"][1]))
if c["ssthresh"]:
    print("  ssthresh curve %.0fx%.0f px; legend: %s" % (c["ssthresh"][0], c["ssthresh"][1], ", ".join(c["legend"])))
EOF

chrome --window-size=1060,3000 --screenshot="$TEST_TMP/page.png" "file://$page" >/dev/null ||
    fail "$T: chromium --screenshot failed: $(tail -c 400 "$TEST_TMP/chromium.err")"
[[ -s $TEST_TMP/page.png ]] || fail "$T: no screenshot"
if [[ -n ${PLOT_KEEP:-} ]]; then
    mkdir -p "$PLOT_KEEP"
    cp "$TEST_TMP/page.png" "$TEST_TMP/page.html" "$TEST_TMP"/svg/*.svg "$PLOT_KEEP/"
    echo "  kept in $PLOT_KEEP: page.png, page.html and the SVGs"
fi
pass $T
