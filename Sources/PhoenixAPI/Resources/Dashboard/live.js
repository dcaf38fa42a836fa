// The dashboard's live updates. The job events of every queue (or, on a job's page, of that job) arrive as
// server-sent events from /dashboard/events: the overview lists the latest 50 in its feed, and each page reads
// itself again and swaps in its [data-refresh] sections, at most once a second while events come, keeping the
// boxes ticked. Text goes in with textContent, never as HTML. Without this script the pages reload every 5 s.
"use strict";
(() => {
  const body = document.body;
  const status = document.getElementById("live-status");
  const feed = document.querySelector("#live tbody");
  const kinds = ["queued", "started", "progress", "completed", "failed", "dead", "cancelled"];
  // Only queued events name the job's type: the feed remembers it for the job's later events.
  const types = new Map();

  // "Select all" on the search results.
  document.getElementById("select-all")?.addEventListener("change", (change) => {
    for (const box of document.querySelectorAll("input[type=checkbox][form=bulk-results]")) box.checked = change.target.checked;
  });
  // Set once the handlers above are in place (the browser tests wait for it before they click).
  body.dataset.script = "ready";
  if (!feed && !document.querySelector("[data-refresh]")) return;

  function say(state, text) {
    body.dataset.live = state;
    if (status) status.textContent = text;
  }

  function cell(row, text, className) {
    const td = row.insertCell();
    td.textContent = text ?? "";
    if (className) td.className = className;
    return td;
  }

  function show(kind, event) {
    if (!feed) return;
    const row = feed.insertRow(0);
    row.dataset.job = event.id;
    row.dataset.event = kind;
    cell(row, new Date(event.at).toLocaleTimeString());
    cell(row, event.queue);
    const link = document.createElement("a");
    link.href = "/dashboard/jobs/" + encodeURIComponent(event.id);
    link.textContent = event.id;
    cell(row, "", "muted").append(link);
    if (event.type) types.set(event.id, event.type);
    if (types.size > 1000) types.delete(types.keys().next().value);
    cell(row, types.get(event.id));
    cell(row, kind, "state " + kind);
    cell(row, event.attempt, "num");
    cell(row, event.progress == null ? "" : Math.round(event.progress * 100) + " %", "num");
    cell(row, event.error, "error");
    while (feed.rows.length > 50) feed.deleteRow(-1);
    document.getElementById("live-empty")?.remove();
  }

  let refreshing = false;
  let again = false;
  async function refresh() {
    if (refreshing) {
      again = true;
      return;
    }
    refreshing = true;
    try {
      const response = await fetch(location.href, { credentials: "same-origin", cache: "no-store" });
      if (response.ok) {
        const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
        const ticked = new Set([...document.querySelectorAll("input[type=checkbox]:checked")].map((box) => box.value));
        for (const section of document.querySelectorAll("[data-refresh]")) {
          const replacement = fresh.getElementById(section.id);
          if (replacement) section.replaceWith(document.adoptNode(replacement));
        }
        for (const box of document.querySelectorAll("input[type=checkbox]")) box.checked = ticked.has(box.value);
        body.dataset.refreshed = String(Number(body.dataset.refreshed ?? 0) + 1);
      }
    } catch {
      // The next event tries again.
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
    refreshing = false;
    if (again) {
      again = false;
      refresh();
    }
  }

  const job = body.dataset.job;
  const source = new EventSource(job ? "/dashboard/events?job=" + encodeURIComponent(job) : "/dashboard/events");
  say("connecting", "connecting…");
  // Whatever changed before the stream (re)opened is read once.
  source.addEventListener("ready", () => {
    say("open", "live");
    refresh();
  });
  for (const kind of kinds) {
    source.addEventListener(kind, (message) => {
      let event;
      try {
        event = JSON.parse(message.data);
      } catch {
        return;
      }
      show(kind, event);
      refresh();
    });
  }
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) say("closed", job ? "the job has ended" : "live updates stopped; reload the page");
    else say("reconnecting", "reconnecting…");
  };
})();
