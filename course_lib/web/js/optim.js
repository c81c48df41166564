/*
 * optim.js: float64 ports of course_lib.optim's update rules, for the course's web pages.
 *
 * A classic script (no modules, no requests): it defines window.CourseOptim (globalThis in
 * node) and fills in CourseOptim.optimizers, CourseOptim.makeOptimizer and CourseOptim.format.
 * landscapes.js and trajectories.js add the landscapes, the trajectory runner and each
 * landscape panel's compute to the same object.
 *
 * Every update follows torch 2.13's single-tensor path (foreach=False), as course_lib.optim
 * does, operation by operation and in the same order, so a run here equals course_lib's to the
 * last bit wherever the two do the same IEEE-754 float64 operations. The one place where
 * JavaScript's library could round differently from C's is pow (Adam's 1 - beta^t): powInt
 * below computes beta^t correctly rounded in double-double arithmetic, which is what glibc's
 * pow returns. tests/test_web_parity.py checks all of it against course_lib in node.
 *
 * How torch's CPU kernels round (measured on torch 2.13's x86-64 wheel, AVX2/AVX-512 kernels,
 * which contract a*b + c into one fused multiply-add): add(a, b, alpha) = fma(alpha, b, a);
 * addcmul(s, a, b, value) = fma(value*a, b, s); addcdiv(s, a, b, value) = s + (value*a)/b (no
 * fusion); lerp(a, b, w) = fma(w, b - a, a) when |w| < 0.5, else fma(-(b - a), 1 - w, b);
 * mul, div and adding a scalar round once each. fma() below computes the fused form exactly.
 *
 * One operation cannot be matched bit for bit: torch's float64 sqrt on the CPU is MKL's vdSqrt
 * (VML_HA), which differs from the correctly rounded square root by one ulp for about 0.8% of
 * inputs (measured); JS's Math.sqrt is correctly rounded. Runs of SGD (no square root) are
 * therefore equal bit for bit; runs of Adagrad, RMSprop, Adadelta and Adam are bit for bit until
 * such an input occurs, and then differ by round-off (the tests print how much). (On a CPU whose torch kernels do not fuse, course_lib's runs differ from these by
 * round-off; the parity tests' 1e-12 tolerance allows for that.)
 *
 * An optimizer here is {init(n, hp) -> state, step(param, grad, state, hp)}: param and grad are
 * arrays of n float64 numbers (one parameter tensor, elementwise), param and state change in
 * place, grad is never changed. hp holds torch's keyword arguments (betas as a 2-array).
 */
