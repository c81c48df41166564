// The book's panel loader (book/course_site.py adds it, last, to every page that has a panel).
// Each <div class="course-panel" data-panel="ID"> whose spec the page loaded becomes a live
// panel now (window.CoursePanels.mount, course_lib/web/js/panel_runtime.js, which hides the
// stored picture inside the div); a panel without a spec keeps its picture and shows its note.
// A panel that fails to mount keeps its picture too, and the error reaches the console (the
// site's browser tests fail on it).
(function () {
  "use strict";
  var panels = window.CoursePanels;
  var divs = document.querySelectorAll("div.course-panel[data-panel]");
  for (var i = 0; i < divs.length; i++) {
    var el = divs[i];
    var spec = panels && panels.specs ? panels.specs[el.getAttribute("data-panel")] : null;
    if (!spec || typeof panels.mount !== "function") {
      el.classList.add("course-panel-static");
      continue;
    }
    try {
      panels.mount(el, spec);
    } catch (error) {
      el.classList.add("course-panel-static");
      console.error("course panel " + el.getAttribute("data-panel") + ": " + error.message);
    }
  }
})();
