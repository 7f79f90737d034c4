// Models: a sortable table comparing models by their metrics (FID among them when present); a model page
// with history charts, parameters, evaluation on demand, a generator panel, a latent walk and download, and
// for generators a Report tab (report.js).

import { del, download, events, get, loadImage, post } from "./api.js";
import { historyCharts } from "./chart.js";
import { fill, fmt, h, toast, when } from "./dom.js";
import { frameLabel } from "./frames.js";
import { reportTab, tabBar, walkFollow } from "./report.js";

const FIRST_METRICS = ["fid", "kid", "precision", "recall", "accuracy", "logloss", "elbo", "loss"];

function shape(m) {
  const s = m.frame_schema;
  return s ? `${s.height}×${s.width}×${s.channels}` : "–";
}

export async function modelsPage(view, signal) {
  const models = await get("/api/v1/models", { signal });
  const keys = [...new Set(models.flatMap((m) => Object.keys(m.metrics || {})
    .filter((k) => typeof m.metrics[k] === "number" && !/^n_/.test(k))))];
  keys.sort((a, b) => ((FIRST_METRICS.indexOf(a) + 1 || 99) - (FIRST_METRICS.indexOf(b) + 1 || 99)) || a.localeCompare(b));
  const columns = [
    { key: "id", title: "Model", value: (m) => m.id },
    { key: "algo", title: "Algorithm", value: (m) => m.algo },
    { key: "created", title: "Created", value: (m) => m.created, show: (m) => when(m.created) },
    { key: "size", title: "Images", value: (m) => shape(m) },
    { key: "epochs", title: "Epochs", value: (m) => m.parameters?.epochs ?? null, num: true },
    ...keys.map((k) => ({ key: k, title: k.toUpperCase() === "FID" ? "FID" : k, value: (m) => m.metrics?.[k] ?? null, num: true })),
  ];
  let sort = { key: keys.includes("fid") ? "fid" : "created", dir: keys.includes("fid") ? 1 : -1 };
  const head = h("tr");
  const body = h("tbody");
  const table = h("table#models-table", h("thead", head), body);

  function render() {
    fill(head, columns.map((c) => {
      const th = h("th.sortable", { dataset: { key: c.key }, title: "sort", onclick: () => {
        sort = { key: c.key, dir: sort.key === c.key ? -sort.dir : 1 };
        render();
      } }, c.title);
      if (sort.key === c.key) th.classList.add(sort.dir > 0 ? "sorted-asc" : "sorted-desc");
      return th;
    }));
    const column = columns.find((c) => c.key === sort.key);
    const rows = [...models].sort((a, b) => {
      const [x, y] = [column.value(a), column.value(b)];
      if (x === null || x === undefined) return 1; // models without the metric go last either way
      if (y === null || y === undefined) return -1;
      return (typeof x === "number" ? x - y : String(x).localeCompare(String(y))) * sort.dir;
    });
    fill(body, rows.map((m) => h("tr.clickable", { dataset: { id: m.id }, onclick: () => { location.hash = `#/models/${m.id}`; } },
      columns.map((c) => h(c.num ? "td.num" : "td", c.key === "id" ? h("span.mono", m.id) : c.show ? c.show(m) : fmt(c.value(m)))))));
  }

  view.append(h("h1", "Models"), h("div.panel",
    models.length ? [h("p.muted", "Click a column to sort; click a model to open it. Evaluate a model on its page to add metrics."), table]
      : h("p.empty", "No models yet: train one on the ", h("a", { href: "#/train" }, "Train"), " page.")));
  render();
}

const FINAL = new Set(["done", "failed", "cancelled", "interrupted"]);

/** Follow a job through its Server-Sent Events (polling when the stream breaks) until a final status;
 *  ``onSnapshot(job)`` sees every snapshot. Resolves to the final job. */
