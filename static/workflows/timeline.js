/* The device timeline: vis-timeline (vendored) fed by the admin's JSON endpoint for the window on
 * screen, plus half a window either side so panning does not show gaps. Zoom buttons keep the
 * centre of the view; a click on a bar opens its run. Refreshes itself every 30 s. */
(function () {
  "use strict";
  const root = document.getElementById("device-timeline");
  if (!root || typeof vis === "undefined") {
    return;
  }
  const HOUR = 3600 * 1000;
  const MAX_FETCH_SPAN = 31 * 24 * HOUR; // the endpoint's widest window
  const REFRESH_MS = 30 * 1000;
  const config = root.dataset;
  const statusLine = document.getElementById("timeline-status");
  const windowLine = document.getElementById("timeline-window");
  const noteLine = document.getElementById("timeline-note");
  const items = new vis.DataSet();
  const groups = new vis.DataSet();
  const now = Date.now();

  const pad = (n) => String(n).padStart(2, "0");
  function instant(date) {
    const d = new Date(date);
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  }
  function duration(ms) {
    let seconds = Math.max(Math.round(ms / 1000), 0);
    const parts = [];
    for (const [size, unit] of [[86400, "d"], [3600, "h"], [60, "min"]]) {
      if (seconds >= size) {
        parts.push(`${Math.floor(seconds / size)} ${unit}`);
        seconds %= size;
      }
    }
    if (seconds || !parts.length) parts.push(`${seconds} s`);
    return parts.slice(0, 2).join(" ");
  }
  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function runUrl(workflowId) {
    return workflowId ? config.runUrl.replace(config.runPlaceholder, String(workflowId)) : "";
  }

  function groupLabel(group) {
    const box = element("div", "timeline-device");
    const link = element("a", "timeline-device-id", group.id);
    link.href = `${config.timelineUrl}?device=${encodeURIComponent(group.id)}`;
    link.title = `${group.name}: only this device`;
    box.appendChild(link);
    box.appendChild(element("div", `timeline-device-meta status-${group.status}`, `${group.kind} · ${group.status}`));
    return box;
  }

  function tooltip(bar, start, end) {
    const box = element("div", "timeline-tip");
    box.appendChild(element("strong", "", bar.label || "(step)"));
    box.appendChild(element("div", "", `${bar.run} — ${bar.kind}`));
    const span = bar.kind === "running" ? `since ${instant(start)}` : `${instant(start)} → ${instant(end)}`;
    box.appendChild(element("div", "", `${span} (${duration(end - start)})`));
    box.appendChild(element("div", "timeline-tip-detail", bar.detail));
    return box;
  }

  function toItem(bar) {
    if (bar.kind === "held") {
      // Who held the device: a band behind the bars (background items take no tooltip).
      return {
        id: bar.id,
        group: bar.group,
        start: new Date(bar.start),
        end: new Date(bar.end),
        type: "background",
        content: element("span", "timeline-held-label", bar.label),
        className: "kind-held",
        url: runUrl(bar.workflow),
        kind: bar.kind,
      };
    }
    const start = new Date(bar.start);
    // A bar needs a width to be seen and clicked: at least a second.
    const end = new Date(Math.max(new Date(bar.end).getTime(), start.getTime() + 1000));
    const content = element("span", "timeline-bar-label", bar.label || bar.run);
    return {
      id: bar.id,
      group: bar.group,
      start: start,
      end: end,
      type: "range",
      content: content,
      title: tooltip(bar, start, end).outerHTML,
      className: `kind-${bar.kind}`,
      url: runUrl(bar.workflow),
      kind: bar.kind,
    };
  }

  const timeline = new vis.Timeline(root, items, groups, {
    start: now - 3 * HOUR,
    end: now + 3 * HOUR,
    zoomMin: HOUR, // from an hour ...
    zoomMax: 7 * 24 * HOUR, // ... to a week
    orientation: { axis: "top", item: "top" },
    stack: true,
    showCurrentTime: true,
    selectable: true,
    verticalScroll: true,
    maxHeight: "70vh",
    margin: { item: { horizontal: 0, vertical: 3 } },
    groupOrder: "id",
    groupTemplate: groupLabel,
    tooltip: { followMouse: true, overflowMethod: "cap" },
  });

  let pending = null;
  let lastFetch = null;
  let shownRows = "";

  function showWindow() {
    const range = timeline.getWindow();
    root.dataset.windowStart = String(range.start.getTime());
    root.dataset.windowEnd = String(range.end.getTime());
    windowLine.textContent = `${instant(range.start)} – ${instant(range.end)} (${duration(range.end - range.start)})`;
  }

  function load() {
    const range = timeline.getWindow();
    const span = range.end - range.start;
    const from = new Date(range.start.getTime() - span / 2);
    const to = new Date(Math.min(range.end.getTime() + span / 2, from.getTime() + MAX_FETCH_SPAN));
    const params = new URLSearchParams({ from: from.toISOString(), to: to.toISOString() });
    if (config.device) params.set("device", config.device);
    if (pending) pending.abort();
    pending = new AbortController();
    statusLine.textContent = "Loading…";
    fetch(`${config.url}?${params}`, { credentials: "same-origin", signal: pending.signal })
      .then((response) => response.json().then((body) => ({ ok: response.ok, body })))
      .then(({ ok, body }) => {
        if (!ok) {
          statusLine.textContent = `Could not load the timeline: ${body.detail || body.error}`;
          return;
        }
        // Rows are redrawn only when they change, bars updated in place: a refresh does not
        // flicker, and what the pointer is on stays there.
        const rows = JSON.stringify(body.groups);
        if (rows !== shownRows) {
          groups.clear();
          groups.add(body.groups.map((group) => ({ ...group, content: group.id })));
          shownRows = rows;
        }
        const fresh = body.items.map(toItem);
        const keep = new Set(fresh.map((item) => item.id));
        items.remove(items.getIds().filter((id) => !keep.has(id)));
        items.update(fresh);
        const counts = { done: 0, failed: 0, running: 0, planned: 0, held: 0 };
        body.items.forEach((bar) => { counts[bar.kind] += 1; });
        statusLine.textContent =
          `Loaded ${instant(from)} – ${instant(to)} (the view and half a view either side): ` +
          `${body.groups.length} device(s); ${counts.done} done, ${counts.failed} failed, ` +
          `${counts.running} running, ${counts.planned} planned, ${counts.held} holds. Updated ${instant(Date.now())}.`;
        noteLine.hidden = !body.note;
        noteLine.textContent = body.note || "";
        root.dataset.loaded = String((Number(root.dataset.loaded) || 0) + 1);
        lastFetch = { from: from.getTime(), to: to.getTime() };
      })
      .catch((error) => {
        if (error.name !== "AbortError") statusLine.textContent = `Could not load the timeline: ${error}`;
      });
  }

  let timer = null;
  function loadSoon() {
    clearTimeout(timer);
    timer = setTimeout(load, 200);
  }

  timeline.on("rangechange", showWindow);
  timeline.on("rangechanged", () => {
    showWindow();
    const range = timeline.getWindow();
    // Within what was fetched: nothing to load (the 30 s refresh keeps it current).
    if (!lastFetch || range.start.getTime() < lastFetch.from || range.end.getTime() > lastFetch.to) loadSoon();
  });
  timeline.on("click", (properties) => {
    if (properties.item === null || properties.item === undefined) return;
    const item = items.get(properties.item);
    if (item && item.url) window.location.assign(item.url);
  });

  document.querySelectorAll(".timeline-toolbar [data-span-hours]").forEach((button) => {
    button.addEventListener("click", () => {
      const range = timeline.getWindow();
      const centre = (range.start.getTime() + range.end.getTime()) / 2;
      const span = Number(button.dataset.spanHours) * HOUR;
      timeline.setWindow(centre - span / 2, centre + span / 2, { animation: false });
      lastFetch = null;
      showWindow();
      loadSoon();
    });
  });
  document.querySelector(".timeline-toolbar [data-now]").addEventListener("click", () => {
    timeline.moveTo(Date.now(), { animation: false });
    showWindow();
    loadSoon();
  });

  showWindow();
  load();
  setInterval(load, REFRESH_MS);
})();
