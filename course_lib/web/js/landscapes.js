/*
 * landscapes.js: the course's 2-D landscapes (course_lib/problems/landscapes.py) in float64, for
 * the web pages. A classic script; adds CourseOptim.landscapes, CourseOptim.getLandscape and
 * CourseOptim.quadratic / rotatedQuadratic to window.CourseOptim (globalThis in node).
 *
 * A landscape is {name, key, value(x, y), grad(x, y) -> [gx, gy], minima: [[x, y], ...],
 * xlim, ylim, start, curvatures: [mu, L] at the first minimum or null}. value and grad do the
 * same float64 operations in the same order as the Python _value_parts / _grad_parts, so they
 * agree bit for bit (tests/test_web_parity.py).
 *
 * Not ported: the noisy landscape (no panel that computes in the browser offers it; its noise is
 * torch.randn from a seeded torch.Generator, which would need torch's generator ported bit for
 * bit) and the Reddi problem (no panel).
 */
(function (root) {
  "use strict";
  var API = root.CourseOptim || (root.CourseOptim = {});

  // (mu, L): the extreme Hessian eigenvalues at the first minimum, as
  // course_lib.theory.gradient_descent.curvatures_at_minimum computes them (autograd Hessian,
  // eigvalsh). Constants for the fixed landscapes; the parity test checks them.
  var CURVATURES = {
    rosenbrock: [0.3993607674876216, 1001.6006392325123],
    beale: [0.3014636465222469, 48.97978635347775],
    himmelblau: [25.715728752538098, 82.2842712474619],
  };

  function quadratic(conditionNumber, L) {
    conditionNumber = conditionNumber === undefined ? 10.0 : Number(conditionNumber);
    L = L === undefined ? 1.0 : Number(L);
    if (!(conditionNumber >= 1.0) || !isFinite(conditionNumber)) {
      throw new Error("condition_number must be a finite number >= 1, got " + conditionNumber);
    }
    var mu = L / conditionNumber;
    return {
      kind: "quadratic",
      name: "quadratic (κ=" + API.format(conditionNumber, "g") + ")",
      key: [conditionNumber, L],
      condition_number: conditionNumber, L: L, mu: mu,
      value: function (x, y) { return 0.5 * (L * x * x + mu * y * y); },
      grad: function (x, y) { return [L * x, mu * y]; },
      minima: [[0.0, 0.0]],
      xlim: [-2.0, 2.0], ylim: [-2.0, 2.0], start: [-1.5, 1.5],
      curvatures: [mu, L],
    };
  }

  var DEG_TO_RAD = Math.PI / 180.0; // CPython's math.radians: x * (pi / 180)

  function rotatedQuadratic(conditionNumber, L, angle) {
    var base = quadratic(conditionNumber, L);
    L = base.L;
    var mu = base.mu;
    angle = angle === undefined ? 45.0 : Number(angle);
    var c, s;
    if (angle === 45.0) {
      // CPython's math.cos/sin(math.radians(45)) (glibc), fixed here because a JS engine's
      // cos/sin may round the last bit differently; the parity test checks these values.
      c = 0.7071067811865476;
      s = 0.7071067811865475;
    } else if (angle === 0.0) {
      c = 1.0;
      s = 0.0;
    } else {
      c = Math.cos(angle * DEG_TO_RAD);
      s = Math.sin(angle * DEG_TO_RAD);
    }
    var hxx = L * c * c + mu * s * s;
    var hxy = (L - mu) * c * s;
    var hyy = L * s * s + mu * c * c;
    return {
      kind: "rotated_quadratic",
      name: "quadratic (κ=" + API.format(base.condition_number, "g") + ", turned " + API.format(angle, "g") + "°)",
      key: [base.condition_number, L, angle],
      condition_number: base.condition_number, L: L, mu: mu, angle: angle,
      h_xx: hxx, h_xy: hxy, h_yy: hyy,
      value: function (x, y) { return 0.5 * (hxx * x * x + 2.0 * hxy * x * y + hyy * y * y); },
      grad: function (x, y) { return [hxx * x + hxy * y, hxy * x + hyy * y]; },
      minima: [[0.0, 0.0]],
      xlim: [-2.0, 2.0], ylim: [-2.0, 2.0], start: [-1.5, 1.5],
      curvatures: [mu, L],
    };
  }

  function rosenbrock(a, b) {
    a = a === undefined ? 1.0 : Number(a);
    b = b === undefined ? 100.0 : Number(b);
    var standard = a === 1.0 && b === 100.0;
    return {
      kind: "rosenbrock",
      name: standard ? "rosenbrock" : "rosenbrock (a=" + API.format(a, "g") + ", b=" + API.format(b, "g") + ")",
      key: [a, b], a: a, b: b,
      value: function (x, y) { return (a - x) * (a - x) + b * (y - x * x) * (y - x * x); },
      grad: function (x, y) {
        var valley = y - x * x;
        return [-2.0 * (a - x) - 4.0 * b * x * valley, 2.0 * b * valley];
      },
      minima: [[a, a * a]],
      xlim: [a - 3.0, a + 1.0], ylim: [a * a - 2.0, a * a + 2.0], start: [a - 2.2, a * a],
      curvatures: standard ? CURVATURES.rosenbrock : null,
    };
  }

  var C1 = 1.5, C2 = 2.25, C3 = 2.625;
  function bealeResiduals(x, y) {
    var y2 = y * y;
    return [C1 - x + x * y, C2 - x + x * y2, C3 - x + x * y2 * y];
  }

  function beale() {
    return {
      kind: "beale", name: "beale", key: [],
      value: function (x, y) {
        var r = bealeResiduals(x, y);
        return r[0] * r[0] + r[1] * r[1] + r[2] * r[2];
      },
      grad: function (x, y) {
        var r = bealeResiduals(x, y);
        var y2 = y * y;
        var gx = 2.0 * (r[0] * (y - 1.0) + r[1] * (y2 - 1.0) + r[2] * (y2 * y - 1.0));
        var gy = 2.0 * (r[0] * x + r[1] * 2.0 * x * y + r[2] * 3.0 * x * y2);
        return [gx, gy];
      },
      minima: [[3.0, 0.5]],
      xlim: [-4.5, 4.5], ylim: [-4.5, 4.5], start: [1.0, 1.5],
      curvatures: CURVATURES.beale,
    };
  }

  function himmelblau() {
    return {
      kind: "himmelblau", name: "himmelblau", key: [],
      value: function (x, y) {
        var r1 = x * x + y - 11.0;
        var r2 = x + y * y - 7.0;
        return r1 * r1 + r2 * r2;
      },
      grad: function (x, y) {
        var r1 = x * x + y - 11.0;
        var r2 = x + y * y - 7.0;
        return [4.0 * x * r1 + 2.0 * r2, 2.0 * r1 + 4.0 * y * r2];
      },
      minima: [[3.0, 2.0], [-2.805118086952745, 3.131312518250573],
               [-3.779310253377747, -3.283185991286170], [3.584428340330492, -1.848126526964404]],
      xlim: [-5.0, 5.0], ylim: [-5.0, 5.0], start: [-0.5, 0.0],
      curvatures: CURVATURES.himmelblau,
    };
  }

  function saddle() {
    return {
      kind: "saddle", name: "saddle", key: [],
      value: function (x, y) { return 0.5 * (x * x - y * y); },
      grad: function (x, y) { return [1.0 * x, -1.0 * y]; },
      minima: [],
      xlim: [-2.0, 2.0], ylim: [-2.0, 2.0], start: [-1.8, 0.05],
      curvatures: null,
    };
  }

  var FACTORIES = {
    quadratic: function (kw) { kw = kw || {}; return quadratic(kw.condition_number, kw.L); },
    rosenbrock: function (kw) { kw = kw || {}; return rosenbrock(kw.a, kw.b); },
    beale: function () { return beale(); },
    himmelblau: function () { return himmelblau(); },
    saddle: function () { return saddle(); },
  };

  /* getLandscape(name, kwargs): as course_lib.problems.landscapes.get_landscape (not "noisy"). */
  function getLandscape(name, kwargs) {
    var factory = FACTORIES[name];
    if (!factory) {
      throw new Error("Unknown landscape " + JSON.stringify(name) + "; valid names: " + Object.keys(FACTORIES).sort().join(", "));
    }
    return factory(kwargs);
  }

  API.landscapes = FACTORIES;
  API.getLandscape = getLandscape;
  API.quadratic = quadratic;
  API.rotatedQuadratic = rotatedQuadratic;
  API.LANDSCAPE_NAMES = ["quadratic", "rosenbrock", "beale", "himmelblau", "saddle"];

  if (typeof module !== "undefined" && module.exports) module.exports = API;
})(typeof window !== "undefined" ? window : globalThis);
