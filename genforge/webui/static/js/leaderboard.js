// Leaderboard: the model searches (AutoML and grids) with a form to start an AutoML search, and one search
// live: its progress, and its leaderboard whose rows appear as candidates finish (the search's Server-Sent
// Events, polling when the stream breaks), sortable by any column, a sample thumbnail per model and a
// button that makes a model the one served as /v2/models/{project name}.

import { events, get, loadImage, post } from "./api.js";
import { badge, fill, fmt, h, progressBar, toast, when } from "./dom.js";
import { frameLabel } from "./frames.js";

const ACTIVE = new Set(["queued", "running"]);
const RESUMABLE = new Set(["interrupted", "cancelled", "failed"]);
const LOWER_IS_BETTER = new Set(["fid", "kid", "memorization", "training_secs"]);
const TEXT = new Set(["model_id", "algo", "status"]);
const COLUMNS = [
  ["model_id", "Model"], ["algo", "Algorithm"], ["status", "Status"], ["fid", "FID"], ["kid", "KID"],
  ["precision", "Precision"], ["recall", "Recall"], ["coverage", "Coverage"], ["memorization", "Memorization"],
  ["classes_covered", "Classes"], ["training_secs", "Train s"], ["images_per_sec", "Images/s"], ["epochs", "Epochs"],
];

function sleep(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => { clearTimeout(timer); resolve(); }, { once: true });
  });
}

export async function leaderboardPage(view, id, signal) {
  return id ? searchPage(view, id, signal) : searchesPage(view, signal);
}

// ------------------------------------------------------------------------------ the list and the form
async function searchesPage(view, signal) {
  const [frames, estimators, models, info] = await Promise.all([get("/api/v1/frames", { signal }),
    get("/api/v1/estimators", { signal }), get("/api/v1/models", { signal }), get("/api/v1/info", { signal })]);
  const algos = estimators.filter((e) => e.generator).map((e) => e.algo);
  const classifiers = models.filter((m) => m.algo === "cnn").map((m) => m.id);
  const body = h("tbody");
  const table = h("table#searches-table", h("thead", h("tr", ["Search", "Kind", "Status", "Progress", "Models", "Leader", "Served as", "Created"]
    .map((c) => h("th", c)))), body);
  const empty = h("p.empty", "No searches yet: start one below.");
  view.append(h("h1", "Leaderboard"), h("div.panel", table, empty), newSearchForm(frames, algos, classifiers, info.max_jobs));
  while (!signal.aborted) {
    const searches = await get("/api/v1/automl", { signal });
    empty.hidden = searches.length > 0;
    table.hidden = !searches.length;
    fill(body, searches.map((s) => h("tr.clickable", { dataset: { id: s.id }, onclick: () => { location.hash = `#/leaderboard/${s.id}`; } },
      h("td.mono", s.id), h("td", s.kind === "grid" ? `grid · ${s.job.algo}` : "AutoML"), h("td", badge(s.status)),
      h("td", progressBar(s.progress, null, true)), h("td.num", String(s.models)),
      h("td.mono", s.leader?.model_id || "–"), h("td.mono", s.served ? `${s.project_name} → ${s.served.model_id}` : "–"),
      h("td", when(s.job.created)))));
    await sleep(searches.some((s) => ACTIVE.has(s.status)) ? 2000 : 6000, signal);
  }
}

