(function () {
  "use strict";
  // Links the graph, the timeline, the items and the events; shows the selection's data.
  // User strings only ever reach the page through textContent.
  var data = JSON.parse(document.getElementById("stepfn-data").textContent);
  var graph = document.getElementById("graph");
  var panel = document.getElementById("detail-body");
  var svgNodes = {};
  Array.prototype.forEach.call(graph.querySelectorAll("g.node"), function (g) {
    var t = g.querySelector("title");
    if (t) { svgNodes[t.textContent] = g; }
  });

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }
  function badge(outcome, word) { return el("span", "badge o-" + outcome, word); }
  function pre(text) { return el("pre", "", text); }
  function link(text, onclick) {
    var a = el("a", "", text); a.href = "#"; a.addEventListener("click", function (ev) { ev.preventDefault(); onclick(); });
    return a;
  }
  function kv(title, obj) {
    var keys = Object.keys(obj || {});
    if (!keys.length) { return null; }
    var box = el("div");
    box.appendChild(el("h3", "", title));
    var t = el("table", "kv");
    keys.forEach(function (k) {
      var tr = el("tr"); tr.appendChild(el("td", "", k));
      var td = el("td"); td.appendChild(pre(obj[k])); tr.appendChild(td); t.appendChild(tr);
    });
    box.appendChild(t);
    return box;
  }
  function failure(box, err, msg, cause) {
    if (!err) { return; }
    var d = el("div", "err"); d.appendChild(el("b", "", err));
    if (msg) { d.appendChild(document.createTextNode(" ")); d.appendChild(el("span", "msg", msg)); }
    box.appendChild(d);
    if (cause && cause !== msg) {
      var det = el("details"); det.appendChild(el("summary", "", "full cause")); det.appendChild(pre(cause));
      box.appendChild(det);
    }
  }

  function clearMarks() {
    graph.classList.remove("focus");
    Object.keys(svgNodes).forEach(function (id) {
      var g = svgNodes[id]; g.classList.remove("on"); g.classList.remove("sel");
      var shape = g.querySelector("polygon,path,ellipse");
      if (shape && shape.dataset.fill) { shape.setAttribute("fill", shape.dataset.fill); }
    });
    Array.prototype.forEach.call(document.querySelectorAll(".tl-row.sel,.tl-row.hl,.chip.sel"), function (e) {
      e.classList.remove("sel"); e.classList.remove("hl");
    });
  }
  function paint(nodeId, outcome) {
    var g = svgNodes[nodeId];
    if (!g) { return; }
    g.classList.add("on");
    var shape = g.querySelector("polygon,path,ellipse");
    var c = data.colors[outcome];
    if (shape && c) {
      if (!shape.dataset.fill) { shape.dataset.fill = shape.getAttribute("fill") || ""; }
      shape.setAttribute("fill", c[0]);
    }
  }
  function reveal(nodeId) {
    // scroll the graph's box (not the page) so that a state is in view
    var g = svgNodes[nodeId];
    if (!g) { return; }
    var box = graph.getBoundingClientRect(), r = g.getBoundingClientRect();
    graph.scrollTop += r.top - box.top - graph.clientHeight / 3;
    graph.scrollLeft += r.left - box.left - graph.clientWidth / 2;
  }
  function markRow(sel) { var r = document.querySelector(sel); if (r) { r.classList.add("sel"); } }

  function showVisit(i) {
    var v = data.visits[i];
    if (!v) { return; }
    clearMarks();
    if (svgNodes[v.node]) { svgNodes[v.node].classList.add("sel"); reveal(v.node); }
    markRow('.tl-row[id="visit-' + i + '"]');
    panel.textContent = "";
    var h = el("h2", "", v.name); panel.appendChild(h);
    var facts = el("div", "facts");
    facts.appendChild(badge(v.o, v.word));
    facts.appendChild(document.createTextNode(" " + v.kind + " \u00b7 " + v.dur + " \u00b7 started +" + v.s + " s"));
    if (v.tries > 1) { facts.appendChild(el("span", "retry", " \u00b7 " + v.tries + " attempts")); }
    if (v.where) { facts.appendChild(el("div", "", "in " + v.where)); }
    panel.appendChild(facts);
    failure(panel, v.err, v.msg, v.cause);
    var links = el("div", "facts");
    links.appendChild(link("show its " + v.nev + " events", function () { filterVisit(i); }));
    links.appendChild(document.createTextNode(" \u00b7 "));
    links.appendChild(link("show on the timeline", function () {
      var r = document.getElementById("visit-" + i); if (r) { r.scrollIntoView({block: "center"}); }
    }));
    panel.appendChild(links);
    if (v.groups) {
      panel.appendChild(el("h3", "", v.kind === "Map" ? "Items" : "Branches"));
      var chips = el("div", "chips");
      v.groups.forEach(function (g) {
        var b = el("button", "chip " + g.o + " o-" + g.o, g.label);
        b.title = g.word + (g.err ? " - " + g.err : "");
        b.addEventListener("click", function () { showGroup(i, g.k); });
        chips.appendChild(b);
      });
      panel.appendChild(chips);
    }
    var a = kv(v.src === "definition" ? "Assign (as written)" : "Assigned variables", v.a);
    if (a) { panel.appendChild(a); }
    panel.appendChild(el("h3", "", "Input")); panel.appendChild(pre(v["in"]));
    if (v.out !== null && v.out !== undefined) { panel.appendChild(el("h3", "", "Output")); panel.appendChild(pre(v.out)); }
    var s = kv("Variables in scope", v.v);
    if (s) { panel.appendChild(s); }
  }

  function showGroup(i, key) {
    var v = data.visits[i];
    var g = null;
    (v.groups || []).forEach(function (x) { if (String(x.k) === String(key)) { g = x; } });
    if (!g) { return; }
    clearMarks();
    graph.classList.add("focus");
    if (svgNodes[v.node]) { svgNodes[v.node].classList.add("on"); }
    g.rows.forEach(function (r) { paint(data.visits[r].node, data.visits[r].o); });
    if (g.rows.length) { reveal(data.visits[g.rows[g.rows.length - 1]].node); }
    Array.prototype.forEach.call(document.querySelectorAll('.chip[data-visit="' + i + '"][data-group="' + key + '"]'),
      function (c) { c.classList.add("sel"); });
    markRow('.tl-group[data-visit="' + i + '"][data-group="' + key + '"]');
    panel.textContent = "";
    panel.appendChild(el("h2", "", g.label + " of " + v.name));
    var facts = el("div", "facts");
    facts.appendChild(badge(g.o, g.word));
    facts.appendChild(document.createTextNode(" " + g.dur + " \u00b7 " + g.rows.length + (g.rows.length === 1 ? " state" : " states")));
    panel.appendChild(facts);
    failure(panel, g.err, g.msg, g.cause);
    panel.appendChild(el("h3", "", "Path"));
    var path = el("div", "path");
    g.rows.forEach(function (r) {
      var x = data.visits[r];
      var line = el("div");
      line.appendChild(badge(x.o, x.word));
      line.appendChild(document.createTextNode(" "));
      line.appendChild(link(x.name, function () { showVisit(r); }));
      line.appendChild(el("span", "hint", " " + x.dur));
      path.appendChild(line);
    });
    panel.appendChild(path);
    if (g.rows.length) {
      var first = data.visits[g.rows[0]], last = data.visits[g.rows[g.rows.length - 1]];
      panel.appendChild(el("h3", "", "Input")); panel.appendChild(pre(first["in"]));
      if (last.out !== null && last.out !== undefined && g.o !== "failed") {
        panel.appendChild(el("h3", "", "Output")); panel.appendChild(pre(last.out));
      }
    }
  }

  function showNode(id) {
    var list = data.nodes[id] || [];
    if (list.length === 1) { showVisit(list[0]); return; }
    clearMarks();
    if (svgNodes[id]) { svgNodes[id].classList.add("sel"); }
    panel.textContent = "";
    panel.appendChild(el("h2", "", data.names[id] || id));
    if (!list.length) { panel.appendChild(el("p", "hint", "Not run.")); return; }
    panel.appendChild(el("p", "hint", list.length + " visits"));
    var path = el("div", "path");
    list.forEach(function (r) {
      var x = data.visits[r];
      var row = document.getElementById("visit-" + r); if (row) { row.classList.add("hl"); }
      var line = el("div");
      line.appendChild(badge(x.o, x.word));
      line.appendChild(document.createTextNode(" "));
      line.appendChild(link((x.where || "visit") + " \u00b7 " + x.dur, function () { showVisit(r); }));
      path.appendChild(line);
    });
    panel.appendChild(path);
  }

  // ---------------------------------------------------------------- the events filters
  var fState = document.getElementById("f-state"), fType = document.getElementById("f-type");
  var fFail = document.getElementById("f-fail"), fVisit = document.getElementById("f-visit");
  var fCount = document.getElementById("f-count");
  var rows = Array.prototype.slice.call(document.querySelectorAll("#events tbody tr"));
  var onlyVisit = null;
  function applyFilters() {
    var s = fState.value, t = fType.value, f = fFail.checked, shown = 0;
    rows.forEach(function (r) {
      var ok = (!s || r.dataset.state === s) && (!t || r.dataset.type === t) && (!f || r.dataset.fail === "1") &&
        (onlyVisit === null || r.dataset.visit === String(onlyVisit));
      r.hidden = !ok; if (ok) { shown++; }
    });
    fCount.textContent = shown === rows.length ? "" : shown + " of " + rows.length + " events";
  }
  function filterVisit(i) {
    onlyVisit = i;
    fVisit.hidden = false; fVisit.textContent = "";
    fVisit.appendChild(document.createTextNode("events of " + data.visits[i].name + " "));
    fVisit.appendChild(link("\u00d7 all", function () { onlyVisit = null; fVisit.hidden = true; applyFilters(); }));
    applyFilters();
    document.getElementById("events").scrollIntoView();
  }
  [fState, fType, fFail].forEach(function (e) { e.addEventListener("change", applyFilters); });

  // ---------------------------------------------------------------- clicks
  document.addEventListener("click", function (ev) {
    var t = ev.target;
    var a = t.closest ? t.closest("a") : null;
    if (a && graph.contains(a)) {
      var href = a.getAttribute("href") || a.getAttribute("xlink:href") || "";
      if (href.indexOf("#state-") === 0) { ev.preventDefault(); showNode(href.slice(7)); return; }
    }
    var chip = t.closest ? t.closest(".chip[data-group]") : null;
    if (chip && !panel.contains(chip)) { showGroup(Number(chip.dataset.visit), chip.dataset.group); return; }
    var grp = t.closest ? t.closest(".tl-group") : null;
    if (grp) { showGroup(Number(grp.dataset.visit), grp.dataset.group); return; }
    var row = t.closest ? t.closest(".tl-row[data-visit]") : null;
    if (row) { showVisit(Number(row.dataset.visit)); return; }
    var st = t.closest ? t.closest("#states tr[data-node]") : null;
    if (st && !(a && a.getAttribute("href"))) { showNode(st.dataset.node); panel.scrollIntoView({block: "nearest"}); return; }
    if (a && a.dataset.visit !== undefined && !panel.contains(a)) {
      ev.preventDefault(); showVisit(Number(a.dataset.visit)); panel.scrollIntoView({block: "nearest"});
    }
  });
})();
