// course_lib/web/js/panel_runtime.js: the course's panels, live in a static page with no kernel.
//
// A classic script (no modules, no requests) that defines window.CoursePanels:
//   specs    {panel id: spec}: each panel's spec, registered by its own script <id>.js
//            (course_lib/web/export.py writes them);
//   sources  {kind: (spec) => ({sceneFor(values) -> scene})}: where scenes come from; "table"
//            (scenes computed ahead in Python, below) and "compute" (course_lib/web/js/synth.js);
//   mount(element, spec) -> panel, mountAll(root): build the controls (a range input over each
//            slider's notches, selects, checkboxes, readouts formatted as ipywidgets formats
//            them), Play and the step slider, and the figure, drawn by window.CourseFigure
//            (course_lib/ui/figure_draw.js, the code FigureView draws with in JupyterLab).
// Every `input` event draws the new scene at once (the next painted frame shows it); Play
// reveals one step a frame.
// In node (tests) the pure helpers are exported: formatValue, nearestIndex, tableSource, ...

var CoursePanels = (function () {
"use strict";

const root = typeof window !== "undefined" ? window : {};
const API = root.CoursePanels || {};
API.specs = API.specs || {};
API.sources = API.sources || {};

// ---------------------------------------------------------------------------------------------
// Readouts: the subset of d3-format that ipywidgets' readout_format uses in the course
// ---------------------------------------------------------------------------------------------

function formatValue(value, format) {
  if (typeof value === "boolean") return value ? "on" : "off";
  if (typeof value !== "number") return String(value);
  const m = /^([.](\d+))?([gfed%]?)$/.exec(format || ".3g");
  if (!m) return String(value);
  const digits = m[2] === undefined ? 6 : Number(m[2]);
  let text;
  switch (m[3]) {
    case "d": text = String(Math.round(value)); break;
    case "f": text = value.toFixed(digits); break;
    case "e": text = value.toExponential(digits); break;
    case "%": text = (value * 100).toFixed(digits) + "%"; break;
    default: text = value.toPrecision(Math.max(1, digits)); // d3's "g" (no trimming)
  }
  return text.replace(/^-/, "\u2212"); // d3 writes a minus sign
}

// The index of `value` in `values`: equal, else (numbers) the nearest, on a log scale when all
// are positive (the learning-rate sliders).
function nearestIndex(values, value) {
  for (let i = 0; i < values.length; i++) if (values[i] === value) return i;
  if (typeof value !== "number") {
    for (let i = 0; i < values.length; i++) if (String(values[i]) === String(value)) return i;
    return 0;
  }
  const positive = value > 0 && values.every((v) => typeof v === "number" && v > 0);
  let best = 0, distance = Infinity;
  for (let i = 0; i < values.length; i++) {
    if (typeof values[i] !== "number") continue;
    const d = positive ? Math.abs(Math.log(values[i]) - Math.log(value)) : Math.abs(values[i] - value);
    if (d < distance) { distance = d; best = i; }
  }
  return best;
}

// ---------------------------------------------------------------------------------------------
// The "table" source: scenes computed ahead (course_lib/web/export.py), parts stored once
// ---------------------------------------------------------------------------------------------

function decodePoints(encoded) {
  const out = new Array(encoded.length);
  let x = 0, y = 0;
  for (let i = 0; i < encoded.length; i++) {
    const v = encoded[i];
    if (v === null) { out[i] = null; continue; }
    if (i % 2 === 0) { x += v; out[i] = x / 10; } else { y += v; out[i] = y / 10; }
  }
  return out;
}

// The index of `value` among `values` (numbers equal to 1e-9 of their size), or -1.
function notchOf(values, value) {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === value) return i;
    if (typeof v === "number" && typeof value === "number"
        && Math.abs(v - value) <= 1e-9 * Math.max(Math.abs(v), Math.abs(value))) return i;
  }
  if (typeof value === "number" || (value !== null && typeof value === "object")) return -1;
  // a string the widget sends for a value the spec holds as another primitive type
  for (let i = 0; i < values.length; i++) {
    if (typeof values[i] !== "object" && String(values[i]) === String(value)) return i;
  }
  return -1;
}

