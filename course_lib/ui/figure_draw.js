// course_lib.ui.figure_draw: draws a matplotlib figure's scene (see figure_view.py) on a canvas.
// Coordinates arrive in the figure's display pixels (origin top left); `scene.scale` turns
// them into CSS pixels. `step` reveals the first steps of the already-sent points (Play).
//
// One drawing code for two hosts: JupyterLab's FigureView (figure_view.py joins this file and
// figure_view.js into the anywidget module) and the course's web pages (a classic script that
// defines window.CourseFigure; course_lib/web/js/panel_runtime.js mounts the panels with it).
// No imports, no exports: it must run as a classic script, inside an ES module and in node.

var CourseFigure = (function () {
"use strict";

const FONT = '"DejaVu Sans", "Bitstream Vera Sans", Arial, sans-serif';
const TICK = 4.5; // px, major tick length
const DASHES = { "--": [3.7, 1.6], ":": [1, 1.65], "-.": [6.4, 1.6, 1, 1.6], dashed: [3.7, 1.6],
                 dotted: [1, 1.65], dashdot: [6.4, 1.6, 1, 1.6] };

function setFont(ctx, size, weight) {
  ctx.font = `${weight === "bold" ? "bold " : ""}${size}px ${FONT}`;
}

function drawText(ctx, t, k) {
  const lines = String(t.text).split("\n");
  setFont(ctx, t.size, t.weight);
  const lh = t.size * 1.2;
  const total = lh * lines.length;
  const widths = lines.map((l) => ctx.measureText(l).width);
  const w = Math.max(...widths);
  let top = 0;
  if (t.va === "top") top = 0;
  else if (t.va === "center" || t.va === "center_baseline") top = -total / 2;
  else top = -total; // bottom, baseline
  let left = t.ha === "right" ? -w : t.ha === "center" ? -w / 2 : 0;
  ctx.save();
  ctx.translate(t.x * k, t.y * k);
  if (t.rotation) ctx.rotate((-t.rotation * Math.PI) / 180);
  if (t.box) {
    const pad = 0.3 * t.size;
    ctx.globalAlpha = t.box.alpha ?? 1;
    ctx.beginPath();
    if (ctx.roundRect) ctx.roundRect(left - pad, top - pad, w + 2 * pad, total + 2 * pad, 3);
    else ctx.rect(left - pad, top - pad, w + 2 * pad, total + 2 * pad);
    if (t.box.fill) { ctx.fillStyle = t.box.fill; ctx.fill(); }
    if (t.box.edge) { ctx.strokeStyle = t.box.edge; ctx.lineWidth = 1; ctx.stroke(); }
    ctx.globalAlpha = 1;
  }
  ctx.fillStyle = t.color || "#000";
  ctx.textAlign = "left"; // the offsets above already place the text
  ctx.textBaseline = "middle";
  lines.forEach((line, i) => {
    const x = t.ha === "right" ? -widths[i] : t.ha === "center" ? -widths[i] / 2 : 0;
    ctx.fillText(line, x, top + lh * i + lh / 2);
  });
  ctx.restore();
}

// Adds one marker's outline to the current path (a subpath of its own: callers begin the path).
function markerPath(ctx, marker, x, y, r) {
  switch (marker) {
    case "s": ctx.rect(x - r, y - r, 2 * r, 2 * r); break;
    case "D": case "d": ctx.moveTo(x, y - r); ctx.lineTo(x + r, y); ctx.lineTo(x, y + r); ctx.lineTo(x - r, y); ctx.closePath(); break;
    case "^": ctx.moveTo(x, y - r); ctx.lineTo(x + r, y + r); ctx.lineTo(x - r, y + r); ctx.closePath(); break;
    case "v": ctx.moveTo(x, y + r); ctx.lineTo(x + r, y - r); ctx.lineTo(x - r, y - r); ctx.closePath(); break;
    case "<": ctx.moveTo(x - r, y); ctx.lineTo(x + r, y - r); ctx.lineTo(x + r, y + r); ctx.closePath(); break;
    case ">": ctx.moveTo(x + r, y); ctx.lineTo(x - r, y - r); ctx.lineTo(x - r, y + r); ctx.closePath(); break;
    case "*": {
      for (let i = 0; i < 10; i++) {
        const a = -Math.PI / 2 + (i * Math.PI) / 5;
        const rr = i % 2 ? r * 0.4 : r;
        const px = x + rr * Math.cos(a), py = y + rr * Math.sin(a);
        i ? ctx.lineTo(px, py) : ctx.moveTo(px, py);
      }
      ctx.closePath(); break;
    }
    case "X": case "P": {
      const w = r * 0.35; // a filled X (or plus) of arm width 2w
      const arms = marker === "X" ? Math.PI / 4 : 0;
      for (let i = 0; i < 4; i++) {
        const a = arms + (i * Math.PI) / 2;
        const c = Math.cos(a), s = Math.sin(a);
        const pts = [[w, -w], [r, -w], [r, w], [w, w]];
        for (const [u, v] of pts) {
          const px = x + u * c - v * s, py = y + u * s + v * c;
          i === 0 && u === w && v === -w ? ctx.moveTo(px, py) : ctx.lineTo(px, py);
        }
      }
      ctx.closePath(); break;
    }
    case "x": ctx.moveTo(x - r, y - r); ctx.lineTo(x + r, y + r); ctx.moveTo(x - r, y + r); ctx.lineTo(x + r, y - r); break;
    case "+": ctx.moveTo(x - r, y); ctx.lineTo(x + r, y); ctx.moveTo(x, y - r); ctx.lineTo(x, y + r); break;
    case "|": ctx.moveTo(x, y - r); ctx.lineTo(x, y + r); break;
    case "_": ctx.moveTo(x - r, y); ctx.lineTo(x + r, y); break;
    default: {
      const rr = marker === "." ? r * 0.5 : r;
      ctx.moveTo(x + rr, y); // a circle of its own, not joined to the marker before it
      ctx.arc(x, y, rr, 0, 2 * Math.PI);
    }
  }
}

function strokeLine(ctx, line, pts, count, k) {
  if (!line.dash || !line.color || count < 2) return;
  ctx.strokeStyle = line.color;
  ctx.lineWidth = Math.max(line.width * k, 0.5);
  ctx.lineJoin = "round";
  ctx.lineCap = line.dash === "-" || line.dash === "solid" ? "round" : "butt";
  const dash = DASHES[line.dash];
  ctx.setLineDash(dash ? dash.map((d) => d * line.width * k) : []);
  ctx.beginPath();
  let pen = false;
  for (let i = 0; i < count; i++) {
    const x = pts[2 * i], y = pts[2 * i + 1];
    if (x === null || y === null) { pen = false; continue; }
    pen ? ctx.lineTo(x * k, y * k) : ctx.moveTo(x * k, y * k);
    pen = true;
  }
  ctx.stroke();
  ctx.setLineDash([]);
}

function isOpaque(color) {
  return /^#([0-9a-f]{6}|[0-9a-f]{6}ff)$/i.test(color);
}

// matplotlib fills and edges each marker in turn. Where that cannot show (one opaque colour for
// faces and edges, or only one of the two), all the markers of a line are one path, filled once
// and stroked once: the same picture (where two dots overlap, their anti-aliased rims are
// blended once instead of twice, a difference below what the eye sees), and several times
// faster to rasterise (a path panel's 400 dots took 5 ms of an 8 ms frame one by one in
// Chromium's software canvas).
function drawMarkers(ctx, line, pts, from, count, k) {
  if (!line.marker) return;
  const r = (line.msize * k) / 2;
  const open = ["x", "+", "|", "_"].includes(line.marker);
  const face = open ? null : line.mface;
  const edge = open ? line.medge || line.color : line.medge;
  const stroked = !!edge && line.mew > 0;
  const width = Math.max(line.mew * k, open ? 1 : 0.5);
  const paint = () => {
    if (face) { ctx.fillStyle = face; ctx.fill(); }
    if (stroked) { ctx.strokeStyle = edge; ctx.lineWidth = width; ctx.stroke(); }
  };
  const together = (!face || !stroked || face === edge) && (!face || isOpaque(face)) && (!stroked || isOpaque(edge));
  if (together) ctx.beginPath();
  for (let i = from; i < count; i++) {
    const x = pts[2 * i], y = pts[2 * i + 1];
    if (x === null || y === null) continue;
    if (!together) ctx.beginPath();
    markerPath(ctx, line.marker, x * k, y * k, r);
    if (!together) paint();
  }
  if (together) paint();
}

function visibleCount(line, step, last) {
  if (line.reveal !== "prefix" || step < 0 || step >= last) return line.n;
  return Math.min(step + 1, line.n);
}

function drawAxes(ctx, ax, k, step, last, images) {
  const [x0, y0, x1, y1] = ax.box.map((v) => v * k);
  if (ax.face) { ctx.fillStyle = ax.face; ctx.fillRect(x0, y0, x1 - x0, y1 - y0); }
  const img = ax.bg && images[ax.bg];
  if (img && img.complete && img.naturalWidth) ctx.drawImage(img, x0, y0, x1 - x0, y1 - y0);
  // filled polygons (bands) over the background, under the grid and the lines
  for (const f of ax.fills || []) {
    ctx.save();
    if (f.clip) { ctx.beginPath(); ctx.rect(x0, y0, x1 - x0, y1 - y0); ctx.clip(); }
    ctx.fillStyle = f.color;
    ctx.beginPath();
    let pen = false;
    for (let i = 0; i < f.points.length; i += 2) {
      const x = f.points[i], y = f.points[i + 1];
      if (x === null || y === null) { if (pen) ctx.closePath(); pen = false; continue; }
      pen ? ctx.lineTo(x * k, y * k) : ctx.moveTo(x * k, y * k);
      pen = true;
    }
    if (pen) ctx.closePath();
    ctx.fill();
    ctx.restore();
  }
  // grid
  for (const [dim, spec] of [["x", ax.x], ["y", ax.y]]) {
    if (!spec.grid) continue;
    ctx.strokeStyle = `rgba(176,176,176,${spec.grid_alpha})`;
    ctx.lineWidth = 0.8;
    ctx.beginPath();
    for (const [c] of spec.major) {
      if (dim === "x") { ctx.moveTo(c * k, y0); ctx.lineTo(c * k, y1); }
      else { ctx.moveTo(x0, c * k); ctx.lineTo(x1, c * k); }
    }
    ctx.stroke();
  }
  // lines, then markers, in z order; clipped to the axes like matplotlib
  const order = ax.lines.map((l, i) => i).sort((a, b) => ax.lines[a].z - ax.lines[b].z);
  for (const i of order) {
    const line = ax.lines[i];
    ctx.save();
    if (line.clip) { ctx.beginPath(); ctx.rect(x0, y0, x1 - x0, y1 - y0); ctx.clip(); }
    if (line.follow !== undefined && step >= 0 && step < last) {
      const other = ax.lines[line.follow];
      const j = Math.min(visibleCount(other, step, last), other.n) - 1;
      drawMarkers(ctx, line, [other.points[2 * j], other.points[2 * j + 1]], 0, 1, k);
    } else {
      const count = visibleCount(line, step, last);
      strokeLine(ctx, line, line.points, count, k);
      drawMarkers(ctx, line, line.points, 0, count, k);
    }
    ctx.restore();
  }
  // frame
  ctx.strokeStyle = "#000";
  ctx.lineWidth = 0.8;
  ctx.beginPath();
  if (ax.spines.includes("left")) { ctx.moveTo(x0, y0); ctx.lineTo(x0, y1); }
  if (ax.spines.includes("right")) { ctx.moveTo(x1, y0); ctx.lineTo(x1, y1); }
  if (ax.spines.includes("top")) { ctx.moveTo(x0, y0); ctx.lineTo(x1, y0); }
  if (ax.spines.includes("bottom")) { ctx.moveTo(x0, y1); ctx.lineTo(x1, y1); }
  ctx.stroke();
  // ticks and their labels (bottom/left, or top/right for twin axes and colorbars)
  const xTop = ax.x.side === "top", yRight = ax.y.side === "right";
  const xa = xTop ? y0 : y1, xd = xTop ? -1 : 1; // x axis line and outward direction
  const ya = yRight ? x1 : x0, yd = yRight ? 1 : -1;
  ctx.fillStyle = "#000";
  ctx.strokeStyle = "#000";
  ctx.lineWidth = 0.8;
  ctx.beginPath();
  for (const [c] of ax.x.major) { ctx.moveTo(c * k, xa); ctx.lineTo(c * k, xa + xd * TICK); }
  for (const [c] of ax.x.minor) { ctx.moveTo(c * k, xa); ctx.lineTo(c * k, xa + xd * TICK / 2); }
  for (const [c] of ax.y.major) { ctx.moveTo(ya, c * k); ctx.lineTo(ya + yd * TICK, c * k); }
  for (const [c] of ax.y.minor) { ctx.moveTo(ya, c * k); ctx.lineTo(ya + yd * TICK / 2, c * k); }
  ctx.stroke();
  const xs = ax.x.tick_size, ys = ax.y.tick_size;
  setFont(ctx, xs);
  ctx.textAlign = "center"; ctx.textBaseline = xTop ? "bottom" : "top";
  for (const [c, label] of [...ax.x.major, ...ax.x.minor]) if (label) ctx.fillText(label, c * k, xa + xd * (TICK + 2));
  if (ax.x.offset) { ctx.textAlign = "right"; ctx.fillText(ax.x.offset, x1, xa + xd * (TICK + 4 + xs * 1.2)); }
  setFont(ctx, ys);
  ctx.textAlign = yRight ? "left" : "right"; ctx.textBaseline = "middle";
  let widest = 0;
  for (const [c, label] of [...ax.y.major, ...ax.y.minor]) {
    if (!label) continue;
    ctx.fillText(label, ya + yd * (TICK + 2), c * k);
    widest = Math.max(widest, ctx.measureText(label).width);
  }
  if (ax.y.offset) { ctx.textAlign = yRight ? "right" : "left"; ctx.textBaseline = "bottom"; ctx.fillText(ax.y.offset, yRight ? x1 : x0, y0 - 2); }
  if (ax.x.label) {
    setFont(ctx, ax.x.label_size);
    ctx.textAlign = "center"; ctx.textBaseline = xTop ? "bottom" : "top";
    ctx.fillText(ax.x.label, (x0 + x1) / 2, xa + xd * (TICK + 4 + xs * 1.15));
  }
  if (ax.y.label) {
    setFont(ctx, ax.y.label_size);
    ctx.save();
    ctx.translate(ya + yd * (TICK + 5 + widest), (y0 + y1) / 2);
    ctx.rotate(-Math.PI / 2); // read bottom to top on either side, as matplotlib does
    ctx.textAlign = "center"; ctx.textBaseline = yRight ? "top" : "bottom";
    ctx.fillText(ax.y.label, 0, 0);
    ctx.restore();
  }
  for (const t of [...ax.texts].sort((a, b) => a.z - b.z)) {
    if (t.from_step !== undefined && step >= 0 && step < t.from_step) continue;
    drawText(ctx, t, k);
  }
  if (ax.legend && ax.legend.items.length) drawLegend(ctx, ax.legend, [x0, y0, x1, y1], k);
}

function drawLegend(ctx, legend, [x0, y0, x1, y1], k) {
  const size = legend.size, lh = size * 1.35, sample = 22, pad = 6;
  setFont(ctx, size);
  const w = Math.max(...legend.items.map((it) => ctx.measureText(it.label).width)) + sample + 3 * pad;
  const h = lh * legend.items.length + pad;
  const loc = legend.loc;
  let left = loc.includes("left") ? x0 + pad : loc.includes("right") ? x1 - w - pad : (x0 + x1 - w) / 2;
  let top = loc.startsWith("upper") ? y0 + pad : loc.startsWith("lower") ? y1 - h - pad : (y0 + y1 - h) / 2;
  if (loc === "center right" || loc === "center left" || loc === "center") top = (y0 + y1 - h) / 2;
  ctx.fillStyle = "rgba(255,255,255,0.85)";
  ctx.strokeStyle = "#ccc"; ctx.lineWidth = 1;
  ctx.beginPath();
  if (ctx.roundRect) ctx.roundRect(left, top, w, h, 3); else ctx.rect(left, top, w, h);
  ctx.fill(); ctx.stroke();
  legend.items.forEach((it, i) => {
    const cy = top + pad / 2 + lh * i + lh / 2;
    const pts = [(left + pad) / k, cy / k, (left + pad + sample) / k, cy / k];
    strokeLine(ctx, it, pts, 2, k);
    drawMarkers(ctx, it, [(left + pad + sample / 2) / k, cy / k], 0, 1, k);
    ctx.fillStyle = "#000"; ctx.textAlign = "left"; ctx.textBaseline = "middle";
    setFont(ctx, size);
    ctx.fillText(it.label, left + 2 * pad + sample, cy);
  });
}

// A canvas in `container` that draws scenes: view.draw(scene, images, step) draws now (images:
// {fingerprint: data URL}, loaded once and cached; step -1 shows everything). It keeps the last
// arguments, so view.redraw() repeats them (a resize, an image that finished loading). Each
// drawing counts in root.dataset.frames and sends "course-frame" (bubbling) on the animation
// frame after it, once it is on screen: tests and latency benchmarks wait for that event.
function createView(container) {
  const root = document.createElement("div");
  root.className = "course-figure-view";
  root.style.width = "100%";
  const canvas = document.createElement("canvas");
  canvas.style.display = "block";
  root.append(canvas);
  if (container) container.append(root);
  const loaded = {};
  let frames = 0;
  let sceneVersion = 0;
  let last = { scene: null, images: {}, step: -1 };
  let pending = false;
  const view = { root, canvas };
  // The root's width, kept by a ResizeObserver rather than read in every drawing: a move writes
  // the controls' readouts first, and reading clientWidth after that makes the page lay out
  // (1-2 ms of a lecture page's time) in the middle of the move.
  let width = 0;
  let observer = null;
  if (typeof ResizeObserver !== "undefined") {
    observer = new ResizeObserver((entries) => {
      const w = Math.round(entries[entries.length - 1].contentRect.width);
      if (w !== width) { width = w; view.schedule(); }
    });
    observer.observe(root);
  }
  view.dispose = () => { if (observer) observer.disconnect(); };

  function loadImages(images) {
    for (const [key, url] of Object.entries(images || {})) {
      if (loaded[key]) continue;
      const img = new Image();
      img.onload = () => view.schedule();
      img.src = url;
      // decoded off the main thread now, not inside the first drawing that uses it
      if (img.decode) img.decode().catch(() => {});
      loaded[key] = img;
    }
  }

  view.draw = function (scene, images, step) {
    pending = false;
    if (scene !== last.scene) sceneVersion += 1;
    last = { scene, images: images || {}, step: step === undefined ? -1 : step };
    loadImages(last.images);
    if (!scene || !scene.axes) return;
    const natural = scene.width * scene.scale;
    if (!width) width = root.clientWidth; // the first drawing, before the observer has reported
    const available = width || natural;
    const s = Math.min(1, available / natural);
    const k = scene.scale * s;
    const dpr = window.devicePixelRatio || 1;
    const cssW = Math.round(natural * s), cssH = Math.round(scene.height * scene.scale * s);
    if (canvas.width !== Math.round(cssW * dpr) || canvas.height !== Math.round(cssH * dpr)) {
      canvas.width = Math.round(cssW * dpr);
      canvas.height = Math.round(cssH * dpr);
      canvas.style.width = cssW + "px";
      canvas.style.height = cssH + "px";
    }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    drawScene(ctx, scene, loaded, last.step, k, cssW, cssH);
    const lastStep = scene.last_step || 0;
    const st = last.step;
    frames += 1;
    root.dataset.frames = String(frames);
    root.dataset.step = String(st < 0 || st >= lastStep ? lastStep : st);
    root.dataset.lastStep = String(lastStep);
    root.dataset.scene = String(sceneVersion);
    const version = sceneVersion, frame = frames, shown = root.dataset.step;
    requestAnimationFrame(() => root.dispatchEvent(new CustomEvent("course-frame", {
      bubbles: true, detail: { time: performance.now(), frame, step: shown, scene: version } })));
  };

  view.redraw = function () { view.draw(last.scene, last.images, last.step); };
  // Start loading pictures a later scene will use (each redraws the view once it has loaded).
  view.preload = function (images) { loadImages(images); };

  // Several changes in one tick make one drawing, on the next animation frame. The browser may
  // hold animation frames back (a page it considers hidden or busy): a timer then draws anyway,
  // so a new scene is never left waiting behind a frame that never comes.
  view.schedule = function () {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => { if (pending) view.redraw(); });
    setTimeout(() => { if (pending) view.redraw(); }, 100);
  };
  view.frames = () => frames;
  return view;
}

// The whole scene on a 2-D context at k CSS px per figure px (cssW x cssH is the canvas).
function drawScene(ctx, scene, images, step, k, cssW, cssH) {
  ctx.fillStyle = scene.face || "#fff";
  ctx.fillRect(0, 0, cssW, cssH);
  const last = scene.last_step || 0;
  for (const ax of scene.axes) drawAxes(ctx, ax, k, step, last, images);
  for (const t of scene.texts) {
    if (t.from_step !== undefined && step >= 0 && step < t.from_step) continue;
    drawText(ctx, t, k);
  }
}

return { createView, drawScene, drawAxes, drawText, drawLegend, visibleCount, FONT };
})();

if (typeof window !== "undefined") window.CourseFigure = CourseFigure;
if (typeof module !== "undefined" && module.exports) module.exports = CourseFigure;
