// course_lib.ui.figure_view: the anywidget side of FigureView. figure_view.py puts
// figure_draw.js (window.CourseFigure, the drawing code the course's web pages use too) in
// front of this file, so JupyterLab and the pages draw a scene with the same code.

// Play, driven from the view. ipywidgets' Play (PlayModel.loop) sets its next value, which jslink
// passes to the step slider and on to this view, sends both to the kernel, and then waits its
// whole `interval` (schedule_next): in JupyterLab's large page each step moved the slider, laid
// the notebook out again and sent messages to the kernel, and 30 ms asked gave 21-25 steps a
// second. Here the views take the loop over: on each animation frame, once `interval` ms have
// passed, the view model's `step` moves on in the browser only and every view of it draws at
// once; the Play value, and through the links the step slider and the kernel, follow every
// SYNC_EVERY steps and at the end (slider_panel.py links the slider to the view one way, so a
// step set here goes no further). A value set by anyone else (the step slider dragged, Stop)
// wins. Only this panel's Play model is changed; a Play without `loop` is left as it is.
const SYNC_EVERY = 8;

function drivePlay(play, model) {
  if (!play || typeof play.loop !== "function" || typeof play.pause !== "function") return false;
  if (play.__courseRedraws) return true;
  const redraws = (play.__courseRedraws = new Set()); // each view's redraw (render adds, cleanup removes)
  let driving = false, publishing = false, moved = null;
  play.on("change:value", () => { if (!publishing) moved = play.get("value"); });
  play.loop = function () {
    if (!play.get("playing") || driving) return;
    driving = true;
    moved = null;
    let value = play.get("value"), sent = value, due = performance.now(), steps = 0;
    const publish = () => {
      publishing = true;
      try { play.set("value", value); play.save_changes(); } finally { publishing = false; }
      sent = value;
    };
    const tick = (now) => {
      if (moved !== null) { value = sent = moved; moved = null; } // someone else moved it
      if (!play.get("playing")) {
        driving = false;
        if (value !== sent) publish();
        return;
      }
      if (now >= due) {
        const interval = Number(play.get("interval")) || 0;
        due = Math.max(due + interval, now + interval / 2);
        let next = value + (Number(play.get("step")) || 1);
        if (next > play.get("max")) {
          if (!play.get("repeat")) {
            driving = false;
            publish();
            play.pause();
            return;
          }
          next = play.get("min");
        }
        value = next;
        model.set("step", value); // in the browser only: the kernel hears of it at the next publish
        redraws.forEach((redraw) => redraw()); // on this frame (change:step's scheduled drawing then finds nothing to do)
        steps += 1;
        if (steps % SYNC_EVERY === 0) publish();
      }
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  };
  return true;
}

// Another widget of the panel (a slider, Play) by its "IPY_MODEL_<id>" reference. In a page that
// has just opened, the view can render before the manager has made the models created before
// it (their module loads first), and get_model then fails: ask again for a few seconds.
function widgetModel(model, ref, tries = 40) {
  const id = String(ref).replace(/^IPY_MODEL_/, "");
  return model.widget_manager.get_model(id).catch((error) => {
    if (tries <= 1) throw error;
    return new Promise((resolve) => setTimeout(resolve, 250)).then(() => widgetModel(model, ref, tries - 1));
  });
}

function render({ model, el }) {
  const view = CourseFigure.createView(el);
  const root = view.root;
  const note = document.createElement("div");
  note.className = "course-figure-note";
  note.style.cssText = "display:none;font:13px sans-serif;padding:4px 8px;margin:2px 0;" +
    "background:#fff4d6;border-left:4px solid #e0a800;color:#333";
  note.textContent = "This is a saved picture of the panel: run this cell (or Run All) to make its sliders live.";
  root.prepend(note);

  // The view's scheduled drawings (model changes, a loaded image, a resize) read the model's
  // latest values: scene + step + images that arrive in one message make one drawing.
  view.redraw = () => view.draw(model.get("scene"), model.get("images") || {}, model.get("step"));
  const schedule = () => view.schedule();

  model.on("change:images", schedule);
  model.on("change:scene", schedule);
  model.on("change:step", schedule);
  view.redraw();

  // A saved notebook reopened without its kernel shows this view from the saved widget state:
  // ask the kernel, and if nobody answers, say how to make the panel live.
  let answered = false;
  model.on("msg:custom", (msg) => {
    if (msg && msg.type === "pong") { answered = true; note.style.display = "none"; root.dataset.live = "1"; }
  });
  // (asked again twice: a message sent while the page was still setting the widget up can be lost)
  const ping = () => { if (!answered) try { model.send({ type: "ping" }); } catch (e) { /* no kernel: the note below says so */ } };
  ping();
  const again = [setTimeout(ping, 1000), setTimeout(ping, 2500)];
  const timer = setTimeout(() => { if (!answered) { note.style.display = "block"; root.dataset.live = "0"; } }, 4000);

  const playRef = model.get("play_model");
  let playModel = null;
  const redraw = () => view.redraw(); // (the view's redraw of the moment: course_lib.web.live replaces it)
  if (playRef && model.widget_manager) {
    widgetModel(model, playRef).then((play) => {
      if (!drivePlay(play, model)) return;
      playModel = play;
      play.__courseRedraws.add(redraw);
      root.dataset.playDriven = "1";
    }, () => {});
  }

  // (the view redraws itself when its width changes)
  return () => {
    view.dispose(); clearTimeout(timer); again.forEach(clearTimeout);
    if (playModel) playModel.__courseRedraws.delete(redraw);
  };
}

export default { render };
