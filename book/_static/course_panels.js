// The book's panel loader (book/course_site.py adds it, last, to every page that has a panel).
// Each <div class="course-panel" data-panel="ID"> whose spec the page loaded becomes a live
// panel (window.CoursePanels.mount, course_lib/web/js/panel_runtime.js); the static picture
// inside it stays as the fallback, and is what a panel without a spec keeps, with its note.
(function () {
  "use strict";
  function mountAll() {
    var panels = window.CoursePanels;
    var divs = document.querySelectorAll("div.course-panel[data-panel]");
    for (var i = 0; i < divs.length; i++) {
      var el = divs[i];
      var spec = panels && panels.specs ? panels.specs[el.getAttribute("data-panel")] : null;
      if (!spec || typeof panels.mount !== "function") {
        el.classList.add("course-panel-static");
        continue;
      }
      panels.mount(el, spec);
      el.classList.add("course-panel-live");
    }
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mountAll);
  else mountAll();
})();
