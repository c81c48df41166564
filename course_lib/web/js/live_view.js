// live_view.js: FigureView in JupyterLab answering a slider move in the browser.
//
// course_lib.web.live puts, in one anywidget module: figure_draw.js, the JS port (optim.js,
// landscapes.js, trajectories.js), synth.js, panel_runtime.js (for its table source),
// FigureView's own wrapper (figure_view.js, its `export default` taken off) and this file. The
// wrapper's render makes the view as always (the kernel's scenes, Play, the "saved picture"
// note); this file adds: when a control of the panel moves in the browser, the scene for the new
// values is made here (CourseSynth.sceneFor, or the web book's table where the values are its
// notches: the same path as the web pages) and drawn at once; the kernel's scene, when it comes,
// replaces it.
// While the controls keep moving, a kernel scene that arrives is one for older values: it is
// drawn only once the controls have been still for QUIET_MS.

const QUIET_MS = 300;

function liveRender(context) {
  const { model } = context;
  const create = CourseFigure.createView;
  let view = null;
  CourseFigure.createView = (container) => (view = create(container));
  let cleanup;
  try {
    cleanup = render(context);
  } finally {
    CourseFigure.createView = create;
  }
  if (!view) return cleanup;

  // The browser's source (the JS port's spec, or the web book's table) comes from the kernel as a
  // message once the view is live, and again for every view drawn later: it is kept here only,
  // never in the widget's state, so a saved notebook does not carry it (a table is up to 1.75 MB).
  let source = {}, sourceImages = {};
  const offs = [];
  const on = (target, event, handler) => { target.on(event, handler); offs.push(() => target.off(event, handler)); };
  const ready = () => { if (source.kind) view.root.dataset.source = "1"; };
  let warm = () => {}; // set once the controls' models are here (below)
  on(model, "msg:custom", (msg) => {
    if (msg && msg.type === "source-error") {
      view.root.dataset.sourceError = String(msg.error); // the kernel draws every move
      return;
    }
    if (!msg || msg.type !== "source") return;
    source = msg.source || {};
    sourceImages = msg.images || {};
    view.preload(sourceImages); // decoded now, not on the first move to another landscape
    ready();
    warm();
  });
  // The kernel makes the source on the view's first ping. Where none has come (a message lost, or
  // one made too late: a panel once stayed without its source in 2 of 24 benchmark views), ask
  // again: a ping to a live view makes the source anew if the kernel has none.
  const asks = [3000, 8000, 20000].map((ms) => setTimeout(() => {
    if (source.kind || view.root.dataset.sourceError) return;
    try { model.send({ type: "ping" }); } catch (error) { /* no kernel: nothing to ask */ }
  }, ms));
  offs.push(() => asks.forEach(clearTimeout));
  let finished = false;
  const finish = () => { finished = true; offs.forEach((off) => off()); if (cleanup) cleanup(); };

  // `stepAtMove`: the step the view stood at when the local scene was drawn. A step moved since
  // (Play, the step slider, Home) is drawn on the local scene until the kernel's replaces it.
  // The local scene stays until a scene from the kernel has come since the move and the controls
  // have been still for QUIET_MS: a redraw before that (a Play step, a resize) must not show the
  // scene from before the move (a training panel's kernel can take a second to answer).
  let local = null, movedAt = -Infinity, stepAtMove = null, kernelSceneAt = -Infinity;
  const images = () => Object.assign({}, sourceImages, model.get("images") || {});
  const kernelRedraw = view.redraw;
  view.redraw = () => {
    if (local && (kernelSceneAt < movedAt || performance.now() - movedAt < QUIET_MS)) {
      const step = model.get("step");
      view.draw(local, images(), step === stepAtMove ? -1 : step);
      return;
    }
    local = null;
    kernelRedraw();
  };
  on(model, "change:scene", () => {
    kernelSceneAt = performance.now();
    if (local) setTimeout(() => view.schedule(), QUIET_MS + 20);
  });

  // the source may come after the first drawing (the kernel makes it once the view is live)
  const controls = model.get("controls") || [];
  const refs = model.get("control_models") || {};
  if (!model.widget_manager) return finish;
  const byName = Object.fromEntries(controls.map((c) => [c.name, c]));
  Promise.all(Object.entries(refs).map(([name, ref]) =>
    widgetModel(model, ref).then((m) => [name, m]),
  )).then((pairs) => {
    if (finished) return; // the view went before its controls' models came
    const models = Object.fromEntries(pairs);
    const valueOf = (name) => {
      const c = byName[name], m = models[name];
      // selection widgets (Dropdown, SelectionSlider) sync an index, not the value
      if (c && (c.kind === "dropdown" || c.labels)) return c.values[m.get("index")];
      return m.get("value");
    };
    // A computed panel's source (landscapes, 06's curves) makes any scene (synth.js); a training
    // panel's is the web book's table (panel_runtime.js), which holds the page's notches only.
    let table = null, tableOf = null;
    const sceneFor = (source, values) => {
      if (source.kind !== "table") return CourseSynth.sceneFor(source, values);
      if (tableOf !== source) {
        table = CoursePanels.tableSource({ controls: source.controls, source });
        tableOf = source;
      }
      return table.sceneAt(values);
    };
    const valuesNow = () => {
      const values = {};
      for (const name of Object.keys(models)) values[name] = valueOf(name);
      return values;
    };
    // One scene made and thrown away as soon as both are here: the browser compiles the port's
    // code then, not on the learner's first move (which took 40-110 ms more than the next ones).
    warm = () => {
      if (!source.kind) return;
      try { sceneFor(source, valuesNow()); } catch (error) { /* the kernel says why, on a move */ }
    };
    const onMove = () => {
      // a preset sets several controls: one scene for all of them, in every view of the panel
      if (model.__courseApplying || !source.kind) return; // not yet: the kernel draws this move
      const values = valuesNow();
      let scene = null;
      try {
        scene = sceneFor(source, values);
      } catch (error) {
        scene = null; // a combination the panel rejects: the kernel says why
      }
      if (!scene) {
        local = null; // not here (a notch between the table's): the kernel's scene is drawn
        return;
      }
      local = scene;
      movedAt = performance.now();
      stepAtMove = model.get("step");
      view.root.dataset.localScene = String((Number(view.root.dataset.localScene) || 0) + 1);
      view.draw(local, images(), -1);
    };
    for (const m of Object.values(models)) {
      on(m, "change:value", onMove);
      on(m, "change:index", onMove);
    }
    // A preset button: its click moves the controls here and draws at once. The click has gone
    // to the kernel first (onClick), whose panel.update sets the same values and sends its scene;
    // the sliders here send their values too (ipywidgets' sliders send any value set from
    // outside), which the kernel then already has.
    const applyPreset = (values) => {
      model.__courseApplying = true;
      try {
        for (const [name, value] of Object.entries(values)) {
          const c = byName[name], m = models[name];
          if (!c || !m) continue;
          if (c.kind === "dropdown" || c.labels) {
            const index = c.values.indexOf(value);
            if (index >= 0) m.set("index", index);
          } else {
            m.set("value", value);
          }
        }
      } finally {
        model.__courseApplying = false;
      }
      onMove();
    };
    for (const preset of model.get("presets") || []) {
      widgetModel(model, preset.button).then((button) => {
        onClick(button, () => applyPreset(preset.values), on);
      }).catch(() => { /* no button model: its click goes to the kernel only, as before */ });
    }
    view.root.dataset.compute = "1";
    warm();
  }).catch(() => { /* controls not found: the kernel draws every move, as before */ });
  return finish;
}

// A Button's view tells the kernel of a click by `model.send({event: "click"})`; the model has no
// event of its own for it. `send` is wrapped once per button model to also trigger "course:click"
// there, after the click has gone, which every live view of the panel listens to (and stops
// listening to on cleanup).
function onClick(button, handler, on) {
  if (!button.__courseClick) {
    const send = button.send;
    button.send = function (content, ...rest) {
      // the click first: the kernel runs the preset before the values the sliders send after it
      const sent = send.call(this, content, ...rest);
      if (content && content.event === "click") this.trigger("course:click");
      return sent;
    };
    button.__courseClick = true;
  }
  on(button, "course:click", handler);
}

export default { render: liveRender };