async function followJob(job, signal, onSnapshot) {
  const path = `/api/v1/jobs/${encodeURIComponent(job.id)}`;
  while (!FINAL.has(job.status)) {
    if (signal.aborted) throw new Error("left the page");
    try {
      await events(`${path}/events`, (name, data) => {
        if (name !== "job") return;
        job = data;
        onSnapshot(job);
      }, signal);
    } catch (error) {
      if (signal.aborted) throw error;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    if (!FINAL.has(job.status)) {
      job = await get(path, { signal });
      onSnapshot(job);
    }
  }
  return job;
}

function dl(entries) {
  return h("dl.kv", entries.map(([k, v]) => [h("dt", k), h("dd", { dataset: { key: k } }, fmt(v))]));
}

export async function modelPage(view, id, signal) {
  const path = `/api/v1/models/${encodeURIComponent(id)}`;
  const [model, frames] = await Promise.all([get(path, { signal }), get("/api/v1/frames", { signal })]);
  const metrics = h("div#model-metrics");
  const showMetrics = (values) => fill(metrics, Object.keys(values).length ? dl(Object.entries(values))
    : h("p.empty", "No metrics yet: evaluate the model on a frame."));
  showMetrics(model.metrics);

  const evalFrame = h("select#eval-frame", frames.map((f) => h("option", { value: f.id }, frameLabel(f))));
  const evalError = h("p.error#eval-error");
  const evalStatus = h("p.muted#eval-status");
  // Evaluation is a job on the server (queued with the training jobs): start it, follow its event stream
  // (polling if the stream breaks) and show the scores once it is done.
  const evalButton = h("button#evaluate", { type: "button", onclick: async () => {
    evalError.textContent = "";
    evalButton.disabled = true;
    evalButton.textContent = "Evaluating…";
    try {
      let job = await post(`${path}/evaluate`, { frame: evalFrame.value });
      const show = () => {
        evalStatus.dataset.status = job.status;
        fill(evalStatus, "Evaluation job ", h("a.mono#eval-job", { href: `#/jobs/${job.id}` }, job.id), `: ${job.message || job.status}`);
      };
      show();
      job = await followJob(job, signal, (snapshot) => { job = snapshot; show(); });
      show();
      if (job.status !== "done") throw new Error(`the evaluation job ${job.status}: ${job.message}`);
      Object.assign(model.metrics, job.result.metrics);
      showMetrics(model.metrics);
      toast("Evaluation done");
    } catch (error) {
      if (signal.aborted) return;
      evalError.textContent = error.detail || error.message;
    } finally {
      evalButton.disabled = false;
      evalButton.textContent = "Evaluate";
    }
  } }, "Evaluate");

  const params = Object.entries(model.parameters).filter(([, v]) => v !== null && v !== undefined);
  const downloadButton = h("button.primary#model-download", { type: "button", onclick: async () => {
    try {
      await download(`${path}/download`, `${model.id}.zip`);
    } catch (error) {
      toast(error.detail || error.message);
    }
  } }, "Download model (.zip)");
  const deleteButton = h("button.danger#model-delete", { type: "button", onclick: async () => {
    if (!confirm(`Delete the model ${model.id}?`)) return;
    await del(path);
    toast("Model deleted");
    location.hash = "#/models";
  } }, "Delete");

  const overview = h("div#tab-panel-overview");
  const report = model.generator && model.format !== "onnx" ? reportTab(model, path, frames, signal, followJob) : null;
  view.append(
    h("h1", "Model ", h("span.mono#model-id", model.id), " ", h("span.badge", model.algo)),
    h("div.actions", downloadButton,
      model.job_id ? h("a", { href: `#/jobs/${model.job_id}` }, h("button", { type: "button" }, "Its training job")) : null,
      h("a", { href: `#/train?algo=${model.algo}` }, h("button", { type: "button" }, "Train another")),
      deleteButton),
    report ? tabBar({ Overview: overview, Report: report }) : null, overview, report);
  overview.append(
    h("div.grid2",
      h("div.panel", h("h2", "Metrics"), metrics,
        h("h3", "Evaluate on a frame"), h("div.row", h("label", "Frame", evalFrame), evalButton), evalStatus, evalError),
      h("div.panel", h("h2", "Parameters"), dl(params),
        h("h3", "Data"), dl([["images", shape(model)], ["source", model.source], ["created", when(model.created)]]))),
    h("div.panel", h("h2", "Training history"), historyCharts(model.history, model.algo)));
  if (model.parameters.divergence_guard || model.training_events?.length) overview.append(guardPanel(model.training_events || []));
  if (model.generator) overview.append(generatorPanels(model, path));
}

/** The divergence guard's events: what it found during training (NaN, exploding loss, collapse) and did. */
function guardPanel(events) {
  const body = events.length
    ? h("table#model-guard-events", h("thead", h("tr", ["Epoch", "Step", "Found", "Action", "Evidence"].map((c) => h("th", c)))),
      h("tbody", events.map((e) => h("tr", { dataset: { kind: e.kind, action: e.action } },
        h("td.num", String(e.epoch)), h("td.num", String(e.step)), h("td", e.kind), h("td", e.action), h("td", e.evidence)))))
    : h("p.empty#model-guard-events", "No events: training ran without NaN, exploding losses or collapse.");
  return h("div.panel#model-guard", h("h2", "Divergence guard"),
    h("p.muted", "Each event rolled training back to the last good epoch and lowered the learning rates; 'stop' ended it."), body);
}

function classSelect(id, model) {
  const names = model.frame_schema?.class_names;
  if (!model.parameters.conditional || !names || !names.length) return null;
  return h("label", "Class", h(`select#${id}`, h("option", { value: "" }, "every class in turn"),
    names.map((n, i) => h("option", { value: String(i) }, n))));
}

function generatorPanels(model, path) {
  const num = (id, value, attrs = {}) => h(`input#${id}`, { type: "number", value, min: 0, step: 1, style: "width:110px", ...attrs });
  const genImage = h("img.grid#gen-image", { alt: "generated images", hidden: true });
  const genError = h("p.error#gen-error");
  const count = num("gen-count", 16, { min: 1, max: 1024 });
  const seed = num("gen-seed", 0);
  const genClass = classSelect("gen-class", model);
  // Diffusion models sample in steps, with a choice of sampler (the /generate route's steps and sampler).
  const sampling = model.algo === "diffusion";
  const genSteps = sampling ? num("gen-steps", 25, { min: 1, max: 1000 }) : null;
  const genSampler = sampling ? h("select#gen-sampler", ["dpm++", "ddim", "ddpm"].map((s) => h("option", { value: s }, s))) : null;
  // The quality/diversity knob of the report's Samples section: a GAN's truncation, a VAE's temperature.
  const knob = { gan: "truncation", vae: "temperature" }[model.algo];
  const knobInput = knob ? h(`input#gen-${knob}`, { type: "number", min: 0.05, max: 10, step: 0.05, placeholder: "off",
    style: "width:90px" }) : null;
  const body = () => {
    const out = { n: Number(count.value), seed: seed.value === "" ? null : Number(seed.value) };
    if (knobInput && knobInput.value !== "") out[knob] = Number(knobInput.value);
    const label = genClass?.querySelector("select").value;
    if (label) out.labels = Number(label);
    if (sampling) Object.assign(out, { steps: Number(genSteps.value), sampler: genSampler.value });
    return out;
  };
  const run = async (format) => {
    genError.textContent = "";
    try {
      if (format === "zip") {
        await download(`${path}/generate`, `${model.id}-samples.zip`, { method: "POST", json: { ...body(), format: "zip" } });
        return;
      }
      await loadImage(genImage, `${path}/generate`, { method: "POST", json: { ...body(), format: "png" }, strict: true });
      genImage.hidden = false;
    } catch (error) {
      genError.textContent = error.detail || error.message;
    }
  };

  const walkImage = h("img.grid.wide#walk-image", { alt: "a latent walk", hidden: true });
  const walkError = h("p.error#walk-error");
  const seedA = num("walk-a", 0);
  const seedB = num("walk-b", 1);
  const steps = num("walk-steps", 10, { min: 2, max: 64 });
  const walkClass = classSelect("walk-class", model);
  const follow = walkFollow(model, path);
  const walk = async () => {
    walkError.textContent = "";
    const json = { seed_a: Number(seedA.value), seed_b: Number(seedB.value), steps: Number(steps.value) };
    const label = walkClass?.querySelector("select").value;
    if (label) json.label = Number(label);
    const [route, body] = follow.walk(json);
    try {
      await loadImage(walkImage, route, { method: "POST", json: body, strict: true });
      walkImage.hidden = false;
    } catch (error) {
      walkError.textContent = error.detail || error.message;
    }
  };
  return h("div.grid2",
    h("div.panel#generator-panel", h("h2", "Generate images"),
      h("div.row", h("label", "Count", count), h("label", "Seed", seed), genClass,
        knob ? h("label", knob === "truncation" ? "Truncation" : "Temperature", knobInput) : null,
        sampling ? h("label", "Steps", genSteps) : null, sampling ? h("label", "Sampler", genSampler) : null,
        h("button.primary#generate", { type: "button", onclick: () => run("png") }, "Generate"),
        h("button#generate-zip", { type: "button", onclick: () => run("zip") }, "Download as zip")),
      genError, h("p.muted", "The same seed gives the same images."), genImage),
    h("div.panel#walk-panel", h("h2", "Latent walk"),
      h("div.row", follow.control, h("label", "Seed A", seedA), h("label", "Seed B", seedB), h("label", "Steps", steps),
        walkClass, h("button.primary#walk", { type: "button", onclick: walk }, "Walk")),
      walkError, follow.note, h("p.muted", "Between two seeds: images along the spherical path between their noise. "
        + "Along a direction: from −scale to +scale through the noise of seed A."), walkImage));
}