function newSearchForm(frames, algos, classifiers, maxJobs) {
  const frame = h("select#automl-frame", frames.map((f) => h("option", { value: f.id }, frameLabel(f))));
  const valid = h("select#automl-valid", h("option", { value: "" }, "(none)"), frames.map((f) => h("option", { value: f.id }, frameLabel(f))));
  const budget = h("input#automl-budget", { type: "number", value: 600, min: 1, step: "any", style: "width:120px" });
  const maxModels = h("input#automl-max-models", { type: "number", min: 1, step: 1, placeholder: "no limit", style: "width:110px" });
  const metric = h("select#automl-metric", ["fid", "kid", "precision", "recall", "coverage"].map((m) => h("option", { value: m }, m)));
  const project = h("input#automl-project", { type: "text", placeholder: "the search id", style: "width:160px" });
  // The scores need a feature extractor that fits the images: a built-in evaluator or a CNN model of this server.
  const evaluator = h("input#automl-evaluator", { type: "text", placeholder: "auto", list: "automl-evaluators", style: "width:160px" });
  const evaluators = h("datalist#automl-evaluators", ["digits", "fashion-mnist", ...classifiers].map((v) => h("option", { value: v })));
  const minEpochs = h("input#automl-min-epochs", { type: "number", min: 1, step: 1, placeholder: "auto", style: "width:100px" });
  const workers = h("input#automl-workers", { type: "number", min: 1, max: maxJobs, step: 1, value: 1, style: "width:80px" });
  const checks = algos.map((a) => h("label.check", h("input", { type: "checkbox", name: "algo", value: a, checked: true }), a));
  const error = h("p.error#automl-error");
  const start = h("button.primary#automl-start", { type: "submit" }, "Start AutoML");
  const form = h("form#automl-form", { novalidate: true, onsubmit: async (event) => { // the server checks every field
    event.preventDefault();
    error.textContent = "";
    const chosen = checks.map((c) => c.querySelector("input")).filter((i) => i.checked).map((i) => i.value);
    const json = { training_frame: frame.value, validation_frame: valid.value || null, max_runtime_secs: Number(budget.value),
      sort_metric: metric.value, include_algos: chosen.length === algos.length ? null : chosen };
    if (maxModels.value !== "") json.max_models = Number(maxModels.value);
    if (project.value.trim()) json.project_name = project.value.trim();
    if (evaluator.value.trim()) json.evaluator = evaluator.value.trim();
    if (minEpochs.value !== "") json.min_epochs = Number(minEpochs.value);
    if (workers.value !== "") json.workers = Number(workers.value);
    start.disabled = true;
    try {
      const search = await post("/api/v1/automl", json);
      toast("Search started");
      location.hash = `#/leaderboard/${search.id}`;
    } catch (e) {
      error.textContent = e.detail || e.message;
    } finally {
      start.disabled = false;
    }
  } },
  h("h2", "New AutoML search"),
  frames.length ? [
    h("div.row", h("label", "Training frame", frame), h("label", "Validation frame", valid),
      h("label", "Time budget (s)", budget), h("label", "Max models", maxModels), h("label", "Rank by", metric),
      h("label", "Served as", project)),
    h("div.row", { style: "margin-top:10px" }, h("span.muted", "Algorithms:"), checks),
    h("details.advanced", h("summary", "Advanced"), h("div.row",
      h("label", "Evaluator", evaluator, evaluators), h("label", "Epochs of the first rung", minEpochs),
      h("label", `Parallel trainings (of ${maxJobs})`, workers))),
    error, h("div.actions", start),
    h("p.muted", "The search trains candidates briefly, resumes the best for longer (successive halving), and serves its leader as /v2/models/{served as}.")]
    : h("p.empty", "Import a frame first on the ", h("a", { href: "#/frames" }, "Frames"), " page."));
  return h("div.panel", form);
}

