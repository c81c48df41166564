/*
 * trajectories.js: the trajectory runner and every landscape panel's compute, in float64, for
 * the web pages. A classic script; load optim.js and landscapes.js first (in node it requires
 * them itself). Adds to window.CourseOptim (globalThis in node):
 *
 *   run(landscape, optimizerName, hyperparams, steps, start, label) -> Trajectory
 *       as course_lib.experiments.trajectories.run: landscape is a landscape object (from
 *       landscapes.js) or a name; steps defaults to 200, start to the landscape's start,
 *       label to "<Name> key=value, ...".
 *   Trajectory = {label, path: [[x, y], ...] (n + 1 points), losses: [f(θ_0), ...],
 *                 diverged, diverged_at (a step or null), message ("diverged at step 37" or ""),
 *                 hyperparams}
 *       Divergence (NaN, inf, or |x| or |y| > DIVERGENCE_BOUND) ends the path at the last good
 *       point, with the same rule and message as the Python runner.
 *   theory: the closed forms the panels' captions use (gdRate, gdOptimalLr, quadraticRate, ...).
 *   panels[panelId].compute(values) -> {trajectories: [...], extras: {...}}
 *       values: {control name: value}, the same names and values as the Python panel's sliders;
 *       trajectories: exactly what the Python panel's compute returns, in the same order (for
 *       06, {label, effective_lr, step_size} curves instead); extras: numbers the figure or
 *       caption needs beside them (documented per panel below).
 *       Throws an Error where the Python compute raises ValueError.
 *
 * tests/test_web_parity.py runs all of it in node against the Python panels.
 */
