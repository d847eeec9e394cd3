// The explorer's page: HTML, CSS and one hand-written script, no library, no network.
//
// The script reads the machine's JSON from a <script type="application/json"> element (the
// report inlines it; the server will too) and draws every view: the page map on a canvas along
// a Hilbert curve, the zones with their watermarks, the buddy lists as stacked bars, the slab
// caches as a sortable table, the firmware map and memblock to scale, the virtual layout and
// the boot log. When it is done it sets data-ready="1" on <body> (the browser test waits for it).

public enum ExplorerAssets {
    public static func page(title: String, dataScript: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <title>\(escape(title)) — kmemlab</title>
        <style>\(css)</style>
        </head>
        <body>
        <header><h1>kmemlab</h1><div id="summary"></div></header>
        <nav>
          <a href="#map-view">Page map</a> <a href="#steps-view">Boot steps</a> <a href="#timeline-view" id="timeline-link" hidden>Replay</a> <a href="#zones-view">Zones</a> <a href="#buddy-view">Buddy</a>
          <a href="#slab-view">Slab</a> <a href="#processes-view" id="processes-link" hidden>Processes</a> <a href="#firmware-view">Firmware &amp; memblock</a>
          <a href="#layout-view">Virtual layout</a> <a href="#log-view">Boot log</a>
        </nav>
        <section id="map-view"><h2>Physical memory, page by page</h2>
          <p class="note">Every page in pfn order along a Hilbert curve: each aligned block of 4<sup>k</sup> pages is a
          square. <span id="map-scale"></span> Click a cell to see what it holds.</p>
          <div class="controls">Colour by
            <select id="colour-by"><option value="kind">what the page is</option><option value="zone">zone</option>
            <option value="node">node</option><option value="migratetype">pageblock migratetype</option></select>
            Zoom <select id="zoom"><option>1</option><option>2</option><option>4</option><option>8</option></select>
          </div>
          <div class="mapbox"><div id="map-scroll"><canvas id="page-map"></canvas></div>
            <div><div id="legend"></div>
              <div id="zoom-box"><div class="controls">Close-up <button id="zoom-out" title="zoom out">−</button>
                <button id="zoom-in" title="zoom in">+</button> <span id="zoom-what">click the map</span></div>
                <canvas id="zoom-map" width="256" height="256"></canvas></div>
              <div id="cell-info">Click the map.</div></div></div>
        </section>
        <section id="steps-view"><h2>The boot, step by step</h2><p class="note">start_kernel()'s memory steps in
          order, from setup_arch() to the late frees. Each shows its log lines and what it did; on the page map,
          <span class="sw" style="background:#ffd700"></span> what it reserved,
          <span class="sw" style="background:#ff00ff"></span> reservations it dropped,
          <span class="sw" style="background:#4fa3ff"></span> memory it added to memblock and
          <span class="sw" style="background:#00e5e5"></span> pages it handed to the buddy allocator late.</p>
          <div class="controls"><button id="step-prev" title="previous step">◀</button> <select id="step-select"></select>
            <button id="step-next" title="next step">▶</button> <button id="step-clear">clear the map</button></div>
          <h3 id="step-title">Press ▶ to step through the boot.</h3><p id="step-summary"></p><pre id="step-lines"></pre></section>
        <section id="shell-view" hidden><h2>Do it yourself</h2><p class="note">The allocation shell's commands run
          on this machine (alloc GFP_KERNEL 0, free PFN, kmalloc 100, kfree ADDR, cache_create NAME SIZE, help):
          each answer is the path the call took; the views below follow.</p>
          <form id="shell-form"><input id="shell-input" size="60" value="alloc GFP_KERNEL 0" autocomplete="off">
          <button>Run</button></form><pre id="shell-output"></pre></section>
        <section id="timeline-view" hidden><h2>The replay, along the trace</h2><p class="note" id="timeline-note"></p>
          <div id="timeline-charts"></div>
          <div class="controls">Sample <input type="range" id="timeline-slider" min="0" value="0" style="width:600px">
            <span id="timeline-at"></span></div><div id="timeline-detail"></div></section>
        <section id="whatif-view" hidden><h2>What if</h2><p class="note">This machine booted again with more on
          its command line (crashkernel=256M, mem=2G, memmap=…) or other vm sysctls written after boot, side by side
          with itself as it booted; the figures that differ are marked.</p>
          <form id="whatif-form">Append <input id="whatif-append" size="32" placeholder="crashkernel=256M">
          sysctls <input id="whatif-sysctl" size="36" placeholder="vm.min_free_kbytes=65536">
          <button>Boot both</button></form><div id="whatif"></div></section>
        <section id="zones-view"><h2>Zones</h2><p class="note">Free pages against the watermarks (min, low, high);
          protection is lowmem_reserve, the pages an allocation for a higher zone must leave here.</p>
          <div id="zones"></div></section>
        <section id="buddy-view"><h2>The buddy allocator</h2><p class="note">Free blocks per order, stacked by the
          migratetype list they are on (as /proc/pagetypeinfo counts them), with the kernel's
          fragmentation indices (debugfs extfrag/) beside them.</p><div id="buddy"></div></section>
        <section id="slab-view"><h2>Slab caches</h2><p class="note">As /proc/slabinfo; click a column to sort, a
          cache to see its slabs.</p><div id="slab"></div><div id="slab-detail"></div></section>
        <section id="processes-view" hidden><h2>Processes</h2><p class="note">After the workload: each process
          still running, its memory as /proc/PID/status counts it, and its address space as /proc/PID/maps
          prints it (the pages on the map above are theirs).</p><div id="processes"></div></section>
        <section id="firmware-view"><h2>The firmware's map and memblock</h2><div id="firmware"></div></section>
        <section id="layout-view"><h2>The kernel's virtual memory map</h2><p class="note">Each region of
          the 64-bit address space in address order, its bar as long as the log2 of its size (a 4 KiB page
          is 12, the direct map's 64 TiB 46), with this boot's bases; then mm.rst's table. On i386, the 3G/1G
          split to scale, the kernel's gigabyte enlarged, and where lowmem and highmem are reached from.</p>
          <div id="layout-diagram"></div><pre id="layout"></pre></section>
        <section id="log-view"><h2>Boot log</h2><details><summary>Show the boot log</summary><pre id="log"></pre></details></section>
        <footer id="status">loading</footer>
        \(dataScript)
        <script>\(script)</script>
        </body>
        </html>

        """
    }

    public static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }

    static let css = """
    body{font:14px/1.4 system-ui,sans-serif;margin:0 1.5em 2em;color:#222;background:#fafafa}
    header h1{margin:.4em 0 0;font-size:1.4em} #summary{color:#444}
    nav{position:sticky;top:0;background:#fafafa;padding:.4em 0;border-bottom:1px solid #ddd;z-index:2}
    nav a{margin-right:1em;color:#1f5fa8;text-decoration:none}
    section{margin-top:1.5em} h2{font-size:1.15em;margin:.2em 0} .note{color:#555;margin:.2em 0 .6em}
    .mapbox{display:flex;gap:1.5em;align-items:flex-start}
    #map-scroll{width:768px;height:768px;overflow:auto;border:1px solid #ccc;background:#111}
    #page-map{image-rendering:pixelated;display:block;cursor:crosshair}
    #legend div{display:flex;align-items:center;gap:.4em;font-size:12px}
    #legend span.sw{display:inline-block;width:12px;height:12px;border:1px solid #999}
    #zoom-map{image-rendering:pixelated;display:block;width:384px;height:384px;border:1px solid #ccc;background:#111;cursor:zoom-in}
    #zoom-box{margin-top:1em}
    #cell-info{margin-top:1em;font-family:ui-monospace,monospace;font-size:12px;white-space:pre;min-width:22em}
    table{border-collapse:collapse;font-size:12px;margin:.3em 0 1em} td,th{border:1px solid #ddd;padding:2px 6px;text-align:right}
    th{background:#eee;cursor:pointer} td.l,th.l{text-align:left} tr.pick{cursor:pointer} tr.pick:hover{background:#f3ecfa}
    pre{background:#fff;border:1px solid #ddd;padding:.6em;overflow:auto;font-size:12px;max-height:40em}
    .bar{display:block} footer{margin-top:2em;color:#888}
    tr.changed td{background:#fff3b0;font-weight:600}
    span.sw{display:inline-block;width:11px;height:11px;border:1px solid #999;vertical-align:middle}
    #step-lines{max-height:18em}
    """

    static let script = #"""
    "use strict";
    let D = JSON.parse(document.getElementById("machine-data").textContent);
    const $ = id => document.getElementById(id);
    const el = (tag, attrs, ...kids) => { const e = document.createElement(tag);
      for (const k in attrs || {}) e.setAttribute(k, attrs[k]); for (const c of kids) e.append(c); return e; };
    // (A loop, not Uint8Array.from with a function: that took 300 ms of a 4 GiB page's load.)
    const b64 = s => { const bin = atob(s), out = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i); return out; };
    const hex = n => "0x" + n.toString(16);
    const kib = pages => (pages * 4).toLocaleString("en") + " KiB";
    let MAP = {};
    const kindById = {}; for (const k of D.kinds) kindById[k.id] = k;
    function decodeMap() { MAP = { kind: b64(D.map.kind), mixed: b64(D.map.mixed), zone: b64(D.map.zone),
                                   node: b64(D.map.node), migratetype: b64(D.map.migratetype) }; }

    // The Hilbert curve: cell d of a side × side square as [x, y], and back.
    function d2xy(side, d) { let x = 0, y = 0, t = d;
      for (let s = 1; s < side; s *= 2) { const rx = 1 & (t >> 1), ry = 1 & (t ^ rx);
        if (ry === 0) { if (rx === 1) { x = s - 1 - x; y = s - 1 - y; } const tmp = x; x = y; y = tmp; }
        x += s * rx; y += s * ry; t >>= 2; } return [x, y]; }
    // d2xy as one index, y · side + x, with no array made per cell (the map has a million).
    function d2o(side, d) { let x = 0, y = 0, t = d;
      for (let s = 1; s < side; s *= 2) { const rx = 1 & (t >> 1), ry = 1 & (t ^ rx);
        if (ry === 0) { if (rx === 1) { x = s - 1 - x; y = s - 1 - y; } const tmp = x; x = y; y = tmp; }
        x += s * rx; y += s * ry; t >>= 2; } return y * side + x; }
    // Per colouring, the colour of each byte value of its field, as [r, g, b].
    function palette(mode) {
      const p = [];
      for (let v = 0; v < 256; v++) {
        const col = mode === "kind" ? (kindById[v] || kindById[0]).color : mode === "zone" ? D.zoneColors[v] || "#000000"
          : mode === "node" ? nodeColour(v) : v === 255 ? "#1b1b1b" : D.migratetypeColors[v] || "#000000";
        p.push(rgb(col)); }
      return p;
    }
    function xy2d(side, x, y) { let d = 0;
      for (let s = side >> 1; s > 0; s >>= 1) { const rx = (x & s) > 0 ? 1 : 0, ry = (y & s) > 0 ? 1 : 0;
        d += s * s * ((3 * rx) ^ ry);
        if (ry === 0) { if (rx === 1) { x = side - 1 - x; y = side - 1 - y; } const tmp = x; x = y; y = tmp; } }
      return d; }

    function rgb(c) { return [parseInt(c.slice(1, 3), 16), parseInt(c.slice(3, 5), 16), parseInt(c.slice(5, 7), 16)]; }
    // Node n is stored as n + 1 (0: no node); colours cycle over all but the "no node" one.
    function nodeColour(v) { return v === 0 ? D.nodeColors[0] : D.nodeColors[1 + (v - 1) % (D.nodeColors.length - 1)]; }

    function drawMap() {
      if (D.arch32) $("map-scale").textContent = "i386: the model stops after zones and highmem, before memblock_free_all(), so every "
        + "page of RAM is still memblock's, reserved or waiting for the buddy allocator. Colour by zone to see where highmem begins. "
        + "One cell is " + (D.map.pagesPerCell === 1 ? "one page" : D.map.pagesPerCell + " pages") + ".";
      const mode = $("colour-by").value, side = D.map.side, n = MAP.kind.length;
      const c = $("page-map"); c.width = side; c.height = side;
      const zoom = +$("zoom").value, px = Math.max(1, Math.floor(768 / side)) * zoom;
      c.style.width = c.style.height = (side * px) + "px";
      const ctx = c.getContext("2d"), img = ctx.createImageData(side, side), data = img.data;
      const pal = palette(mode), field = MAP[mode];
      for (let i = 0; i < side * side; i++) { const o = d2o(side, i) * 4;
        if (i >= n) { data[o + 3] = 255; continue; }
        const v = pal[field[i]];
        data[o] = v[0]; data[o + 1] = v[1]; data[o + 2] = v[2]; data[o + 3] = 255; }
      stepOverlay(img, side, n);
      ctx.putImageData(img, 0, 0);
      drawLegend(mode);
      // The first time: milliseconds from the start of navigation to the map drawn.
      if (!document.body.dataset.mapDrawnMs) document.body.dataset.mapDrawnMs = Math.round(performance.now());
    }

    // The boot stepper: STEP indexes D.steps (-1: none); its ranges are blended onto the map.
    let STEP = -1;
    const STEP_KINDS = [["memory", "#4fa3ff"], ["reserved", "#ffd700"], ["unreserved", "#ff00ff"], ["freed", "#00e5e5"]];
    function stepOverlay(img, side, n) {
      if (STEP < 0 || !D.steps || !D.steps[STEP]) return;
      const s = D.steps[STEP], ppc = D.map.pagesPerCell;
      for (const [key, col] of STEP_KINDS) { const v = rgb(col);
        for (const [a, b] of s[key]) { const c1 = Math.min(n, Math.ceil(b / ppc));
          for (let i = Math.floor(a / ppc); i < c1; i++) { const [x, y] = d2xy(side, i), o = (y * side + x) * 4;
            for (let k = 0; k < 3; k++) img.data[o + k] = (img.data[o + k] + 3 * v[k]) >> 2; } } }
    }
    function showStep(i) {
      if (!D.steps || !D.steps.length) return;
      STEP = Math.max(-1, Math.min(D.steps.length - 1, i));
      $("step-select").value = String(STEP);
      const s = D.steps[STEP];
      $("step-title").textContent = s ? (STEP + 1) + " of " + D.steps.length + ": " + s.function + "  [" + s.file + "]" : "Press ▶ to step through the boot.";
      $("step-summary").textContent = s ? "⇒ " + s.summary : "";
      $("step-lines").textContent = s ? D.log.slice(s.firstLine, s.endLine).join("\n") : "";
      document.body.dataset.step = STEP;
      drawMap();
    }
    function enableSteps() {
      const sel = $("step-select"); sel.textContent = "";
      sel.append(el("option", { value: "-1" }, "(before setup_arch)"));
      (D.steps || []).forEach((s, i) => sel.append(el("option", { value: String(i) }, (i + 1) + ". " + s.function)));
      sel.onchange = () => showStep(+sel.value);
      $("step-prev").onclick = () => showStep(STEP - 1); $("step-next").onclick = () => showStep(STEP + 1);
      $("step-clear").onclick = () => showStep(-1);
      // "#step=TEXT" in the address steps forward with ▶ until a step's function contains TEXT.
      const m = /step=([^&]*)/.exec(location.hash); let want = null;
      if (m) { try { want = decodeURIComponent(m[1]); } catch (e) {} }
      if (want) while (STEP < D.steps.length - 1) { $("step-next").click(); if (D.steps[STEP].function.includes(want)) break; }
    }

    function drawLegend(mode) {
      const L = $("legend"); L.textContent = "";
      const item = (color, text) => L.append(el("div", {}, el("span", { class: "sw", style: "background:" + color }), text));
      // (The kind only i386's memblock-time map has is left out where it has no page.)
      if (mode === "kind") for (const k of D.kinds) if (k.id !== 9 || D.map.totals[k.id]) item(k.color, k.label + " — " + kib(D.map.totals[k.id] || 0));
      if (mode === "zone") D.zoneNames.forEach((z, i) => item(D.zoneColors[i], i === 0 ? "in no zone" : z));
      if (mode === "node") for (let i = 0; i <= D.machine.nodes; i++) item(nodeColour(i), i === 0 ? "in no node" : "node " + (i - 1));
      if (mode === "migratetype") D.migratetypeNames.forEach((m, i) => item(D.migratetypeColors[i], m));
    }

    function cellInfo(ev) {
      const c = $("page-map"), r = c.getBoundingClientRect(), side = D.map.side;
      const x = Math.floor((ev.clientX - r.left) / r.width * side), y = Math.floor((ev.clientY - r.top) / r.height * side);
      const d = xy2d(side, x, y), ppc = D.map.pagesPerCell;
      if (d >= MAP.kind.length) { $("cell-info").textContent = "beyond the last page"; return; }
      showCell(MAP, d, d * ppc, ppc);
      ZOOM.pfn = d * ppc; if (ZOOM.level < 0) ZOOM.level = Math.max(0, topLevel() - 3); drawZoom();
    }

    // The close-up: the aligned block of 4^level pages holding ZOOM.pfn, a square on the same
    // curve, from the server's tiles (GET /api/tile, down to single pages) or, in a report, from
    // the map's own cells. Level topLevel() is the whole map.
    let ZOOM = { pfn: 0, level: -1, tile: null, ticket: 0 };
    function sidePages() { return D.map.side * Math.round(Math.sqrt(D.map.pagesPerCell)); }
    function topLevel() { return Math.round(Math.log2(sidePages())); }
    function tileFromMap(pfn, level) {
      const pages = 4 ** level, start = Math.floor(pfn / pages) * pages, cl = Math.max(0, level - 8), c = 4 ** cl;
      const side = 2 ** Math.min(level, 8), n = side * side, ppc = D.map.pagesPerCell;
      const T = { level, startPfn: start, side, pagesPerCell: c, kind: new Uint8Array(n), mixed: new Uint8Array(n),
                  zone: new Uint8Array(n), node: new Uint8Array(n), migratetype: new Uint8Array(n) };
      // (Above the map's own cell size a close-up cell shows its first map cell's kind; the
      // served close-up counts every page.)
      for (let i = 0; i < n; i++) { const d = Math.floor((start + i * c) / ppc);
        for (const f of ["kind", "mixed", "zone", "node", "migratetype"]) T[f][i] = d < MAP.kind.length ? MAP[f][d] : (f === "migratetype" ? 255 : 0); }
      T.fromMap = c < ppc; return T;
    }
    function tileGeometry(T) {
      const c = T.pagesPerCell, sc = Math.round(Math.sqrt(c)), Sg = sidePages() / sc;
      const [bx, by] = d2xy(sidePages() / 2 ** T.level, Math.floor(T.startPfn / 4 ** T.level));
      return { Sg, ox: bx * T.side, oy: by * T.side, first: T.startPfn / c };
    }
    function drawZoom() {
      if (ZOOM.level < 0) return;
      ZOOM.level = Math.max(0, Math.min(topLevel(), ZOOM.level));
      const level = ZOOM.level, pfn = ZOOM.pfn, served = location.protocol.startsWith("http");
      const show = T => { ZOOM.tile = T; paintZoom(); };
      if (!served) { show(tileFromMap(pfn, level)); return; }
      const ticket = ++ZOOM.ticket;
      fetch("api/tile?pfn=" + pfn + "&level=" + level).then(r => r.json()).then(j => {
        // An answer to a request since overtaken by another zoom is dropped.
        if (ticket !== ZOOM.ticket) return;
        if (j.error) { $("zoom-what").textContent = j.error; return; }
        show({ level: j.level, startPfn: j.startPfn, side: j.side, pagesPerCell: j.pagesPerCell, kind: b64(j.kind),
               mixed: b64(j.mixed), zone: b64(j.zone), node: b64(j.node), migratetype: b64(j.migratetype) }); });
    }
    function paintZoom() {
      const T = ZOOM.tile, mode = $("colour-by").value, c = $("zoom-map"), g = tileGeometry(T), pal = palette(mode), field = T[mode];
      c.width = c.height = T.side;
      const ctx = c.getContext("2d"), img = ctx.createImageData(T.side, T.side);
      for (let i = 0; i < T.side * T.side; i++) { const [gx, gy] = d2xy(g.Sg, g.first + i);
        const o = ((gy - g.oy) * T.side + (gx - g.ox)) * 4, v = pal[field[i]];
        img.data[o] = v[0]; img.data[o + 1] = v[1]; img.data[o + 2] = v[2]; img.data[o + 3] = 255; }
      ctx.putImageData(img, 0, 0);
      const pages = 4 ** T.level, cell = T.pagesPerCell;
      $("zoom-what").textContent = "pfns " + hex(T.startPfn) + "–" + hex(T.startPfn + pages - 1) + " (" + kib(pages) + "), "
        + (cell === 1 ? "one page" : cell + " pages") + " a cell" + (T.fromMap ? " (the report holds cells of " + D.map.pagesPerCell
        + " pages: kmemlab serve zooms to single pages)" : "");
      const r = c.getBoundingClientRect();
      Object.assign(document.body.dataset, { zoomLevel: T.level, zoomStart: T.startPfn, zoomCell: cell,
        zoomLeft: Math.round(r.left + scrollX), zoomTop: Math.round(r.top + scrollY), zoomPx: Math.round(r.width / T.side) });
    }
    function zoomCell(ev) {
      const T = ZOOM.tile; if (!T) return null;
      const c = $("zoom-map"), r = c.getBoundingClientRect(), g = tileGeometry(T);
      const x = Math.floor((ev.clientX - r.left) / r.width * T.side), y = Math.floor((ev.clientY - r.top) / r.height * T.side);
      return xy2d(g.Sg, g.ox + x, g.oy + y) - g.first;
    }
    function zoomClick(ev) {
      const i = zoomCell(ev), T = ZOOM.tile; if (i === null || i < 0 || i >= T.side * T.side) return;
      showCell(T, i, T.startPfn + i * T.pagesPerCell, T.pagesPerCell);
      ZOOM.pfn = T.startPfn + i * T.pagesPerCell;
    }
    function enableZoom() {
      // (Level −1 means "not opened"; steps stop at 0, single pages, and at the whole map.)
      const step = d => { if (ZOOM.level < 0) ZOOM.level = topLevel();
        ZOOM.level = Math.max(0, Math.min(topLevel(), ZOOM.level + d)); drawZoom(); };
      $("zoom-in").onclick = () => step(-1);
      $("zoom-out").onclick = () => step(1);
      $("zoom-map").onclick = zoomClick;
      $("zoom-map").onwheel = ev => { ev.preventDefault(); const i = zoomCell(ev), T = ZOOM.tile;
        if (i !== null && i >= 0 && i < T.side * T.side) ZOOM.pfn = T.startPfn + i * T.pagesPerCell;
        step(ev.deltaY < 0 ? -1 : 1); };
      // "#zoom=PFN,LEVEL" in the address opens the close-up there.
      const m = /zoom=(0x[0-9a-f]+|[0-9]+),([0-9]+)/i.exec(location.hash);
      if (m) { ZOOM.pfn = Number(m[1]); ZOOM.level = +m[2]; drawZoom(); }
    }

    // What one cell of the map or of the close-up holds; served, a one-page cell's struct page too.
    function showCell(M, d, first, ppc) {
      const last = first + ppc - 1, z = M.zone[d], mt = M.migratetype[d];
      $("cell-info").textContent = [
        ppc === 1 ? "pfn " + hex(first) : "pfns " + hex(first) + "–" + hex(last) + " (" + ppc + " pages)",
        "phys " + hex(first * 4096) + "–" + hex(last * 4096 + 4095),
        (ppc === 1 ? "" : "mostly: ") + (kindById[M.kind[d]] || {}).label + (M.mixed[d] > 1 ? " (" + M.mixed[d] + " kinds)" : ""),
        "zone " + D.zoneNames[z] + (z ? ", node " + (M.node[d] - 1) : ""),
        "pageblock " + (mt === 255 ? "—" : D.migratetypeNames[mt]) ].join("\n");
      // Served: the first page's struct page, how the memory model finds it, and its pageblock.
      if (location.protocol.startsWith("http")) fetch("api/pfn/" + first).then(r => r.json()).then(j => {
        if (j.lines) $("cell-info").textContent += "\n\n" + j.lines.join("\n"); document.body.dataset.pfnInfo = first; });
    }

    function table(head, rows, sortable, onRow) {
      const t = el("table"), hr = el("tr");
      head.forEach((h, i) => { const th = el("th", i === 0 ? { class: "l" } : {}, h);
        if (sortable) th.onclick = () => { const dir = th.dataset.dir === "a" ? "d" : "a"; th.dataset.dir = dir;
          rows.sort((a, b) => (typeof a[i] === "number" ? a[i] - b[i] : String(a[i]).localeCompare(b[i])) * (dir === "a" ? 1 : -1));
          fill(); };
        hr.append(th); });
      t.append(hr);
      const body = el("tbody"); t.append(body);
      function fill() { body.textContent = "";
        for (const r of rows) { const tr = el("tr", onRow ? { class: "pick" } : {}, ...r.map((v, i) => el("td", i === 0 ? { class: "l" } : {},
          typeof v === "number" ? v.toLocaleString("en") : v)));
          if (onRow) tr.onclick = () => onRow(r); body.append(tr); } }
      fill(); return t;
    }

    function svg(w, h) { const s = document.createElementNS("http://www.w3.org/2000/svg", "svg");
      s.setAttribute("width", w); s.setAttribute("height", h); s.setAttribute("class", "bar"); return s; }
    function rect(s, x, y, w, h, fill, title) { const r = document.createElementNS("http://www.w3.org/2000/svg", "rect");
      r.setAttribute("x", x); r.setAttribute("y", y); r.setAttribute("width", Math.max(0, w)); r.setAttribute("height", h);
      r.setAttribute("fill", fill); if (title) { const t = document.createElementNS("http://www.w3.org/2000/svg", "title");
      t.textContent = title; r.append(t); } s.append(r); return r; }

    function drawZones() {
      const Z = $("zones");
      if (D.arch32) {
        Z.append(table(["zone", "start pfn", "spanned", "present", "managed (free_area_init's estimate)"],
          D.arch32.zones.map(z => [z.name, hex(z.startPfn), z.spanned, z.present, z.managed]), false));
        return;
      }
      Z.append(table(["zone", "start pfn", "spanned", "present", "managed", "free", "min", "low", "high", "protection", "pcp high/batch"],
        D.zones.map(z => ["Node " + z.node + " " + z.name, hex(z.startPfn), z.spanned, z.present, z.managed, z.free,
                          z.min, z.low, z.high, "(" + z.protection.join(", ") + ")", z.pcpHigh + "/" + z.pcpBatch]), false));
      for (const z of D.zones) { if (!z.managed) continue;
        // Scaled to three times the high watermark, where the watermarks can be told apart; a zone
        // with more free pages than that shows a full bar and says so.
        const w = 640, s = svg(w + 460, 22), top = Math.max(1, z.high * 3), sx = v => Math.min(v, top) / top * w;
        rect(s, 0, 4, w, 14, "#eee"); rect(s, 0, 4, sx(z.free), 14, "#2ca02c", "free " + z.free);
        for (const [name, v, col] of [["min", z.min, "#d62728"], ["low", z.low, "#ff7f0e"], ["high", z.high, "#1f77b4"]])
          rect(s, sx(v), 0, 2, 22, col, name + " " + v);
        const t = document.createElementNS("http://www.w3.org/2000/svg", "text");
        t.setAttribute("x", w + 8); t.setAttribute("y", 16);
        t.textContent = "Node " + z.node + " " + z.name + ": " + kib(z.free) + " free" + (z.free > top ? " (beyond the scale)" : "");
        s.append(t); Z.append(s); }
    }

    function drawBuddy() {
      const B = $("buddy");
      for (const z of D.zones) { if (!z.managed) continue;
        B.append(el("h3", {}, "Node " + z.node + ", zone " + z.name));
        const w = 44, h = 120, s = svg(11 * w + 10, h + 34);
        // Heights on a log scale (a zone has thousands of order-10 blocks and a handful of small ones);
        // each list's share of a bar is in proportion to its count.
        const max = Math.max(1, ...z.nrFree), lg = n => Math.log2(1 + n) / Math.log2(1 + max) * h;
        for (let o = 0; o < 11; o++) { let y = h; const total = z.nrFree[o] || 0, barH = lg(total);
          D.migratetypeNames.forEach((m, i) => { const n = (z.byType[m] || [])[o] || 0, bh = total ? n / total * barH : 0;
            if (n) rect(s, o * w + 6, y - bh, w - 10, bh, D.migratetypeColors[i], m + ", order " + o + ": " + n + " blocks");
            y -= bh; });
          const t = document.createElementNS("http://www.w3.org/2000/svg", "text");
          t.setAttribute("x", o * w + 10); t.setAttribute("y", h + 14); t.setAttribute("font-size", "11"); t.textContent = "o" + o;
          const c = document.createElementNS("http://www.w3.org/2000/svg", "text");
          c.setAttribute("x", o * w + 10); c.setAttribute("y", h + 28); c.setAttribute("font-size", "10"); c.textContent = z.nrFree[o];
          s.append(t, c); }
        B.append(s);
        const idx = v => (v / 1000).toFixed(3);
        B.append(table(["list"].concat([...Array(11).keys()].map(o => "order " + o)),
          D.migratetypeNames.map(m => [m].concat(z.byType[m] || []))
            .concat([["unusable_index"].concat((z.unusableIndex || []).map(idx)),
                     ["extfrag_index"].concat((z.extfragIndex || []).map(idx))]), false));
        B.append(el("p", { "class": "note" }, "Fragmentation score (proactive compaction, order 9): " + z.fragScore +
          ". unusable_index: the share of free memory in blocks too small for the order; extfrag_index: −1 while a block of the order is free, toward 1 when a request would fail for fragmentation rather than lack of memory.")); }
    }

    function drawSlab() {
      $("slab").append(table(["name", "active objs", "objs", "objsize", "objs/slab", "pages/slab", "slabs"],
        D.slab.map(c => [c.name, c.active, c.total, c.objsize, c.perSlab, c.pagesPerSlab, c.slabs]), true,
        r => drawSlabDetail(r[0])));
      if (SLAB) drawSlabDetail(SLAB);
    }

    // One cache's slabs: where each is (a CPU's slab, its partial list, a node's partial list, or
    // full) and how many of its objects are allocated, and the pages that hold it.
    const slabPlaces = [["cpu slab", "#9467bd"], ["cpu partial", "#c5b0d5"], ["node partial", "#ff9896"], ["full", "#8c564b"]];
    let SLAB = null;
    function drawSlabDetail(name) {
      const c = D.slab.find(x => x.name === name), S = $("slab-detail"); S.textContent = ""; SLAB = null;
      if (!c) return;
      SLAB = name;
      const count = [0, 0, 0, 0]; let allocated = 0, objects = 0;
      for (const r of c.list) { count[r[2]]++; allocated += r[4]; objects += r[5]; }
      S.append(el("h3", { id: "slab-detail-title" }, name + ": " + c.list.length + " slabs (" +
        slabPlaces.map((p, i) => count[i] + " " + p[0]).join(", ") + "), " + allocated + " of " + objects + " objects allocated"));
      // One column per slab, its height the share of objects allocated, coloured by where it is.
      const w = Math.max(2, Math.min(12, Math.floor(900 / Math.max(1, c.list.length)))), h = 40, s = svg(c.list.length * w + 2, h + 2);
      c.list.forEach((r, i) => { const col = slabPlaces[r[2]][1], title = "pfn " + hex(r[0]) + ", " + (1 << r[1]) + " page(s), " +
          slabPlaces[r[2]][0] + (r[3] >= 0 ? " of cpu " + r[3] : "") + ", node " + r[6] + ": " + r[4] + "/" + r[5] + " objects";
        rect(s, i * w, 1, w - 1, h, "#eee", title); rect(s, i * w, 1 + h - h * r[4] / r[5], w - 1, h * r[4] / r[5], col, title); });
      S.append(s, el("p", { class: "note" }, "Allocated counts the model's per-object bits: objects on a CPU's freelist are free here, while slabinfo counts a cpu slab's objects as active."));
      S.append(table(["pfn", "pages", "where", "cpu", "allocated", "objects", "node"],
        c.list.map(r => [hex(r[0]), 1 << r[1], slabPlaces[r[2]][0], r[3] >= 0 ? r[3] : "—", r[4], r[5], r[6]]), false));
    }

    function regionColour(what) {
      if (what.startsWith("...")) return "#d9d9d9";
      for (const [key, col] of [["direct mapping", "#2ca02c"], ["vmalloc", "#1f77b4"], ["virtual memory map", "#9467bd"],
                                ["kernel text", "#d62728"], ["module", "#ff7f0e"], ["fixmap", "#8c564b"], ["user-space", "#bcbd22"]])
        if (what.includes(key)) return col;
      return "#17becf";
    }

    // mm.rst's regions as bars on a log scale of their sizes, in address order.
    // i386: the 4 GB of virtual addresses to scale (user space below PAGE_OFFSET, the kernel's
    // part above), the kernel's part enlarged (each region at least 12 px, the rest to scale), and
    // physical memory: lowmem mapped once and for all by the direct map, highmem only through the
    // persistent kmap window (or kmap_local's fixmap slots).
    function drawLayout32() {
      const A = D.arch32, L = $("layout-diagram"), W = 1120, x0 = 170, bw = W - x0 - 20, G4 = 2 ** 32;
      const s = svg(W, 230); s.setAttribute("id", "layout32-svg");
      const hex8 = n => "0x" + n.toString(16).padStart(8, "0");
      const mb = n => n >= 2 ** 30 && n % 2 ** 30 === 0 ? n / 2 ** 30 + " GB" : n >= 2 ** 20 ? Math.round(n / 2 ** 20) + " MB" : Math.round(n / 1024) + " kB";
      const label = (x, y, text, extra) => { const t = document.createElementNS("http://www.w3.org/2000/svg", "text");
        t.setAttribute("x", x); t.setAttribute("y", y); t.setAttribute("font-size", "11");
        for (const k in extra || {}) t.setAttribute(k, extra[k]); t.textContent = text; s.append(t); return t; };
      const shape = (points, fill, title) => { const p = document.createElementNS("http://www.w3.org/2000/svg", "polygon");
        p.setAttribute("points", points.map(q => q.join(",")).join(" ")); p.setAttribute("fill", fill); p.setAttribute("fill-opacity", "0.3");
        const t = document.createElementNS("http://www.w3.org/2000/svg", "title"); t.textContent = title; p.append(t); s.append(p); };
      const colour = what => what.startsWith("user") ? "#bcbd22" : what.startsWith("direct") ? "#2ca02c" : what.startsWith("vmalloc") ? "#1f77b4"
        : what.startsWith("persistent kmap") ? "#e377c2" : what.startsWith("fixmap") ? "#8c564b" : what.startsWith("cpu_entry") ? "#ff7f0e"
        : what.startsWith("LDT") ? "#9467bd" : "#d9d9d9";
      const short = what => what.startsWith("direct") ? "direct map (lowmem)" : what.startsWith("vmalloc") ? "vmalloc" : what.startsWith("persistent kmap") ? "pkmap"
        : what.startsWith("fixmap") ? "fixmap" : what.startsWith("cpu_entry") ? "cpu_entry_area" : what.startsWith("LDT") ? "LDT" : "";
      const tip = r => r.what + ": " + hex8(r.start) + "–" + hex8(r.end - 1) + " (" + mb(r.end - r.start) + ")";
      // Row 1: all 4 GB.
      label(0, 22, "virtual: 4 GB to scale");
      for (const r of A.regions) rect(s, x0 + r.start / G4 * bw, 8, Math.max(0.5, (r.end - r.start) / G4 * bw), 20, colour(r.what), tip(r));
      const split = x0 + A.pageOffset / G4 * bw;
      label(x0 + 6, 22, mb(A.pageOffset) + " user space (0 – " + hex8(A.pageOffset - 1) + ")");
      label(split + 4, 44, "PAGE_OFFSET " + hex8(A.pageOffset) + ": " + mb(G4 - A.pageOffset) + " for the kernel", { "text-anchor": "middle" });
      // Row 2: the kernel's part, enlarged.
      const K = A.regions.filter(r => r.start >= A.pageOffset), min = 12, total = G4 - A.pageOffset;
      const xs = []; let x = x0;
      for (const r of K) { const w = min + (bw - min * K.length) * (r.end - r.start) / total; xs.push([x, w]); x += w; }
      label(0, 86, "the kernel's part, enlarged");
      let small = 0;
      shape([[split, 28], [x0 + bw, 28], [x0 + bw, 72], [x0, 72]], "#999999", "the kernel's part of the address space, enlarged below");
      K.forEach((r, i) => { const [rx, w] = xs[i]; rect(s, rx, 72, w, 22, colour(r.what), tip(r));
        const name = short(r.what);
        if (name && w > name.length * 6.5) label(rx + 4, 87, name, { fill: "#fff" });
        else if (name) { small += 1; label(rx + w / 2, 106 + (small % 3) * 11, name, { "text-anchor": "middle", "font-size": "10" }); } });
      // Row 3: physical memory.
      const phys = Math.max(1, A.maxPfn) * 4096, low = Math.min(A.maxLowPfn, A.maxPfn) * 4096, y3 = 200;
      label(0, y3 + 15, "physical: " + mb(phys));
      rect(s, x0, y3, low / phys * bw, 22, "#2ca02c", "lowmem: physical 0 – " + hex8(low - 1) + " (" + mb(low) + "), ZONE_DMA and ZONE_NORMAL");
      if (phys > low) rect(s, x0 + low / phys * bw, y3, (phys - low) / phys * bw, 22, "#e377c2",
        "highmem: physical " + hex8(low) + " – " + hex8(phys - 1) + " (" + mb(phys - low) + "), ZONE_HIGHMEM");
      label(x0 + 4, y3 + 15, "lowmem " + mb(low), { fill: "#fff" });
      if (phys > low) label(x0 + low / phys * bw + 4, y3 + 15, "highmem " + mb(phys - low), { fill: "#fff" });
      const di = K.findIndex(r => r.what.startsWith("direct")), pk = K.findIndex(r => r.what.startsWith("persistent kmap"));
      if (di >= 0) { const [dx, dw] = xs[di];
        shape([[dx, 94], [dx + dw, 94], [x0 + low / phys * bw, y3], [x0, y3]], "#2ca02c",
          "the direct map: lowmem at PAGE_OFFSET + its physical address, mapped once at boot (__va/__pa)"); }
      if (pk >= 0 && phys > low) { const [px, pw] = xs[pk];
        shape([[px, 94], [px + pw, 94], [x0 + bw, y3], [x0 + low / phys * bw, y3]], "#e377c2",
          "highmem is never mapped for good: kmap() puts a page in one of the " + A.lastPkmap + " slots of this window (" + mb(A.lastPkmap * 4096) + "), kmap_local_page() in a per-CPU fixmap slot");
        label(x0 + bw, 168, "highmem: kmap() through the " + mb(A.lastPkmap * 4096) + " pkmap window, one page a slot", { "text-anchor": "end", "font-size": "10" }); }
      if (di >= 0) label(x0, 168, "lowmem: the direct map, virtual = physical + " + hex8(A.pageOffset), { "font-size": "10" });
      L.append(s);
    }

    function drawLayoutDiagram() {
      const L = $("layout-diagram"); L.textContent = "";
      if (D.arch32) { drawLayout32(); return; }
      if (!D.layoutRegions || !D.layoutRegions.length) return;
      const rowH = 17, barW = 8, s = svg(1240, D.layoutRegions.length * rowH + 4);
      D.layoutRegions.forEach((r, i) => { const y = i * rowH + 2;
        rect(s, 170, y, r.sizeLog2 * barW, rowH - 3, regionColour(r.what), r.what + ": " + r.start + "–" + r.end + " (" + r.size + ")");
        for (const [x, text, anchor] of [[0, r.start, "start"], [170 + r.sizeLog2 * barW + 6, r.size + "  " + r.what, "start"]]) {
          const t = document.createElementNS("http://www.w3.org/2000/svg", "text");
          t.setAttribute("x", x); t.setAttribute("y", y + rowH - 6); t.setAttribute("font-size", "11");
          t.setAttribute("font-family", "ui-monospace,monospace"); t.setAttribute("text-anchor", anchor); t.textContent = text; s.append(t); } });
      s.setAttribute("id", "layout-svg"); L.append(s);
    }

    function drawFirmware() {
      const F = $("firmware"), colours = { "usable": "#2ca02c", "reserved": "#8c564b", "ACPI data": "#17becf", "ACPI NVS": "#9467bd" };
      const end = Math.max(...D.e820.map(e => e.end)), w = 900, s = svg(w, 26);
      for (const e of D.e820) rect(s, e.start / end * w, 2, Math.max(1, (e.end - e.start) / end * w), 20,
        colours[e.type] || "#7f7f7f", e.type + " " + hex(e.start) + "–" + hex(e.end - 1));
      F.append(el("h3", {}, "e820 (to scale, 0 – " + hex(end) + ")"), s);
      F.append(table(["type", "start", "end", "size"], D.e820.map(e => [e.type, hex(e.start), hex(e.end - 1), kib((e.end - e.start) / 4096)]), false));
      for (const name of ["memory", "reserved"]) F.append(el("h3", {}, "memblock." + name),
        table(["base", "end", "size", "node"], D.memblock[name].map(r => [hex(r.base), hex(r.base + r.size - 1), r.size, r.nid < 0 ? "—" : r.nid]), false));
    }

    // "#KEY=VALUE" in the address fills a served form's input and submits it once the page is
    // up (a link to a command or a what-if).
    function submitFromHash(key, input, form) {
      const m = new RegExp(key + "=([^&]*)").exec(location.hash);
      if (m) setTimeout(() => { try { $(input).value = decodeURIComponent(m[1]); } catch (e) { return; }
                                $(form).requestSubmit(); }, 0);
    }

    // Served (not opened from a file): the shell's commands run on the server's machine, and
    // every view is drawn again from the machine's new state.
    function enableShell() {
      $("shell-view").hidden = false;
      submitFromHash("run", "shell-input", "shell-form");
      $("shell-form").onsubmit = async ev => { ev.preventDefault();
        let j;
        try { j = await (await fetch("api/command", { method: "POST", body: $("shell-input").value })).json(); }
        catch (e) { j = { error: "the server did not answer: " + e }; }
        $("shell-output").textContent = j.error ? "error: " + j.error : j.lines.join("\n");
        if (!j.error) { D = await (await fetch("api/machine")).json(); drawAll(); }
        $("status").textContent = "ready"; document.body.dataset.commands = (+(document.body.dataset.commands || 0) + 1); };
    }

    // Served: what if — both machines booted on the server, their figures side by side.
    function enableWhatIf() {
      $("whatif-view").hidden = false;
      submitFromHash("whatif", "whatif-sysctl", "whatif-form");
      $("whatif-form").onsubmit = async ev => { ev.preventDefault();
        const q = "append=" + encodeURIComponent($("whatif-append").value) + "&sysctl=" + encodeURIComponent($("whatif-sysctl").value);
        let j; const W = $("whatif"); W.textContent = "booting both…";
        try { j = await (await fetch("api/whatif?" + q, { method: "POST" })).json(); }
        catch (e) { j = { error: "the server did not answer: " + e }; }
        W.textContent = "";
        if (j.error) { W.append(el("p", { id: "whatif-error" }, "error: " + j.error)); }
        else {
          W.append(el("p", { id: "whatif-count" }, j.changed + " of " + j.rows.length + " figures differ. The variant's command line: " + j.variantCommandLine));
          const t = table(["", "this machine", "what if"], j.rows.map(r => [r.what, r.base, r.variant]), false);
          t.querySelectorAll("tbody tr").forEach((tr, i) => { if (j.rows[i].changed) tr.classList.add("changed"); });
          W.append(t);
        }
        document.body.dataset.whatif = (+(document.body.dataset.whatif || 0) + 1); };
    }

    // The replay timeline (report --trace): each zone's figures along the trace, one line per
    // zone; the slider picks a sample, marked on every chart, whose free lists are tabled.
    const ZONE_LINE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"];
    function drawTimeline() {
      const T = D.timeline; if (!T) return;
      $("timeline-view").hidden = false; $("timeline-link").hidden = false;
      const S = T.samples, last = S[S.length - 1];
      $("timeline-note").textContent = "Replayed " + (T.mode === "decide" ? "with the model choosing every page" : "with the kernel's own pfns")
        + ": " + last.events.toLocaleString("en") + " events, " + S.length + " samples. One line per zone: "
        + T.zones.map((z, i) => z + " (" + ["blue", "red", "green", "purple", "orange", "brown", "pink", "cyan"][i % 8] + ")").join(", ") + ".";
      const C = $("timeline-charts"); C.textContent = "";
      const metrics = [["free pages", 0], ["largest free order", 1], ["compaction score (0–100)", 2], ["unusable_index at order 9 (thousandths)", 3]];
      const w = 900, h = 90, maxE = Math.max(1, last.events);
      for (const [name, k] of metrics) {
        const vals = S.flatMap(s => s.zones.map(z => z[k])), top = Math.max(1, ...vals), s = svg(w, h + 14);
        s.dataset.metric = name;
        T.zones.forEach((_, zi) => { const p = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
          p.setAttribute("points", S.map(x => (x.events / maxE * w).toFixed(1) + "," + (h - x.zones[zi][k] / top * (h - 4) + 2).toFixed(1)).join(" "));
          p.setAttribute("fill", "none"); p.setAttribute("stroke", ZONE_LINE[zi % ZONE_LINE.length]); p.setAttribute("stroke-width", "1.5"); s.append(p); });
        const m = document.createElementNS("http://www.w3.org/2000/svg", "line");
        m.setAttribute("class", "tl-mark"); m.setAttribute("y1", 0); m.setAttribute("y2", h); m.setAttribute("stroke", "#000"); s.append(m);
        C.append(el("div", {}, name + " (max " + top.toLocaleString("en") + ")"), s);
      }
      const sl = $("timeline-slider"); sl.max = S.length - 1;
      const hs = /sample=(\d+)/.exec(location.hash);
      sl.value = hs ? Math.min(S.length - 1, +hs[1]) : S.length - 1;
      sl.oninput = () => showSample(+sl.value); showSample(+sl.value);
    }
    function showSample(i) {
      const T = D.timeline, x = T.samples[i], maxE = Math.max(1, T.samples[T.samples.length - 1].events);
      document.querySelectorAll(".tl-mark").forEach(m => { const px = x.events / maxE * 900; m.setAttribute("x1", px); m.setAttribute("x2", px); });
      $("timeline-at").textContent = "after " + x.events.toLocaleString("en") + " events" + (x.timeUS === null ? "" : ", t = " + (x.timeUS / 1e6).toFixed(6) + " s");
      const rows = T.zones.map((z, zi) => { const v = x.zones[zi];
        return [z, v[0], v[1] < 0 ? "—" : v[1], v[2], (v[3] / 1000).toFixed(3), ...v[4]]; });
      $("timeline-detail").textContent = "";
      $("timeline-detail").append(table(["zone", "free pages", "largest order", "score", "unusable 9", ...[...Array(11).keys()].map(o => "order " + o)], rows, false));
      document.body.dataset.sample = i;
    }

    function drawProcesses() {
      const P = $("processes"); P.textContent = "";
      if (!D.processes || !D.processes.length) return;
      $("processes-view").hidden = false; $("processes-link").hidden = false;
      for (const p of D.processes) {
        P.append(el("h3", {}, p.comm + " (pid " + p.pid + ")"));
        P.append(el("pre", { class: "status" }, p.status.join("\n")));
        // maps: start-end perms offset dev inode [name]
        P.append(table(["start", "end", "perms", "offset", "dev", "inode", "name"], p.maps.map(l => {
          const f = l.split(/ +/), [a, b] = f[0].split("-");
          return [a, b, f[1], f[2], f[3], f[4], f.slice(5).join(" ")]; }), false));
      }
      document.body.dataset.processes = D.processes.length;
    }

    function drawAll() {
      decodeMap();
      drawProcesses();
      for (const id of ["zones", "buddy", "slab", "firmware"]) $(id).textContent = "";
      drawMap(); drawZones(); drawBuddy(); drawSlab(); drawFirmware(); drawLayoutDiagram();
      if (ZOOM.level >= 0) drawZoom();
      $("layout").textContent = D.layout.join("\n"); $("log").textContent = D.log.join("\n");
    }

    function main() {
      if (location.protocol.startsWith("http")) { enableShell(); enableWhatIf(); }
      $("summary").textContent = D.machine.kernel + " · " + D.machine.cpus + " CPUs · " + D.machine.nodes + " node(s)";
      $("summary").append(el("br"), D.machine.memoryLine, el("br"), "Command line: " + D.machine.cmdline);
      const ppc = D.map.pagesPerCell;
      $("map-scale").textContent = "One cell is " + (ppc === 1 ? "one page" : ppc + " pages") + "; " + D.map.side + "×" + D.map.side + " cells.";
      // "#colour=zone" (or node, migratetype) in the address picks the colouring.
      const m = /colour=(kind|zone|node|migratetype)/.exec(location.hash); if (m) $("colour-by").value = m[1];
      // "#slab=NAME" opens a cache's slabs.
      const sl = /slab=([^&]*)/.exec(location.hash); if (sl) { try { SLAB = decodeURIComponent(sl[1]); } catch (e) {} }
      drawAll();
      // Milliseconds from the start of navigation to the map drawn (the JSON read, every view built).
      document.body.dataset.firstPaintMs = Math.round(performance.now());
      enableSteps();
      drawTimeline();
      $("colour-by").onchange = () => { drawMap(); if (ZOOM.tile) paintZoom(); };
      $("zoom").onchange = drawMap; $("page-map").onclick = cellInfo;
      enableZoom();
      // Where the map is on the page (for a test that reads pixels from a screenshot).
      const r = $("page-map").getBoundingClientRect();
      Object.assign(document.body.dataset, { mapLeft: Math.round(r.left + scrollX), mapTop: Math.round(r.top + scrollY),
        mapPx: Math.round(r.width / D.map.side) });
      $("status").textContent = "ready"; document.body.dataset.ready = "1";
    }
    main();
    """#
}
