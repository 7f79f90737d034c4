// Jobs: the list, and one job live: progress (images/s, ETA) from the Server-Sent Events stream, loss
// curves, the latest fixed-noise sample grid (refreshed each epoch), cancel and resume.

import { events, get, loadImage, post } from "./api.js";
import { historyCharts } from "./chart.js";
import { badge, duration, fill, fmt, h, progressBar, toast, when } from "./dom.js";

const ACTIVE = new Set(["queued", "running"]);
const RESUMABLE = new Set(["interrupted", "cancelled", "failed"]);
const SEARCHES = new Set(["automl", "grid"]);

function sleep(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => { clearTimeout(timer); resolve(); }, { once: true });
  });
}

function kindText(job) {
  if (job.kind === "automl") return "AutoML";
  return job.kind === "train" || !job.kind ? job.algo : `${job.algo} · ${job.kind === "search-worker" ? "trials" : job.kind}`;
}

function progressText(job) {
  const pct = `${Math.round((job.progress || 0) * 100)}%`;
  if (job.status === "queued") return "queued";
  return job.epochs ? `epoch ${Math.min(job.epoch, job.epochs)}/${job.epochs} · ${pct}` : pct;
}

export async function jobsPage(view, signal) {
  const body = h("tbody");
  const table = h("table#jobs-table", h("thead", h("tr", ["Job", "Algorithm", "Status", "Progress", "Frame", "Created", "Model"]
    .map((c) => h("th", c)))), body);
  const empty = h("p.empty", "No jobs yet: start one on the ", h("a", { href: "#/train" }, "Train"), " page.");
  view.append(h("h1", "Jobs"), h("div.panel", table, empty));
  while (!signal.aborted) {
    const jobs = await get("/api/v1/jobs", { signal });
    empty.hidden = jobs.length > 0;
    table.hidden = !jobs.length;
    fill(body, jobs.map((job) => h("tr.clickable", { dataset: { id: job.id }, // a search opens its leaderboard
      onclick: () => { location.hash = SEARCHES.has(job.kind) ? `#/leaderboard/${job.id}` : `#/jobs/${job.id}`; } },
      h("td.mono", job.id), h("td", kindText(job)), h("td", badge(job.status)),
      h("td", progressBar(job.progress, progressText(job), true), h("span.muted", progressText(job))),
      h("td.mono", job.training_frame), h("td", when(job.created)),
      h("td", job.model_id ? h("a.mono", { href: `#/models/${job.model_id}`, onclick: (e) => e.stopPropagation() }, job.model_id) : "–"))));
    await sleep(jobs.some((j) => ACTIVE.has(j.status)) ? 1500 : 5000, signal); // live while anything runs
  }
}