function tableSource(spec) {
  const t = spec.source;
  const names = spec.controls.map((c) => c.name);
  const strides = [];
  let stride = 1;
  for (let i = t.shape.length - 1; i >= 0; i--) { strides[i] = stride; stride *= t.shape[i]; }
  const lines = new Map(), fills = new Map(), legends = new Map(), scenes = new Map();

  function line(i) {
    if (!lines.has(i)) {
      const item = Object.assign({}, t.lines[i]);
      item.points = decodePoints(item.p);
      delete item.p;
      lines.set(i, item);
    }
    return lines.get(i);
  }

  function legend(i) {
    if (!legends.has(i)) {
      const item = Object.assign({}, t.legends[i]);
      item.items = item.items.map((j) => t.items[j]);
      legends.set(i, item);
    }
    return legends.get(i);
  }

  function fill(i) {
    if (!fills.has(i)) {
      const item = Object.assign({}, t.fills[i]);
      item.points = decodePoints(item.p);
      delete item.p;
      fills.set(i, item);
    }
    return fills.get(i);
  }

  function scene(index) {
    if (scenes.has(index)) return scenes.get(index);
    const [frame, lastStep, axes, texts] = t.scenes[index];
    const s = Object.assign({}, t.frames[frame]);
    s.axes = axes.map(([base, x, y, ls, ts, fs]) => {
      const ax = Object.assign({}, t.axes[base], {
        x: t.ticks[x], y: t.ticks[y], lines: ls.map(line), texts: ts.map((j) => t.texts[j]) });
      if (ax.legend !== null && ax.legend !== undefined) ax.legend = legend(ax.legend);
      if (fs) ax.fills = fs.map(fill);
      return ax;
    });
    s.texts = texts.map((j) => t.texts[j]);
    s.last_step = lastStep;
    scenes.set(index, s);
    return s;
  }

  return {
    // The scene of exactly these values, or null where one of them is not a notch of the table
    // (JupyterLab's sliders have notches between the page's: those moves wait for the kernel).
    sceneAt(values) {
      let flat = 0;
      for (let i = 0; i < spec.controls.length; i++) {
        const c = spec.controls[i];
        const k = notchOf(c.values, values[c.name] === undefined ? c.value : values[c.name]);
        if (k < 0) return null;
        flat += k * strides[i];
      }
      return scene(t.index[flat]);
    },
    indexOf(values) {
      let flat = 0;
      spec.controls.forEach((c, i) => {
        const v = values[c.name] === undefined ? c.value : values[c.name];
        flat += nearestIndex(c.values, v) * strides[i];
      });
      return t.index[flat];
    },
    sceneFor(values) { return scene(this.indexOf(values)); },
    names,
  };
}
API.sources.table = tableSource;

// ---------------------------------------------------------------------------------------------
// Mounting a panel
// ---------------------------------------------------------------------------------------------

let counter = 0;

function el(tag, props, style) {
  const node = document.createElement(tag);
  Object.assign(node, props || {});
  if (style) node.style.cssText = style;
  return node;
}

