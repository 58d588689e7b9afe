// 看板: reads /api/areas once and /api/progress every few seconds, renders a card per target, the
// selected metric's figures by district and its time series against the target line.
// Plain script, no build step: what the service serves is what the browser runs.
"use strict";

(function () {
  const REFRESH_MS = 5000;
  const FONT = '"Noto Sans SC Variable", "Noto Sans CJK SC", sans-serif';
  const STATUS_COLOURS = {
    达标: "#2e7d32",
    正常推进: "#1565c0",
    存在风险: "#ef6c00",
    滞后: "#c62828",
  };
  const ACTUAL_COLOUR = "#b71c1c";
  const SERIES_START = "2022-01-01";

  const $ = (selector) => document.querySelector(selector);
  const form = $('[data-testid="filters"]');
  const yearSelect = $('[data-testid="year"]');
  const areaSelect = $('[data-testid="area"]');
  const asOfInput = $('[data-testid="as-of"]');
  const realOnlyBox = $('[data-testid="real-only"]');
  const cardsBox = $('[data-testid="cards"]');
  const errorBox = $('[data-testid="error"]');

  // as_of follows "today" (Beijing) until someone picks a date; then it stays put.
  // realOnly: 演示数据 hidden, every figure and status judged on what the districts reported.
  const state = { year: "", area: "370200", asOf: null, metric: null, realOnly: false };
  let generation = 0; // answers to an older choice of filters are dropped
  let timer = null;
  let charts = null;
  let countedFrom = {}; // metric code -> 统计口径, from /api/metrics

  function beijingToday() {
    return new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai" }).format(new Date());
  }

  function beijingClock() {
    return new Intl.DateTimeFormat("zh-CN", {
      timeZone: "Asia/Shanghai",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
      hour12: false,
    }).format(new Date());
  }

  function asOf() {
    return state.asOf || beijingToday();
  }

  // ---- URL <-> state: a link to the page keeps its filters ----
  function readQuery() {
    const q = new URLSearchParams(location.search);
    if (/^\d{4}$/.test(q.get("year") || "")) state.year = q.get("year");
    if (q.get("area")) state.area = q.get("area");
    if (/^\d{4}-\d{2}-\d{2}$/.test(q.get("as_of") || "")) state.asOf = q.get("as_of");
    if (q.get("metric")) state.metric = q.get("metric");
    state.realOnly = q.get("real_only") === "1";
  }

  function writeQuery() {
    const q = new URLSearchParams();
    if (state.year) q.set("year", state.year);
    if (state.area !== "370200") q.set("area", state.area);
    if (state.asOf) q.set("as_of", state.asOf);
    if (state.metric) q.set("metric", state.metric);
    if (state.realOnly) q.set("real_only", "1");
    const search = q.toString();
    history.replaceState(null, "", search ? "?" + search : location.pathname);
  }

  // ---- fetching ----
  async function getJson(url) {
    const response = await fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" });
    let body = null;
    try {
      body = await response.json();
    } catch (_) {
      body = null;
    }
    if (!response.ok) {
      const reasons = body && Array.isArray(body.errors) ? body.errors.map((e) => e.zh || e.en).join("；") : "";
      throw new Error(`${response.status} ${reasons || response.statusText}`);
    }
    return body;
  }

  function showError(message) {
    errorBox.textContent = message ? `数据暂不可用：${message}（显示的是上一次成功读取的数据）` : "";
    errorBox.hidden = !message;
  }

  // /api/areas: the city, the ten districts and the group unions, each with a Chinese name.
  // Accepts a list of {code|area, name, kind} or an object of such lists (or code -> name maps).
  function normaliseAreas(body) {
    const groups = { city: [], district: [], group: [] };
    const add = (kind, item, key) => {
      const code = typeof item === "string" ? key : item.code || item.area;
      const name = typeof item === "string" ? item : item.name;
      if (!code || !name) return;
      let k = (typeof item === "object" && item.kind) || kind || "";
      if (!groups[k]) k = String(code) === "370200" ? "city" : String(code).startsWith("G-") ? "group" : "district";
      groups[k].push({ code: String(code), name: String(name) });
    };
    const addAll = (kind, value) => {
      if (Array.isArray(value)) value.forEach((item) => add(kind, item));
      else if (value && typeof value === "object" && (value.code || value.area)) add(kind, value);
      else if (value && typeof value === "object") Object.entries(value).forEach(([k, v]) => add(kind, v, k));
    };
    if (Array.isArray(body)) addAll(null, body);
    else if (body && typeof body === "object") {
      for (const [key, value] of Object.entries(body)) {
        const kind = /city/.test(key) ? "city" : /group/.test(key) ? "group" : /district/.test(key) ? "district" : null;
        addAll(kind, value);
      }
    }
    return groups;
  }

  async function loadAreas() {
    const groups = normaliseAreas(await getJson("api/areas"));
    areaSelect.textContent = "";
    const option = (code, name) => {
      const o = document.createElement("option");
      o.value = code;
      o.textContent = name;
      return o;
    };
    areaSelect.append(option("370200", (groups.city[0] && groups.city[0].name) || "全市"));
    for (const [label, items] of [
      ["区市", groups.district],
      ["集团工会", groups.group],
    ]) {
      if (!items.length) continue;
      const og = document.createElement("optgroup");
      og.label = label;
      items.forEach((a) => og.append(option(a.code, a.name)));
      areaSelect.append(og);
    }
    if (![...areaSelect.options].some((o) => o.value === state.area)) state.area = "370200";
    areaSelect.value = state.area;
  }

  // ---- formatting ----
  function number(value, kind) {
    if (value === null || value === undefined || Number.isNaN(Number(value))) return "—";
    const v = Number(value);
    if (kind === "share") return `${(v * 100).toLocaleString("zh-CN", { maximumFractionDigits: 1 })}%`;
    return v.toLocaleString("zh-CN", { maximumFractionDigits: v < 10 ? 1 : 0 });
  }

  function withUnit(value, metric) {
    const text = number(value, metric.kind);
    return metric.kind === "share" || text === "—" ? text : `${text} ${metric.unit || ""}`.trim();
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else node.setAttribute(k, v);
    }
    children.forEach((c) => c && node.append(c));
    return node;
  }

  // ---- cards ----
  function card(metric) {
    const status = metric.status || "";
    const percent = metric.percent === null || metric.percent === undefined ? null : Number(metric.percent);
    const node = el("article", {
      class: "card" + (metric.metric === state.metric ? " selected" : ""),
      "data-testid": "metric-card",
      "data-metric": metric.metric,
      "data-programme": metric.programme,
      "data-kind": metric.kind,
      "data-actual": String(metric.actual),
      "data-target": metric.target === null || metric.target === undefined ? "" : String(metric.target),
      "data-status": status,
      tabindex: "0",
      title: (countedFrom[metric.metric] ? `统计口径：${countedFrom[metric.metric]}\n` : "") + "点击查看区市分布与时间走势",
    });
    const title = el("h3", null, el("span", { class: "name", "data-testid": "metric-title", text: metric.title }));
    if (Number(metric.simulated_actual) > 0) {
      title.append(
        el("span", {
          class: "badge demo",
          "data-testid": "metric-simulated",
          text: "演示数据",
          title: `其中 ${withUnit(metric.simulated_actual, metric)} 为模拟数据`,
        }),
      );
    }
    title.append(el("span", { class: "badge", "data-status": status, "data-testid": "status", text: status || (metric.target === null || metric.target === undefined ? "无目标" : "未评估") }));
    node.append(title);

    const figure = el("div", { class: "figure" });
    figure.append(el("span", { "data-testid": "actual", text: number(metric.actual, metric.kind) }));
    const target = metric.target === null || metric.target === undefined ? null : metric.target;
    if (target !== null) {
      figure.append(
        el("small", null, document.createTextNode(" / "), el("span", { "data-testid": "target", text: number(target, metric.kind) })),
      );
    } else {
      node.classList.add("untargeted");
    }
    if (metric.kind !== "share" && metric.unit) figure.append(el("small", { text: ` ${metric.unit}` }));
    node.append(figure);
    // Real and simulated figures apart: the sum above is not what the districts reported alone.
    if (Number(metric.simulated_actual) > 0) {
      const real = Number(metric.actual) - Number(metric.simulated_actual);
      node.append(
        el(
          "div",
          { class: "split", "data-testid": "actual-split" },
          el("span", { "data-testid": "real-actual", text: `真实数据 ${number(real, metric.kind)}` }),
          document.createTextNode(" · "),
          el("span", { class: "demo-figure", "data-testid": "simulated-actual", text: `演示数据 ${number(metric.simulated_actual, metric.kind)}` }),
        ),
      );
    }

    const bar = el("div", { class: "bar", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100" });
    const fill = el("span");
    fill.style.width = `${Math.max(0, Math.min(100, percent || 0))}%`;
    if (percent !== null) bar.setAttribute("aria-valuenow", String(percent));
    bar.append(fill);
    node.append(bar);

    node.append(
      el(
        "div",
        { class: "meta" },
        el("span", {
          "data-testid": "percent",
          text: percent === null ? (target === null ? "统计数（方案未设目标）" : "—") : `完成 ${percent.toLocaleString("zh-CN", { maximumFractionDigits: 1 })}%`,
        }),
        el("span", { text: metric.deadline ? `截止 ${metric.deadline}` : "" }),
      ),
    );

    const rates = el("div", { class: "rates", "data-testid": "rates" });
    const deadlinePassed = Boolean(metric.deadline) && metric.deadline < asOf();
    if (deadlinePassed && target !== null && metric.deadline_met !== null && metric.deadline_met !== undefined) {
      // The result the deadline saw stays beside today's figure (which may have caught up since).
      rates.append(
        el(
          "div",
          { "data-testid": "at-deadline", "data-met": String(metric.deadline_met) },
          document.createTextNode(`截止时（${metric.deadline}）完成 ${number(metric.deadline_actual, metric.kind)} / ${number(target, metric.kind)}，`),
          el("strong", { class: metric.deadline_met ? "met" : "unmet", text: metric.deadline_met ? "达标" : "未达标" }),
        ),
      );
    } else if (deadlinePassed && target !== null) {
      rates.append(el("div", { "data-testid": "forecast", text: `截止日已过（${metric.deadline}）` }));
    } else if (metric.forecast !== null && metric.forecast !== undefined && target !== null) {
      rates.append(el("div", { "data-testid": "forecast", text: `按当前进度，截止日预计 ${withUnit(metric.forecast, metric)}` }));
    }
    const perMonth = Number(metric.required_per_month);
    const perDay = Number(metric.required_per_day);
    if (!deadlinePassed && target !== null && metric.required_per_month !== null && metric.required_per_month !== undefined) {
      rates.append(
        el("div", {
          "data-testid": "required",
          text: perMonth > 0 ? `还需每月 ${number(perMonth, metric.kind)}、每日 ${number(perDay, metric.kind)}` : "目标已完成",
        }),
      );
    }
    node.append(rates);

    const select = () => {
      state.metric = metric.metric;
      writeQuery();
      refresh();
    };
    node.addEventListener("click", select);
    node.addEventListener("keydown", (e) => (e.key === "Enter" || e.key === " ") && select());
    return node;
  }

  // One group of cards per 工作任务 (programme), in the order the API lists them.
  function renderCards(metrics) {
    const groups = new Map();
    for (const m of metrics) {
      const key = m.programme || "其他";
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(m);
    }
    const sections = [...groups].map(([programme, items]) =>
      el(
        "section",
        { class: "programme", "data-testid": "programme", "data-programme": programme },
        el("h2", { text: programme }),
        el("div", { class: "cards" }, ...items.map(card)),
      ),
    );
    cardsBox.replaceChildren(...sections);
  }

  // ---- charts ----
  function initCharts() {
    if (!window.echarts || charts) return charts;
    const make = (id) => window.echarts.init(document.getElementById(id), null, { renderer: "svg" });
    charts = { byArea: make("by-area"), series: make("series") };
    window.addEventListener("resize", () => {
      charts.byArea.resize();
      charts.series.resize();
    });
    return charts;
  }

  const scale = (metric) => (v) => (v === null || v === undefined ? null : metric.kind === "share" ? Number(v) * 100 : Number(v));
  const axisLabel = (metric) => (metric.kind === "share" ? "{value}%" : "{value}");

  function renderByArea(metric) {
    $('[data-testid="chart-metric-title"]').textContent = metric.title;
    if (!initCharts()) return;
    const rows = [...(metric.by_area || [])].reverse(); // the y axis runs bottom-up
    const s = scale(metric);
    // Horizontal bars: Chinese district and group names read level, one row each.
    const box = document.getElementById("by-area");
    const height = `${Math.max(240, rows.length * 22 + 70)}px`;
    if (box.style.height !== height) {
      box.style.height = height;
      charts.byArea.resize();
    }
    charts.byArea.setOption(
      {
        textStyle: { fontFamily: FONT },
        tooltip: {
          trigger: "axis",
          axisPointer: { type: "shadow" },
          // Each area's share of the target with its progress, as the cards say it.
          formatter: (items) => {
            const row = rows[items[0].dataIndex];
            const lines = [`${row.name}：完成 ${withUnit(row.actual, metric)}`];
            if (row.target !== null && row.target !== undefined) {
              lines.push(`分解目标 ${withUnit(row.target, metric)}，完成 ${number(row.percent, "count")}%${row.status ? "，" + row.status : ""}`);
            } else {
              lines.push("未分解目标");
            }
            if (row.deadline_met !== null && row.deadline_met !== undefined) {
              lines.push(`截止时完成 ${number(row.deadline_actual, metric.kind)}，${row.deadline_met ? "达标" : "未达标"}`);
            }
            if (Number(row.simulated_actual) > 0) lines.push(`其中演示数据 ${withUnit(row.simulated_actual, metric)}`);
            return lines.join("<br>");
          },
        },
        legend: { data: ["完成", "目标"], top: 0, right: 0 },
        // Room for the longest name (邮储银行青岛分行: 8 characters) at 12 px.
        grid: { left: 112, right: 24, top: 30, bottom: 24 },
        yAxis: { type: "category", data: rows.map((r) => r.name), axisLabel: { interval: 0 } },
        xAxis: { type: "value", minInterval: metric.kind === "share" ? 0 : 1, axisLabel: { formatter: axisLabel(metric) } },
        series: [
          {
            name: "完成",
            type: "bar",
            barMaxWidth: 14,
            itemStyle: { color: ACTUAL_COLOUR },
            // A district with a target of its own is coloured by its status.
            data: rows.map((r) => ({ value: s(r.actual), itemStyle: { color: STATUS_COLOURS[r.status] || ACTUAL_COLOUR } })),
            // The percent of its share at the end of the bar, where an area has one.
            label: {
              show: true,
              position: "right",
              fontSize: 11,
              formatter: (p) => {
                const r = rows[p.dataIndex];
                return r.percent === null || r.percent === undefined ? "" : `${number(r.percent, "count")}%`;
              },
            },
          },
          { name: "目标", type: "bar", barMaxWidth: 14, data: rows.map((r) => s(r.target)), itemStyle: { color: "#cfd8dc" } },
        ],
        graphic: rows.length
          ? []
          : [
              {
                type: "text",
                left: "center",
                top: "middle",
                style: { text: "所选为单个区市或单位：无分区数据", fill: "#8a949e", fontSize: 14, fontFamily: FONT },
              },
            ],
      },
      { notMerge: true },
    );
  }

  async function renderSeries(metric, myGeneration) {
    $('[data-testid="series-metric-title"]').textContent = metric.title;
    const from = state.year ? `${state.year}-01-01` : SERIES_START;
    const q = new URLSearchParams({ area: state.area, from, to: asOf() });
    if (state.realOnly) q.set("real_only", "true");
    const body = await getJson(`api/progress/${encodeURIComponent(metric.metric)}/series?${q}`);
    if (myGeneration !== generation || !initCharts()) return;
    const s = scale(metric);
    const targets = (body.targets || []).filter((t) => t.target !== null && t.target !== undefined);
    const maxTarget = Math.max(0, ...targets.map((t) => s(t.target)));
    const points = (body.points || []).map((p) => [p.day, s(p.actual)]);
    // The cumulative figure holds from the last change up to the as-of day: draw it there.
    const to = q.get("to");
    if (points.length && points[points.length - 1][0] < to) points.push([to, points[points.length - 1][1]]);
    charts.series.setOption(
      {
        textStyle: { fontFamily: FONT },
        tooltip: { trigger: "axis" },
        legend: { data: ["累计完成", "目标"], top: 0, right: 0 },
        grid: { left: 56, right: 24, top: 36, bottom: 40 },
        xAxis: { type: "time" },
        yAxis: {
          type: "value",
          minInterval: metric.kind === "share" ? 0 : 1,
          axisLabel: { formatter: axisLabel(metric) },
          max: (extent) => Math.ceil(Math.max(extent.max, maxTarget) * 1.1) || 1,
        },
        series: [
          {
            name: "累计完成",
            type: "line",
            step: "end",
            showSymbol: false,
            data: points,
            lineStyle: { width: 2, color: ACTUAL_COLOUR },
            itemStyle: { color: ACTUAL_COLOUR },
            areaStyle: { color: "rgba(183, 28, 28, 0.08)" },
          },
          {
            name: "目标",
            type: "line",
            data: targets.map((t) => [t.deadline, s(t.target)]),
            symbol: "diamond",
            symbolSize: 9,
            lineStyle: { type: "dashed", color: "#455a64" },
            itemStyle: { color: "#455a64" },
            markLine: {
              silent: true,
              symbol: "none",
              lineStyle: { type: "dotted", color: "#455a64" },
              label: { position: "insideStartTop", formatter: (p) => `${p.name}` },
              data: targets.map((t) => ({ yAxis: s(t.target), name: `${t.deadline} 目标 ${withUnit(t.target, metric)}` })),
            },
          },
        ],
      },
      { notMerge: true },
    );
  }

  // ---- 联动服务: the service centres' matters (/api/matters), for the city or one district ----
  const MATTER_COLUMNS = ["received", "transferred", "closed_on_time", "closed_late", "overdue", "rated", "avg_satisfaction"];

  function matterRow(row, total) {
    const tr = el("tr", { "data-testid": total ? "matters-total-row" : "matters-row", "data-area": row.area });
    tr.append(el("td", { text: row.name }));
    for (const column of MATTER_COLUMNS) {
      const value = row[column];
      const text =
        value === null || value === undefined
          ? "—"
          : column === "avg_satisfaction"
            ? Number(value).toLocaleString("zh-CN", { minimumFractionDigits: 1, maximumFractionDigits: 2 })
            : Number(value).toLocaleString("zh-CN");
      const attrs = { "data-figure": column, text };
      if (column === "overdue" && Number(value) > 0) attrs.class = "overdue";
      tr.append(el("td", attrs));
    }
    return tr;
  }

  // Group unions have no service centre: the section stays hidden for them.
  async function renderMatters(myGeneration) {
    const box = $('[data-testid="matters"]');
    if (String(state.area).startsWith("G-")) {
      box.hidden = true;
      return;
    }
    const q = new URLSearchParams({ area: state.area, as_of: asOf() });
    const data = await getJson(`api/matters?${q}`);
    if (myGeneration !== generation) return;
    box.hidden = false;
    $('[data-testid="matters-scope"]').textContent = `${data.area_name || ""} · 截至 ${data.as_of}`;
    $('[data-testid="matters-rows"]').replaceChildren(...(data.centres || []).map((row) => matterRow(row, false)));
    const foot = $('[data-testid="matters-total"]');
    foot.replaceChildren(...(data.area === "370200" && data.total ? [matterRow(data.total, true)] : []));
  }

  // ---- 分级评定: bases and partners per district, their latest grades (/api/grading, today) ----
  const GRADING_COLUMNS = ["bases", "partners", "A", "B", "C", "D", "ungraded", "probation", "rectification", "exit_proposed"];

  function gradingRow(row, total) {
    const tr = el("tr", { "data-testid": total ? "grading-total-row" : "grading-row", "data-area": row.area });
    tr.append(el("td", { text: row.area_name }));
    for (const column of GRADING_COLUMNS) {
      const attrs = { "data-figure": column, text: Number(row[column] || 0).toLocaleString("zh-CN") };
      if ((column === "D" || column === "rectification" || column === "exit_proposed") && Number(row[column]) > 0) {
        attrs.class = "overdue";
      }
      tr.append(el("td", attrs));
    }
    return tr;
  }

  // The districts' rows follow the 区市 filter (all of them for the city); the total is the city's.
  async function renderGrading(myGeneration) {
    const data = await getJson("api/grading");
    if (myGeneration !== generation) return;
    const areas = (data.areas || []).filter((row) => state.area === "370200" || row.area === state.area);
    $('[data-testid="grading-scope"]').textContent = `截至 ${beijingToday()}`;
    $('[data-testid="grading-rows"]').replaceChildren(...areas.map((row) => gradingRow(row, false)));
    $('[data-testid="grading-total"]').replaceChildren(...(data.total ? [gradingRow(data.total, true)] : []));
  }

  // ---- 服务站点 and 平台经济企业 pilots per area: read off the progress answer's by_area, so the
  // table answers exactly the question of the cards above (area, year, as of). ----
  const STATION_METRICS = ["gig_worker_stations", "platform_economy_pilots", "platform_economy_pilot_workers"];

  function renderStations(metrics) {
    const found = STATION_METRICS.map((code) => metrics.find((m) => m.metric === code));
    const areas = new Map();
    found.forEach((metric, i) => {
      for (const part of (metric && metric.by_area) || []) {
        if (!areas.has(part.area)) areas.set(part.area, { name: part.name || part.area, figures: [0, 0, 0] });
        areas.get(part.area).figures[i] = Number(part.actual) || 0;
      }
    });
    const rows = [...areas]
      .filter(([, row]) => row.figures.some((n) => n > 0))
      .map(([area, row]) => {
        const tr = el("tr", { "data-testid": "stations-row", "data-area": area });
        tr.append(el("td", { text: row.name }));
        row.figures.forEach((n, i) => tr.append(el("td", { "data-figure": STATION_METRICS[i], text: n.toLocaleString("zh-CN") })));
        return tr;
      });
    $('[data-testid="stations-scope"]').textContent = rows.length ? "" : "暂无";
    $('[data-testid="stations-rows"]').replaceChildren(...rows);
  }

  // ---- 送温暖: each union's deliveries, amounts and budget (/api/warmth), the city or one union ----
  const WARMTH_COLUMNS = ["deliveries", "amount", "budget", "remaining"];

  function warmthRow(row) {
    const tr = el("tr", { "data-testid": "warmth-row", "data-area": row.area });
    tr.append(el("td", { text: row.area_name || row.area }));
    for (const column of WARMTH_COLUMNS) {
      const value = row[column];
      const text = value === null || value === undefined ? "—" : Number(value).toLocaleString("zh-CN");
      tr.append(el("td", { "data-figure": column, text }));
    }
    return tr;
  }

  async function renderWarmth(myGeneration) {
    const q = new URLSearchParams({ as_of: asOf() });
    if (state.year) q.set("year", state.year);
    const data = await getJson(`api/warmth?${q}`);
    if (myGeneration !== generation) return;
    const rows = (data.by_area || []).filter((row) => state.area === "370200" || row.area === state.area);
    $('[data-testid="warmth-scope"]').textContent = `${data.year} 年度 · 截至 ${data.as_of}`;
    $('[data-testid="warmth-rows"]').replaceChildren(...rows.map(warmthRow));
  }

  // ---- the refresh loop ----
  async function refresh() {
    clearTimeout(timer);
    const myGeneration = ++generation;
    if (!state.asOf && document.activeElement !== asOfInput) asOfInput.value = beijingToday();
    const q = new URLSearchParams({ area: state.area, as_of: asOf() });
    if (state.year) q.set("year", state.year);
    if (state.realOnly) q.set("real_only", "true");
    // The export is the same question as the figures on screen, as a table.
    $('[data-testid="export"]').href = `api/progress?${q}&format=xlsx`;
    try {
      const data = await getJson(`api/progress?${q}`);
      if (myGeneration !== generation) return;
      const metrics = data.metrics || [];
      if (!metrics.some((m) => m.metric === state.metric)) {
        // Start with a target that has progress to show, else the first target.
        const targeted = metrics.filter((m) => m.target !== null && m.target !== undefined);
        const first = targeted.find((m) => Number(m.actual) > 0) || targeted[0] || metrics[0];
        state.metric = first ? first.metric : null;
      }
      renderCards(metrics);
      renderStations(metrics);
      const simulated = Boolean(data.simulated) || metrics.some((m) => Number(m.simulated_actual) > 0);
      $('[data-testid="simulated"]').hidden = !simulated;
      $('[data-testid="scope"]').textContent =
        `${data.area_name || ""} · ${data.year ? data.year + " 年度" : "全部年度（累计）"} · 截至 ${data.as_of}` +
        (data.real_only ? " · 仅真实数据" : "");
      const selected = metrics.find((m) => m.metric === state.metric);
      if (selected) {
        renderByArea(selected);
        await renderSeries(selected, myGeneration);
      }
      if (myGeneration !== generation) return;
      showError("");
      $('[data-testid="last-updated"]').textContent = beijingClock();
      // For readers of the page (and its test): which question the figures on screen answer.
      document.body.dataset.asOf = data.as_of;
      document.body.dataset.area = data.area;
      document.body.dataset.year = data.year === null || data.year === undefined ? "" : String(data.year);
      document.body.dataset.refreshes = String(Number(document.body.dataset.refreshes || 0) + 1);
      // The service centres' table follows on its own: a slow or failed answer there must not hold
      // back or fail the targets above.
      renderMatters(myGeneration).catch((err) => {
        if (myGeneration === generation) $('[data-testid="matters-scope"]').textContent = `数据暂不可用：${err.message || err}`;
      });
      renderGrading(myGeneration).catch((err) => {
        if (myGeneration === generation) $('[data-testid="grading-scope"]').textContent = `数据暂不可用：${err.message || err}`;
      });
      renderWarmth(myGeneration).catch((err) => {
        if (myGeneration === generation) $('[data-testid="warmth-scope"]').textContent = `数据暂不可用：${err.message || err}`;
      });
    } catch (err) {
      if (myGeneration === generation) showError(err.message || String(err));
    } finally {
      if (myGeneration === generation) timer = setTimeout(refresh, REFRESH_MS);
    }
  }

  function onFiltersChanged() {
    state.year = yearSelect.value;
    state.area = areaSelect.value;
    state.realOnly = realOnlyBox.checked;
    const picked = asOfInput.value;
    state.asOf = picked && picked !== beijingToday() ? picked : null;
    writeQuery();
    refresh();
  }

  async function start() {
    readQuery();
    yearSelect.value = state.year;
    realOnlyBox.checked = state.realOnly;
    asOfInput.max = beijingToday();
    asOfInput.value = asOf();
    try {
      await loadAreas();
    } catch (err) {
      showError(`区市列表：${err.message || err}`);
    }
    getJson("api/metrics")
      .then((definitions) => {
        countedFrom = Object.fromEntries((definitions || []).map((d) => [d.metric, d.counted_from]));
      })
      .catch(() => {}); // only tooltips depend on it
    form.addEventListener("change", onFiltersChanged);
    $('[data-testid="print"]').addEventListener("click", () => window.print());
    $('[data-testid="today"]').addEventListener("click", () => {
      asOfInput.value = beijingToday();
      onFiltersChanged();
    });
    // Canvas-free SVG charts pick up the web font once it has loaded; redraw then.
    if (document.fonts && document.fonts.ready) document.fonts.ready.then(() => charts && refresh());
    refresh();
  }

  start();
})();