export async function jobPage(view, id, signal) {
  const path = `/api/v1/jobs/${encodeURIComponent(id)}`;
  let job = await get(path, { signal });
  const { generator } = await get(`/api/v1/estimators/${encodeURIComponent(job.algo)}`, { signal }).catch(() => ({ generator: true }));
  const title = h("h1");
  const progress = h("div#job-progress");
  const stats = h("div.stats");
  const message = h("p#job-message.muted");
  const actions = h("div.actions");
  const charts = h("div#job-charts");
  const samples = h("img.grid#job-samples", { alt: "the latest sample grid" });
  const samplesNote = h("p.muted#job-samples-note", "The grid appears after the first epoch.");
  const params = h("dl.kv");
  let shownEpoch = -1;
  let shownHistory = -1;
  const curves = h("div.panel", h("h2", "Training curves"), charts);
  const evaluating = job.kind === "evaluate"; // model_performance of job.model_id on job.training_frame
  const scores = h("div#job-scores");
  view.append(title, h("div.panel", progress, stats, message, actions),
    evaluating ? h("div.panel", h("h2", "Scores"), scores)
      : generator ? h("div.grid2", curves, h("div.panel", h("h2", "Samples from fixed noise (latest epoch)"), samples, samplesNote))
        : curves, // classifiers write no sample grid
    h("div.panel", h("h2", "Parameters"), params));

  async function refreshSamples() {
    const loaded = await loadImage(samples, `${path}/samples.png?epoch=${job.epoch}`, { signal });
    samples.hidden = !loaded;
    samples.dataset.epoch = job.epoch;
    samplesNote.textContent = loaded ? `epoch ${job.epoch} of ${job.epochs}` : "No sample grid yet (one is written after each epoch).";
  }

  function renderEvaluation() {
    fill(stats,
      h("div", h("b", "evaluate"), h("span", "kind")),
      h("div", h("b", h("a.mono", { href: `#/models/${job.model_id}` }, job.model_id)), h("span", "model")),
      h("div", h("b", h("a.mono", { href: `#/frames/${job.training_frame}` }, job.training_frame)), h("span", "frame")));
    const metrics = Object.entries(job.result?.metrics || {});
    fill(scores, metrics.length ? h("dl.kv", metrics.map(([k, v]) => [h("dt", k), h("dd", { dataset: { key: k } }, fmt(v))]))
      : h("p.empty", ACTIVE.has(job.status) ? "The scores appear when the job is done." : "No scores: the job did not finish."));
  }

  function render() {
    fill(title, `Job `, h("span.mono", job.id), " ", badge(job.status));
    title.querySelector(".badge").id = "job-status";
    fill(progress, progressBar(job.progress, progressText(job)));
    fill(stats, 
      h("div", h("b#job-speed", job.images_per_sec ? `${fmt(job.images_per_sec, 1)}` : "–"), h("span", "images/s")),
      h("div", h("b#job-eta", ACTIVE.has(job.status) ? duration(job.eta_secs) : "–"), h("span", "time left (ETA)")),
      h("div", h("b", `${job.epoch}/${job.epochs}`), h("span", "epochs")),
      h("div", h("b", job.algo), h("span", "algorithm")),
      h("div", h("b", h("a.mono", { href: `#/frames/${job.training_frame}` }, job.training_frame)), h("span", "training frame")));
    if (evaluating) renderEvaluation();
    message.textContent = job.message;
    fill(actions);
    if (ACTIVE.has(job.status)) actions.append(h("button.danger#job-cancel", { type: "button", onclick: () => act("cancel") }, "Cancel"));
    if (RESUMABLE.has(job.status)) actions.append(h("button.primary#job-resume", { type: "button", onclick: () => act("resume") },
      evaluating ? "Evaluate again" : "Resume from the last checkpoint"));
    if (SEARCHES.has(job.kind)) actions.append(h("a#job-leaderboard", { href: `#/leaderboard/${job.id}` }, h("button.primary", { type: "button" }, "Its leaderboard")));
    if (job.model_id) actions.append(h("a#job-model", { href: `#/models/${job.model_id}` }, h("button.primary", { type: "button" }, `Open model ${job.model_id}`)));
    if (!evaluating && job.history.length !== shownHistory) {
      shownHistory = job.history.length;
      fill(charts, historyCharts(job.history, job.algo));
    }
    fill(params, Object.entries(job.parameters).map(([k, v]) => [h("dt", k), h("dd", fmt(v))]));
    if (!params.childNodes.length) params.append(h("dt", "all"), h("dd", "defaults"));
    if (!evaluating && generator && job.epoch !== shownEpoch && (job.epoch > 0 || job.status === "done")) {
      shownEpoch = job.epoch;
      refreshSamples().catch(() => {});
    }
  }

  async function act(what) {
    try {
      job = await post(`${path}/${what}`);
      toast(what === "cancel" ? "Job cancelled" : "Job resumed");
      render();
      if (ACTIVE.has(job.status)) follow();
    } catch (error) {
      toast(error.detail || error.message);
    }
  }

  let following = false;
  async function follow() { // the SSE stream until the job ends; polling if the stream breaks
    if (following) return;
    following = true;
    try {
      while (!signal.aborted && ACTIVE.has(job.status)) {
        try {
          await events(`${path}/events`, (name, data) => {
            if (name === "job") {
              job = data;
              render();
            }
          }, signal);
        } catch (error) {
          if (signal.aborted) return;
          await sleep(2000, signal);
        }
        if (!signal.aborted) {
          job = await get(path, { signal });
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
