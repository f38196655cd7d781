/* The cockpit's charts: fetch each chart's JSON from the API and draw it with the vendored ECharts.
   A withheld (suppressed) cell arrives as null: charts leave a gap, tooltips and tables show "—". */
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var endpoints = JSON.parse($("cockpit-endpoints").textContent);
  var config = JSON.parse($("cockpit-config").textContent);
  var L = JSON.parse($("cockpit-labels").textContent);
  var DASH = "—";
  var C = { teal: "#0e7470", teal2: "#7fc4bf", ink: "#12303a", amber: "#c98a2b", grey: "#8997a0", red: "#b2302a" };
  var charts = [];
  var HEADERS = { Accept: "application/json", "Accept-Language": document.documentElement.lang || "zh-hans" };

  function num(v) { return v === null || v === undefined ? null : Number(v); }
  // Large amounts the way the reader's language shortens them (万/亿 in Chinese, K/M in English).
  var LANG = document.documentElement.lang === "en" ? "en" : "zh-CN";
  var COMPACT = new Intl.NumberFormat(LANG, { notation: "compact", maximumFractionDigits: 2 });
  function yuan(v) {
    if (v === null || v === undefined) return DASH;
    var n = Number(v);
    return Math.abs(n) >= 1e4 ? COMPACT.format(n) : n.toFixed(2);
  }
  function pct(v) { return v === null || v === undefined ? DASH : (v * 100).toFixed(1) + "%"; }
  function show(v) { return v === null || v === undefined ? DASH : String(v); }
  function get(name, extra) {
    var url = endpoints[name] + "?month=" + encodeURIComponent(config.month) + (extra || "");
    return fetch(url, { headers: HEADERS, credentials: "same-origin" }).then(function (r) {
      if (!r.ok) throw new Error(r.status);
      return r.json();
    });
  }
  function make(id) {
    var el = $(id);
    if (!el) return null;
    var chart = echarts.init(el, null, { renderer: "canvas" });
    charts.push(chart);
    return chart;
  }
  function fail(id) { var el = $(id); if (el) el.innerHTML = '<p class="muted small">' + L.loadError + "</p>"; }
  function empty(chart, text) {
    chart.setOption({ title: { text: text, left: "center", top: "middle", textStyle: { color: C.grey, fontSize: 13, fontWeight: 400 } } });
  }
  var narrow = function () { return window.innerWidth < 600; };
  var tip = { trigger: "axis", valueFormatter: function (v) { return v === null || v === undefined || isNaN(v) ? DASH : v; } };

  function kpi(name, value, sub, cls) {
    var el = document.querySelector('[data-kpi="' + name + '"]');
    if (el) el.textContent = value;
    var s = document.querySelector('[data-kpi-sub="' + name + '"]');
    if (s && sub !== undefined) { s.textContent = sub; s.className = "kpi-sub " + (cls || ""); }
  }
  function change(cur, prev) {
    if (cur === null || prev === null || !prev) return ["", ""];
    var c = (cur - prev) / prev;
    return [L.vsPrev.replace("%(change)s", (c >= 0 ? "▲ " : "▼ ") + (Math.abs(c) * 100).toFixed(1) + "%"), c >= 0 ? "up" : "down"];
  }

  function monthly() {
    var c1 = make("chart-monthly"), c2 = make("chart-parties");
    get("monthly").then(function (d) {
      var rows = d.rows, x = rows.map(function (r) { return r.month.slice(2); });
      var last = rows[rows.length - 1], prev = rows[rows.length - 2] || {};
      [["gmv", yuan], ["orders", show], ["suppliers", show], ["buyers", show]].forEach(function (k) {
        var ch = change(num(last[k[0]]), num(prev[k[0]]));
        kpi(k[0], k[1](last[k[0]]), ch[0], ch[1]);
      });
      c1.setOption({
        color: [C.teal, C.amber], tooltip: tip, legend: { top: 0, data: [L.gmv, L.orders] },
        grid: { left: 8, right: 8, top: 34, bottom: 4, containLabel: true },
        xAxis: { type: "category", data: x },
        yAxis: [{ type: "value", axisLabel: { formatter: yuan } }, { type: "value", splitLine: { show: false } }],
        series: [
          { name: L.gmv, type: "bar", barMaxWidth: 28, data: rows.map(function (r) { return num(r.gmv); }) },
          { name: L.orders, type: "line", yAxisIndex: 1, smooth: true, connectNulls: false, data: rows.map(function (r) { return r.orders; }) }
        ]
      });
      c2.setOption({
        color: [C.teal, C.amber], tooltip: tip, legend: { top: 0 },
        grid: { left: 8, right: 12, top: 34, bottom: 4, containLabel: true },
        xAxis: { type: "category", data: x }, yAxis: { type: "value", minInterval: 1 },
        series: [
          { name: L.suppliers, type: "line", smooth: true, data: rows.map(function (r) { return r.suppliers; }) },
          { name: L.buyers, type: "line", smooth: true, data: rows.map(function (r) { return r.buyers; }) }
        ]
      });
    }).catch(function () { fail("chart-monthly"); fail("chart-parties"); });
  }

  function origins() {
    var flows = make("chart-flows"), share = make("chart-origins");
    get("origins").then(function (d) {
      var other = d.rows.filter(function (r) { return r.origin === "other"; })[0];
      kpi("other_share", other ? pct(other.share) : DASH);
      var parts = d.rows.map(function (r) { return { name: L[r.origin], value: num(r.gmv), share: r.share }; });
      // The withheld classes together are the total less the published ones: a sum that the
      // complementary suppression made safe to show, so the ring keeps its true proportions.
      var shownSum = parts.reduce(function (a, p) { return a + (p.value || 0); }, 0);
      var totalGmv = d.total ? num(d.total.gmv) : null;
      var rest = totalGmv === null ? 0 : totalGmv - shownSum;
      if (!d.rows.some(function (r) { return r.gmv !== null && Number(r.gmv) > 0; })) {
        empty(share, d.total && d.total.orders === 0 ? L.noData : DASH + " " + L.withheld);
      } else {
        share.setOption({
          color: [C.teal, C.teal2, C.amber],
          tooltip: { trigger: "item", formatter: function (p) { return p.name + "<br>" + yuan(p.value) + " (" + p.percent + "%)"; } },
          legend: { bottom: 0, data: parts.map(function (p) { return p.name; }) },
          series: [{ type: "pie", radius: ["40%", "64%"], center: ["50%", "42%"], percentPrecision: 1, label: { formatter: "{d}%" },
            data: parts.filter(function (p) { return p.value !== null && p.value > 0; }).concat(
              rest > 0.005 ? [{ name: DASH + " " + L.withheld, value: rest, itemStyle: { color: "#d5dcdf" } }] : []) }]
        });
      }
      var hidden = parts.filter(function (p) { return p.value === null; }).map(function (p) { return p.name; });
      if (hidden.length) share.setOption({ graphic: [{ type: "text", left: "center", bottom: 28, style: { text: hidden.join(L.listSep) + L.colon + DASH + " " + L.withheld, fill: C.grey, fontSize: 12 } }] });
      var home = d.home, pts = d.flows.filter(function (f) { return f.lon !== null && f.lat !== null; });
      var note = $("flows-note");
      if (note) note.textContent = d.flows_withheld ? L.flowsWithheld.replace("%(n)s", d.flows_withheld) : "";
      if (!home) { empty(flows, L.none); return; }
      if (!pts.length) {
        // Nothing published to draw from: the cluster's county alone, and the note says why.
        flows.setOption({
          title: { text: d.total && d.total.orders === 0 ? L.noData : DASH + " " + L.withheld, left: "center", bottom: 10, textStyle: { color: C.grey, fontSize: 13, fontWeight: 400 } },
          xAxis: { type: "value", min: Math.floor(home.lon - 8), max: Math.ceil(home.lon + 8), axisLabel: { formatter: "{value}°E" }, splitLine: { lineStyle: { type: "dashed", color: "#e5eaec" } } },
          yAxis: { type: "value", min: Math.floor(home.lat - 6), max: Math.ceil(home.lat + 6), axisLabel: { formatter: "{value}°N" }, splitLine: { lineStyle: { type: "dashed", color: "#e5eaec" } } },
          grid: { left: 8, right: 16, top: 10, bottom: 40, containLabel: true },
          series: [{ type: "effectScatter", symbolSize: 14, itemStyle: { color: C.red }, label: { show: true, position: "top", formatter: home.name.split(/省|自治区|市/).pop() || home.name, fontWeight: 600 }, data: [{ name: home.name, value: [home.lon, home.lat] }] }]
        });
        return;
      }
      var max = Math.max.apply(null, pts.map(function (p) { return Number(p.gmv) || 0; })) || 1;
      var size = function (v) { return 6 + 22 * Math.sqrt((Number(v) || 0) / max); };
      var lons = pts.map(function (p) { return p.lon; }).concat([home.lon]);
      var lats = pts.map(function (p) { return p.lat; }).concat([home.lat]);
      var pad = 2;
      flows.setOption({
        tooltip: { trigger: "item", formatter: function (p) { var f = p.data.flow; return f ? f.name + "<br>" + yuan(f.gmv) + " · " + f.orders + " " + L.orders : p.name; } },
        grid: { left: 8, right: 16, top: 10, bottom: 8, containLabel: true },
        xAxis: { type: "value", splitNumber: narrow() ? 3 : 5, min: Math.floor(Math.min.apply(null, lons) - pad), max: Math.ceil(Math.max.apply(null, lons) + pad), axisLabel: { formatter: "{value}°E" }, splitLine: { lineStyle: { type: "dashed", color: "#e5eaec" } } },
        yAxis: { type: "value", min: Math.floor(Math.min.apply(null, lats) - pad), max: Math.ceil(Math.max.apply(null, lats) + pad), axisLabel: { formatter: "{value}°N" }, splitLine: { lineStyle: { type: "dashed", color: "#e5eaec" } } },
        series: [
          { type: "lines", coordinateSystem: "cartesian2d", zlevel: 1, effect: { show: true, period: 5, symbol: "arrow", symbolSize: 6, trailLength: 0 },
            lineStyle: { color: C.amber, width: 1.4, opacity: .55, curveness: .2 },
            data: pts.map(function (p) { return { coords: [[p.lon, p.lat], [home.lon, home.lat]], flow: p }; }) },
          { type: "scatter", symbolSize: function (v, p) { return size(p.data.flow.gmv); }, itemStyle: { color: C.teal, opacity: .8 },
            label: { show: !narrow() || pts.length <= 6, position: "right", fontSize: 11, color: C.ink, formatter: function (p) { return p.data.flow.name.split(/省|自治区|市/).pop() || p.data.flow.name; } },
            data: pts.map(function (p) { return { value: [p.lon, p.lat], flow: p }; }) },
          { type: "effectScatter", symbolSize: 14, itemStyle: { color: C.red }, label: { show: true, position: "top", formatter: home.name.split(/省|自治区|市/).pop() || home.name, fontWeight: 600 },
            data: [{ name: home.name, value: [home.lon, home.lat] }] }
        ]
      });
    }).catch(function () { fail("chart-flows"); fail("chart-origins"); kpi("other_share", DASH); });
  }

  function bars(id, name, label) {
    var chart = make(id);
    get(name).then(function (d) {
      if (!d.rows.length) { empty(chart, L.noData); return; }
      var rows = d.rows.slice(0, 10).reverse();
      chart.setOption({
        color: [C.teal], tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, valueFormatter: function (v) { return v === null || v === undefined ? DASH : yuan(v); } },
        grid: { left: 8, right: 48, top: 6, bottom: 4, containLabel: true },
        xAxis: { type: "value", splitNumber: 3, axisLabel: { formatter: yuan } },
        yAxis: { type: "category", data: rows.map(function (r) { return label(r) + (r.gmv === null ? "  " + DASH : ""); }), axisLabel: { width: narrow() ? 90 : 140, overflow: "truncate" } },
        series: [{ type: "bar", barMaxWidth: 22, data: rows.map(function (r) { return num(r.gmv); }),
          label: { show: true, position: "right", fontSize: 11, formatter: function (p) { var r = rows[p.dataIndex]; return r.gmv === null ? DASH : pct(r.share); } } }]
      });
    }).catch(function () { fail(id); });
  }

  function supply() {
    var chart = make("chart-supply");
    fetch(endpoints.supply_demand, { headers: HEADERS, credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (d) {
      if (!d.rows.length) { empty(chart, L.none); return; }
      var rows = d.rows;
      rows = rows.slice().reverse();
      var fmt = function (v) { return v === null || v === undefined || isNaN(v) ? DASH : Number(v).toLocaleString(); };
      chart.setOption({
        color: [C.amber, C.teal], legend: { top: 0 },
        tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, valueFormatter: fmt },
        grid: { left: 8, right: 16, top: 30, bottom: 4, containLabel: true },
        yAxis: { type: "category", data: rows.map(function (r) { return r.name + " · " + (r.unit_symbol || r.unit); }), axisLabel: { width: narrow() ? 90 : 140, overflow: "truncate" } },
        xAxis: { type: "log", logBase: 10, axisLabel: { formatter: function (v) { return v >= 1e4 ? COMPACT.format(v) : v; } } },
        series: [
          { name: L.demand, type: "bar", barMaxWidth: 12, data: rows.map(function (r) { return num(r.open_demand); }) },
          { name: L.supply, type: "bar", barMaxWidth: 12, data: rows.map(function (r) { return num(r.available_supply); }) }
        ]
      });
    }).catch(function () { fail("chart-supply"); });
  }

  // Financing disbursed and repaid (bars) and what is outstanding at each month's end (lines): financings
  // and vouchers (face). A withheld month is a gap; the tooltip says "—".
  function finance() {
    var chart = make("chart-financing");
    if (!chart) return;
    get("financing").then(function (d) {
      var rows = d.rows;
      var any = rows.some(function (r) {
        return ["disbursed_amount", "outstanding_amount", "vouchers_outstanding_amount", "vouchers_issued_amount"].some(function (k) { return r[k] !== null && Number(r[k]) > 0; });
      });
      if (!any) {
        var withheld = rows.some(function (r) { return r.outstanding_amount === null || r.vouchers_outstanding_amount === null; });
        empty(chart, withheld && config.scope !== "operator" ? DASH + " " + L.withheld : L.noFinance);
        return;
      }
      var money = { trigger: "axis", valueFormatter: function (v) { return v === null || v === undefined || isNaN(v) ? DASH : yuan(v); } };
      chart.setOption({
        color: [C.teal, C.teal2, C.amber, C.ink],
        tooltip: money, legend: { top: 0, type: "scroll" },
        grid: { left: 8, right: 8, top: 34, bottom: 4, containLabel: true },
        xAxis: { type: "category", data: rows.map(function (r) { return r.month.slice(2); }) },
        yAxis: { type: "value", axisLabel: { formatter: yuan } },
        series: [
          { name: L.disbursed, type: "bar", barMaxWidth: 20, data: rows.map(function (r) { return num(r.disbursed_amount); }) },
          { name: L.repaid, type: "bar", barMaxWidth: 20, data: rows.map(function (r) { return num(r.repaid_amount); }) },
          { name: L.outstanding, type: "line", connectNulls: false, data: rows.map(function (r) { return num(r.outstanding_amount); }) },
          { name: L.vouchersOutstanding, type: "line", connectNulls: false, lineStyle: { type: "dashed" }, data: rows.map(function (r) { return num(r.vouchers_outstanding_amount); }) }
        ]
      });
      var last = rows[rows.length - 1], note = $("financing-note");
      if (note) {
        var text = L.lenders + L.colon + show(last.lenders) + L.listSep + L.vouchersIssued + L.colon + show(last.vouchers_issued_count);
        note.textContent = note.textContent ? text + " · " + note.textContent : text;
      }
    }).catch(function () { fail("chart-financing"); });
  }

  function mine() {
    var chart = make("chart-mine");
    if (!chart) return;
    get("mine", "&enterprise=" + config.ownEnterprise).then(function (d) {
      chart.setOption({
        color: [C.teal, C.amber], tooltip: tip, legend: { top: 0 },
        grid: { left: 8, right: 8, top: 34, bottom: 4, containLabel: true },
        xAxis: { type: "category", data: d.rows.map(function (r) { return r.month.slice(2); }) },
        yAxis: { type: "value", axisLabel: { formatter: yuan } },
        series: [
          { name: L.sales, type: "bar", barMaxWidth: 24, data: d.rows.map(function (r) { return num(r.sales); }) },
          { name: L.purchases, type: "bar", barMaxWidth: 24, data: d.rows.map(function (r) { return num(r.purchases); }) }
        ]
      });
      var body = $("mine-prices");
      body.innerHTML = "";
      if (!d.prices.length) { body.innerHTML = '<tr><td colspan="3" class="muted">' + L.none + "</td></tr>"; return; }
      d.prices.forEach(function (p) {
        var tr = document.createElement("tr");
        [p.name + " · " + (p.unit_symbol || p.unit), show(p.own_price), show(p.cluster_price)].forEach(function (t, i) {
          var td = document.createElement("td"); td.textContent = t; if (i) td.className = "num"; tr.appendChild(td);
        });
        body.appendChild(tr);
      });
    }).catch(function () { fail("chart-mine"); });
  }

  monthly();
  origins();
  bars("chart-categories", "categories", function (r) { return r.name; });
  bars("chart-grades", "grades", function (r) { return r.grade ? r.name : L.ungraded; });
  supply();
  finance();
  mine();
  var t;
  window.addEventListener("resize", function () { clearTimeout(t); t = setTimeout(function () { charts.forEach(function (c) { c.resize(); }); }, 120); });
})();
