// course_lib.ui.figure_view: the anywidget side of FigureView. figure_view.py puts
// figure_draw.js (window.CourseFigure, the drawing code the course's web pages use too) in
// front of this file, so JupyterLab and the pages draw a scene with the same code.

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
  try { model.send({ type: "ping" }); } catch (e) { /* no kernel: the note below says so */ }
  const timer = setTimeout(() => { if (!answered) { note.style.display = "block"; root.dataset.live = "0"; } }, 4000);

  // (the view redraws itself when its width changes)
  return () => { view.dispose(); clearTimeout(timer); };
}

export default { render };
