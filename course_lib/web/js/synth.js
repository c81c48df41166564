/*
 * synth.js: the computed panels' scenes (the landscape panels, 06's effective-lr curves), made in
 * the browser from runs computed in the browser.
 *
 * A classic script (no modules, no requests). Load optim.js, landscapes.js and trajectories.js
 * first (window.CourseOptim: the runs); it registers
 *
 *   window.CoursePanels.sources.compute = (spec) => ({sceneFor(values) -> scene})
 *
 * and defines window.CourseSynth = {sceneFor(source, values), sceneFromResult(source, values,
 * result), ticker: {...}} (the pure parts, which tests/test_web_synth.py runs in node).
 *
 * A scene is what course_lib.ui.figure_view.scene_of + mark_steps make of the Python panel's
 * matplotlib figure for the same values. course_lib.web.synth.compute_spec ships what does not
 * depend on the runs (axes boxes, fixed ticks, the contour backgrounds, styles, text positions);
 * this file adds what does: paths, end markers, loss curves, the loss axis' scale and limits
 * (course_lib.ui.plots._scale_loss_axis), its ticks and labels as matplotlib 3.11's locators and
 * formatters place and write them (MaxNLocator + ScalarFormatter, LogLocator +
 * LogFormatterSciNotation, SymmetricalLogLocator), legends, divergence messages, each panel's
 * caption, and the reveal/follow/from_step marks of mark_steps; for 06, whose axes are fixed (the
 * spec ships them whole), the curves, their legends and the caption. Quadratic valleys whose
 * condition number is a slider get their contour as ellipses (lines marked "contour": true, at
 * the end of the axes' lines) instead of one background picture per notch.
 */