function mount(element, spec) {
  if (!spec) spec = API.specs[element.dataset.panel];
  if (!spec) throw new Error("no spec for panel " + element.dataset.panel);
  if (element.__coursePanel) return element.__coursePanel;
  const make = API.sources[spec.source.kind];
  if (!make) throw new Error(`panel ${spec.id}: no source of kind "${spec.source.kind}" on this page`);
  const source = make(spec);
  const id = "course-panel-" + (++counter);
  const values = {};
  for (const c of spec.controls) values[c.name] = c.value;

  // what the page showed before (the stored picture) stays as the fallback, hidden
  for (const child of Array.from(element.children)) {
    if (!child.classList.contains("course-panel-live")) child.style.display = "none";
  }
  const box = el("div", { className: "course-panel-live" }, "font:13px sans-serif;margin:4px 0");
  if (spec.title) box.append(el("div", { textContent: spec.title }, "font-weight:bold;margin:2px 0 4px"));
  const row = el("div", { className: "course-panel-controls" },
    "display:flex;flex-wrap:wrap;gap:4px 18px;align-items:center;margin-bottom:4px");
  box.append(row);
  const inputs = {};

  spec.controls.forEach((c, i) => {
    const cid = `${id}-${i}`;
    const wrap = el("span", { className: "course-panel-control" }, "display:inline-flex;align-items:center;gap:6px");
    const label = el("label", { textContent: c.label, htmlFor: cid });
    let input, readout = null;
    if (c.kind === "checkbox") {
      input = el("input", { type: "checkbox", id: cid, checked: !!c.value });
      wrap.append(input, label);
    } else if (c.kind === "dropdown") {
      input = el("select", { id: cid });
      (c.options || c.values.map((v) => [String(v), v])).forEach(([text], k) => {
        input.append(el("option", { value: String(k), textContent: text }));
      });
      input.value = String(nearestIndex(c.values, c.value));
      wrap.append(label, input);
    } else {
      input = el("input", { type: "range", id: cid, min: "0", max: String(c.values.length - 1), step: "1" },
        "width:150px");
      input.value = String(nearestIndex(c.values, c.value));
      readout = el("output", { htmlFor: cid }, "min-width:3.5em;font-variant-numeric:tabular-nums");
      wrap.append(label, input, readout);
    }
    input.dataset.control = c.name;
    input.disabled = c.values.length < 2;
    inputs[c.name] = { input, readout, control: c };
    row.append(wrap);
  });

  // The controls' positions into `values`; returns whether any moved since the last call. A
  // readout is written only when its control moved (a write costs the page a layout).
  const positions = {};
  function readValues() {
    let moved = false;
    for (const { input, readout, control: c } of Object.values(inputs)) {
      const position = c.kind === "checkbox" ? input.checked : Number(input.value);
      if (positions[c.name] === position) continue;
      moved = true;
      positions[c.name] = position;
      values[c.name] = c.kind === "checkbox" ? position : c.values[position];
      if (readout) {
        const text = c.labels ? c.labels[position] : formatValue(values[c.name], c.format);
        readout.value = text;
        readout.textContent = text;
        input.setAttribute("aria-valuetext", text);
      }
    }
    return moved;
  }

  let play = null, stepInput = null, stepReadout = null;
  if (spec.play) {
    const prow = el("div", { className: "course-panel-play" }, "display:flex;align-items:center;gap:8px;margin-bottom:4px");
    play = el("button", { type: "button", textContent: "▶ Play", title: "reveal the steps one by one" },
      "font:13px sans-serif;min-width:5.5em");
    play.setAttribute("aria-pressed", "false");
    stepInput = el("input", { type: "range", id: id + "-step", min: "0", max: "1", step: "1" }, "width:220px");
    stepInput.dataset.control = "step";
    stepReadout = el("output", { htmlFor: id + "-step" }, "min-width:3em;font-variant-numeric:tabular-nums");
    prow.append(play, el("label", { textContent: "step", htmlFor: id + "-step" }), stepInput, stepReadout);
    box.append(prow);
  }
  if (spec.notches_note) {
    box.append(el("div", { className: "course-panel-note", textContent: spec.notches_note },
      "font-size:12px;color:#555;margin:2px 0 4px"));
  }
  element.append(box);
  const view = root.CourseFigure.createView(box);

  let scene = null, step = -1;
  function lastStep() { return (scene && scene.last_step) || 0; }
  function showStep(s) {
    step = s;
    if (stepInput) {
      stepInput.value = String(s);
      stepReadout.value = stepReadout.textContent = String(s);
    }
  }
  view.redraw = () => view.draw(scene, spec.images || {}, step);

  // A move draws at once, in the input event: the frame the browser paints next shows it (a
  // drawing takes a few ms; waiting for an animation frame first would cost up to one frame).
  // Every "input" that moves a control draws (a frame for each move, even one whose notch gives
  // the same figure); the "change" a slider sends after its "input" finds nothing moved and
  // costs nothing (computing the scene again took as long as the first time).
  function recompute(event) {
    if (!readValues() && event) return;
    const next = source.sceneFor(values);
    if (next !== scene) {
      scene = next;
      stopPlay();
      if (stepInput) stepInput.max = String(Math.max(lastStep(), 1));
      showStep(lastStep()); // a new figure shows its whole path, as in the notebook
    }
    view.redraw();
  }

  for (const { input } of Object.values(inputs)) {
    input.addEventListener("input", recompute);
    input.addEventListener("change", recompute);
  }

  // Play: one step per animation frame (60 a second on most screens), from the start, or from
  // where the step slider is.
  let playing = false, raf = 0, timer = 0;
  // The next step comes on the next animation frame, or after 30 ms if the browser holds
  // animation frames back (a busy or hidden page): never fewer than 33 steps a second.
  function nextFrame() {
    let done = false;
    const go = () => {
      if (done) return;
      done = true;
      cancelAnimationFrame(raf); clearTimeout(timer);
      raf = timer = 0;
      tick();
    };
    raf = requestAnimationFrame(go);
    timer = setTimeout(go, 30);
  }
  function stopPlay() {
    playing = false;
    if (raf) cancelAnimationFrame(raf);
    if (timer) clearTimeout(timer);
    raf = timer = 0;
    if (play) { play.textContent = "▶ Play"; play.setAttribute("aria-pressed", "false"); }
  }
  function tick() {
    if (!playing) return;
    const next = step + 1;
    showStep(Math.min(next, lastStep()));
    view.draw(scene, spec.images || {}, step);
    if (step >= lastStep()) { stopPlay(); return; }
    nextFrame();
  }
  function startPlay() {
    if (!scene) return;
    if (step < 0 || step >= lastStep()) showStep(0);
    playing = true;
    play.textContent = "❚❚ Pause";
    play.setAttribute("aria-pressed", "true");
    view.draw(scene, spec.images || {}, step);
    nextFrame();
  }
  if (play) {
    play.addEventListener("click", () => (playing ? stopPlay() : startPlay()));
    stepInput.addEventListener("input", () => {
      stopPlay();
      showStep(Number(stepInput.value));
      view.schedule();
    });
  }

  recompute();
  element.dataset.mounted = "1";
  const panel = {
    spec, view, values, element,
    set(name, value) { // what a test or a script does: move a control to `value` and redraw
      const entry = inputs[name];
      if (entry.control.kind === "checkbox") entry.input.checked = !!value;
      else entry.input.value = String(nearestIndex(entry.control.values, value));
      recompute();
    },
    scene: () => scene,
    play: startPlay,
    stop: stopPlay,
    step: () => step,
  };
  element.__coursePanel = panel;
  return panel;
}

function mountAll(scope) {
  const mounted = [];
  const nodes = (scope || document).querySelectorAll(".course-panel[data-panel]");
  for (const node of nodes) {
    const spec = API.specs[node.dataset.panel];
    if (!spec || node.__coursePanel) continue;
    try {
      mounted.push(mount(node, spec));
    } catch (error) {
      // a panel that cannot go live keeps its stored picture; say why on the console
      console.warn(`course panel ${node.dataset.panel}: ${error.message}`);
    }
  }
  return mounted;
}

API.mount = mount;
API.mountAll = mountAll;
API.formatValue = formatValue;
API.nearestIndex = nearestIndex;
API.notchOf = notchOf;
API.decodePoints = decodePoints;
API.tableSource = tableSource;

if (typeof document !== "undefined") {
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", () => mountAll(document));
  else setTimeout(() => mountAll(document), 0);
}
return API;
})();

if (typeof window !== "undefined") window.CoursePanels = CoursePanels;
if (typeof module !== "undefined" && module.exports) module.exports = CoursePanels;