(function (root) {
  "use strict";
  var API = root.CourseOptim || (root.CourseOptim = {});

  // ---- float helpers ----------------------------------------------------------------------

  function zeros(n) {
    var out = new Array(n);
    for (var i = 0; i < n; i++) out[i] = 0.0;
    return out;
  }

  function full(n, value) {
    var out = new Array(n);
    for (var i = 0; i < n; i++) out[i] = value;
    return out;
  }

  // torch's lerp (ATen/native/Lerp.h), with the multiply-add fused as the CPU kernel does
  function lerp(self, end, weight) {
    return Math.abs(weight) < 0.5 ? fma(weight, end - self, self) : fma(-(end - self), 1.0 - weight, end);
  }

  // torch.maximum: NaN wins
  function maximum(a, b) {
    if (a !== a) return a;
    if (b !== b) return b;
    return a > b ? a : b;
  }

  // Exact sum and product of doubles (Knuth's TwoSum, Dekker's TwoProduct with Veltkamp split).
  function twoSum(a, b) {
    var s = a + b;
    var bb = s - a;
    return [s, (a - (s - bb)) + (b - bb)];
  }
  var SPLITTER = 134217729.0; // 2^27 + 1
  function twoProd(a, b) {
    var p = a * b;
    var t = SPLITTER * a;
    var ah = t - (t - a), al = a - ah;
    t = SPLITTER * b;
    var bh = t - (t - b), bl = b - bh;
    return [p, ((ah * bh - p) + ah * bl + al * bh) + al * bl];
  }
  // double-double product (hi, lo) * (hi, lo), renormalised
  function ddMul(x, y) {
    var p = twoProd(x[0], y[0]);
    var lo = p[1] + (x[0] * y[1] + x[1] * y[0]);
    var s = p[0] + lo;
    return [s, lo - (s - p[0])];
  }

  // ---- fma: a*b + c with one rounding ----------------------------------------------------
  // torch's CPU kernels are built for AVX2/AVX-512 with contraction on, so add(a, b, alpha),
  // addcmul and lerp round once (a fused multiply-add): measured on this machine's torch wheel
  // for both the scalar loop (tensors of 2) and the vector loop. JS has no Math.fma, so fma()
  // below computes it exactly: Boldo & Melquiond's emulation (exact product, exact sum, one
  // rounding to odd) where every quantity is far from overflow and underflow, exact rational
  // arithmetic on BigInt elsewhere (tiny or huge numbers, zeros).

  var TWO_M900 = Math.pow(2, -900), TWO_P900 = Math.pow(2, 900);

  function decompose(x) { // finite, nonzero x = mantissa * 2^exponent, mantissa a BigInt
    var view = new DataView(new ArrayBuffer(8));
    view.setFloat64(0, x);
    var hi = view.getUint32(0), lo = view.getUint32(4);
    var biased = (hi >>> 20) & 0x7ff;
    var mantissa = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
    var exponent;
    if (biased === 0) exponent = -1074; else { mantissa = mantissa | (1n << 52n); exponent = biased - 1075; }
    return [x < 0 ? -mantissa : mantissa, exponent];
  }

  function bitLength(n) { return n === 0n ? 0 : n.toString(2).length; }

  // the double nearest to m * 2^e (ties to even), subnormals included
  function roundScaled(m, e) {
    if (m === 0n) return 0.0;
    var negative = m < 0n;
    if (negative) m = -m;
    var lsb = Math.max(e + bitLength(m) - 53, -1074);
    if (lsb > e) {
      var shift = BigInt(lsb - e);
      var q = m >> shift, r = m - (q << shift), half = 1n << (shift - 1n);
      if (r > half || (r === half && (q & 1n) === 1n)) q += 1n;
      m = q;
    } else {
      m = m << BigInt(e - lsb);
    }
    var value = Number(m) * Math.pow(2, lsb); // exact: m <= 2^53, and the result is representable
    return negative ? -value : value;
  }

  function exactFma(a, b, c) {
    var da = decompose(a), db = decompose(b);
    var m = da[0] * db[0], e = da[1] + db[1];
    if (c !== 0) {
      var dc = decompose(c);
      if (dc[1] >= e) m = m + (dc[0] << BigInt(dc[1] - e));
      else { m = (m << BigInt(e - dc[1])) + dc[0]; e = dc[1]; }
    }
    if (m === 0n) return 0.0; // an exact cancellation rounds to +0
    return roundScaled(m, e);
  }

  function nextToward(x, direction) { // one ulp from x toward the sign of direction
    var view = new DataView(new ArrayBuffer(8));
    view.setFloat64(0, x);
    var bits = view.getBigUint64(0);
    var away = (x > 0) === (direction > 0);
    bits = away ? bits + 1n : bits - 1n;
    view.setBigUint64(0, bits);
    return view.getFloat64(0);
  }

  function fma(a, b, c) {
    if (a === 0 || b === 0 || !isFinite(a) || !isFinite(b) || !isFinite(c)) return a * b + c;
    var p = a * b;
    if (c === 0) return p + c;
    var ap = Math.abs(p), ac = Math.abs(c);
    if (ap < TWO_M900 || ap > TWO_P900 || ac < TWO_M900 || ac > TWO_P900 ||
        Math.abs(a) > TWO_P900 || Math.abs(b) > TWO_P900) {
      return exactFma(a, b, c);
    }
    var prod = twoProd(a, b);              // a*b = prod[0] + prod[1] exactly
    var sum = twoSum(c, prod[0]);          // c + prod[0] = sum[0] + sum[1] exactly
    var low = twoSum(sum[1], prod[1]);     // the rest, rounded to odd below
    var v = low[0];
    if (low[1] !== 0 && v !== 0) {
      var view = new DataView(new ArrayBuffer(8));
      view.setFloat64(0, v);
      if ((view.getUint32(4) & 1) === 0) v = nextToward(v, low[1]);
    } else if (low[1] !== 0) {
      v = low[1] > 0 ? Number.MIN_VALUE : -Number.MIN_VALUE; // (cannot happen: low[0] = 0 means exact)
    }
    var result = sum[0] + v;
    if (Math.abs(result) < TWO_M900) return exactFma(a, b, c);
    return result;
  }

  /*
   * base ** exponent for a whole exponent, correctly rounded (as glibc's pow): square-and-multiply
   * in double-double (about 2^-100 relative error for the exponents a panel uses), then one
   * rounding. Math.pow may differ from C's pow in the last bit; this does not (the parity tests
   * compare it with Python's ** for every beta and step a panel offers).
   */
  function powInt(base, exponent) {
    if (!(exponent === Math.floor(exponent)) || Math.abs(exponent) > 1e6 || !isFinite(base) || base === 0) {
      return Math.pow(base, exponent);
    }
    var n = Math.abs(exponent);
    var result = [1.0, 0.0];
    var square = [base, 0.0];
    while (n > 0) {
      if (n % 2 === 1) result = ddMul(result, square);
      n = Math.floor(n / 2);
      if (n > 0) square = ddMul(square, square);
    }
    if (!isFinite(result[0]) || result[0] === 0 || Math.abs(result[0]) < 1e-290) return Math.pow(base, exponent);
    var value = result[0] + result[1];
    if (exponent < 0) {
      // 1 / (hi + lo), correctly rounded up to double-double error
      var q = 1.0 / result[0];
      var r = twoProd(q, result[0]);
      var residual = ((1.0 - r[0]) - r[1]) - q * result[1];
      return q + residual / result[0];
    }
    return value;
  }

  /*
   * Python's float ** float (C's pow) for what the optimizers use: whole exponents (powInt), and
   * 0.5 (Adam's sqrt(1 - beta2^t)). glibc's pow(x, 0.5) is not always sqrt(x): it differs by one
   * ulp for about 0.1% of x. The one such x that recurs is 1 - 2^-53, the bias correction once
   * beta2^t < 2^-53, where the exact root lies within 2^-110 of a midpoint and pow rounds up to 1;
   * that case is reproduced. (tests/test_web_parity.py checks every beta2 and step the panels
   * offer, and counts the rare others.)
   */
  var ONE_MINUS_ULP = 1 - Math.pow(2, -53);
  function pyPow(base, exponent) {
    if (exponent === 0.5) return base === ONE_MINUS_ULP ? 1.0 : Math.sqrt(base);
    return powInt(base, exponent);
  }

  // ---- the update rules -------------------------------------------------------------------

  var SGD = {
    defaults: { lr: 1e-3, momentum: 0.0, dampening: 0.0, weight_decay: 0.0, nesterov: false, maximize: false },
    init: function (n, hp) { return {}; },
    step: function (param, grad, state, hp) {
      var lr = hp.lr, momentum = hp.momentum, dampening = hp.dampening;
      var wd = hp.weight_decay, nesterov = hp.nesterov, maximize = hp.maximize;
      var n = param.length;
      var buffer = state.momentum_buffer;
      var first = momentum !== 0 && buffer === undefined;
      if (first) { buffer = zeros(n); state.momentum_buffer = buffer; }
      for (var i = 0; i < n; i++) {
        var g = maximize ? -grad[i] : grad[i];
        if (wd !== 0) g = fma(wd, param[i], g);           // g <- g + lambda theta
        if (momentum !== 0) {
          if (first) buffer[i] = g;                        // b_1 = g_1
          else buffer[i] = fma(1 - dampening, g, buffer[i] * momentum);  // b <- beta b + (1 - tau) g
          g = nesterov ? fma(momentum, buffer[i], g) : buffer[i];        // d = g + beta b, or b
        }
        param[i] = fma(-lr, g, param[i]);                  // theta <- theta - eta d
      }
    },
  };

  var Adagrad = {
    defaults: { lr: 1e-2, lr_decay: 0.0, weight_decay: 0.0, initial_accumulator_value: 0.0, eps: 1e-10, maximize: false },
    init: function (n, hp) { return { step: 0, sum: full(n, hp.initial_accumulator_value) }; },
    step: function (param, grad, state, hp) {
      state.step += 1;
      var step = state.step;
      var clr = hp.lr / (1 + (step - 1) * hp.lr_decay);   // lr / (1 + (t - 1) lr_decay)
      var sum = state.sum;
      for (var i = 0; i < param.length; i++) {
        var g = hp.maximize ? -grad[i] : grad[i];
        if (hp.weight_decay !== 0) g = fma(hp.weight_decay, param[i], g);
        sum[i] = fma(1 * g, g, sum[i]);                     // s <- s + g^2   (addcmul, value 1)
        var std = Math.sqrt(sum[i]) + hp.eps;               // sqrt(s) + eps
        param[i] = param[i] + (-clr) * g / std;             // theta <- theta - lr~ g / std
      }
    },
  };

  var Adadelta = {
    defaults: { lr: 1.0, rho: 0.9, eps: 1e-6, weight_decay: 0.0, maximize: false },
    init: function (n, hp) { return { step: 0, square_avg: zeros(n), acc_delta: zeros(n) }; },
    step: function (param, grad, state, hp) {
      state.step += 1;
      var rho = hp.rho, v = state.square_avg, u = state.acc_delta;
      for (var i = 0; i < param.length; i++) {
        var g = hp.maximize ? -grad[i] : grad[i];
        if (hp.weight_decay !== 0) g = fma(hp.weight_decay, param[i], g);
        v[i] = fma((1 - rho) * g, g, v[i] * rho);           // v <- rho v + (1 - rho) g^2
        var std = Math.sqrt(v[i] + hp.eps);                 // sqrt(v + eps)
        var delta = Math.sqrt(u[i] + hp.eps);               // sqrt(u + eps)
        delta = delta / std;
        delta = delta * g;                                  // dx = sqrt(u + eps) / sqrt(v + eps) g
        u[i] = fma((1 - rho) * delta, delta, u[i] * rho);   // u <- rho u + (1 - rho) dx^2
        param[i] = fma(-hp.lr, delta, param[i]);            // theta <- theta - lr dx
      }
    },
  };

  var RMSprop = {
    defaults: { lr: 1e-2, alpha: 0.99, eps: 1e-8, weight_decay: 0.0, momentum: 0.0, centered: false, maximize: false },
    init: function (n, hp) {
      var state = { step: 0, square_avg: zeros(n) };
      if (hp.momentum > 0) state.momentum_buffer = zeros(n);
      if (hp.centered) state.grad_avg = zeros(n);
      return state;
    },
    step: function (param, grad, state, hp) {
      state.step += 1;
      var alpha = hp.alpha, v = state.square_avg;
      for (var i = 0; i < param.length; i++) {
        var g = hp.maximize ? -grad[i] : grad[i];
        if (hp.weight_decay !== 0) g = fma(hp.weight_decay, param[i], g);
        v[i] = fma((1 - alpha) * g, g, v[i] * alpha);       // v <- alpha v + (1 - alpha) g^2
        var avg;
        if (hp.centered) {
          var ga = state.grad_avg;
          ga[i] = lerp(ga[i], g, 1 - alpha);                // g_bar <- lerp(g_bar, g, 1 - alpha)
          avg = Math.sqrt(fma((-1) * ga[i], ga[i], v[i]));  // sqrt(v - g_bar^2)
        } else {
          avg = Math.sqrt(v[i]);
        }
        avg = avg + hp.eps;
        if (hp.momentum > 0) {
          var b = state.momentum_buffer;
          b[i] = b[i] * hp.momentum + 1 * g / avg;          // b <- mu b + g / avg
          param[i] = fma(-hp.lr, b[i], param[i]);           // theta <- theta - lr b
        } else {
          param[i] = param[i] + (-hp.lr) * g / avg;         // theta <- theta - lr g / avg
        }
      }
    },
  };

  function adamInit(n, hp) {
    var state = { step: 0, exp_avg: zeros(n), exp_avg_sq: zeros(n) };
    if (hp.amsgrad) state.max_exp_avg_sq = zeros(n);
    return state;
  }

  // course_lib.optim.adam.adam_update (torch's _single_tensor_adam), elementwise
  function adamStep(param, grad, state, hp) {
    var lr = hp.lr, beta1 = hp.betas[0], beta2 = hp.betas[1], eps = hp.eps, wd = hp.weight_decay;
    var m = state.exp_avg, v = state.exp_avg_sq;
    state.step += 1;
    var step = state.step;
    var bias_correction1 = 1 - powInt(beta1, step);        // 1 - beta1^t
    var bias_correction2 = 1 - powInt(beta2, step);        // 1 - beta2^t
    var step_size = lr / bias_correction1;
    var bias_correction2_sqrt = pyPow(bias_correction2, 0.5);
    for (var i = 0; i < param.length; i++) {
      var g = hp.maximize ? -grad[i] : grad[i];
      if (wd !== 0) {
        if (hp.decoupled_weight_decay) param[i] = param[i] * (1 - lr * wd);  // theta(1 - lr wd)
        else g = fma(wd, param[i], g);                                       // g + wd theta
      }
      m[i] = lerp(m[i], g, 1 - beta1);                     // m <- lerp(m, g, 1 - beta1)
      v[i] = fma((1 - beta2) * g, g, v[i] * beta2);        // v <- beta2 v + (1 - beta2) g^2
      var denom;
      if (hp.amsgrad) {
        var vmax = state.max_exp_avg_sq;
        vmax[i] = maximum(vmax[i], v[i]);
        denom = Math.sqrt(vmax[i]) / bias_correction2_sqrt + eps;
      } else {
        denom = Math.sqrt(v[i]) / bias_correction2_sqrt + eps;  // sqrt(v / (1 - beta2^t)) + eps
      }
      param[i] = param[i] + (-step_size) * m[i] / denom;   // theta <- theta - step_size m / denom
    }
  }

  var Adam = {
    defaults: { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weight_decay: 0.0, amsgrad: false, maximize: false,
                decoupled_weight_decay: false },
    init: adamInit,
    step: adamStep,
  };

  var AdamW = {
    defaults: { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weight_decay: 1e-2, amsgrad: false, maximize: false,
                decoupled_weight_decay: true },
    init: adamInit,
    step: function (param, grad, state, hp) {
      var copy = {};
      for (var key in hp) copy[key] = hp[key];
      copy.decoupled_weight_decay = true;
      adamStep(param, grad, state, copy);
    },
  };

  // course_lib.ui.panels.adam.AdamWithoutBiasCorrection: what 07's "bias correction" switch
  // turns off (m_hat = m, v_hat = v). Not a torch optimizer.
  var AdamWithoutBiasCorrection = {
    defaults: { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weight_decay: 0.0, amsgrad: false, maximize: false },
    init: adamInit,
    step: function (param, grad, state, hp) {
      if (hp.weight_decay || hp.amsgrad || hp.maximize) {
        throw new Error("AdamWithoutBiasCorrection supports neither weight_decay, amsgrad nor maximize");
      }
      var beta1 = hp.betas[0], beta2 = hp.betas[1];
      var m = state.exp_avg, v = state.exp_avg_sq;
      state.step += 1;
      for (var i = 0; i < param.length; i++) {
        var g = grad[i];
        m[i] = lerp(m[i], g, 1 - beta1);
        v[i] = fma((1 - beta2) * g, g, v[i] * beta2);
        param[i] = param[i] + (-hp.lr) * m[i] / (Math.sqrt(v[i]) + hp.eps);  // no 1 - beta^t
      }
    },
  };

  var OPTIMIZERS = {
    SGD: SGD, Adagrad: Adagrad, Adadelta: Adadelta, RMSprop: RMSprop, Adam: Adam, AdamW: AdamW,
    AdamWithoutBiasCorrection: AdamWithoutBiasCorrection,
  };

  // torch's argument checks that a panel can reach (same wording as torch / course_lib)
  function validate(name, hp) {
    function nonNegative(value, what) {
      if (!(0.0 <= value)) throw new Error("Invalid " + what + ": " + value);
    }
    nonNegative(hp.lr, "learning rate");
    if (hp.eps !== undefined) nonNegative(hp.eps, "epsilon value");
    if (hp.weight_decay !== undefined) nonNegative(hp.weight_decay, "weight_decay value");
    if (name === "SGD") {
      nonNegative(hp.momentum, "momentum value");
      if (hp.nesterov && (hp.momentum <= 0 || hp.dampening !== 0)) {
        throw new Error("Nesterov momentum requires a momentum and zero dampening");
      }
    }
    if (hp.betas !== undefined) {
      for (var k = 0; k < 2; k++) {
        if (!(0.0 <= hp.betas[k] && hp.betas[k] < 1.0)) {
          throw new Error("Invalid beta parameter at index " + k + ": " + hp.betas[k]);
        }
      }
    }
  }

  /*
   * makeOptimizer(name, hyperparams) -> {name, hyperparams, step(param, grad)}: an optimizer on
   * one parameter (an array of n numbers, changed in place), with torch's defaults filled in.
   * Unknown hyperparameter names throw, as torch's constructor does.
   */
  function makeOptimizer(name, hyperparams) {
    var rule = OPTIMIZERS[name];
    if (!rule) throw new Error("Unknown optimizer " + JSON.stringify(name) + "; valid: " + Object.keys(OPTIMIZERS).join(", "));
    var hp = {};
    var key;
    for (key in rule.defaults) hp[key] = rule.defaults[key];
    for (key in hyperparams || {}) {
      if (!(key in rule.defaults)) {
        throw new Error(name + " has no hyperparameter '" + key + "'; its hyperparameters are: " + Object.keys(rule.defaults).join(", "));
      }
      hp[key] = hyperparams[key];
    }
    validate(name, hp);
    var state = null;
    return {
      name: name,
      hyperparams: hp,
      state: function () { return state; },
      step: function (param, grad) {
        if (state === null) state = rule.init(param.length, hp);
        rule.step(param, grad, state, hp);
      },
    };
  }

  // ---- Python's format() for the specs the panels use (".3g", "g", ".0e", ".2e", ".3f") ----

  // x (finite, > 0) as digits d_1 d_2 ... d_p and exponent e with x ~ 0.d1...dp * 10^(e+1),
  // correctly rounded half-to-even on x's exact binary value, as CPython's dtoa does.
  function exactDigits(x, precision) {
    // x = mantissa * 2^exp2 exactly
    var buffer = new DataView(new ArrayBuffer(8));
    buffer.setFloat64(0, x);
    var hi = buffer.getUint32(0), lo = buffer.getUint32(4);
    var biased = (hi >>> 20) & 0x7ff;
    var mantissa = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
    var exp2;
    if (biased === 0) { exp2 = -1074; } else { mantissa = mantissa | (1n << 52n); exp2 = biased - 1075; }
    // numerator / denominator = x
    var num = mantissa, den = 1n;
    if (exp2 >= 0) num = num << BigInt(exp2); else den = den << BigInt(-exp2);
    // decimal exponent estimate: 10^e10 <= x < 10^(e10+1)
    var e10 = Math.floor(Math.log10(x));
    function pow10(k) { return 10n ** BigInt(k); }
    function ge(k) { // x >= 10^k ?
      return k >= 0 ? num >= den * pow10(k) : num * pow10(-k) >= den;
    }
    while (!ge(e10)) e10 -= 1;
    while (ge(e10 + 1)) e10 += 1;
    // scaled = x * 10^(precision - 1 - e10), rounded half-even to an integer
    var shift = precision - 1 - e10;
    var sn = num, sd = den;
    if (shift >= 0) sn = sn * pow10(shift); else sd = sd * pow10(-shift);
    var q = sn / sd, r = sn - q * sd;
    if (2n * r > sd || (2n * r === sd && (q & 1n) === 1n)) q += 1n;
    var digits = q.toString();
    if (digits.length > precision) { digits = digits.slice(0, precision); e10 += 1; }
    return { digits: digits, exponent: e10 };
  }

  function expString(e) {
    var sign = e < 0 ? "-" : "+";
    var a = Math.abs(e);
    return "e" + sign + (a < 10 ? "0" + a : String(a));
  }

  function formatE(x, precision) {
    var d = exactDigits(x, precision + 1);
    var body = d.digits.charAt(0) + (precision > 0 ? "." + d.digits.slice(1) : "");
    return body + expString(d.exponent);
  }

  function formatG(x, precision) {
    if (precision === 0) precision = 1;
    var d = exactDigits(x, precision);
    var e = d.exponent;
    var digits = d.digits.replace(/0+$/, "");
    if (digits === "") digits = "0";
    if (-4 <= e && e < precision) {
      // fixed notation
      if (e >= 0) {
        var intPart = digits.slice(0, e + 1);
        while (intPart.length < e + 1) intPart += "0";
        var frac = digits.slice(e + 1);
        return frac ? intPart + "." + frac : intPart;
      }
      return "0." + new Array(-e).join("0") + digits;
    }
    return digits.charAt(0) + (digits.length > 1 ? "." + digits.slice(1) : "") + expString(e);
  }

  function formatF(x, precision) {
    // round(x * 10^precision) half to even on x's exact binary value, then place the point
    var digits = "0";
    if (x !== 0) {
      var view = new DataView(new ArrayBuffer(8));
      view.setFloat64(0, x);
      var hi = view.getUint32(0), lo = view.getUint32(4);
      var biased = (hi >>> 20) & 0x7ff;
      var mantissa = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
      var exp2;
      if (biased === 0) exp2 = -1074; else { mantissa = mantissa | (1n << 52n); exp2 = biased - 1075; }
      var num = mantissa * 10n ** BigInt(precision), den = 1n;
      if (exp2 >= 0) num = num << BigInt(exp2); else den = den << BigInt(-exp2);
      var q = num / den, r = num - q * den;
      if (2n * r > den || (2n * r === den && (q & 1n) === 1n)) q += 1n;
      digits = q.toString();
    }
    if (precision === 0) return digits;
    while (digits.length < precision + 1) digits = "0" + digits;
    return digits.slice(0, digits.length - precision) + "." + digits.slice(digits.length - precision);
  }

  /*
   * pyFormat(x, spec): Python's format(x, spec) for float specs "g", ".Ng", ".Ne", ".Nf".
   * (So labels and captions read exactly as the Python panels write them.)
   */
  function pyFormat(x, spec) {
    var match = /^\.?(\d*)([gef])$/.exec(spec);
    if (!match) throw new Error("unsupported format spec " + spec);
    var precision = match[1] === "" ? 6 : parseInt(match[1], 10);
    var kind = match[2];
    if (x !== x) return "nan";
    if (x === Infinity) return "inf";
    if (x === -Infinity) return "-inf";
    var negative = x < 0 || (x === 0 && 1 / x < 0);
    var a = Math.abs(x);
    var body;
    if (a === 0) {
      if (kind === "g") body = "0";
      else if (kind === "e") body = (precision > 0 ? "0." + new Array(precision + 1).join("0") : "0") + "e+00";
      else body = formatF(0, precision);
    } else if (kind === "g") body = formatG(a, precision);
    else if (kind === "e") body = formatE(a, precision);
    else body = formatF(a, precision);
    return (negative ? "-" : "") + body;
  }

  // [beta^t, 1 - beta^t, sqrt(1 - beta^t)] as Adam computes them (for the tests)
  function biasCorrection(beta, step) {
    var power = powInt(beta, step);
    return [power, 1 - power, pyPow(1 - power, 0.5)];
  }

  API.optimizers = OPTIMIZERS;
  API.makeOptimizer = makeOptimizer;
  API.math = { biasCorrection: biasCorrection, fma: fma, exactFma: exactFma, lerp: lerp, maximum: maximum, powInt: powInt, pyPow: pyPow, twoSum: twoSum, twoProd: twoProd };
  API.format = pyFormat;

  if (typeof module !== "undefined" && module.exports) module.exports = API;
})(typeof window !== "undefined" ? window : globalThis);