// ------------------------------------------------------------------------------ one search
async function searchPage(view, id, signal) {
  const path = `/api/v1/automl/${encodeURIComponent(id)}`;
  let search = await get(path, { signal });
  let rows = (await get(`${path}/leaderboard`, { signal })).rows;
  let sort = { key: search.sort_metric, dir: LOWER_IS_BETTER.has(search.sort_metric) ? 1 : -1 };
  const title = h("h1");
  const progress = h("div#search-progress");
  const message = h("p.muted#search-message");
  const actions = h("div.actions");
  const served = h("p#search-served");
  const head = h("tr");
  const body = h("tbody");
  const table = h("table#leaderboard-table", h("thead", head), body);
  const empty = h("p.empty#leaderboard-empty", "No candidate has finished yet: rows appear as models are scored.");
  const thumbs = new Map(); // model id + epochs -> a loaded <img>, kept across re-renders
  view.append(title, h("div.panel", progress, message, served, actions),
    h("div.panel", h("h2", "Leaderboard"), h("p.muted", "Click a column to sort. The leader (best ", search.sort_metric,
      ", never a model that copies its training images) is served when the search ends, unless you choose another."),
      h("div", { style: "overflow-x:auto" }, table), empty));

  function thumb(row) {
    if (!row.model_id) return h("span.muted", "–");
    const key = `${row.model_id}@${row.epochs}`;
    if (!thumbs.has(key)) {
      const img = h("img.thumb", { alt: `samples of ${row.model_id}`, width: 48, height: 48, style: "image-rendering:pixelated;border-radius:3px;background:#000" });
      loadImage(img, `/api/v1/models/${encodeURIComponent(row.model_id)}/samples.png?n=16&seed=0`, { signal })
        .then((ok) => { img.dataset.loaded = String(ok); }).catch(() => { img.dataset.loaded = "false"; });
      thumbs.set(key, img);
    }
    return thumbs.get(key);
  }

  async function serve(row) {
    try {
      await post(`${path}/serve`, { model_id: row.model_id });
      toast(`${row.model_id} is served as ${search.project_name}`);
      search = await get(path, { signal });
      render();
    } catch (e) {
      toast(e.detail || e.message);
    }
  }

  function sorted() {
    const { key, dir } = sort;
    return [...rows].sort((a, b) => {
      const [x, y] = [a[key], b[key]];
      if (x === null || x === undefined) return y === null || y === undefined ? 0 : 1; // no value: last either way
      if (y === null || y === undefined) return -1;
      return (TEXT.has(key) ? String(x).localeCompare(String(y)) : x - y) * dir;
    });
  }

  function render() {
    fill(title, search.kind === "grid" ? "Grid search " : "AutoML ", h("span.mono", search.id), " ", badge(search.status));
    title.querySelector(".badge").id = "search-status";
    fill(progress, progressBar(search.progress, `${search.models} model(s) · ${Math.round((search.progress || 0) * 100)}%`));
    message.textContent = search.message;
    const servedId = search.served?.model_id;
    fill(served, servedId ? ["Served as ", h("code", `/v2/models/${search.project_name}`), ": ", h("a.mono#served-model", { href: `#/models/${servedId}` }, servedId),
      search.served.chosen ? " (chosen)" : " (the leader)"] : h("span.muted", `Nothing served as ${search.project_name} yet.`));
    fill(actions,
      ACTIVE.has(search.status) ? h("button.danger#search-cancel", { type: "button", onclick: () => act("cancel") }, "Cancel") : null,
      RESUMABLE.has(search.status) ? h("button.primary#search-resume", { type: "button", onclick: () => act("resume") }, "Resume the search") : null,
      h("a", { href: `#/jobs/${search.id}` }, h("button", { type: "button" }, "Its job")));
    fill(head, h("th", "Samples"), COLUMNS.map(([key, label]) => {
      const th = h("th.sortable", { dataset: { key }, title: "sort", onclick: () => {
        sort = { key, dir: sort.key === key ? -sort.dir : (TEXT.has(key) || LOWER_IS_BETTER.has(key) ? 1 : -1) };
        render();
      } }, label);
      if (sort.key === key) th.classList.add(sort.dir > 0 ? "sorted-asc" : "sorted-desc");
      return th;
    }), h("th", ""));
    empty.hidden = rows.length > 0;
    table.hidden = !rows.length;
    const leader = search.leader?.model_id;
    fill(body, sorted().map((row) => {
      const isServed = row.model_id && row.model_id === servedId;
      const button = !row.model_id ? null : isServed ? h("span.badge.done", "served")
        : h("button.serve", { type: "button", disabled: row.status === "memorizes",
          title: row.status === "memorizes" ? "this model copies training images" : `serve as /v2/models/${search.project_name}`,
          onclick: (event) => { event.stopPropagation(); serve(row); } }, "Serve");
      return h("tr", { dataset: { candidate: row.candidate, model: row.model_id || "", status: row.status }, title: row.reason || "" },
        h("td", thumb(row)),
        COLUMNS.map(([key]) => {
          if (key === "model_id") {
            return h("td", row.model_id ? h("a.mono", { href: `#/models/${row.model_id}` }, row.model_id) : h("span.mono.muted", row.candidate),
              row.model_id && row.model_id === leader ? [" ", h("span.badge.running", "leader")] : null);
          }
          if (key === "status") return h("td", h(`span.badge.${row.status === "ok" ? "done" : row.status === "memorizes" ? "interrupted" : "failed"}`, row.status),
            row.reason ? h("div.muted", { style: "font-size:11px;max-width:220px" }, row.reason) : null);
          return h(TEXT.has(key) ? "td" : "td.num", { dataset: { key } }, fmt(row[key]));
        }),
        h("td", button));
    }));
  }

  async function act(what) {
    try {
      search = await post(`${path}/${what}`);
      toast(what === "cancel" ? "Search cancelled" : "Search resumed");
      render();
      follow();
    } catch (e) {
      toast(e.detail || e.message);
    }
  }

  let following = false;
  async function follow() { // the search's SSE stream until it ends; polling if the stream breaks
    if (following) return;
    following = true;
    try {
      while (!signal.aborted && ACTIVE.has(search.status)) {
        try {
          await events(`${path}/events`, (name, data) => {
            if (name !== "search") return;
            rows = data.rows;
            search = data;
            render();
          }, signal);
        } catch (e) {
          if (signal.aborted) return;
          await sleep(2000, signal);
        }
        if (!signal.aborted) {
          [search, rows] = await Promise.all([get(path, { signal }), get(`${path}/leaderboard`, { signal }).then((b) => b.rows)]);
          render();
        }
      }
    } finally {
      following = false;
    }
  }

  render();
  follow();
}
