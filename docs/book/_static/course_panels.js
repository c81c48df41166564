// The book's panel loader (docs/book/course_site.py adds it, last, to every page that has a panel).
// Each <div class="course-panel" data-panel="ID"> whose spec the page loaded becomes a live
// panel now (window.CoursePanels.mount, course_lib/web/js/panel_runtime.js, which hides the
// stored picture inside the div); a panel without a spec keeps its picture and shows its note.
// A panel that fails to mount keeps its picture too, and the error reaches the console (the
// site's browser tests fail on it).
//
// A control's move is drawn in the input event itself when the runtime has only scheduled the
// drawing for the next animation frame: the new figure then reaches the screen with the next
// frame instead of the one after (benchmarks/site_latency.py: input -> on screen, median 21 ms
// -> 8 ms on the 2-core machine). The runtime's scheduled drawing then finds nothing to do.
(function () {
  "use strict";
  var panels = window.CoursePanels;
  var divs = document.querySelectorAll("div.course-panel[data-panel]");

  function drawOnInput(el, panel) {
    if (!panel || !panel.view || typeof panel.view.redraw !== "function") return;
    var frames = function () { return panel.view.frames ? panel.view.frames() : -1; };
    var before = -1;
    el.addEventListener("input", function () { before = frames(); }, true);   // before the runtime's handler
    el.addEventListener("input", function (event) {                           // after it
      var control = event.target && event.target.dataset ? event.target.dataset.control : null;
      if (control && frames() === before) panel.view.redraw();
    }, false);
  }

  for (var i = 0; i < divs.length; i++) {
    var el = divs[i];
    var spec = panels && panels.specs ? panels.specs[el.getAttribute("data-panel")] : null;
    if (!spec || typeof panels.mount !== "function") {
      el.classList.add("course-panel-static");
      continue;
    }
    try {
      drawOnInput(el, panels.mount(el, spec));
    } catch (error) {
      el.classList.add("course-panel-static");
      console.error("course panel " + el.getAttribute("data-panel") + ": " + error.message);
    }
  }
})();
