// The browser side of `adaptlm ui`: plain JavaScript (no framework, no build step), served as /ui.js. Views
// are chosen by the URL hash (#/runs, #/run?id=..., #/compare?id=A&id=B, #/playground) and drawn from the
// JSON API. Every piece of run text is put in the page with textContent (never innerHTML), so prompts or
// outputs holding markup show as text. Charts are <img> SVGs rendered by the server.
//
// Kept as a String.raw constant so the server needs no asset files; it must not contain a backtick or a
// dollar-brace.

export const UI_SCRIPT = String.raw`"use strict";
(function () {
  var view = document.getElementById("view");

  function el(tag, attrs) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (key) {
        var value = attrs[key];
        if (value === undefined || value === null || value === false) return;
        if (key === "text") node.textContent = String(value);
        else if (key === "onclick" || key === "onchange" || key === "oninput" || key === "onsubmit")
          node.addEventListener(key.slice(2), value);
        else node.setAttribute(key, value === true ? "" : String(value));
      });
    }
    for (var i = 2; i < arguments.length; i++) {
      var child = arguments[i];
      if (child === undefined || child === null || child === false) continue;
      if (Array.isArray(child)) child.forEach(function (c) { if (c) node.appendChild(c); });
      else node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  function api(path, init) {
    return fetch(path, init).then(function (res) {
      return res.json().then(function (body) {
        if (!res.ok) {
          var message = body && body.error ? body.error.message + " (" + body.error.code + ")" : "HTTP " + res.status;
          throw new Error(message);
        }
        return body;
      });
    });
  }

  function showError(where, error) {
    where.appendChild(el("p", { "class": "error", "data-testid": "error", text: error.message || String(error) }));
  }

  function percent(x) { return (100 * x).toFixed(1) + "%"; }

  function metricText(metric) {
    if (!metric) return "—";
    var rate = metric.name === "accuracy" || (metric.value >= 0 && metric.value <= 1);
    var text = metric.name + " " + (rate ? percent(metric.value) : String(metric.value));
    if (metric.interval) {
      text += " [" + percent(metric.interval.low) + ", " + percent(metric.interval.high) + "]";
    }
    if (metric.total !== undefined && metric.correct !== undefined) text += " (" + metric.correct + "/" + metric.total + ")";
    return text;
  }

  function round(x) { return Number(x.toPrecision(4)).toLocaleString("en-US"); }

  function costText(cost) {
    var parts = [];
    if (cost.trainableParameters !== undefined) parts.push(round(cost.trainableParameters) + " trainable parameters" +
      (cost.percentOfBase !== undefined ? " (" + round(cost.percentOfBase) + "% of the base)" : ""));
    if (cost.storedBytes !== undefined) parts.push(round(cost.storedBytes / 1048576) + " MiB stored");
    if (cost.tokensPerExample !== undefined) parts.push((cost.tokensEstimated ? "≈" : "") + round(cost.tokensPerExample) +
      " tokens per example" + (cost.tokensEstimated ? " (estimated from text length)" : ""));
    if (cost.callsPerExample !== undefined) parts.push(round(cost.callsPerExample) + " model call(s) per example");
    if (cost.seconds !== undefined) parts.push(round(cost.seconds) + " s");
    return parts.join(" · ");
  }

  function dateText(iso) { return iso ? iso.replace("T", " ").replace(/\.\d+Z$/, "Z") : ""; }

  function runLink(id) {
    return el("a", { href: "#/run?" + new URLSearchParams({ id: id }).toString(), "data-testid": "run-link", text: id });
  }

  function route() {
    var hash = location.hash.replace(/^#/, "") || "/runs";
    var at = hash.indexOf("?");
    var path = at < 0 ? hash : hash.slice(0, at);
    var query = new URLSearchParams(at < 0 ? "" : hash.slice(at + 1));
    clear(view);
    var render = { "/runs": runsView, "/run": runView, "/compare": compareView, "/playground": playgroundView }[path];
    if (!render) {
      view.appendChild(el("p", { "class": "error", text: "no page " + path }));
      return;
    }
    render(query);
  }

  // ------------------------------------------------------------------------------------------ runs list
  function runsView() {
    view.appendChild(el("h2", { text: "Runs" }));
    var status = el("p", { "class": "muted", "data-testid": "runs-status", text: "Loading…" });
    view.appendChild(status);
    api("/api/runs").then(function (listing) {
      status.textContent = listing.resultsDir + ": " + listing.runs.length + " run(s)";
      if (listing.problem) view.appendChild(el("p", { "class": "error", text: listing.problem }));
      var filter = el("input", { type: "search", placeholder: "filter: model, task, strategy…", "data-testid": "filter" });
      var compare = el("button", { type: "button", "data-testid": "compare-button", disabled: true, text: "Compare selected" });
      view.appendChild(el("div", { "class": "toolbar" }, filter, compare,
        el("span", { "class": "muted", text: "tick two or more runs to compare them" })));
      var body = el("tbody");
      var boxes = [];
      listing.runs.forEach(function (run) {
        var box = el("input", { type: "checkbox", "data-testid": "run-select", value: run.id });
        boxes.push(box);
        var row = el("tr", { "data-testid": "run-row", "data-run-id": run.id },
          el("td", null, box),
          el("td", null, runLink(run.id)),
          el("td", { text: run.kind }),
          el("td", { text: run.model }),
          el("td", { text: run.task }),
          el("td", { text: run.approach }),
          el("td", { "class": "num", "data-testid": "run-metric", text: metricText(run.metric) }),
          el("td", { "class": "num", text: String(run.examples) }),
          el("td", { text: dateText(run.finishedAt || run.startedAt) }));
        row.dataset.search = [run.id, run.kind, run.model, run.task, run.approach].join(" ").toLowerCase();
        body.appendChild(row);
      });
      var table = el("table", { "data-testid": "runs-table" },
        el("thead", null, el("tr", null, ["", "run", "kind", "model", "task", "strategy / method",
          "metric (95% CI)", "examples", "date"].map(function (h) { return el("th", { text: h }); }))),
        body);
      view.appendChild(table);
      filter.addEventListener("input", function () {
        var words = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
        Array.prototype.forEach.call(body.rows, function (row) {
          row.hidden = !words.every(function (w) { return row.dataset.search.indexOf(w) >= 0; });
        });
      });
      function selected() { return boxes.filter(function (b) { return b.checked; }).map(function (b) { return b.value; }); }
      boxes.forEach(function (b) { b.addEventListener("change", function () { compare.disabled = selected().length < 2; }); });
      compare.addEventListener("click", function () {
        var query = new URLSearchParams();
        selected().forEach(function (id) { query.append("id", id); });
        location.hash = "#/compare?" + query.toString();
      });
      if (listing.tables.length > 0) {
        view.appendChild(el("h3", { text: "Comparison tables" }));
        listing.tables.forEach(function (table) { view.appendChild(reportTable(table)); });
      }
      if (listing.charts.length > 0) {
        view.appendChild(el("h3", { text: "Charts across runs" }));
        view.appendChild(el("div", { "class": "charts", "data-testid": "folder-charts" }, listing.charts.map(function (chart) {
          var src = "/api/chart?" + new URLSearchParams({ n: String(chart.index) }).toString();
          return el("figure", null, el("img", { src: src, alt: chart.title, loading: "lazy", "data-testid": "chart" }));
        })));
      }
      if (listing.skipped.length > 0) {
        view.appendChild(el("h3", { text: "Skipped" }));
        view.appendChild(el("ul", null, listing.skipped.map(function (s) { return el("li", { text: s.path + ": " + s.reason }); })));
      }
    }).catch(function (error) { showError(view, error); });
  }

  function cellText(cell) {
    if (cell === null || cell === undefined) return "—";
    if (typeof cell === "object") {
      var f = cell.percent ? percent : function (x) { return round(x); };
      return f(cell.value) + " [" + f(cell.low) + ", " + f(cell.high) + "]";
    }
    return typeof cell === "number" ? round(cell) : String(cell);
  }

  function reportTable(table) {
    return el("div", { "data-testid": "comparison-table" },
      el("div", { "class": "label", text: table.title + (table.source ? " (" + table.source + ")" : "") }),
      el("table", null,
        el("thead", null, el("tr", null, table.columns.map(function (c) { return el("th", { text: c }); }))),
        el("tbody", null, table.rows.map(function (row) {
          return el("tr", null, row.map(function (cell) {
            return el("td", { "class": typeof cell === "string" ? null : "num", text: cellText(cell) });
          }));
        }))),
      table.note ? el("p", { "class": "muted", text: table.note }) : null);
  }

  // ------------------------------------------------------------------------------------------ one run
  function runView(query) {
    var id = query.get("id") || "";
    view.appendChild(el("h2", { "data-testid": "run-title", text: id }));
    api("/api/run?" + new URLSearchParams({ id: id }).toString()).then(function (detail) {
      var run = detail.run;
      var setup = el("dl", { "data-testid": "run-setup" });
      function row(name, value) {
        if (value === undefined || value === null || value === "") return;
        setup.appendChild(el("dt", { text: name }));
        setup.appendChild(el("dd", { text: typeof value === "string" ? value : JSON.stringify(value) }));
      }
      row("kind", run.kind); row("model", run.model); row("endpoint", run.endpoint); row("task", run.task);
      row("strategy / method", run.approach); row("seed", run.seed); row("options", run.options);
      row("started", dateText(run.startedAt)); row("finished", dateText(run.finishedAt));
      row("metric", metricText(run.metric));
      if (run.cost) row("cost", costText(run.cost));
      (run.notes || []).forEach(function (note) { row("note", note); });
      view.appendChild(setup);
      var charts = el("div", { "class": "charts", "data-testid": "charts" });
      detail.charts.forEach(function (chart) {
        var src = "/api/chart?" + new URLSearchParams({ id: id, n: String(chart.index) }).toString();
        charts.appendChild(el("figure", null, el("img", { src: src, alt: chart.title, "data-testid": "chart" })));
      });
      if (detail.charts.length > 0) { view.appendChild(el("h3", { text: "Charts" })); view.appendChild(charts); }
      if (detail.examples > 0) examplesBrowser(id, detail.examples);
    }).catch(function (error) { showError(view, error); });
  }

  function examplesBrowser(id, count) {
    view.appendChild(el("h3", { text: "Examples (" + count + ")" }));
    var filter = el("select", { "data-testid": "example-filter" },
      el("option", { value: "all", text: "all" }), el("option", { value: "wrong", text: "wrong only" }),
      el("option", { value: "correct", text: "correct only" }));
    var prev = el("button", { type: "button", "data-testid": "prev-page", text: "‹ previous" });
    var next = el("button", { type: "button", "data-testid": "next-page", text: "next ›" });
    var position = el("span", { "class": "muted", "data-testid": "page-position" });
    var list = el("div", { "data-testid": "examples" });
    view.appendChild(el("div", { "class": "toolbar" }, filter, prev, next, position));
    view.appendChild(list);
    var pageSize = 10;
    var offset = 0;
    function load() {
      var params = new URLSearchParams({ id: id, offset: String(offset), limit: String(pageSize), filter: filter.value });
      api("/api/examples?" + params.toString()).then(function (page) {
        clear(list);
        var last = Math.min(page.total, offset + page.examples.length);
        position.textContent = page.total === 0 ? "no examples" : (offset + 1) + "–" + last + " of " + page.total;
        prev.disabled = offset === 0;
        next.disabled = last >= page.total;
        page.examples.forEach(function (example) { list.appendChild(exampleCard(example)); });
      }).catch(function (error) { showError(list, error); });
    }
    filter.addEventListener("change", function () { offset = 0; load(); });
    prev.addEventListener("click", function () { offset = Math.max(0, offset - pageSize); load(); });
    next.addEventListener("click", function () { offset += pageSize; load(); });
    load();
  }

  function texts(label, items, testid) {
    if (!items || items.length === 0) return null;
    return el("div", null, el("div", { "class": "label", text: label + (items.length > 1 ? " (" + items.length + ")" : "") }),
      items.map(function (text, i) {
        return el("pre", { "data-testid": testid, title: label + " " + (i + 1), text: text === null ? "(none)" : text });
      }));
  }

  function votesTable(votes) {
    if (!votes || votes.length === 0) return null;
    return el("table", { "data-testid": "votes" },
      el("thead", null, el("tr", null, el("th", { text: "answer" }), el("th", { text: "votes" }))),
      el("tbody", null, votes.map(function (v) {
        return el("tr", null, el("td", { text: v.answer }), el("td", { "class": "num", text: String(v.count) }));
      })));
  }

  function exampleCard(example) {
    return el("article", { "class": "example", "data-testid": "example", "data-example-id": example.id },
      el("h4", null, "#" + example.index + " · " + example.id + " · ",
        el("span", { "class": example.correct ? "ok" : "bad", "data-testid": "example-verdict",
          text: example.correct ? "correct" : "wrong" })),
      el("div", { "class": "label", text: "input" }), el("pre", { "data-testid": "example-input", text: example.input }),
      texts("prompt", example.prompts, "example-prompt"),
      texts("raw output", example.outputs, "example-output"),
      el("div", { "class": "label", text: "extracted answers" }),
      el("pre", { "data-testid": "example-answers", text: example.answers.map(function (a) { return a === null ? "(none)" : a; }).join(" | ") || "(none)" }),
      votesTable(example.votes),
      el("div", { "class": "label", text: "final answer / gold" }),
      el("pre", { "data-testid": "example-final", text: (example.answer === null ? "(none)" : example.answer) + "  /  gold: " + example.gold }));
  }

  // ------------------------------------------------------------------------------------------ compare
  function compareView(query) {
    var ids = query.getAll("id");
    view.appendChild(el("h2", { text: "Comparison of " + ids.length + " runs" }));
    api("/api/compare?" + query.toString()).then(function (comparison) {
      var metrics = el("table", { "data-testid": "compare-metrics" },
        el("thead", null, el("tr", null, ["run", "kind", "model", "strategy / method", "metric (95% CI)", "examples",
          "right where another is wrong"].map(function (h) { return el("th", { text: h }); }))),
        el("tbody", null, comparison.runs.map(function (run) {
          return el("tr", { "data-run-id": run.id }, el("td", null, runLink(run.id)), el("td", { text: run.kind }),
            el("td", { text: run.model }), el("td", { text: run.approach }),
            el("td", { "class": "num", text: metricText(run.metric) }),
            el("td", { "class": "num", text: String(run.examples) }),
            el("td", { "class": "num", text: String(run.onlyCorrect) }));
        })));
      view.appendChild(metrics);
      view.appendChild(el("p", { "data-testid": "compare-summary",
        text: comparison.shared + " shared example(s): " + comparison.agreeing + " agree, " + comparison.differingTotal +
          " differ; all right on " + comparison.allCorrect + ", all wrong on " + comparison.allWrong + "." }));
      if (comparison.differing.length === 0) return;
      view.appendChild(el("h3", { text: "Examples where the runs differ" +
        (comparison.differing.length < comparison.differingTotal ? " (first " + comparison.differing.length + ")" : "") }));
      view.appendChild(el("table", { "data-testid": "differ-table" },
        el("thead", null, el("tr", null, [el("th", { text: "example" }), el("th", { text: "input" }), el("th", { text: "gold" })]
          .concat(comparison.runs.map(function (run) { return el("th", { text: run.id }); })))),
        el("tbody", null, comparison.differing.map(function (row) {
          return el("tr", { "data-testid": "differ-row", "data-example-id": row.id },
            [el("td", { text: row.id }), el("td", null, el("pre", { text: row.input })), el("td", { text: row.gold })]
              .concat(row.verdicts.map(function (v) {
                return el("td", { "class": v.correct ? "ok" : "bad", "data-testid": "differ-verdict",
                  text: (v.answer === null ? "(none)" : v.answer) + (v.correct ? " ✓" : " ✗") });
              })));
        }))));
    }).catch(function (error) { showError(view, error); });
  }

  // ------------------------------------------------------------------------------------------ playground
  function playgroundView() {
    view.appendChild(el("h2", { text: "Playground" }));
    api("/api/playground").then(function (info) {
      if (!info.available) {
        view.appendChild(el("p", { "class": "error", "data-testid": "playground-unavailable", text: info.reason }));
        return;
      }
      view.appendChild(el("p", { "class": "muted", text: "model: " + info.model + " · answers go through the same strategy code as adaptlm prompt" }));
      var strategy = el("select", { name: "strategy", "data-testid": "pg-strategy" },
        info.strategies.map(function (s) { return el("option", { value: s, text: s }); }));
      var pool = el("select", { name: "demonstrationsRun", "data-testid": "pg-pool" },
        [el("option", { value: "", text: "(none)" })].concat(info.pools.map(function (p) {
          return el("option", { value: p.id, text: p.id + " (" + p.examples + " examples)" });
        })));
      var answerType = el("select", { name: "answerType", "data-testid": "pg-answer-type" },
        [el("option", { value: "", text: "auto (from the demonstrations)" })].concat(info.answerTypes.map(function (t) {
          return el("option", { value: t, text: t });
        })));
      var k = el("input", { type: "number", name: "k", min: "0", max: "32", placeholder: "default", "data-testid": "pg-k" });
      var samples = el("input", { type: "number", name: "samples", min: "1", max: "64", placeholder: "5", "data-testid": "pg-samples" });
      var temperature = el("input", { type: "number", name: "temperature", min: "0", max: "5", step: "0.1", placeholder: "default", "data-testid": "pg-temperature" });
      var input = el("textarea", { name: "input", "data-testid": "pg-input", placeholder: "type an input" });
      var expected = el("input", { type: "text", name: "expected", placeholder: "optional: the right answer", "data-testid": "pg-expected" });
      var submit = el("button", { type: "submit", "data-testid": "pg-run", text: "Run" });
      var result = el("div", { "data-testid": "pg-result" });
      function field(label, control) { return [el("label", { text: label }), control]; }
      var form = el("form", { "class": "playground" },
        field("strategy", strategy), field("demonstrations from", pool), field("answer type", answerType),
        field("k (demonstrations)", k), field("samples (self-consistency)", samples), field("temperature", temperature),
        field("expected answer", expected),
        el("div", { "class": "wide" }, input), el("div", { "class": "wide" }, submit));
      view.appendChild(form);
      view.appendChild(result);
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        clear(result);
        submit.disabled = true;
        result.appendChild(el("p", { "class": "muted", "data-testid": "pg-running", text: "running…" }));
        var body = { strategy: strategy.value, demonstrationsRun: pool.value, answerType: answerType.value,
          k: k.value, samples: samples.value, temperature: temperature.value, input: input.value, expected: expected.value };
        api("/api/playground", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })
          .then(function (answer) {
            clear(result);
            result.appendChild(el("h3", null, "Answer: ", el("span", { "data-testid": "pg-answer",
              text: answer.answer === null ? "(none found)" : answer.answer }),
              answer.correct === undefined ? null : el("span", { "class": answer.correct ? "ok" : "bad",
                text: answer.correct ? "  correct" : "  wrong" })));
            if (answer.labels) result.appendChild(el("p", { "class": "muted", text: "labels: " + answer.labels.join(", ") }));
            if (answer.answerType) result.appendChild(el("p", { "class": "muted", text: "answer type: " + answer.answerType }));
            result.appendChild(texts("prompt sent", answer.prompts, "pg-prompt") || el("span"));
            result.appendChild(texts("raw output", answer.outputs, "pg-output") || el("span"));
            result.appendChild(el("div", { "class": "label", text: "extracted answers" }));
            result.appendChild(el("pre", { "data-testid": "pg-answers", text: answer.answers.map(function (a) { return a === null ? "(none)" : a; }).join(" | ") || "(none)" }));
            var votes = votesTable(answer.votes);
            if (votes) result.appendChild(votes);
            if (answer.candidates && answer.logprobs) {
              result.appendChild(el("table", { "data-testid": "pg-candidates" },
                el("thead", null, el("tr", null, el("th", { text: "candidate" }), el("th", { text: "logprob" }))),
                el("tbody", null, answer.candidates.map(function (c, i) {
                  var lp = answer.logprobs[i];
                  return el("tr", null, el("td", { text: c }), el("td", { "class": "num", text: lp === null ? "—" : lp.toFixed(3) }));
                }))));
            }
          })
          .catch(function (error) { clear(result); showError(result, error); })
          .then(function () { submit.disabled = false; });
      });
    }).catch(function (error) { showError(view, error); });
  }

  document.getElementById("reload").addEventListener("click", function () {
    api("/api/reload", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" })
      .then(route, function (error) { showError(view, error); });
  });
  window.addEventListener("hashchange", route);
  route();
})();
`;
