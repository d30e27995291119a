"""The review page (`raiwatch review`): one self-contained HTML document, no external resources."""

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>raiwatch review</title>
<style>
body { font-family: "DejaVu Sans", sans-serif; margin: 0; display: flex; height: 100vh; color: #1d2433; }
#queue { width: 320px; border-right: 1px solid #d0d5dd; overflow-y: auto; background: #f6f7f9; }
#queue h1 { font-size: 16px; margin: 14px; }
#queue .row { padding: 8px 14px; border-bottom: 1px solid #e4e7ec; cursor: pointer; font-size: 13px; }
#queue .row.current { background: #dbe8ff; }
#queue .meta { color: #667085; font-size: 12px; overflow-wrap: anywhere; }
#item { flex: 1; padding: 20px 28px; overflow-y: auto; }
.text { white-space: pre-wrap; border: 1px solid #d0d5dd; border-radius: 6px; padding: 10px 12px; margin: 6px 0 16px;
        background: #fff; line-height: 1.45; }
mark { background: #ffd166; padding: 0 2px; border-radius: 3px; }
button { font-size: 14px; padding: 8px 14px; margin-right: 8px; border-radius: 6px; border: 1px solid #98a2b3;
         background: #fff; cursor: pointer; }
button kbd { font-size: 11px; color: #667085; margin-left: 6px; }
textarea { width: 100%; height: 80px; font: inherit; margin: 6px 0 14px; }
#status { color: #067647; margin-top: 12px; min-height: 20px; }
.empty { color: #667085; margin-top: 40px; }
</style></head>
<body>
<div id="queue"><h1>Review queue <span id="count"></span></h1><div id="rows"></div></div>
<div id="item"><p class="empty">Loading...</p></div>
<script>
const LABELS = [["violation", "v", "Violation"], ["safe", "s", "Safe"], ["over_refusal", "o", "Over-refusal"],
                ["unsure", "u", "Unsure"]];
let items = [], current = null;
function esc(t) { return String(t).replace(/[&<>"]/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c])); }
function highlighted(text, spans) {
  let out = "", last = 0;
  for (const s of spans.slice().sort((a, b) => a.start - b.start)) {
    if (s.start < last || s.end <= s.start) continue;
    out += esc(text.slice(last, s.start)) + '<mark title="' + esc(s.label) + '">' + esc(text.slice(s.start, s.end)) + "</mark>";
    last = s.end;
  }
  return out + esc(text.slice(last));
}
async function loadQueue() {
  const data = await (await fetch("/api/queue")).json();
  items = data.items;
  document.getElementById("count").textContent = "(" + items.length + ")";
  document.getElementById("rows").innerHTML = items.map(i =>
    '<div class="row" data-id="' + esc(i.review_id) + '"><div>' + esc(i.pillar) + (i.category ? " / " + esc(i.category) : "") +
    '</div><div class="meta">' + esc(i.reason) + " - " + esc(i.tenant) + "</div></div>").join("");
  document.querySelectorAll("#queue .row").forEach(r => r.onclick = () => show(r.dataset.id));
  if (!items.length) { current = null;
    document.getElementById("item").innerHTML = '<p class="empty" id="done">Nothing to review.</p>'; return; }
  if (!current || !items.some(i => i.review_id === current)) show(items[0].review_id); else mark();
}
function mark() { document.querySelectorAll("#queue .row").forEach(r => r.classList.toggle("current", r.dataset.id === current)); }
async function show(id) {
  current = id; mark();
  const item = await (await fetch("/api/item/" + encodeURIComponent(id))).json();
  const ev = item.evidence || [];
  document.getElementById("item").innerHTML =
    "<h2>" + esc(item.pillar) + (item.category ? " / " + esc(item.category) : "") + "</h2>" +
    '<div class="meta">' + esc(item.reason) + " &middot; tenant " + esc(item.tenant) + " &middot; request " + esc(item.request_id) + "</div>" +
    "<h3>Prompt</h3><div class='text' id='prompt'>" + highlighted(item.prompt, ev.filter(e => e.source === "prompt")) + "</div>" +
    "<h3>Output</h3><div class='text' id='output'>" + highlighted(item.output, ev.filter(e => e.source === "output")) + "</div>" +
    "<h3>A better answer (optional)</h3><textarea id='better'></textarea><div>" +
    LABELS.map(([l, k, t]) => '<button id="label-' + l + '" data-label="' + l + '">' + t + "<kbd>" + k + "</kbd></button>").join("") +
    "</div><div id='status'></div>";
  document.querySelectorAll("button[data-label]").forEach(b => b.onclick = () => label(b.dataset.label));
}
async function label(value) {
  if (!current) return;
  const reply = await fetch("/api/label", {method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify({review_id: current, label: value, preferred_output: document.getElementById("better").value})});
  const body = await reply.json();
  document.getElementById("status").textContent = reply.ok ? "labelled " + value : "error: " + body.error;
  if (reply.ok) { current = null; await loadQueue(); }
}
document.addEventListener("keydown", e => {
  if (e.target.tagName === "TEXTAREA") return;
  const hit = LABELS.find(([, k]) => k === e.key);
  if (hit) { e.preventDefault(); label(hit[0]); }
});
loadQueue();
</script></body></html>
"""