(function (root) {
  "use strict";
  // window.CourseOptim (the runs) is looked up when a scene is made, so the page may load the
  // port's scripts before or after this one; node requires it here
  var Optim = root.CourseOptim;
  if (typeof require === "function" && typeof module !== "undefined" && !(Optim && Optim.panels)) {
    Optim = require("./trajectories.js");
  }
  function optim() {
    if (root.CourseOptim && root.CourseOptim.panels) Optim = root.CourseOptim;
    if (!Optim || !Optim.panels) throw new Error("CourseOptim is not loaded: load optim.js, landscapes.js and trajectories.js");
    return Optim;
  }
  var API = root.CourseSynth || (root.CourseSynth = {});

  // ---- numbers as Python and numpy write and round them --------------------------------------

  function fmt(x, spec) {
    var fixed = /^\.(\d+)f$/.exec(spec);
    return fixed && isFinite(x) && Math.abs(x) < 1e21 ? pyFixed(x, Number(fixed[1])) : optim().format(x, spec);
  }

  // Python's format(x, ".nf"): the exact binary value rounded half to even. toFixed rounds the
  // exact value too, but ties up; a tie's exact expansion is the kept digits, a 5, then zeros.
  function pyFixed(x, n) {
    var negative = x < 0 || (x === 0 && 1 / x < 0);
    var a = Math.abs(x);
    var out = a.toFixed(n);
    var longer = a.toFixed(n + 30);
    var tail = longer.slice(longer.length - 30);
    if (tail === "5" + new Array(30).join("0")) {
      var kept = longer.slice(0, longer.length - 30);
      if (kept.charAt(kept.length - 1) === ".") kept = kept.slice(0, -1);
      if (Number(kept.charAt(kept.length - 1)) % 2 === 0) out = kept;
    }
    return (negative ? "-" : "") + out;
  }

  function pow10(k) { return Number("1e" + k); } // correctly rounded, as C's pow(10, k)

  function pyPow(base, exponent) {
    if (base === 10 && Number.isInteger(exponent)) return pow10(exponent);
    return Math.pow(base, exponent);
  }

  // round half to even (Python's round, numpy's rint)
  function rint(x) {
    var r = Math.round(x);
    if (Math.abs(x % 1) === 0.5) r = 2 * Math.round(x / 2);
    return r;
  }

  // CPython's float divmod
  function divmod(vx, wx) {
    var mod = vx % wx;
    var div = (vx - mod) / wx;
    if (mod) {
      if ((wx < 0) !== (mod < 0)) { mod += wx; div -= 1.0; }
    } else {
      mod = wx < 0 ? -0 : 0;
    }
    var floordiv;
    if (div) {
      floordiv = Math.floor(div);
      if (div - floordiv > 0.5) floordiv += 1.0;
    } else {
      floordiv = (vx / wx) < 0 ? -0 : 0;
    }
    return [floordiv, mod];
  }
  function floordiv(a, b) { return divmod(a, b)[0]; }

  function isClose(a, b, rel, abs) {
    rel = rel === undefined ? 1e-9 : rel;
    abs = abs || 0;
    if (a === b) return true;
    return Math.abs(a - b) <= Math.max(rel * Math.max(Math.abs(a), Math.abs(b)), abs);
  }
  function isCloseToInt(x) { return isClose(x, rint(x)); }

  // np.round(x, decimals) for decimals >= 0
  function npRound(x, decimals) {
    var f = pow10(decimals);
    return rint(x * f) / f;
  }

  // round(v, 1) as figure_view does (numpy: rint(v * 10) / 10)
  function r1(v) { return rint(v * 10) / 10; }

  function uminus(s) { return s.replace(/-/g, "\u2212"); }

  var SUPERSCRIPT = { "0": "⁰", "1": "¹", "2": "²", "3": "³", "4": "⁴", "5": "⁵", "6": "⁶", "7": "⁷",
                      "8": "⁸", "9": "⁹", "-": "⁻", "−": "⁻", "+": "⁺", ".": "·" };
  function sup(s) { return String(s).split("").map(function (c) { return SUPERSCRIPT[c] || c; }).join(""); }

  // ---- matplotlib's tickers (3.11) ---------------------------------------------------------------

  function nonsingular(vmin, vmax, expander, tiny) {
    if (!isFinite(vmin) || !isFinite(vmax)) return [-expander, expander];
    var swapped = false;
    if (vmax < vmin) { var t = vmin; vmin = vmax; vmax = t; swapped = true; }
    var maxabs = Math.max(Math.abs(vmin), Math.abs(vmax));
    if (maxabs < (1e6 / tiny) * 2.2250738585072014e-308) { vmin = -expander; vmax = expander; }
    else if (vmax - vmin <= maxabs * tiny) {
      if (vmax === 0 && vmin === 0) { vmin = -expander; vmax = expander; }
      else { vmin -= expander * Math.abs(vmin); vmax += expander * Math.abs(vmax); }
    }
    if (swapped) { var u = vmin; vmin = vmax; vmax = u; }
    return [vmin, vmax];
  }

  function scaleRange(vmin, vmax, n) {
    var dv = Math.abs(vmax - vmin);
    var meanv = (vmax + vmin) / 2;
    var offset = 0;
    if (!(Math.abs(meanv) / dv < 100)) {
      offset = (meanv < 0 ? -1 : 1) * pyPow(10, floordiv(Math.log10(Math.abs(meanv)), 1));
    }
    return [pyPow(10, floordiv(Math.log10(dv / n), 1)), offset];
  }

  function edgeClose(ms, edge, step, offset) {
    var tol;
    if (Math.abs(offset) > 0) {
      var digits = Math.log10(Math.abs(offset) / step);
      tol = Math.min(0.4999, Math.max(1e-10, Math.pow(10, digits - 12)));
    } else tol = 1e-10;
    return Math.abs(ms - edge) < tol;
  }

  var AUTO_STEPS = [1, 2, 2.5, 5, 10];

  // MaxNLocator(nbins, steps=[1, 2, 2.5, 5, 10]).tick_values (AutoLocator's)
  function maxNTicks(vmin, vmax, nbins) {
    var ns = nonsingular(vmin, vmax, 1e-13, 1e-14);
    vmin = ns[0]; vmax = ns[1];
    var sr = scaleRange(vmin, vmax, nbins), scale = sr[0], offset = sr[1];
    var _vmin = vmin - offset, _vmax = vmax - offset;
    var base = AUTO_STEPS, extended = [];
    for (var i = 0; i < base.length - 1; i++) extended.push(0.1 * base[i]);
    extended = extended.concat(base, [10 * base[1]]);
    var steps = extended.map(function (s) { return s * scale; });
    var rawStep = (_vmax - _vmin) / nbins;
    var istep = steps.length - 1;
    for (var j = 0; j < steps.length; j++) if (steps[j] >= rawStep) { istep = j; break; }
    var ticks = [];
    for (var k = istep; k >= 0; k--) {
      var step = steps[k];
      var bestVmin = floordiv(_vmin, step) * step;
      var dl = divmod(_vmin - bestVmin, step);
      var low = edgeClose(dl[1] / step, 1, step, offset) ? dl[0] + 1 : dl[0];
      var dh = divmod(_vmax - bestVmin, step);
      var high = edgeClose(dh[1] / step, 0, step, offset) ? dh[0] : dh[0] + 1;
      ticks = [];
      var count = 0;
      for (var m = 0; low + m < high + 1; m++) {
        var tick = (low + m) * step + bestVmin;
        ticks.push(tick);
        if (tick <= _vmax && tick >= _vmin) count++;
      }
      if (count >= 2) break;
    }
    return ticks.map(function (t) { return t + offset; });
  }

  // ScalarFormatter (no offset, no scientific notation: every axis here straddles 0 or starts
  // at it, and stays within 1e-5 .. 1e6)
  function scalarLabels(locs, vmin, vmax) {
    if (!locs.length) return [];
    var lo = Math.min(vmin, vmax), hi = Math.max(vmin, vmax);
    var visible = locs.filter(function (v) { return lo <= v && v <= hi; }).map(Math.abs);
    var oom = 0;
    if (visible.length) {
      var val = Math.max.apply(null, visible);
      var o = val === 0 ? 0 : Math.floor(Math.log10(val));
      if (o <= -5 || o >= 6) oom = o;
    }
    var scale = pow10(oom);
    var all = locs.length < 2 ? locs.concat([vmin, vmax]) : locs;
    var scaled = all.map(function (v) { return v / scale; });
    var range = Math.max.apply(null, scaled) - Math.min.apply(null, scaled);
    if (range === 0) range = Math.max.apply(null, scaled.map(Math.abs));
    if (range === 0) range = 1;
    if (locs.length < 2) scaled = scaled.slice(0, -2);
    var rangeOom = Math.floor(Math.log10(range));
    var sigfigs = Math.max(0, 3 - rangeOom);
    var thresh = 1e-3 * pow10(rangeOom);
    while (sigfigs >= 0) {
      var worst = 0;
      for (var i = 0; i < scaled.length; i++) worst = Math.max(worst, Math.abs(scaled[i] - npRound(scaled[i], sigfigs)));
      if (worst < thresh) sigfigs -= 1; else break;
    }
    sigfigs += 1;
    return locs.map(function (x) {
      var xp = x / scale;
      if (Math.abs(xp) < 1e-8) xp = 0;
      return uminus(fmt(xp, "." + sigfigs + "f"));
    });
  }

  // LogLocator(base, subs).tick_values; subs "auto" or an array
  function logTicks(vmin, vmax, numticks, subs, b) {
    b = b || 10;
    var nRequest = numticks;
    if (vmax < vmin) { var t = vmin; vmin = vmax; vmax = t; }
    var efmin = Math.log10(vmin), efmax = Math.log10(vmax);
    var emin = Math.ceil(efmin), emax = Math.floor(efmax);
    var nAvail = emax - emin + 1;
    if (subs === "auto") {
      if (nAvail >= 10 || b < 3) return [];
      subs = [];
      for (var s = 2; s < b; s++) subs.push(s);
    }
    var stride = Math.floor(nAvail / (nRequest + 1)) + 1;
    var nr = Math.ceil(nAvail / stride);
    if (nr <= nRequest) nRequest = nr;
    var decades = [];
    if (nRequest === 0) { decades = [emin - 1, emax + 1]; stride = decades[1] - decades[0]; }
    else if (nRequest === 1) {
      var mid = rint((efmin + efmax) / 2);
      stride = Math.max(mid - (emin - 1), (emax + 1) - mid);
      decades = [mid - stride, mid, mid + stride];
    } else {
      stride = Math.floor((nAvail - 1) / (nRequest - 1));
      if (stride < nAvail / nRequest) stride = Math.floor(nAvail / nRequest);
      var olo = Math.max(nAvail - stride * nRequest, 0);
      var ohi = Math.min(nAvail - stride * (nRequest - 1), stride);
      var offset = ((-emin % stride) + stride) % stride;
      if (!(olo <= offset && offset < ohi)) offset = olo;
      for (var d = emin + offset - stride; d < emax + stride + 1; d += stride) decades.push(d);
    }
    var isMinor = subs.length > 1 || (subs.length === 1 && subs[0] !== 1.0);
    var locs = [];
    if (isMinor) {
      if (stride === 1 || nAvail <= 1) {
        for (var dec = emin - 1; dec < emax + 1; dec++) {
          var p = pyPow(b, dec);
          for (var i = 0; i < subs.length; i++) locs.push(subs[i] * p);
        }
      }
    } else {
      locs = decades.map(function (k) { return pyPow(b, k); });
    }
    if (subs.length > 1 && stride === 1) {
      var inside = locs.filter(function (v) { return vmin <= v && v <= vmax; }).length;
      if (decades.length - 2 + inside <= 1) return maxNTicks(vmin, vmax, 9);
    }
    return locs;
  }

  // SymmetricalLogLocator(linthresh, base, subs=[1], numticks=15).tick_values
  function symlogTicks(vmin, vmax, linthresh, base) {
    if (vmax < vmin) { var t = vmin; vmin = vmax; vmax = t; }
    if (-linthresh <= vmin && vmin < vmax && vmax <= linthresh) {
      return Array.from(new Set([vmin, 0, vmax])).sort(function (a, c) { return a - c; });
    }
    var hasA = vmin < -linthresh, hasC = vmax > linthresh;
    var hasB = (hasA && vmax > -linthresh) || (hasC && vmin < linthresh);
    function logRange(lo, hi) {
      return [Math.floor(Math.log(lo) / Math.log(base)), Math.ceil(Math.log(hi) / Math.log(base))];
    }
    var a = [0, 0], c = [0, 0];
    if (hasA) a = logRange(Math.abs(Math.min(-linthresh, vmax)), Math.abs(vmin) + 1);
    if (hasC) c = logRange(Math.max(linthresh, vmin), vmax + 1);
    var total = (a[1] - a[0]) + (c[1] - c[0]) + (hasB ? 1 : 0);
    var stride = Math.max(Math.floor(total / 14), 1);
    var decades = [], k;
    if (hasA) {
      var part = [];
      for (k = a[0]; k < a[1]; k += stride) part.push(-1 * pyPow(base, k));
      decades = decades.concat(part.reverse());
    }
    if (hasB) decades.push(0.0);
    if (hasC) for (k = c[0]; k < c[1]; k += stride) decades.push(pyPow(base, k));
    return decades;
  }

  // LogFormatterSciNotation: which coefficients get labels (set_locs), then the labels
  function logSublabels(vmin, vmax, b, linthresh) {
    if (vmin > vmax) { var t = vmin; vmin = vmax; vmax = t; }
    var logb = function (x) { return Math.log(x) / Math.log(b); };
    var numdec = 0, numticks = 0;
    if (linthresh !== null && linthresh !== undefined) {
      if (vmin < -linthresh) {
        var rhs = Math.min(vmax, -linthresh);
        numticks += Math.floor(logb(Math.abs(rhs))) - Math.floor(nextDown(logb(Math.abs(vmin))));
        numdec += logb(vmin / rhs);
      }
      if (vmax > linthresh) {
        var lhs = Math.max(vmin, linthresh);
        numticks += Math.floor(logb(vmax)) - Math.floor(nextDown(logb(lhs)));
        numdec += logb(vmax / lhs);
      }
    } else {
      if (vmin <= 0) return [1];
      var lmin = logb(vmin), lmax = logb(vmax);
      numticks = Math.floor(lmax) - Math.floor(nextDown(lmin));
      numdec = Math.abs(lmax - lmin);
    }
    if (numticks > 1) return [1];
    if (numdec > 0.4) {
      var n = Math.floor(b / 2) + 1, out = [];
      for (var i = 0; i < n; i++) out.push(rint(Math.exp(Math.log(b) * i / (n - 1))));
      return out;
    }
    var all = [];
    for (var j = 1; j <= b; j++) all.push(j);
    return all;
  }

  function nextDown(x) {
    if (!isFinite(x) || x === 0) return x === 0 ? -Number.MIN_VALUE : x;
    var buffer = new Float64Array([x]);
    var bits = new BigInt64Array(buffer.buffer);
    bits[0] += x > 0 ? -1n : 1n;
    return buffer[0];
  }

  function pyG(x) { return fmt(x, "g"); }

  function logLabel(x, b, sublabels) {
    if (x === 0) return "0";
    var sign = x < 0 ? "-" : "";
    x = Math.abs(x);
    var fx = Math.log(x) / Math.log(b);
    var isDecade = isCloseToInt(fx);
    var exponent = isDecade ? rint(fx) : Math.floor(fx);
    var coeff = rint(Math.pow(b, fx - exponent));
    if (sublabels && sublabels.indexOf(coeff) < 0) return "";
    var baseText = b % 1 === 0 ? String(b) : String(b);
    if (isDecade) return sign + baseText + sup(String(rint(fx)));
    var e = Math.floor(fx);
    var c = Math.pow(b, fx - e);
    if (isCloseToInt(c)) c = rint(c);
    return sign + pyG(c) + "×" + baseText + sup(String(e));
  }

  API.ticker = {
    pyFixed: pyFixed, fmt: fmt, maxNTicks: maxNTicks, scalarLabels: scalarLabels, logTicks: logTicks, symlogTicks: symlogTicks,
    logSublabels: logSublabels, logLabel: logLabel, divmod: divmod, rint: rint,
  };

  // ---- scales: data -> display pixels (origin bottom left, as matplotlib's) --------------------

  function makeScale(kind, options) {
    options = options || {};
    if (kind === "log") {
      var clip = options.nonpositive !== "mask";
      return function (v) {
        if (v <= 0) return clip ? -1000 : -Infinity;
        return Math.log10(v);
      };
    }
    if (kind === "symlog") {
      var lt = options.linthresh, base = options.base;
      var adj = 1 / (1 - 1 / base), logBase = Math.log(base);
      return function (v) {
        var a = Math.abs(v);
        if (a <= lt) return v * adj;
        return (v < 0 ? -1 : 1) * lt * (adj + Math.log(a / lt) / logBase);
      };
    }
    return function (v) { return v; };
  }

  // an axis of an axes: limits, scale, the box's display extents along it
  function makeAxis(lim, scale, p0, p1) {
    var t0 = scale(lim[0]), t1 = scale(lim[1]);
    var k = (p1 - p0) / (t1 - t0);
    return { lim: lim, scale: scale, px: function (v) { return p0 + (scale(v) - t0) * k; }, p0: p0, p1: p1,
             t0: t0, t1: t1 };
  }

  // {major, minor, offset} of an axis entry: ticks inside the box (±0.5 px), their scene coords
  function tickEntry(which, axis, height, major, minor, labelMajor, labelMinor) {
    var lo = Math.min(axis.p0, axis.p1) - 0.5, hi = Math.max(axis.p0, axis.p1) + 0.5;
    function place(locs, label) {
      var kept = [], coords = [];
      locs.forEach(function (v) {
        var p = axis.px(v);
        if (p >= lo && p <= hi) { kept.push(v); coords.push(which === "x" ? p : height - p); }
      });
      var labels = label(kept);
      return coords.map(function (c, i) { return [r1(c), labels[i]]; });
    }
    return { major: place(major, labelMajor), minor: place(minor, labelMinor), offset: "" };
  }

  function removeOverlapping(minor, major, axis) {
    var tmin = axis.t0, tmax = axis.t1;
    var tol = Math.abs(tmax - tmin) * 1e-5;
    var tm = major.map(axis.scale);
    return minor.filter(function (v) {
      var t = axis.scale(v);
      return !tm.some(function (u) { return Math.abs(t - u) <= tol; });
    });
  }

  function linearTicks(axisSpec, axis, which, height) {
    var lim = axis.lim;
    var major = maxNTicks(lim[0], lim[1], axisSpec.nbins);
    return tickEntry(which, axis, height, major, [],
                     function (locs) { return scalarLabels(locs, lim[0], lim[1]); },
                     function (locs) { return locs.map(function () { return ""; }); });
  }

  function logAxisTicks(axisSpec, axis, which, height) {
    var lim = axis.lim, vmin = Math.min(lim[0], lim[1]), vmax = Math.max(lim[0], lim[1]);
    var major = logTicks(vmin, vmax, axisSpec.numticks, [1.0]);
    var minor = removeOverlapping(logTicks(vmin, vmax, axisSpec.numticks, "auto"), major, axis);
    var sub = logSublabels(vmin, vmax, 10, null);
    var label = function (locs) { return locs.map(function (v) { return logLabel(v, 10, sub); }); };
    return tickEntry(which, axis, height, major, minor, label, label);
  }

  function symlogAxisTicks(axis, which, height, linthresh, base) {
    var lim = axis.lim, vmin = Math.min(lim[0], lim[1]), vmax = Math.max(lim[0], lim[1]);
    var major = symlogTicks(vmin, vmax, linthresh, base);
    var sub = logSublabels(vmin, vmax, base, linthresh);
    return tickEntry(which, axis, height, major, [],
                     function (locs) { return locs.map(function (v) { return logLabel(v, base, sub); }); },
                     function (locs) { return locs.map(function () { return ""; }); });
  }

  // ---- scene pieces --------------------------------------------------------------------------

  function clone(o) { return JSON.parse(JSON.stringify(o)); }

  // figure_view._points: flat [x, y, ...] at 0.1 px, y flipped, far points clamped, NaN -> null
  function points(xs, ys, ax, ay, height) {
    var out = [];
    for (var i = 0; i < xs.length; i++) {
      var x = ax.px(xs[i]), y = ay.px(ys[i]);
      if (!isFinite(x) || !isFinite(y)) { out.push(null, null); continue; }
      out.push(clamp(r1(x)), clamp(r1(height - y)));
    }
    return out;
  }
  function clamp(v) { return Math.max(-1e5, Math.min(1e5, v)); }

  function line(style, pts, n) {
    var l = clone(style);
    l.points = pts;
    l.n = n;
    return l;
  }

  function text(template, string, color) {
    var t = clone(template);
    t.text = string;
    if (color) t.color = color;
    return t;
  }

  // a legend as FigureView's scene has it: [style, label] per entry (the style without z, clip)
  function legend(entries, placement) {
    return { items: entries.map(function (entry) {
      var s = clone(entry[0]);
      delete s.z; delete s.clip;
      return Object.assign({ label: entry[1] }, s);
    }), loc: placement.loc, size: placement.size };
  }

  function col(trajectories, index) { return trajectories.map(function (t) { return t.path[index]; }); }
  function xsOf(path) { return path.map(function (p) { return p[0]; }); }
  function ysOf(path) { return path.map(function (p) { return p[1]; }); }

  // course_lib.ui.figure_view.mark_steps
  function markSteps(scene, trajectories) {
    var lengths = {}, lastStep = 0;
    trajectories.forEach(function (t) {
      var n = (t.path || []).length;
      if (n > 0) { lengths[n] = true; lastStep = Math.max(lastStep, n - 1); }
    });
    var messages = trajectories.filter(function (t) { return t.message && (t.path || []).length > 0; })
      .map(function (t) { return [t.message, t.path.length - 1]; });
    function markTexts(texts) {
      texts.forEach(function (tx) {
        messages.forEach(function (m) {
          if (tx.text.indexOf(m[0]) >= 0) tx.from_step = Math.max(tx.from_step || 0, m[1]);
        });
      });
    }
    scene.axes.forEach(function (axes) {
      var lines = axes.lines;
      lines.forEach(function (l) { if (lengths[l.n] && l.n > 1 && !l.contour) l.reveal = "prefix"; });
      lines.forEach(function (l) {
        if (l.n !== 1 || l.reveal || l.contour) return;
        for (var i = 0; i < lines.length; i++) {
          var o = lines[i];
          if (o.reveal === "prefix" && o.color === l.color && sameTail(o.points, l.points)) { l.follow = i; break; }
        }
      });
      markTexts(axes.texts);
    });
    markTexts(scene.texts);
    scene.last_step = lastStep;
    return lastStep;
  }
  function sameTail(a, b) {
    return a.length >= 2 && b.length >= 2 && a[a.length - 2] === b[b.length - 2] && a[a.length - 1] === b[b.length - 1];
  }

  // ---- the loss axis (course_lib.ui.plots._scale_loss_axis) -------------------------------------

  function lossScale(lossArrays, maxSteps) {
    var finite = lossArrays.map(function (ls) { return ls.filter(function (v) { return isFinite(v); }); });
    var values = [].concat.apply([], finite);
    var xlim = [0, Math.max(maxSteps, 1)];
    var vmin = Infinity, vmax = -Infinity;
    values.forEach(function (v) { vmin = Math.min(vmin, v); vmax = Math.max(vmax, v); });
    if (values.length && vmin < 0) {
      var sizes = finite.filter(function (f) { return f.length && f[0] !== 0; }).map(function (f) { return Math.abs(f[0]); });
      var linthresh = Math.max(sizes.length ? Math.min.apply(null, sizes) : 1.0, 1e-12);
      var maxAbs = 0;
      values.forEach(function (v) { maxAbs = Math.max(maxAbs, Math.abs(v)); });
      var decades = Math.log10(Math.max(maxAbs, linthresh) / linthresh);
      var base = decades <= 6 ? 10 : decades <= 12 ? 100 : 1000;
      return { kind: "symlog", linthresh: linthresh, base: base, xlim: xlim,
               ylim: [vmin * 1.5, Math.max(vmax, 0.0) * 1.5 + 1e-12] };
    }
    var positive = values.filter(function (v) { return v > 0; });
    if (!positive.length) return { kind: "log", xlim: xlim, ylim: [1e-16, 1.0] };
    var high = Math.max.apply(null, positive);
    var starts = finite.filter(function (f) { return f.length && f[0] > 0; }).map(function (f) { return f[0]; });
    var low = Math.max(Math.min.apply(null, positive), (starts.length ? Math.max.apply(null, starts) : high) * 1e-16);
    return { kind: "log", xlim: xlim, ylim: [low / 2.0, high * 2.0] };
  }

  // ---- contours of a quadratic valley, as ellipses ----------------------------------------------

  // the k-th smallest of a (Hoare's quickselect, in place: a[0..k-1] <= a[k] <= a[k+1..] after)
  function select(a, k) {
    var left = 0, right = a.length - 1;
    while (right > left) {
      var pivot = a[(left + right) >> 1], i = left, j = right;
      while (i <= j) {
        while (a[i] < pivot) i++;
        while (a[j] > pivot) j--;
        if (i <= j) { var t = a[i]; a[i] = a[j]; a[j] = t; i++; j--; }
      }
      if (k <= j) right = j; else if (k >= i) left = i; else break;
    }
    return a[k];
  }

  // contour_levels of the 160 x 160 grid over [-2, 2]^2 (as course_lib.ui.plots does)
  function quadraticLevels(h, window, gridPoints, count) {
    var n = gridPoints, xs = [], values = new Float64Array(n * n);
    var lo = window[0], hi = window[1], step = (hi - lo) / (n - 1);
    for (var i = 0; i < n; i++) xs.push(i < n / 2 ? lo + i * step : hi - (n - 1 - i) * step);
    var k = 0;
    for (var a = 0; a < n; a++) for (var b = 0; b < n; b++) {
      var x = xs[b], y = xs[a];
      values[k++] = 0.5 * (h[0] * x * x + 2 * h[1] * x * y + h[2] * y * y);
    }
    // numpy.percentile (linear) needs two order statistics per percentile: select them (O(n))
    // instead of sorting 25 600 numbers on every move of the κ slider
    function pct(p) {
      var pos = p / 100 * (values.length - 1), i0 = Math.floor(pos), t = pos - i0;
      var a = select(values, i0), b = a;
      if (i0 + 1 < values.length) {
        b = Infinity;
        for (var q = i0 + 1; q < values.length; q++) if (values[q] < b) b = values[q];
      }
      var diff = b - a;
      return t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
    }
    var low = Infinity, high = -Infinity;
    for (var w = 0; w < values.length; w++) { if (values[w] < low) low = values[w]; if (values[w] > high) high = values[w]; }
    var levels = [];
    if (high <= low) return [low];
    var floor = pct(1.0), ceiling = pct(99.0);
    floor = Math.max(floor, ceiling * 1e-6);
    if (low >= 0 && ceiling / Math.max(floor, 1e-300) > 1e2) {
      for (var j = 0; j < count; j++) levels.push(floor * Math.pow(ceiling / floor, j / (count - 1)));
    } else {
      for (var m = 0; m < count; m++) levels.push(low + (high - low) * m / (count - 1));
    }
    return levels;
  }

  function ellipseLines(contour, h, ax, ay, height) {
    // eigen-decomposition of [[h0, h1], [h1, h2]]
    var tr = h[0] + h[2], det = h[0] * h[2] - h[1] * h[1];
    var disc = Math.sqrt(Math.max(tr * tr / 4 - det, 0));
    var l1 = tr / 2 + disc, l2 = tr / 2 - disc;
    var e1 = Math.abs(h[1]) > 1e-15 ? [l1 - h[2], h[1]] : (h[0] >= h[2] ? [1, 0] : [0, 1]);
    var norm = Math.hypot(e1[0], e1[1]);
    e1 = [e1[0] / norm, e1[1] / norm];
    var e2 = [-e1[1], e1[0]];
    var levels = quadraticLevels(h, contour.window, contour.grid_points, contour.colors.length);
    var segments = 180, out = [];
    levels.forEach(function (c, i) {
      var r1_ = Math.sqrt(2 * c / l1), r2 = Math.sqrt(2 * c / l2), xs = [], ys = [];
      for (var s = 0; s <= segments; s++) {
        var t = 2 * Math.PI * s / segments, u = r1_ * Math.cos(t), v = r2 * Math.sin(t);
        xs.push(u * e1[0] + v * e2[0]);
        ys.push(u * e1[1] + v * e2[1]);
      }
      var style = clone(contour.style);
      style.color = contour.colors[i];
      style.mface = style.medge = contour.colors[i];
      var l = line(style, points(xs, ys, ax, ay, height), xs.length);
      l.contour = true;
      out.push(l);
    });
    return out;
  }

  // ---- the contour + paths | loss curves figure (course_lib.ui.plots.PathFigure) --------------

  function pathFigureScene(src, layout, values, result, caption) {
    var T = result.trajectories, H = src.height;
    var scene = { width: src.width, height: H, scale: src.scale, face: src.face, axes: [], texts: [] };
    // left: contour and paths
    var P = layout.paths, ext = P.extents;
    var ax = makeAxis(P.xlim, makeScale("linear"), ext[0], ext[2]);
    var ay = makeAxis(P.ylim, makeScale("linear"), ext[1], ext[3]);
    var left = clone(P.entry);
    left.lines = [];
    if (P.minima) left.lines.push(clone(P.minima));
    var styles = src.styles;
    if (T.length) {
      left.lines.push(line(styles.start, points(col(T, 0).map(function (p) { return p[0]; }),
                                               col(T, 0).map(function (p) { return p[1]; }), ax, ay, H), T.length));
    }
    T.forEach(function (t, slot) {
      var c = styles.slots[slot % styles.slots.length];
      left.lines.push(line(c.path, points(xsOf(t.path), ysOf(t.path), ax, ay, H), t.path.length));
      var last = t.path[t.path.length - 1];
      left.lines.push(line(c.end, points([last[0]], [last[1]], ax, ay, H), 1));
    });
    if (layout.title !== undefined && left.texts.length) left.texts[0].text = layout.title;
    var messageSlot = 0;
    T.forEach(function (t, slot) {
      if (!t.diverged) return;
      left.texts.push(text(src.divergence_texts[messageSlot], t.label + ": " + t.message,
                           styles.slots[slot % styles.slots.length].path.color));
      messageSlot++;
    });
    if (layout.contour) {
      // the same valley draws the same ellipses: computed once per condition number
      var cache = src._ellipses || (Object.defineProperty(src, "_ellipses", { value: {}, enumerable: false }), src._ellipses);
      var key = layout.contour.join(",");
      if (!cache[key]) cache[key] = ellipseLines(src.contour, layout.contour, ax, ay, H);
      left.lines = left.lines.concat(cache[key]);
    }
    scene.axes.push(left);

    // right: loss curves
    var L = src.loss, lext = L.extents;
    var maxSteps = 0;
    T.forEach(function (t) { maxSteps = Math.max(maxSteps, t.losses.length - 1, t.diverged_at || 0); });
    var sc = lossScale(T.map(function (t) { return t.losses; }), maxSteps);
    var lx = makeAxis(sc.xlim, makeScale("linear"), lext[0], lext[2]);
    var ly = makeAxis(sc.ylim, makeScale(sc.kind, sc), lext[1], lext[3]);
    var right = clone(L.entry);
    Object.assign(right.x, linearTicks(L.x, lx, "x", H));
    Object.assign(right.y, sc.kind === "symlog" ? symlogAxisTicks(ly, "y", H, sc.linthresh, sc.base)
                                                : logAxisTicks(L.y, ly, "y", H));
    right.lines = T.map(function (t, slot) {
      var steps = t.losses.map(function (_, i) { return i; });
      return line(styles.slots[slot % styles.slots.length].loss, points(steps, t.losses, lx, ly, H), t.losses.length);
    });
    right.legend = T.length ? legend(T.map(function (t, slot) {
      return [styles.slots[slot % styles.slots.length].loss, t.label];
    }), L.legend) : null;
    scene.axes.push(right);
    if (src.caption) scene.texts.push(text(src.caption, caption));
    markSteps(scene, T);
    return scene;
  }

  // ---- notebook 01's 1-D figure (course_lib.ui.panels.gradient_descent.ParabolaFigure) ---------

  var REGIME_TEXT = {
    "slow": "slow: ηL < 0.1, converges but each step removes < 10% of the distance",
    "monotone": "monotone: ηL < 1, converges without overshooting",
    "one step": "ηL = 1: lands on the minimum in one step",
    "oscillating": "oscillating: 1/L < η < 2/L, overshoots but still converges",
    "borderline": "borderline: η = 2/L, bounces between ±x₀ forever",
    "divergent": "divergent: η > 2/L, |1 − ηL| > 1",
  };
  var REGIME_COLOUR = {
    "slow": "#8a6d00ff", "monotone": "#1b7f3bff", "one step": "#1b7f3bff",
    "oscillating": "#b35900ff", "borderline": "#b00020ff", "divergent": "#b00020ff",
  };

  function gdRegime(lr, curvature) {
    var step = lr * curvature;
    if (isClose(step, 1.0)) return "one step";
    if (isClose(step, 2.0)) return "borderline";
    if (step < 0.1) return "slow";
    if (step < 1.0) return "monotone";
    if (step < 2.0) return "oscillating";
    return "divergent";
  }

  // numpy.linspace
  function linspace(a, b, n) {
    var out = [], step = (b - a) / (n - 1);
    for (var i = 0; i < n; i++) out.push(i * step + a);
    out[n - 1] = b;
    return out;
  }

  // autoscale_view of a log axis (nonpositive "mask"), margins 0.05, from the lines' data
  function logAutoscale(arrays) {
    var vmin = Infinity, vmax = -Infinity, minpos = Infinity;
    arrays.forEach(function (a) {
      a.forEach(function (v) {
        if (!isFinite(v)) return;
        vmin = Math.min(vmin, v); vmax = Math.max(vmax, v);
        if (v > 0) minpos = Math.min(minpos, v);
      });
    });
    function nonsing(a, b) {
      if (a > b) { var t = a; a = b; b = t; }
      if (!isFinite(a) || !isFinite(b)) return [1, 10];
      if (b <= 0) return [1, 10];
      var mp = isFinite(minpos) ? minpos : 1e-300;
      if (a <= 0) a = mp;
      if (a === b) { a = decadeLess(a); b = decadeGreater(b); }
      return [a, b];
    }
    var ab = nonsing(vmin, vmax);
    var mp2 = isFinite(minpos) ? minpos : 1e-300;
    var x0 = ab[0] <= 0 ? mp2 : ab[0], x1 = ab[1] <= 0 ? mp2 : ab[1];
    var t0 = Math.log10(x0), t1 = Math.log10(x1);
    var delta = (t1 - t0) * 0.05;
    if (!isFinite(delta)) delta = 0;
    return nonsing(Math.pow(10, t0 - delta), Math.pow(10, t1 + delta));
  }
  function decadeLess(x) {
    var le = pyPow(10, Math.floor(Math.log10(x)));
    return le === x ? le / 10 : le;
  }
  function decadeGreater(x) {
    var ge = pyPow(10, Math.ceil(Math.log10(x)));
    return ge === x ? ge * 10 : ge;
  }

  function parabolaScene(src, values, result) {
    var t = result.trajectories[0], H = src.height;
    var lr = values.lr, L = values.curvature;
    var xs = t.path.map(function (p) { return p[0]; }), fx = t.losses;
    var x0 = xs[0] !== 0 ? Math.abs(xs[0]) : 1.0;
    var maxAbs = 0;
    xs.forEach(function (v) { maxAbs = Math.max(maxAbs, Math.abs(v)); });
    var hw = Math.min(Math.max(1.3 * x0, 1.1 * maxAbs), 8.0 * x0);
    var grid = linspace(-hw, hw, 201);
    var scene = { width: src.width, height: H, scale: src.scale, face: src.face, axes: [], texts: [] };

    var C = src.curve, ce = C.extents;
    var cx = makeAxis([-hw, hw], makeScale("linear"), ce[0], ce[2]);
    var cy = makeAxis([-0.05 * L * hw * hw, 0.62 * L * hw * hw], makeScale("linear"), ce[1], ce[3]);
    var left = clone(C.entry);
    Object.assign(left.x, linearTicks(C.x, cx, "x", H));
    Object.assign(left.y, linearTicks(C.y, cy, "y", H));
    var S = src.styles;
    left.lines = [
      line(S.curve, points(grid, grid.map(function (g) { return 0.5 * L * (g * g); }), cx, cy, H), grid.length),
      line(S.path, points(xs, fx, cx, cy, H), xs.length),
      line(S.start, points(xs.slice(0, 1), fx.slice(0, 1), cx, cy, H), 1),
    ];
    var vline = clone(S.vline);
    var px0 = r1(cx.px(0.0));
    vline.points = [px0, r1(H - ce[1]), px0, r1(H - ce[3])];
    vline.points = vline.points.map(clamp);
    vline.n = 2;
    left.lines.push(vline);
    var regime = gdRegime(lr, L);
    var factor = 1.0 - lr * L;
    left.texts = [
      text(S.regime, REGIME_TEXT[regime], REGIME_COLOUR[regime]),
      text(S.factor, "η = " + fmt(lr, ".3g") + ", L = " + fmt(L, ".3g") + ": ηL = " + fmt(lr * L, ".3g") +
           ", 1 − ηL = " + fmt(factor, ".3g") + ", 2/L = " + fmt(2 / L, ".3g")),
    ];
    var warning = "";
    if (t.diverged) warning = t.message + ": |x| passed " + src.bound_text;
    else if (regime === "divergent") warning = "diverging: |x| grows ×" + fmt(Math.abs(factor), ".3g") + " every step";
    if (warning) left.texts.push(text(S.divergence, warning));
    scene.axes.push(left);

    var D = src.distance, de = D.extents;
    var steps = xs.map(function (_, i) { return i; });
    var dist = xs.map(Math.abs);
    var closed = steps.map(function (k) { return Math.pow(Math.abs(factor), k) * Math.abs(xs[0]); });
    var dx = makeAxis([-0.5, Math.max(xs.length - 0.5, 1.5)], makeScale("linear"), de[0], de[2]);
    var dy = makeAxis(logAutoscale([dist, closed]), makeScale("log", { nonpositive: "mask" }), de[1], de[3]);
    var right = clone(D.entry);
    Object.assign(right.x, linearTicks(D.x, dx, "x", H));
    Object.assign(right.y, logAxisTicks(D.y, dy, "y", H));
    right.lines = [
      line(S.distance, points(steps, dist, dx, dy, H), steps.length),
      line(S.closed_form, points(steps, closed, dx, dy, H), steps.length),
    ];
    scene.axes.push(right);
    markSteps(scene, [t]);
    return scene;
  }

  // ---- notebook 06's curves (course_lib.ui.panels.rmsprop_adadelta.EffectiveLrFigure) ----------

  // one axes of fixed limits and ticks (the spec's entry): a line per series against the steps
  // 1..n, in the spec's styles, and a legend of them
  function curvesAxes(A, series, labels, H) {
    var e = A.extents;
    var ax = makeAxis(A.xlim, makeScale("linear"), e[0], e[2]);
    var ay = makeAxis(A.ylim, makeScale(A.yscale), e[1], e[3]);
    var out = clone(A.entry);
    out.lines = series.map(function (ys, k) {
      var steps = ys.map(function (_, i) { return i + 1; });
      return line(A.styles[k], points(steps, ys, ax, ay, H), ys.length);
    });
    out.legend = legend(A.styles.map(function (style, k) { return [style, labels[k]]; }), A.legend);
    return out;
  }

  // left: each optimizer's effective lr; right: its step size beside the dashed |gradient|
  function curvesScene(src, values, result, caption) {
    var C = result.trajectories, H = src.height;
    var labels = C.map(function (c) { return c.label; });
    var gradients = result.extras.gradients.map(Math.abs);
    var scene = { width: src.width, height: H, scale: src.scale, face: src.face, axes: [
      curvesAxes(src.effective_lr, C.map(function (c) { return c.effective_lr; }), labels, H),
      curvesAxes(src.step_size, C.map(function (c) { return c.step_size; }).concat([gradients]),
                 labels.concat([src.gradient_label]), H),
    ], texts: [text(src.caption, caption)] };
    markSteps(scene, C);
    return scene;
  }

  // ---- captions (each panel's caption function) ------------------------------------------------

  function outcome(t) {
    if (t.diverged) return t.label + ": " + t.message;
    return t.label + ": loss " + fmt(t.losses[t.losses.length - 1], ".2e");
  }

  var theory = function () { return optim().theory; };

  var CAPTIONS = {
    "01_gradient_descent-1": function (values, result) {
      var th = theory(), name = values.landscape, lr = values.lr;
      var curv = result.extras.curvatures;
      if (!curv) return name + ": no minimum, so no stability limit (the path runs off downhill)\nη = " + fmt(lr, ".3g");
      var mu = curv[0], L = curv[1];
      var rate = th.gdRate(lr, [mu, L]);
      var pace;
      if (rate >= 1.0) pace = rate > 1.0 ? "grows: diverges" : "never shrinks";
      else pace = "≈ " + th.stepsToTolerance(rate, 0.1) + " steps per 10× closer";
      if (name === "quadratic") {
        return "quadratic: μ = " + fmt(mu, ".3g") + ", L = " + fmt(L, ".3g") + ", κ = L/μ = " + fmt(L / mu, ".3g") +
          " · stable iff η < 2/L = " + fmt(2 / L, ".3g") + "\n" +
          "η = " + fmt(lr, ".3g") + ": rate max|1 − ηλᵢ| = " + fmt(rate, ".3g") + " (" + pace + ") · best η* = 2/(L+μ) = " +
          fmt(th.gdOptimalLr(mu, L), ".3g") + ", rate (κ−1)/(κ+1) = " + fmt(th.gdOptimalRate(mu, L), ".3g");
      }
      return name + ", Hessian at the minimum: μ = " + fmt(mu, ".3g") + ", L = " + fmt(L, ".3g") + ", κ = " +
        fmt(L / mu, ".3g") + " · stable there iff η < 2/L = " + fmt(2 / L, ".3g") + "\n" +
        "η = " + fmt(lr, ".3g") + ": rate near the minimum max|1 − ηλᵢ| = " + fmt(rate, ".3g") + " (" + pace + ")";
    },
    "03_momentum-0": function (values, result) {
      var th = theory(), T = result.trajectories;
      if (values.landscape !== "quadratic") {
        return "Rosenbrock: no single optimum   |   " + T.map(outcome).join("   |   ");
      }
      var mu = result.extras.mu, L = result.extras.L;
      var opt = th.heavyBallOptimum(mu, L);
      var rate = th.quadraticRate(values.lr, values.momentum, mu, L);
      var yours = "rate " + fmt(rate, ".3f") + (rate >= 1.0 ? " (diverges)" : "");
      var gdRate = th.quadraticRate(values.lr, 0.0, mu, L);
      var gdNote = "plain GD at this lr: rate " + fmt(gdRate, ".3f") +
        (gdRate >= 1.0 ? " (diverges: lr > 2/L = " + fmt(2 / L, ".3g") + ")" : "");
      return "optimal heavy ball: lr=" + fmt(opt[0], ".3g") + ", β=" + fmt(opt[1], ".3g") + ", rate " +
        fmt(th.heavyBallOptimalRate(mu, L), ".3f") + " (best GD " + fmt(th.gdOptimalRate(mu, L), ".3f") + ")\n" +
        "your lr, β: " + yours + "   |   " + gdNote;
    },
    "04_nesterov-0": function (values, result, source) {
      var T = result.trajectories;
      var out = T.map(outcome).join("   |   ");
      if (T.length && T.every(function (t) { return t.diverged; })) {
        out += "   (try lr ≈ " + fmt(source.suggested_lr[values.landscape], "g") + " here)";
      }
      return out;
    },
    "05_adagrad-0": function (values, result) {
      var T = result.trajectories;
      if (!T.length) return "";
      var a = T[0], last = a.path[a.path.length - 1];
      var distance = Math.sqrt(last[0] * last[0] + last[1] * last[1]);
      return T.map(outcome).join("   |   ") + "\nAdagrad ends " + fmt(distance, ".2e") + " from the minimum after " +
        (a.path.length - 1) + " steps";
    },
    "06_rmsprop_adadelta-0": function (values, result) {
      var rms = result.trajectories[0].effective_lr, ada = result.trajectories[1].effective_lr;
      return "RMSprop averages over about 1/(1−α) = " + fmt(result.extras.memory, ".3g") + " steps   |   " +
        "effective lr at step " + rms.length + ": RMSprop " + fmt(rms[rms.length - 1], ".3g") + ", " +
        "Adagrad " + fmt(ada[ada.length - 1], ".3g");
    },
    "07_adam-0": function (values, result) {
      var T = result.trajectories, adam = T[0], parts = [];
      for (var i = 0; i < 3 && i + 1 < adam.path.length; i++) {
        var dx = Math.abs(adam.path[i + 1][0] - adam.path[i][0]) / values.lr;
        var dy = Math.abs(adam.path[i + 1][1] - adam.path[i][1]) / values.lr;
        parts.push("(" + fmt(dx, ".2f") + ", " + fmt(dy, ".2f") + ")");
      }
      return "bias correction " + (values.bias_correction ? "on" : "off") + ": Adam's first steps |Δθ|/η per coordinate: " +
        parts.join(", ") + "\n" + T.map(outcome).join("   |   ");
    },
  };

  // ---- layouts: which template a combination of values uses -------------------------------------

  function layoutFor(source, values) {
    var key = source.layout_controls.map(function (name) { return String(values[name]); }).join("|");
    var layout = source.layouts[key];
    if (!layout) throw new Error("no layout " + JSON.stringify(key) + " in the spec");
    if (layout.contour_of) {
      // a valley whose condition number is a slider: the contour (ellipses) and title follow it
      var kappa = Number(values[layout.contour_of.kappa]);
      var surface = layout.contour_of.angle ? optim().rotatedQuadratic(kappa, 1.0, layout.contour_of.angle)
                                            : optim().quadratic(kappa);
      var h = surface.h_xx !== undefined ? [surface.h_xx, surface.h_xy, surface.h_yy] : [surface.L, 0, surface.mu];
      return Object.assign({}, layout, { contour: h, title: surface.name });
    }
    return layout;
  }

  function sceneFromResult(source, values, result) {
    if (source.figure === "parabola") return parabolaScene(source, values, result);
    var captionFn = CAPTIONS[source.panel];
    var caption = captionFn ? captionFn(values, result, source) : "";
    if (source.figure === "curves") return curvesScene(source, values, result, caption);
    return pathFigureScene(source, layoutFor(source, values), values, result, caption);
  }

  function sceneFor(source, values) {
    var result = optim().panels[source.panel].compute(values);
    return sceneFromResult(source, values, result);
  }

  API.sceneFromResult = sceneFromResult;
  API.sceneFor = sceneFor;
  API.markSteps = markSteps;
  API.lossScale = lossScale;
  API.quadraticLevels = quadraticLevels;

  // ---- the page's source --------------------------------------------------------------------

  var Panels = root.CoursePanels || (root.CoursePanels = { specs: {}, sources: {} });
  Panels.sources = Panels.sources || {};
  Panels.sources.compute = function (spec) {
    var source = spec.source, last = null;
    return {
      sceneFor: function (values) {
        try {
          last = sceneFor(source, values);
        } catch (error) {
          // as the Python panel: a rejected combination keeps the last good figure, with a note
          if (!last) throw error;
          last = Object.assign({}, last, { error: String(error.message || error) });
        }
        return last;
      },
    };
  };

  if (typeof module !== "undefined" && module.exports) module.exports = API;
})(typeof window !== "undefined" ? window : globalThis);
