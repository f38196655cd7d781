/* The price-index page: the index line (base = 100; "no data" periods leave a gap, never 0) and, for a
   supplier, its own average price beside the cluster's price level per basket item. Data come embedded
   with json_script (the same figures as /api/v1/insights/clusters/{id}/index/). */
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  if (!window.echarts || !$("index-data")) return;
  var D = JSON.parse($("index-data").textContent);
  var L = JSON.parse($("index-labels").textContent);
  var C = { teal: "#0e7470", amber: "#c98a2b", grey: "#8997a0", ink: "#12303a" };
  var charts = [];
  var fmt = function (v) { return v === null || v === undefined || isNaN(v) ? "—" : Number(v).toFixed(2); };

  var el = $("chart-index");
  if (el) {
    var c = echarts.init(el);
    charts.push(c);
    c.setOption({
      grid: { left: 48, right: 16, top: 24, bottom: 40 },
      tooltip: { trigger: "axis", valueFormatter: fmt },
      xAxis: { type: "category", data: D.periods, axisLabel: { color: C.grey } },
      yAxis: { type: "value", scale: true, axisLabel: { color: C.grey } },
      dataZoom: D.periods.length > 24 ? [{ type: "inside" }, { type: "slider", height: 16, bottom: 4 }] : [],
      series: [{
        name: L.index, type: "line", data: D.values, connectNulls: false, symbolSize: 6,
        lineStyle: { color: C.teal, width: 2 }, itemStyle: { color: C.teal },
        markLine: { silent: true, symbol: "none", label: { show: false }, data: [{ yAxis: 100 }], lineStyle: { color: C.grey, type: "dashed" } }
      }]
    });
  }

  var m = $("chart-mine");
  if (m && D.mine.length) {
    var periods = [], byItem = {};
    D.mine.forEach(function (r) {
      if (periods.indexOf(r.period) < 0) periods.push(r.period);
      (byItem[r.name] = byItem[r.name] || {})[r.period] = r;
    });
    periods.sort();
    var series = [];
    Object.keys(byItem).forEach(function (name) {
      var rows = byItem[name];
      series.push({ name: name + " · " + L.own, type: "line", data: periods.map(function (p) { return rows[p] ? Number(rows[p].own_price) : null; }) });
      series.push({ name: name + " · " + L.cell, type: "line", lineStyle: { type: "dashed" }, data: periods.map(function (p) { return rows[p] && rows[p].cell_price !== null ? Number(rows[p].cell_price) : null; }) });
    });
    var cm = echarts.init(m);
    charts.push(cm);
    cm.setOption({
      grid: { left: 56, right: 16, top: 40, bottom: 32 },
      legend: { type: "scroll", top: 0 },
      tooltip: { trigger: "axis", valueFormatter: fmt },
      xAxis: { type: "category", data: periods },
      yAxis: { type: "value", scale: true },
      series: series
    });
  }
  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
})();
