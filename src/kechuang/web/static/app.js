/* kechuang page scripts: ECharts charts declared by data-chart="<name>" with JSON in #chart-<name>. */
(function () {
  "use strict";
  function factsOption(d, el) {
    var css = getComputedStyle(document.documentElement);
    var font = css.getPropertyValue("--font");
    var narrow = el && el.clientWidth < 560;
    return {
      textStyle: { fontFamily: font },
      color: ["#1747a6", "#0f766e", "#d97706"],
      tooltip: { trigger: "axis" },
      legend: { top: 0, itemGap: narrow ? 8 : 16 },
      grid: { left: 8, right: 8, top: narrow ? 84 : 48, bottom: 8, containLabel: true },
      xAxis: { type: "category", data: d.years.map(String) },
      yAxis: [
        { type: "value", name: d.labels.money_axis, nameTextStyle: { align: "left" } },
        { type: "value", name: d.labels.pct_axis, splitLine: { show: false } }
      ],
      series: [
        { name: d.labels.revenue, type: "bar", data: d.revenue, barMaxWidth: 28 },
        { name: d.labels.rd, type: "bar", data: d.rd, barMaxWidth: 28 },
        { name: d.labels.intensity, type: "line", yAxisIndex: 1, data: d.intensity, smooth: true, symbolSize: 7 }
      ]
    };
  }
  function statusOption(d) {
    return {
      textStyle: { fontFamily: getComputedStyle(document.documentElement).getPropertyValue("--font") },
      color: ["#94a3b8", "#1747a6", "#0f766e", "#b91c1c"],
      tooltip: { trigger: "item" },
      legend: { bottom: 0 },
      series: [{ type: "pie", radius: ["45%", "72%"], data: d.status.filter(function (x) { return x.value > 0; }),
                 label: { formatter: "{b}: {c}" } }]
    };
  }
  function indicatorsOption(d) {
    // One row per indicator and period; reported and computed are separate, labelled series.
    var cats = [], rep = [], com = [];
    d.indicators.forEach(function (ind) {
      d.periods.forEach(function (p, i) {
        if (ind.reported[i] === null && ind.computed[i] === null) { return; }
        cats.push(ind.name + " " + p);
        rep.push(ind.reported[i] > 0 ? ind.reported[i] : null);  // log axis: zero is shown in the table
        com.push(ind.computed[i] > 0 ? ind.computed[i] : null);
      });
    });
    return {
      textStyle: { fontFamily: getComputedStyle(document.documentElement).getPropertyValue("--font") },
      color: ["#d97706", "#0f766e"],
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      legend: { top: 0 },
      grid: { left: 8, right: 24, top: 36, bottom: 8, containLabel: true },
      xAxis: { type: "log", logBase: 10, min: 0.1 },
      yAxis: { type: "category", data: cats, inverse: true },
      series: [
        { name: d.labels.reported, type: "bar", data: rep, barMaxWidth: 12 },
        { name: d.labels.computed, type: "bar", data: com, barMaxWidth: 12 }
      ]
    };
  }
  function transferYearsOption(d, el) {
    // Results transfer: contract turnover and technical amount (亿元, bars) with year-on-year growth (%, line).
    var narrow = el && el.clientWidth < 560;
    return {
      textStyle: { fontFamily: getComputedStyle(document.documentElement).getPropertyValue("--font") },
      color: ["#1747a6", "#0f766e", "#d97706"],
      tooltip: { trigger: "axis" },
      legend: { top: 0, itemGap: narrow ? 8 : 16 },
      grid: { left: 8, right: 8, top: narrow ? 84 : 48, bottom: 8, containLabel: true },
      xAxis: { type: "category", data: d.years },
      yAxis: [
        { type: "value", name: d.labels.money_axis, nameTextStyle: { align: "left" } },
        { type: "value", name: d.labels.pct_axis, splitLine: { show: false } }
      ],
      series: [
        { name: d.labels.turnover, type: "bar", data: d.turnover, barMaxWidth: 28 },
        { name: d.labels.technical, type: "bar", data: d.technical, barMaxWidth: 28 },
        { name: d.labels.yoy, type: "line", yAxisIndex: 1, data: d.yoy, smooth: true, symbolSize: 7 }
      ]
    };
  }
  function transferTypesOption(d) {
    return {
      textStyle: { fontFamily: getComputedStyle(document.documentElement).getPropertyValue("--font") },
      color: ["#94a3b8", "#1747a6"],
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      legend: { top: 0 },
      grid: { left: 8, right: 24, top: 36, bottom: 8, containLabel: true },
      xAxis: { type: "value", name: d.labels.money_axis },
      yAxis: { type: "category", data: d.types, inverse: true },
      series: [
        { name: d.labels.previous, type: "bar", data: d.type_previous, barMaxWidth: 14 },
        { name: d.labels.current, type: "bar", data: d.type_values, barMaxWidth: 14 }
      ]
    };
  }
  function policySandboxOption(d, el) {
    // Policy sandbox: eligible enterprises per category, in force and simulated (one chart per grouping).
    var g = d[el.getAttribute("data-group")];
    return {
      textStyle: { fontFamily: getComputedStyle(document.documentElement).getPropertyValue("--font") },
      color: ["#94a3b8", "#1747a6"],
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      legend: { top: 0 },
      grid: { left: 8, right: 24, top: 36, bottom: 30, containLabel: true },
      xAxis: { type: "value", name: d.labels.count_axis, nameLocation: "middle", nameGap: 24, minInterval: 1 },
      yAxis: { type: "category", data: g.categories, inverse: true,
               axisLabel: { width: el.clientWidth < 560 ? 96 : 180, overflow: "truncate" } },
      series: [
        { name: d.labels.base, type: "bar", data: g.base, barMaxWidth: 12 },
        { name: d.labels.draft, type: "bar", data: g.draft, barMaxWidth: 12 }
      ]
    };
  }
  function policyPeriodsOption(d, el) {
    // A policy's eligible enterprises (bars) and total amount in yuan (line) per facts year.
    return {
      textStyle: { fontFamily: getComputedStyle(document.documentElement).getPropertyValue("--font") },
      color: ["#1747a6", "#0f766e"],
      tooltip: { trigger: "axis" },
      legend: { top: 0 },
      grid: { left: 8, right: 8, top: el.clientWidth < 560 ? 56 : 36, bottom: 8, containLabel: true },
      xAxis: { type: "category", data: d.periods },
      yAxis: [{ type: "value", minInterval: 1 }, { type: "value", splitLine: { show: false } }],
      series: [
        { name: d.labels.eligible, type: "bar", data: d.eligible, barMaxWidth: 28 },
        { name: d.labels.total, type: "line", yAxisIndex: 1, data: d.total_yuan, symbolSize: 7 }
      ]
    };
  }
  var builders = { policyPeriods: policyPeriodsOption, policySandbox: policySandboxOption, facts: factsOption, status: statusOption, indicators: indicatorsOption,
                   transferYears: transferYearsOption, transferTypes: transferTypesOption };
  function init() {
    if (!window.echarts) { return; }
    document.querySelectorAll("[data-chart]:not([data-chart-ready])").forEach(function (el) {
      var name = el.getAttribute("data-chart");
      var src = document.getElementById("chart-" + name);
      if (!src || !builders[name]) { return; }
      var chart = window.echarts.init(el, null, { renderer: "svg" });
      chart.setOption(builders[name](JSON.parse(src.textContent), el));
      window.addEventListener("resize", function () { chart.resize(); });
      el.setAttribute("data-chart-ready", "true");
    });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
  // Charts inside content swapped in by htmx (e.g. the statistics period picker) are drawn once settled.
  document.addEventListener("htmx:afterSettle", init);
})();
