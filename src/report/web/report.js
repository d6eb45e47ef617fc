// Builds the report from the embedded data block: Vega-Lite specs drawn by vega-embed (SVG renderer),
// each with a table of the same numbers. After every chart settles, body[data-ready] turns "1" and
// body[data-charts-expected] / [data-charts-drawn] say how many charts drew marks (the Chromium test
// reads them).
(function () {
  "use strict";

  var body = document.body;
  var main = document.getElementById("report");
  var toc = document.getElementById("toc");
  var pending = [];  // { container, promise } per chart
  var CLASS_ORDER = [];

  // ---- small helpers -------------------------------------------------------------------------
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        if (k === "text") node.textContent = attrs[k];
        else if (k === "className") node.className = attrs[k];
        else node.setAttribute(k, attrs[k]);
      });
    }
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }
  function fixed(x, digits) {
    if (x === null || x === undefined || !isFinite(x)) return "–";
    return Number(x).toFixed(digits);
  }
  function pct(x, digits) {
    if (x === null || x === undefined || !isFinite(x)) return "–";
    return (100 * x).toFixed(digits === undefined ? 1 : digits) + "%";
  }
  // Three significant digits without exponent noise: 0.0123, 1.23, 123, 12345.
  function num(x) {
    if (x === null || x === undefined || !isFinite(x)) return "–";
    var a = Math.abs(x);
    if (a === 0) return "0";
    if (a >= 1000) return Math.round(x).toLocaleString("en-US");
    if (a >= 100) return x.toFixed(0);
    if (a >= 10) return x.toFixed(1);
    if (a >= 1) return x.toFixed(2);
    return x.toPrecision(3);
  }
  // Powers of ten in [lo, hi]: the ticks and grid of a log axis.
  function decades(lo, hi) {
    var out = [];
    for (var e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
      var v = Math.pow(10, e);
      if (v >= lo * 0.999 && v <= hi * 1.001) out.push(v);
    }
    return out;
  }
  function slug(s) { return s.toLowerCase().replace(/[^a-z0-9]+/g, "-"); }

  function section(title, lead) {
    var id = slug(title);
    var sec = el("section", { id: id }, [el("h2", { text: title })]);
    if (lead) sec.appendChild(el("p", { className: "lead", text: lead }));
    main.appendChild(sec);
    toc.appendChild(el("a", { href: "#" + id, text: title }));
    return sec;
  }
  function note(parent, text) {
    var n = el("p", { className: "note", text: text });
    parent.appendChild(n);
    return n;
  }
  // A table: columns = [{ title, value(row) -> string, text: bool }].
  function table(columns, rows) {
    var head = el("tr", null, columns.map(function (c) {
      return el("th", { text: c.title, className: c.text ? "text" : "" });
    }));
    var tbody = el("tbody", null, rows.map(function (r) {
      return el("tr", null, columns.map(function (c) {
        return el("td", { text: String(c.value(r)), className: c.text ? "text" : "" });
      }));
    }));
    return el("div", { className: "scroll" }, [el("table", null, [el("thead", null, [head]), tbody])]);
  }
  function tableView(parent, label, columns, rows, open) {
    var d = el("details", null, [el("summary", { text: label || "Table view" }), table(columns, rows)]);
    if (open) d.open = true;
    parent.appendChild(d);
    return d;
  }

  var FONT = "Liberation Sans, DejaVu Sans, Arial, Helvetica, sans-serif";
  var CONFIG = {
    font: FONT,
    view: { stroke: null },
    axis: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 600, gridColor: "#e6e9ed", labelLimit: 220 },
    legend: { labelFontSize: 11, titleFontSize: 12, labelLimit: 280 },
    title: { fontSize: 14, fontWeight: 600, anchor: "start", offset: 10 },
    header: { labelFontSize: 12, titleFontSize: 12 }
  };

  function chart(parent, spec) {
    var container = el("div", { className: "chart" });
    parent.appendChild(container);
    spec.$schema = "https://vega.github.io/schema/vega-lite/v6.json";  // an identifier only; never fetched
    spec.config = Object.assign({}, CONFIG, spec.config || {});
    if (!spec.background) spec.background = "white";
    var promise;
    try {
      promise = vegaEmbed(container, spec, { renderer: "svg", actions: false, tooltip: true });
    } catch (e) {
      promise = Promise.reject(e);
    }
    promise = Promise.resolve(promise).catch(function (e) {
      window.plumbRecordError("chart failed: " + (e && e.message ? e.message : e));
    });
    pending.push({ container: container, promise: promise });
    return container;
  }

  // ---- the data ------------------------------------------------------------------------------
  var data;
  try {
    data = JSON.parse(document.getElementById("plumb-data").textContent);
  } catch (e) {
    window.plumbRecordError("report data is not valid JSON: " + e.message);
    data = { workloads: [] };
  }
  var W = data.workloads || [];
  var labels = W.map(function (w) { return w.label; });
  var classSet = {};
  W.forEach(function (w) { (w.by_class || []).forEach(function (c) { classSet[c.key] = true; }); });
  CLASS_ORDER = Object.keys(classSet).sort();

  // ---- header: notes and run settings --------------------------------------------------------
  (function header() {
    var notes = document.getElementById("notes");
    notes.textContent = data.notes || "";
    if (!data.notes) notes.hidden = true;
    var settings = [];
    function uniq(f) {
      var seen = {};
      W.forEach(function (w) { var v = f(w); if (v !== "" && v !== undefined) seen[v] = true; });
      return Object.keys(seen).join("; ");
    }
    settings.push(["Workloads", String(W.length) + " (" + labels.join(", ") + ")"]);
    settings.push(["Protocol", uniq(function (w) {
      return w.steps + " steps, first " + w.drop_first + " and last " + w.drop_last + " dropped";
    })]);
    settings.push(["Intra-op threads", uniq(function (w) { return String(w.threads); })]);
    settings.push(["Data", uniq(function (w) { return w.data; })]);
    settings.push(["Host", uniq(function (w) { return w.host; }) || "unknown"]);
    settings.push(["Device roofs", data.roofs
      ? data.roofs.device + ": " + num(data.roofs.peak_gflops) + " GFLOP/s, " + num(data.roofs.bandwidth_gbs) + " GB/s"
      : "none (run plumb calibrate, or pass --device)"]);
    settings.push(["plumb version", data.plumb_version || ""]);
    var dl = el("dl", { className: "settings" });
    settings.filter(function (s) { return s[1] !== ""; }).forEach(function (s) {
      dl.appendChild(el("dt", { text: s[0] }));
      dl.appendChild(el("dd", { text: s[1] }));
    });
    document.querySelector("header").insertBefore(dl, toc);
  })();

  // ---- summary table -------------------------------------------------------------------------
  (function summary() {
    var sec = section("Summary",
      "Per workload, over the measured steps: mean step wall time, coverage (op time / step time " +
      "without the profiler's own recording), the shares of data loading, framework overhead and the " +
      "profiler's recording, k90 (op types covering 90% of op time) and the " +
      "achieved GFLOP/s over the whole step.");
    var cols = [
      { title: "workload", text: true, value: function (w) { return w.label; } },
      { title: "batch", value: function (w) { return w.batch; } },
      { title: "threads", value: function (w) { return w.threads; } },
      { title: "steps measured", value: function (w) { return w.measured_steps; } },
      { title: "step (ms)", value: function (w) { return num(w.step_ms); } },
      { title: "CPU (ms)", value: function (w) { return num(w.step_cpu_ms); } },
      { title: "coverage", value: function (w) { return pct(w.coverage); } },
      { title: "data", value: function (w) { return pct(w.data_share); } },
      { title: "overhead", value: function (w) { return pct(w.overhead_share); } },
      { title: "profiler", value: function (w) { return pct(w.profiler_share || 0); } },
      { title: "k90", value: function (w) { return w.k90; } },
      { title: "GFLOP/s", value: function (w) { return num(w.gflops); } },
      { title: "% of peak", value: function (w) { return data.roofs ? pct(w.peak_fraction, 2) : "–"; } },
      { title: "top op type", text: true, value: function (w) {
        var top = (w.by_op || [])[0];
        return top ? top.key + " (" + pct(top.share, 0) + ")" : "–";
      } }
    ];
    sec.appendChild(table(cols, W));
    if (data.mode_ratios && data.mode_ratios.length) {
      sec.appendChild(el("h3", { text: "Training vs inference" }));
      sec.appendChild(table([
        { title: "workload", text: true, value: function (r) { return r.workload; } },
        { title: "train step (ms)", value: function (r) { return num(r.train_ms); } },
        { title: "infer step (ms)", value: function (r) { return num(r.infer_ms); } },
        { title: "train / infer", value: function (r) { return fixed(r.ratio, 2) + "×"; } }
      ], data.mode_ratios));
    }
  })();

  // ---- (a) op-class breakdown ----------------------------------------------------------------
  (function classes() {
    var sec = section("Op classes",
      "Where each step's wall time goes, by op class, with data loading and framework overhead " +
      "(autograd, allocation, glue) and the profiler's own recording as their own segments.");
    var rows = [];
    W.forEach(function (w) {
      var total = Math.max(w.step_ms, w.op_ms + w.data_ms) || 1;
      (w.by_class || []).forEach(function (c) {
        rows.push({ workload: w.label, mode: w.mode, part: c.key, ms: c.ms_per_step, share: c.ms_per_step / total,
                    rank: CLASS_ORDER.indexOf(c.key) });
      });
      if (w.data_ms > 0) {
        rows.push({ workload: w.label, mode: w.mode, part: "data loading", ms: w.data_ms, share: w.data_ms / total,
                    rank: CLASS_ORDER.length });
      }
      var prof = w.profiler_ms || 0;
      var over = Math.max(0, w.step_ms - w.op_ms - w.data_ms - prof);
      rows.push({ workload: w.label, mode: w.mode, part: "framework overhead", ms: over, share: over / total,
                  rank: CLASS_ORDER.length + 1 });
      if (prof > 0) {
        rows.push({ workload: w.label, mode: w.mode, part: "profiler recording", ms: prof, share: prof / total,
                    rank: CLASS_ORDER.length + 2 });
      }
    });
    var domain = CLASS_ORDER.concat(["data loading", "framework overhead", "profiler recording"]);
    var range = ["#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#eeca3b", "#b279a2", "#ff9da6",
                 "#9d755d", "#439894", "#83bcb6", "#d67195"].slice(0, CLASS_ORDER.length);
    while (range.length < CLASS_ORDER.length) range.push("#888888");
    range = range.concat(["#bab0ac", "#dddddd", "#f0f0f0"]);
    chart(sec, {
      title: "Share of step time by op class",
      data: { values: rows },
      width: 760,
      height: { step: 26 },
      mark: { type: "bar", stroke: "white", strokeWidth: 0.5 },
      encoding: {
        y: { field: "workload", type: "nominal", title: "workload / mode", sort: labels },
        x: { field: "share", type: "quantitative", stack: "zero", title: "share of step time",
             axis: { format: ".0%" }, scale: { domain: [0, 1] } },
        color: { field: "part", type: "nominal", title: "op class", scale: { domain: domain, range: range },
                 legend: { orient: "right" } },
        order: { field: "rank", type: "quantitative", sort: "ascending" },
        tooltip: [
          { field: "workload", title: "workload" }, { field: "part", title: "class" },
          { field: "ms", title: "ms / step", format: ".3f" }, { field: "share", title: "share", format: ".1%" }
        ]
      }
    });
    tableView(sec, "Table: ms per step by class", [
      { title: "workload", text: true, value: function (r) { return r.workload; } },
      { title: "class", text: true, value: function (r) { return r.part; } },
      { title: "ms / step", value: function (r) { return fixed(r.ms, 3); } },
      { title: "share of step", value: function (r) { return pct(r.share); } }
    ], rows);

    // Phase split (forward / backward / optimizer) as a second, smaller chart.
    var phases = [];
    W.forEach(function (w) {
      (w.by_phase || []).forEach(function (p) {
        phases.push({ workload: w.label, phase: p.key, ms: p.ms_per_step, share: p.share,
                      rank: ["forward", "backward", "optimizer"].indexOf(p.key) });
      });
    });
    chart(sec, {
      title: "Share of op time by phase",
      data: { values: phases },
      width: 760,
      height: { step: 22 },
      mark: { type: "bar", stroke: "white", strokeWidth: 0.5 },
      encoding: {
        y: { field: "workload", type: "nominal", title: "workload / mode", sort: labels },
        x: { field: "share", type: "quantitative", stack: "zero", title: "share of op time",
             axis: { format: ".0%" }, scale: { domain: [0, 1] } },
        color: { field: "phase", type: "nominal", title: "phase",
                 scale: { domain: ["forward", "backward", "optimizer"], range: ["#4c78a8", "#e45756", "#54a24b"] } },
        order: { field: "rank", type: "quantitative", sort: "ascending" },
        tooltip: [
          { field: "workload" }, { field: "phase" },
          { field: "ms", title: "ms / step", format: ".3f" }, { field: "share", format: ".1%" }
        ]
      }
    });
    tableView(sec, "Table: ms per step by phase", [
      { title: "workload", text: true, value: function (r) { return r.workload; } },
      { title: "phase", text: true, value: function (r) { return r.phase; } },
      { title: "ms / step", value: function (r) { return fixed(r.ms, 3); } },
      { title: "share of op time", value: function (r) { return pct(r.share); } }
    ], phases);
  })();

  // ---- (b) op-type heat map ------------------------------------------------------------------
  (function opTypes() {
    var m = data.op_type_matrix || { labels: [], op_types: [], share: [] };
    var sec = section("Op types",
      "Share of each workload's op time per op type (colour on a log scale from 1% to 90%; cells under " +
      "1% take the lightest colour, blank cells never ran). Columns are ordered by total share.");
    var totals = m.op_types.map(function (_, j) {
      var s = 0;
      m.share.forEach(function (row) { s += row[j]; });
      return s;
    });
    var order = m.op_types.map(function (_, j) { return j; })
      .sort(function (a, b) { return totals[b] - totals[a] || (m.op_types[a] < m.op_types[b] ? -1 : 1); });
    var opOrder = order.map(function (j) { return m.op_types[j]; });
    var cells = [];
    m.labels.forEach(function (label, i) {
      m.op_types.forEach(function (op, j) {
        var share = m.share[i][j];
        if (share > 0) {
          var p = 100 * share;
          cells.push({ workload: label, op: op, pct: p, shade: Math.min(90, Math.max(1, p)),
                       text: p < 1 ? "<1" : String(Math.round(p)), ms: m.ms_per_step[i][j] });
        }
      });
    });
    chart(sec, {
      title: "Share of op time by op type (%)",
      data: { values: cells },
      width: { step: 34 },
      height: { step: 24 },
      encoding: {
        y: { field: "workload", type: "nominal", title: "workload / mode", sort: m.labels },
        x: { field: "op", type: "nominal", title: "op type", sort: opOrder,
             axis: { labelAngle: -45, labelAlign: "left", labelBaseline: "middle", orient: "top", labelPadding: 6 } }
      },
      layer: [
        { mark: { type: "rect", stroke: "white", strokeWidth: 1 },
          encoding: {
            color: { field: "shade", type: "quantitative", title: "% of op time",
                     scale: { type: "log", domain: [1, 90], scheme: "yelloworangered", clamp: true },
                     legend: { values: [1, 3, 10, 30, 90], gradientLength: 160 } },
            tooltip: [
              { field: "workload" }, { field: "op", title: "op type" },
              { field: "pct", title: "% of op time", format: ".2f" }, { field: "ms", title: "ms / step", format: ".3f" }
            ]
          } },
        { mark: { type: "text", fontSize: 10 },
          encoding: {
            text: { field: "text" },
            color: { condition: { test: "datum.shade >= 30", value: "white" }, value: "#1f2328" }
          } }
      ]
    });
    tableView(sec, "Table: % of op time by op type", [{ title: "workload", text: true, value: function (r) { return r.label; } }]
      .concat(order.map(function (j) {
        return { title: m.op_types[j], value: function (r) { return r.share[j] > 0 ? fixed(100 * r.share[j], 1) : ""; } };
      })),
      m.labels.map(function (label, i) { return { label: label, share: m.share[i] }; }));
  })();

  // ---- (c) similarity and clustering ---------------------------------------------------------
  (function similarity() {
    var sec = section("Similarity",
      "Cosine similarity of the workloads' op-type time vectors, and their average-linkage clustering " +
      "(distance = 1 − similarity). Both are drawn in the dendrogram's leaf order.");
    var m = data.op_type_matrix || { labels: [] };
    var S = data.similarity || [];
    var n = m.labels.length;
    var leafOrder = (data.dendrogram_order && data.dendrogram_order.length === n)
      ? data.dendrogram_order : m.labels.map(function (_, i) { return i; });
    var ordered = leafOrder.map(function (i) { return m.labels[i]; });
    var cells = [];
    for (var i = 0; i < n; i++) {
      for (var j = 0; j < n; j++) {
        cells.push({ a: m.labels[i], b: m.labels[j], sim: S[i][j] });
      }
    }
    var row = el("div", { className: "row" });
    sec.appendChild(row);
    var left = el("div"), right = el("div");
    row.appendChild(left);
    row.appendChild(right);
    var cell = Math.max(22, Math.min(48, Math.floor(420 / Math.max(1, n))));
    chart(left, {
      title: "Cosine similarity",
      data: { values: cells },
      width: { step: cell },
      height: { step: cell },
      encoding: {
        x: { field: "b", type: "nominal", sort: ordered, title: null, axis: { labelAngle: -45, labelAlign: "right" } },
        y: { field: "a", type: "nominal", sort: ordered, title: null }
      },
      layer: [
        { mark: { type: "rect", stroke: "white", strokeWidth: 1 },
          encoding: {
            color: { field: "sim", type: "quantitative", title: "similarity",
                     scale: { domain: [0, 1], scheme: "blues" } },
            tooltip: [{ field: "a", title: "workload" }, { field: "b", title: "vs" }, { field: "sim", title: "cosine", format: ".3f" }]
          } },
        { mark: { type: "text", fontSize: cell >= 34 ? 10 : 8 },
          encoding: {
            text: { field: "sim", format: ".2f" },
            color: { condition: { test: "datum.sim >= 0.6", value: "white" }, value: "#1f2328" }
          } }
      ]
    });
    tableView(sec, "Table: cosine similarity", [{ title: "", text: true, value: function (r) { return r.label; } }]
      .concat(leafOrder.map(function (j) {
        return { title: m.labels[j], value: function (r) { return fixed(r.sims[j], 3); } };
      })),
      leafOrder.map(function (i) { return { label: m.labels[i], sims: S[i] }; }));

    var merges = data.linkage || [];
    if (n < 2 || merges.length !== n - 1) {
      note(right, "The dendrogram needs at least two workloads.");
      return;
    }
    // Leaves sit at their position in the leaf order; a merge sits at the mean of its children, like
    // scipy's dendrogram. Each merge is three rule segments: two legs and the bar joining them.
    var pos = [], height = [];
    leafOrder.forEach(function (leaf, k) { pos[leaf] = k; height[leaf] = 0; });
    var rules = [];
    merges.forEach(function (mg, k) {
      var id = n + k;
      var ya = pos[mg.a], yb = pos[mg.b], d = mg.distance;
      rules.push({ x: height[mg.a], x2: d, y: ya, y2: ya, merge: k + 1, distance: d, size: mg.size });
      rules.push({ x: height[mg.b], x2: d, y: yb, y2: yb, merge: k + 1, distance: d, size: mg.size });
      rules.push({ x: d, x2: d, y: ya, y2: yb, merge: k + 1, distance: d, size: mg.size });
      pos[id] = (ya + yb) / 2;
      height[id] = d;
    });
    var maxD = 0;
    merges.forEach(function (mg) { maxD = Math.max(maxD, mg.distance); });
    // The y scale is reversed so the first leaf is on top, as in the heat map beside it.
    var ticks = leafOrder.map(function (_, k) { return k; });
    chart(right, {
      title: "Average-linkage dendrogram",
      data: { values: rules },
      width: 320,
      height: Math.max(120, cell * n),
      mark: { type: "rule", strokeWidth: 1.6, color: "#0b5cad" },
      encoding: {
        x: { field: "x", type: "quantitative", title: "distance (1 − cosine)",
             scale: { domain: [0, Math.max(0.05, maxD * 1.08)], nice: false } },
        x2: { field: "x2" },
        y: { field: "y", type: "quantitative", title: null,
             scale: { domain: [-0.5, n - 0.5], reverse: true, nice: false, zero: false },
             axis: { values: ticks, grid: false, labelExpr: JSON.stringify(ordered) + "[datum.value]",
                     labelFontSize: 11, labelPadding: 8, domain: false, ticks: false } },
        y2: { field: "y2" },
        tooltip: [{ field: "merge" }, { field: "distance", format: ".4f" }, { field: "size", title: "leaves" }]
      },
      config: { axisY: { labelLimit: 200 } }
    });
    tableView(right, "Table: merges", [
      { title: "merge", value: function (r) { return r.k; } },
      { title: "a", text: true, value: function (r) { return r.a; } },
      { title: "b", text: true, value: function (r) { return r.b; } },
      { title: "distance", value: function (r) { return fixed(r.distance, 4); } },
      { title: "leaves", value: function (r) { return r.size; } }
    ], merges.map(function (mg, k) {
      function name(id) { return id < n ? m.labels[id] : "cluster " + (id - n + 1); }
      return { k: k + 1, a: name(mg.a), b: name(mg.b), distance: mg.distance, size: mg.size };
    }));
  })();

  // ---- (d) roofline --------------------------------------------------------------------------
  (function roofline() {
    var sec = section("Roofline",
      "Each op type of each workload as a point: arithmetic intensity (FLOPs per byte moved) against " +
      "achieved GFLOP/s, on log-log axes, under the device's memory-bandwidth slope and compute peak. " +
      "Click a workload in the legend to pick out its points.");
    var points = [];
    W.forEach(function (w) {
      (w.by_op || []).forEach(function (o) {
        if (o.intensity > 0 && o.gflops > 0) {
          points.push({ workload: w.label, op: o.key, op_class: o.op_class, intensity: o.intensity,
                        gflops: o.gflops, gbs: o.gbs, share: o.share, peak: o.peak_fraction });
        }
      });
    });
    if (!points.length) {
      note(sec, "No op type has both FLOPs and bytes to place on a roofline.");
      return;
    }
    var roofs = data.roofs;
    if (!roofs) note(sec, "No device roofs (run plumb calibrate, or pass --device): the points are drawn without them.");
    var xs = points.map(function (p) { return p.intensity; });
    var ys = points.map(function (p) { return p.gflops; });
    var xmin = Math.min.apply(null, xs) / 2, xmax = Math.max.apply(null, xs) * 2;
    var ymin = Math.min.apply(null, ys) / 2, ymax = Math.max.apply(null, ys) * 2;
    var layers = [];
    var roofLine = [];
    if (roofs && roofs.peak_gflops > 0 && roofs.bandwidth_gbs > 0) {
      var ridge = roofs.peak_gflops / roofs.bandwidth_gbs;
      xmin = Math.min(xmin, ridge / 8);
      xmax = Math.max(xmax, ridge * 8);
      ymax = Math.max(ymax, roofs.peak_gflops * 2);
      ymin = Math.min(ymin, roofs.bandwidth_gbs * xmin);
      roofLine = [
        { x: xmin, y: roofs.bandwidth_gbs * xmin, roof: "memory " + num(roofs.bandwidth_gbs) + " GB/s" },
        { x: ridge, y: roofs.peak_gflops, roof: "ridge" },
        { x: xmax, y: roofs.peak_gflops, roof: "compute " + num(roofs.peak_gflops) + " GFLOP/s" }
      ];
      layers.push({
        data: { values: roofLine },
        mark: { type: "line", color: "#59636e", strokeWidth: 2, strokeDash: [6, 3] },
        encoding: { x: { field: "x", type: "quantitative" }, y: { field: "y", type: "quantitative" } }
      });
      var mid = Math.sqrt(xmin * ridge);
      layers.push({
        data: { values: [{ x: ridge * 1.25, y: roofs.peak_gflops,
                           label: "compute peak " + num(roofs.peak_gflops) + " GFLOP/s" }] },
        mark: { type: "text", fontSize: 11, color: "#3d444d", align: "left", baseline: "bottom", dy: -5 },
        encoding: { x: { field: "x", type: "quantitative" }, y: { field: "y", type: "quantitative" },
                    text: { field: "label" } }
      });
      layers.push({
        data: { values: [{ x: mid, y: roofs.bandwidth_gbs * mid, label: "memory " + num(roofs.bandwidth_gbs) + " GB/s" }] },
        mark: { type: "text", fontSize: 11, color: "#3d444d", align: "right", baseline: "bottom", dx: -4, dy: -4 },
        encoding: { x: { field: "x", type: "quantitative" }, y: { field: "y", type: "quantitative" },
                    text: { field: "label" } }
      });
    }
    layers.push({
      data: { values: points },
      params: [{ name: "pick", select: { type: "point", fields: ["workload"] }, bind: "legend" }],
      mark: { type: "point", filled: true },
      encoding: {
        opacity: { condition: { param: "pick", value: 0.85 }, value: 0.08 },
        x: { field: "intensity", type: "quantitative" },
        y: { field: "gflops", type: "quantitative" },
        color: { field: "op_class", type: "nominal", title: "op class", scale: { domain: CLASS_ORDER,
                 range: ["#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#eeca3b", "#b279a2", "#ff9da6",
                         "#9d755d", "#439894", "#83bcb6", "#d67195"] } },
        shape: { field: "workload", type: "nominal", title: "workload", sort: labels },
        size: { field: "share", type: "quantitative", title: "share of op time",
                scale: { domain: [0, 1], range: [20, 500] }, legend: { values: [0.01, 0.1, 0.5, 1], format: ".0%" } },
        tooltip: [
          { field: "workload" }, { field: "op", title: "op type" }, { field: "op_class", title: "class" },
          { field: "intensity", title: "FLOP/byte", format: ".3g" }, { field: "gflops", title: "GFLOP/s", format: ".3g" },
          { field: "gbs", title: "GB/s", format: ".3g" }, { field: "share", title: "share of op time", format: ".1%" }
        ]
      }
    });
    chart(sec, {
      title: roofs ? "Roofline: " + roofs.device : "Roofline (no device roofs)",
      width: 760,
      height: 440,
      encoding: {
        x: { type: "quantitative", title: "arithmetic intensity (FLOP / byte)",
             scale: { type: "log", domain: [xmin, xmax], nice: false },
             axis: { values: decades(xmin, xmax), format: "~g" } },
        y: { type: "quantitative", title: "achieved GFLOP/s",
             scale: { type: "log", domain: [ymin, ymax], nice: false },
             axis: { values: decades(ymin, ymax), format: "~g" } }
      },
      layer: layers,
      resolve: { scale: { x: "shared", y: "shared" } }
    });
    tableView(sec, "Table: op types on the roofline", [
      { title: "workload", text: true, value: function (r) { return r.workload; } },
      { title: "op type", text: true, value: function (r) { return r.op; } },
      { title: "class", text: true, value: function (r) { return r.op_class; } },
      { title: "FLOP/byte", value: function (r) { return num(r.intensity); } },
      { title: "GFLOP/s", value: function (r) { return num(r.gflops); } },
      { title: "GB/s", value: function (r) { return num(r.gbs); } },
      { title: "% of peak", value: function (r) { return roofs ? pct(r.peak, 2) : "–"; } },
      { title: "share of op time", value: function (r) { return pct(r.share); } }
    ], points);
  })();

  // ---- (e) thread scaling --------------------------------------------------------------------
  (function scaling() {
    var sec = section("Thread scaling",
      "Speedup of the mean step time over the intra-op thread count, with Amdahl's law " +
      "T(p) = T1 · (s + (1 − s) / p) fitted per workload (dashed; s = serial fraction). Click a legend " +
      "entry to pick out one workload.");
    var withPoints = W.filter(function (w) { return (w.scaling || []).length > 0; });
    if (!withPoints.length) {
      note(sec, "No thread sweep in these profiles (plumb profile --sweep adds one).");
      return;
    }
    var rows = [], fits = [], maxThreads = 1;
    withPoints.forEach(function (w) {
      var one = w.scaling.filter(function (p) { return p.threads === 1; })[0];
      var base = one ? one.step_ms : (w.amdahl ? w.amdahl.t1_ms : w.scaling[0].step_ms * w.scaling[0].threads);
      var series = w.label + (w.amdahl ? "  (s = " + fixed(w.amdahl.serial_fraction, 3) + ")" : "  (no fit)");
      w.scaling.forEach(function (p) {
        maxThreads = Math.max(maxThreads, p.threads);
        rows.push({ series: series, workload: w.label, threads: p.threads, step_ms: p.step_ms, speedup: base / p.step_ms,
                    kind: "measured" });
      });
      if (w.amdahl) {
        var last = Math.max.apply(null, w.scaling.map(function (p) { return p.threads; }));
        for (var t = 1; t <= last; t += Math.max(1, last / 48)) {
          var tm = w.amdahl.t1_ms * (w.amdahl.serial_fraction + (1 - w.amdahl.serial_fraction) / t);
          fits.push({ series: series, workload: w.label, threads: t, step_ms: tm, speedup: base / tm, kind: "Amdahl fit" });
        }
        var tl = w.amdahl.t1_ms * (w.amdahl.serial_fraction + (1 - w.amdahl.serial_fraction) / last);
        fits.push({ series: series, workload: w.label, threads: last, step_ms: tl, speedup: base / tl, kind: "Amdahl fit" });
      }
    });
    var ideal = [{ threads: 1, speedup: 1 }, { threads: maxThreads, speedup: maxThreads }];
    chart(sec, {
      title: "Speedup over one thread",
      width: 640,
      height: 380,
      layer: [
        { data: { values: ideal },
          mark: { type: "line", color: "#b0b7bf", strokeDash: [2, 3] },
          encoding: { x: { field: "threads", type: "quantitative" }, y: { field: "speedup", type: "quantitative" } } },
        { data: { values: [ideal[1]] },
          mark: { type: "text", text: "linear", color: "#8c959f", fontSize: 11, align: "right", baseline: "bottom", dx: -4, dy: -4 },
          encoding: { x: { field: "threads", type: "quantitative" }, y: { field: "speedup", type: "quantitative" } } },
        { data: { values: fits },
          mark: { type: "line", strokeDash: [6, 4], strokeWidth: 1.5 },
          encoding: { x: { field: "threads", type: "quantitative" }, y: { field: "speedup", type: "quantitative" },
                      color: { field: "series", type: "nominal" } } },
        { data: { values: rows },
          params: [{ name: "pick", select: { type: "point", fields: ["series"] }, bind: "legend" }],
          mark: { type: "line", point: { size: 50, filled: true }, strokeWidth: 2 },
          encoding: {
            opacity: { condition: { param: "pick", value: 1 }, value: 0.15 },
            x: { field: "threads", type: "quantitative", title: "intra-op threads", scale: { domain: [1, maxThreads] },
                 axis: { tickMinStep: 1, format: "d" } },
            y: { field: "speedup", type: "quantitative", title: "speedup (T(1) / T(p))" },
            color: { field: "series", type: "nominal", title: "workload (serial fraction)" },
            tooltip: [{ field: "workload" }, { field: "threads" }, { field: "step_ms", title: "step (ms)", format: ".3f" },
                      { field: "speedup", format: ".2f" }]
          } }
      ]
    });
    tableView(sec, "Table: step time per thread count", [
      { title: "workload", text: true, value: function (r) { return r.workload; } },
      { title: "threads", value: function (r) { return r.threads; } },
      { title: "step (ms)", value: function (r) { return num(r.step_ms); } },
      { title: "speedup", value: function (r) { return fixed(r.speedup, 2); } }
    ], rows);
    tableView(sec, "Table: Amdahl fits", [
      { title: "workload", text: true, value: function (w) { return w.label; } },
      { title: "serial fraction s", value: function (w) { return w.amdahl ? fixed(w.amdahl.serial_fraction, 4) : "–"; } },
      { title: "T1 (ms)", value: function (w) { return w.amdahl ? num(w.amdahl.t1_ms) : "–"; } },
      { title: "max speedup 1/s", value: function (w) {
        return w.amdahl ? (w.amdahl.serial_fraction > 0 ? fixed(1 / w.amdahl.serial_fraction, 1) : "unbounded") : "–";
      } },
      { title: "RMSE (ms)", value: function (w) { return w.amdahl ? num(w.amdahl.rmse_ms) : "–"; } },
      { title: "note", text: true, value: function (w) { return w.amdahl_error || ""; } }
    ], withPoints);
  })();

  // ---- per-workload op tables ----------------------------------------------------------------
  (function details() {
    var sec = section("Op types per workload",
      "Every op type of every workload, most expensive first: calls and time per step, share, achieved " +
      "rates and arithmetic intensity.");
    W.forEach(function (w) {
      tableView(sec, w.label + " — " + (w.by_op || []).length + " op types, k90 = " + w.k90, [
        { title: "op type", text: true, value: function (o) { return o.key; } },
        { title: "class", text: true, value: function (o) { return o.op_class; } },
        { title: "calls / step", value: function (o) { return num(o.calls_per_step); } },
        { title: "ms / step", value: function (o) { return fixed(o.ms_per_step, 3); } },
        { title: "share", value: function (o) { return pct(o.share); } },
        { title: "GFLOP/s", value: function (o) { return num(o.gflops); } },
        { title: "GB/s", value: function (o) { return num(o.gbs); } },
        { title: "FLOP/byte", value: function (o) { return num(o.intensity); } },
        { title: "% of peak", value: function (o) { return data.roofs ? pct(o.peak_fraction, 2) : "–"; } }
      ], w.by_op || []);
    });
  })();

  // ---- readiness -----------------------------------------------------------------------------
  function drew(container) {
    var marks = container.querySelectorAll("svg .role-mark");
    for (var i = 0; i < marks.length; i++) {
      if (marks[i].childElementCount > 0) return true;
    }
    return false;
  }
  body.dataset.chartsExpected = String(pending.length);
  Promise.all(pending.map(function (p) { return p.promise; })).then(function () {
    var drawn = pending.filter(function (p) { return drew(p.container); }).length;
    body.dataset.chartsDrawn = String(drawn);
    body.dataset.errors = String(window.plumbErrorCount());
    body.dataset.ready = "1";
  });
})();