(function (root) {
  "use strict";
  var API = root.CourseOptim || (root.CourseOptim = {});
  if (typeof require === "function" && typeof module !== "undefined") {
    if (!API.makeOptimizer) require("./optim.js");
    if (!API.getLandscape) require("./landscapes.js");
  }

  var DIVERGENCE_BOUND = 1e6;

  function formatValue(value) {
    if (typeof value === "boolean") return value ? "True" : "False";
    if (Array.isArray(value)) return "(" + value.map(formatValue).join(", ") + ")";
    if (typeof value === "number") return API.format(value, "g");
    return String(value);
  }

  function defaultLabel(name, hyperparams) {
    var parts = [];
    for (var key in hyperparams) parts.push(key + "=" + formatValue(hyperparams[key]));
    return (name + " " + parts.join(", ")).trim();
  }

  function isGoodPoint(x, y) {
    return Math.abs(x) <= DIVERGENCE_BOUND && Math.abs(y) <= DIVERGENCE_BOUND; // false for NaN
  }

  // _finish: cut at the first bad point or non-finite loss and wrap as a Trajectory
  function finish(landscape, points, label, hyperparams) {
    var firstBad = null;
    for (var i = 0; i < points.length; i++) {
      if (!isGoodPoint(points[i][0], points[i][1])) { firstBad = i; break; }
    }
    if (firstBad !== null) points = points.slice(0, firstBad);
    var losses = points.map(function (p) { return landscape.value(p[0], p[1]); });
    for (var k = 0; k < losses.length; k++) {
      if (!isFinite(losses[k])) {
        if (k === 0) throw new Error("the loss at the start point " + JSON.stringify(points[0]) + " is not finite");
        points = points.slice(0, k);
        losses = losses.slice(0, k);
        firstBad = k;
        break;
      }
    }
    return {
      label: label,
      path: points,
      losses: losses,
      diverged: firstBad !== null,
      diverged_at: firstBad,
      message: firstBad === null ? "" : "diverged at step " + firstBad,
      hyperparams: copy(hyperparams),
    };
  }

  function copy(object) {
    var out = {};
    for (var key in object) out[key] = Array.isArray(object[key]) ? object[key].slice() : object[key];
    return out;
  }

  function run(landscape, optimizerName, hyperparams, steps, start, label) {
    if (typeof landscape === "string") landscape = API.getLandscape(landscape);
    hyperparams = hyperparams || {};
    steps = steps === undefined || steps === null ? 200 : steps;
    if (!(Number.isInteger(steps) && steps >= 0)) throw new Error("steps must be a non-negative integer, got " + steps);
    start = start === undefined || start === null ? landscape.start : start;
    if (!(start.length === 2 && isFinite(start[0]) && isFinite(start[1]))) {
      throw new Error("start must be a point (x, y) of 2 finite numbers, got " + JSON.stringify(start));
    }
    label = label === undefined || label === null ? defaultLabel(optimizerName, hyperparams) : String(label);
    var optimizer = API.makeOptimizer(optimizerName, hyperparams);
    var theta = [Number(start[0]), Number(start[1])];
    var points = [[theta[0], theta[1]]];
    for (var k = 0; k < steps; k++) {
      optimizer.step(theta, landscape.grad(theta[0], theta[1]));
      points.push([theta[0], theta[1]]);
      if (!isGoodPoint(theta[0], theta[1])) break;
    }
    return finish(landscape, points, label, hyperparams);
  }

  // ---- theory (course_lib.theory), what the panels' captions and divergence rules use ------

  function checkLr(lr) {
    if (!(isFinite(lr) && lr > 0)) throw new Error("Invalid learning rate: " + lr + " (must be > 0)");
  }
  function checkLrMomentum(lr, momentum) {
    if (!(isFinite(lr) && lr > 0)) throw new Error("Invalid learning rate: " + lr);
    if (!(0.0 <= momentum && momentum < 1.0)) throw new Error("Invalid momentum value: " + momentum + " (must be in [0, 1))");
  }

  // largest modulus of the roots of r^2 - c r + d = 0, as CPython's cmath.sqrt and abs(complex)
  // compute it (the real case is exact; the complex case uses hypot, which a JS engine may round
  // differently in the last bit: captions only)
  function largestRootModulus(c, d) {
    var disc = c * c - 4.0 * d;
    if (disc >= 0) {
      var root = Math.sqrt(disc);
      return Math.max(Math.abs((c + root) / 2.0), Math.abs((c - root) / 2.0));
    }
    var s = Math.sqrt(-disc);
    var m = Math.hypot(c / 2.0, s / 2.0);
    return Math.max(m, m);
  }

  function heavyBallRate(lr, momentum, curvature) {
    checkLrMomentum(lr, momentum);
    return largestRootModulus(1.0 + momentum - lr * curvature, momentum);
  }

  var theory = {
    DIVERGENCE_BOUND: DIVERGENCE_BOUND,
    // course_lib.theory.gradient_descent
    gdRate: function (lr, curvatures) {
      checkLr(lr);
      var worst = -Infinity;
      for (var i = 0; i < curvatures.length; i++) worst = Math.max(worst, Math.abs(1.0 - lr * curvatures[i]));
      return worst;
    },
    gdOptimalLr: function (mu, L) { return 2.0 / (L + mu); },
    gdOptimalRate: function (mu, L) { return (L - mu) / (L + mu); },
    stepsToTolerance: function (rate, tol) {
      if (rate >= 1.0) return Infinity;
      if (rate === 0.0) return 1;
      return Math.max(1, Math.ceil(Math.log(tol) / Math.log(rate) - 1e-9));
    },
    // course_lib.theory.momentum
    largestRootModulus: largestRootModulus,
    heavyBallRate: heavyBallRate,
    quadraticRate: function (lr, momentum, mu, L) {
      return Math.max(heavyBallRate(lr, momentum, mu), heavyBallRate(lr, momentum, L));
    },
    heavyBallOptimum: function (mu, L) {
      var sm = Math.sqrt(mu), sL = Math.sqrt(L);
      return [4.0 / ((sL + sm) * (sL + sm)), ((sL - sm) / (sL + sm)) * ((sL - sm) / (sL + sm))];
    },
    heavyBallOptimalRate: function (mu, L) {
      var sk = Math.sqrt(L / mu);
      return (sk - 1.0) / (sk + 1.0);
    },
    // course_lib.theory.rmsprop
    emaMemory: function (alpha) { return 1.0 / (1.0 - alpha); },
  };

  function stopOutsideWindow(surface, trajectory) {
    var xLow = surface.xlim[0], xHigh = surface.xlim[1], yLow = surface.ylim[0], yHigh = surface.ylim[1];
    var xPad = 0.5 * (xHigh - xLow), yPad = 0.5 * (yHigh - yLow);
    var path = trajectory.path;
    for (var step = 0; step < path.length; step++) {
      var p = path[step];
      if (p[0] < xLow - xPad || p[0] > xHigh + xPad || p[1] < yLow - yPad || p[1] > yHigh + yPad) {
        var out = copy(trajectory);
        out.path = path.slice(0, step + 1);
        out.losses = trajectory.losses.slice(0, step + 1);
        out.diverged = true;
        out.diverged_at = step;
        out.message = "diverges: left the plot at step " + step;
        return out;
      }
    }
    return trajectory;
  }

  function fmt(x, spec) { return API.format(x, spec); }

  // ---- the panels -------------------------------------------------------------------------

  var panels = {};

  // 01_gradient_descent-0: parabola_panel. values {lr, curvature, steps}.
  // trajectories: [GD on f(x) = ½ L x² from x₀ = 1], path points are [x] (1-D).
  panels["01_gradient_descent-0"] = {
    compute: function (values) {
      var lr = values.lr, curvature = values.curvature, steps = values.steps;
      checkLr(lr);
      if (!(isFinite(curvature) && curvature > 0)) throw new Error("Invalid curvature L: " + curvature + " (must be > 0)");
      if (steps < 0) throw new Error("Invalid number of steps: " + steps + " (must be >= 0)");
      var half = 0.5 * curvature;
      var optimizer = API.makeOptimizer("SGD", { lr: lr });
      var x = [1.0];
      var iterates = [1.0];
      var divergedAt = null;
      for (var step = 1; step <= steps; step++) {
        // autograd of (0.5 L x²): (0.5 L) · (2 x)
        optimizer.step(x, [half * (2.0 * x[0])]);
        var value = x[0];
        if (!(isFinite(value) && Math.abs(value) <= DIVERGENCE_BOUND)) { divergedAt = step; break; }
        iterates.push(value);
      }
      var trajectory = {
        label: "GD η=" + fmt(lr, ".3g"),
        path: iterates.map(function (v) { return [v]; }),
        losses: iterates.map(function (v) { return half * (v * v); }),
        diverged: divergedAt !== null,
        diverged_at: divergedAt,
        message: divergedAt === null ? "" : "diverged at step " + divergedAt,
        hyperparams: { lr: lr },
      };
      return { trajectories: [trajectory], extras: {} };
    },
  };

  function lrConditionLandscape(name, conditionNumber) {
    return name === "quadratic" ? API.quadratic(conditionNumber) : API.getLandscape(name);
  }

  // 01_gradient_descent-1: lr_condition_panel. values {lr, condition_number, steps, landscape,
  // compare_best}. trajectories: [GD at lr, (GD at η* = 2/(L+μ), quadratic with compare_best)].
  // extras: {curvatures: [μ, L] at the minimum or null (saddle), best_lr: η* on the quadratic}.
  panels["01_gradient_descent-1"] = {
    compute: function (values) {
      var lr = values.lr;
      checkLr(lr);
      var surface = lrConditionLandscape(values.landscape, Number(values.condition_number));
      var trajectories = [run(surface, "SGD", { lr: lr }, values.steps, null, "GD η=" + fmt(lr, ".3g"))];
      var extras = { curvatures: surface.curvatures, best_lr: null };
      if (values.landscape === "quadratic") {
        var best = theory.gdOptimalLr(surface.mu, surface.L);
        extras.best_lr = best;
        if (values.compare_best) {
          trajectories.push(run(surface, "SGD", { lr: best }, values.steps, null, "GD η*=2/(L+μ)=" + fmt(best, ".3g")));
        }
      }
      return { trajectories: trajectories, extras: extras };
    },
  };

  function momentumLandscape(name) {
    if (name === "quadratic") return API.quadratic(50.0);
    if (name === "rosenbrock") return API.getLandscape("rosenbrock");
    throw new Error("landscape " + JSON.stringify(name) + " is not one of ['quadratic', 'rosenbrock']");
  }

  // 03_momentum-0: momentum_panel. values {landscape, lr, momentum}; 150 steps.
  // trajectories: [heavy ball, plain GD]; a run that diverges (on the quadratic: by the closed
  // form's rate > 1) is cut where it leaves the window widened by half its size.
  // extras: {mu, L} of the quadratic (null on Rosenbrock).
  panels["03_momentum-0"] = {
    steps: 150,
    compute: function (values) {
      var lr = values.lr, momentum = values.momentum, steps = values.steps === undefined ? 150 : values.steps;
      checkLrMomentum(lr, momentum);
      var surface = momentumLandscape(values.landscape);
      var runs = [
        run(surface, "SGD", { lr: lr, momentum: momentum }, steps, null, "heavy ball (β=" + fmt(momentum, ".3g") + ")"),
        run(surface, "SGD", { lr: lr }, steps, null, "plain GD"),
      ];
      var diverges;
      if (values.landscape === "quadratic") {
        diverges = [momentum, 0.0].map(function (beta) { return theory.quadraticRate(lr, beta, surface.mu, surface.L) > 1.0; });
      } else {
        diverges = runs.map(function (t) { return t.diverged; });
      }
      var trajectories = runs.map(function (t, i) { return diverges[i] ? stopOutsideWindow(surface, t) : t; });
      var extras = values.landscape === "quadratic" ? { mu: surface.mu, L: surface.L } : { mu: null, L: null };
      return { trajectories: trajectories, extras: extras };
    },
  };

  var NESTEROV_LANDSCAPES = { quadratic: { condition_number: 50.0 }, rosenbrock: {}, beale: {}, himmelblau: {} };

  // 04_nesterov-0: momentum_vs_nesterov_panel. values {landscape, lr, momentum}; 150 steps.
  // trajectories: [heavy ball, Nesterov].
  panels["04_nesterov-0"] = {
    steps: 150,
    compute: function (values) {
      var lr = values.lr, momentum = values.momentum, steps = values.steps === undefined ? 150 : values.steps;
      checkLrMomentum(lr, momentum);
      if (momentum === 0) throw new Error("Nesterov momentum requires a momentum and zero dampening (set momentum > 0)");
      if (!(values.landscape in NESTEROV_LANDSCAPES)) throw new Error("landscape " + JSON.stringify(values.landscape) + " is not offered");
      var surface = API.getLandscape(values.landscape, NESTEROV_LANDSCAPES[values.landscape]);
      return {
        trajectories: [
          run(surface, "SGD", { lr: lr, momentum: momentum }, steps, null, "heavy ball"),
          run(surface, "SGD", { lr: lr, momentum: momentum, nesterov: true }, steps, null, "Nesterov"),
        ],
        extras: {},
      };
    },
  };

  var ADAGRAD_START = [-1.5, 1.0];
  var ORIENTATIONS = { "along the axes": 0.0, "turned 45°": 45.0 };

  function adagradLandscape(kappa, orientation) {
    if (!(orientation in ORIENTATIONS)) throw new Error("orientation " + JSON.stringify(orientation) + " is not offered");
    if (ORIENTATIONS[orientation] === 0.0) return API.quadratic(kappa);
    return API.rotatedQuadratic(kappa, 1.0, ORIENTATIONS[orientation]);
  }

  // 05_adagrad-0: adagrad_panel. values {kappa, orientation, lr, eps}; 150 steps from (-1.5, 1).
  // trajectories: [Adagrad(lr, eps), GD at its best lr 2/(L+μ)].
  // extras: {best_gd_lr, distance: |θ_n| of Adagrad's last point, as the caption computes it}.
  panels["05_adagrad-0"] = {
    steps: 150,
    compute: function (values) {
      var lr = values.lr, eps = values.eps, steps = values.steps === undefined ? 150 : values.steps;
      if (!(lr > 0)) throw new Error("Invalid learning rate: " + lr);
      if (!(eps >= 0)) throw new Error("Invalid epsilon value: " + eps);
      var valley = adagradLandscape(Number(values.kappa), values.orientation);
      var adagrad = run(valley, "Adagrad", { lr: lr, eps: eps }, steps, ADAGRAD_START,
                        "Adagrad (lr=" + fmt(lr, ".3g") + ", eps=" + fmt(eps, ".0e") + ")");
      var best = 2.0 / (valley.L + valley.mu);
      var gd = run(valley, "SGD", { lr: best }, steps, ADAGRAD_START, "GD at its best lr " + fmt(best, ".3g"));
      var last = adagrad.path[adagrad.path.length - 1];
      return {
        trajectories: [adagrad, gd],
        extras: { best_gd_lr: best, distance: Math.sqrt(last[0] * last[0] + last[1] * last[1]) },
      };
    },
  };

  // 06_rmsprop_adadelta-0: effective_lr_panel. values {alpha, stream}.
  // trajectories: [{label, effective_lr, step_size}] for RMSprop(alpha) and Adagrad, 300 steps,
  // lr 0.01; extras: {gradients: the stream, memory: 1/(1 − α)}.
  var STREAM_STEPS = 300;
  function gradientStream(name, steps) {
    steps = steps || STREAM_STEPS;
    var third = Math.floor(steps / 3), half = Math.floor(steps / 2);
    var out = new Array(steps);
    for (var t = 0; t < steps; t++) {
      if (name === "steep, flat, steep") out[t] = t < third || t >= 2 * third ? 1.0 : 0.1;
      else if (name === "flat, then steep") out[t] = t < half ? 0.1 : 1.0;
      else if (name === "constant") out[t] = 1.0;
      else throw new Error("stream " + JSON.stringify(name) + " is not offered");
    }
    return out;
  }
  panels["06_rmsprop_adadelta-0"] = {
    compute: function (values) {
      var alpha = values.alpha, lr = 0.01;
      if (!(0.0 <= alpha && alpha < 1.0)) throw new Error("Invalid alpha value: " + alpha + " (must be in [0, 1))");
      var gradients = gradientStream(values.stream);
      var n = gradients.length;
      var rms = new Array(n), ada = new Array(n);
      var v = 0.0, s = 0.0;
      for (var t = 0; t < n; t++) {
        var g2 = gradients[t] * gradients[t];
        v = alpha * v + (1 - alpha) * g2;           // _ema: decay·avg + (1 − decay)·g²
        rms[t] = lr / (Math.sqrt(v) + 1e-8);
        s = s + g2;                                  // cumsum (plus s₀ = 0)
        ada[t] = lr / 1.0 / (Math.sqrt(0.0 + s) + 1e-10);
      }
      function stepSizes(curve) { return curve.map(function (e, t) { return e * Math.abs(gradients[t]); }); }
      return {
        trajectories: [
          { label: "RMSprop (α=" + fmt(alpha, ".3g") + ")", effective_lr: rms, step_size: stepSizes(rms) },
          { label: "Adagrad", effective_lr: ada, step_size: stepSizes(ada) },
        ],
        extras: { gradients: gradients, memory: theory.emaMemory(alpha) },
      };
    },
  };

  var ADAM_SGD_SETTINGS = {
    rosenbrock: { lr: 2e-3, momentum: 0.9 },
    saddle: { lr: 1e-2, momentum: 0.9 },
    quadratic: { lr: 0.1, momentum: 0.9 },
  };

  // 07_adam-0: adam_panel. values {landscape, lr, beta1, beta2, eps, bias_correction}; 200 steps.
  // trajectories: [Adam (or Adam without bias correction), SGD + momentum 0.9 at the landscape's lr].
  panels["07_adam-0"] = {
    steps: 200,
    compute: function (values) {
      var lr = values.lr, beta1 = values.beta1, beta2 = values.beta2, eps = values.eps;
      var steps = values.steps === undefined ? 200 : values.steps;
      if (!(0.0 <= beta1 && beta1 < 1.0)) throw new Error("Invalid beta parameter at index 0: " + beta1);
      if (!(0.0 <= beta2 && beta2 < 1.0)) throw new Error("Invalid beta parameter at index 1: " + beta2);
      var name = values.landscape;
      var surface;
      if (name === "quadratic") surface = API.quadratic(50.0);
      else if (name === "rosenbrock" || name === "saddle") surface = API.getLandscape(name);
      else throw new Error("landscape " + JSON.stringify(name) + " is not one of ['rosenbrock', 'saddle', 'quadratic']");
      var biasCorrection = values.bias_correction === undefined ? true : !!values.bias_correction;
      var label = "Adam (β₁=" + fmt(beta1, "g") + ", β₂=" + fmt(beta2, "g") + ", ε=" + fmt(eps, "g") + ")" +
        (biasCorrection ? "" : " no bias corr.");
      var sgd = ADAM_SGD_SETTINGS[name];
      return {
        trajectories: [
          run(surface, biasCorrection ? "Adam" : "AdamWithoutBiasCorrection",
              { lr: lr, betas: [beta1, beta2], eps: eps }, steps, null, label),
          run(surface, "SGD", { lr: sgd.lr, momentum: sgd.momentum }, steps, null,
              "SGD+momentum (lr=" + fmt(sgd.lr, "g") + ", β=0.9)"),
        ],
        extras: {},
      };
    },
  };

  API.DIVERGENCE_BOUND = DIVERGENCE_BOUND;
  API.run = run;
  API.defaultLabel = defaultLabel;
  API.stopOutsideWindow = stopOutsideWindow;
  API.gradientStream = gradientStream;
  API.theory = theory;
  API.panels = panels;

  if (typeof module !== "undefined" && module.exports) module.exports = API;
})(typeof window !== "undefined" ? window : globalThis);
