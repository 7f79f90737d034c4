// The model page's Report tab (the model report: the same self-contained page as `genforge report`, shown
// in a frame without scripts) and the latent walk's choice of what to follow (two seeds, or a direction).

import { ApiError, get, post, request } from "./api.js";
import { fill, h, toast } from "./dom.js";
import { frameLabel } from "./frames.js";

/** Tabs over the model page: ``panels`` maps a tab's title to its element; the first one shows. */
export function tabBar(panels) {
  const entries = Object.entries(panels).filter(([, panel]) => panel);
  const buttons = entries.map(([title, panel], i) => h(`button.tab#tab-${title.toLowerCase()}`, {
    type: "button", role: "tab", "aria-selected": i === 0 ? "true" : "false",
    onclick: () => entries.forEach(([, other], j) => {
      other.hidden = other !== panel;
      buttons[j].setAttribute("aria-selected", other === panel ? "true" : "false");
      if (other === panel) other.dispatchEvent(new Event("tabshown"));
    }),
  }, title));
  entries.forEach(([, panel], i) => { panel.hidden = i !== 0; });
  return h("div.tabs", { role: "tablist" }, buttons);
}

/** The Report tab: the newest report of the model (if any), and a form that writes a new one (a job). */
export function reportTab(model, path, frames, signal, followJob) {
  const frame = h("select#report-frame-select", frames.map((f) => h("option", { value: f.id }, frameLabel(f))));
  const training = h("select#report-training", h("option", { value: "" }, "none (no Copies section)"),
    frames.map((f) => h("option", { value: f.id }, frameLabel(f))));
  const samples = h("input#report-samples", { type: "number", value: 2000, min: 50, max: 50000, step: 50, style: "width:110px" });
  const status = h("p.muted#report-status");
  const error = h("p.error#report-error");
  const holder = h("div#report-holder");
  const links = h("div.row#report-links");

  async function show() {
    let html;
    try {
      html = await (await request(`${path}/report.html`, { signal })).text();
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) {
        fill(holder, h("p.empty#report-none", "No report yet: choose the held-out frame (and the training frame) and make one."));
        fill(links);
        return;
      }
      throw err;
    }
    // No script runs in the report (sandbox without allow-scripts); same origin only so that the frame can be
    // sized to its page.
    const iframe = h("iframe#report-frame", { title: "model report", sandbox: "allow-same-origin",
      style: "width:100%;border:1px solid #dde;border-radius:6px;min-height:600px" });
    iframe.addEventListener("load", () => {
      const body = iframe.contentDocument?.body;
      if (body) iframe.style.height = `${body.scrollHeight + 24}px`;
    });
    iframe.srcdoc = html;
    fill(holder, iframe);
    const save = (name, type, text) => {
      const url = URL.createObjectURL(new Blob([text], { type }));
      const link = Object.assign(document.createElement("a"), { href: url, download: name });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    };
    fill(links,
      h("button#report-download", { type: "button", onclick: () => save(`${model.id}-report.html`, "text/html", html) }, "Download HTML"),
      h("button#report-download-json", { type: "button", onclick: async () => {
        try {
          save(`${model.id}-report.json`, "application/json", JSON.stringify(await get(`${path}/report.json`), null, 1));
        } catch (err) {
          toast(err.detail || err.message);
        }
      } }, "Download JSON"));
  }

  const make = h("button.primary#report-make", { type: "button", onclick: async () => {
    error.textContent = "";
    make.disabled = true;
    make.textContent = "Writing the report…";
    try {
      const body = { frame: frame.value, samples: Number(samples.value) };
      if (training.value) body.training_frame = training.value;
      let job = await post(`${path}/report`, body);
      const note = () => {
        status.dataset.status = job.status;
        fill(status, "Report job ", h("a.mono#report-job", { href: `#/jobs/${job.id}` }, job.id), `: ${job.message || job.status}`);
      };
      note();
      job = await followJob(job, signal, (snapshot) => { job = snapshot; note(); });
      note();
      if (job.status !== "done") throw new Error(`the report job ${job.status}: ${job.message}`);
      await show();
      toast("Report ready");
    } catch (err) {
      if (signal.aborted) return;
      error.textContent = err.detail || err.message;
    } finally {
      make.disabled = false;
      make.textContent = "Make report";
    }
  } }, "Make report");

  const panel = h("div.panel#report-panel", h("h2", "Model report"),
    h("p.muted", "Samples and their quality/diversity trade-off, copies of training images, class or cluster bias, ",
      "training health and latent directions. It runs as a job; a 28×28 model on 2,000 samples takes under a minute."),
    h("div.row", h("label", "Held-out frame", frame), h("label", "Training frame", training),
      h("label", "Samples", samples), make),
    status, error, links, holder);
  let loaded = false;
  panel.addEventListener("tabshown", () => {
    if (loaded) return;
    loaded = true;
    show().catch((err) => { if (!signal.aborted) error.textContent = err.detail || err.message; });
  });
  return panel;
}

/** What the latent walk follows: the path between two seeds, or a latent direction of the model (loaded
 *  from .../directions the first time it is asked for). ``walk(json)`` returns the [path, body] to POST. */
export function walkFollow(model, path) {
  const select = h("select#walk-follow", h("option", { value: "seeds" }, "the path from seed A to seed B"),
    h("option", { value: "load" }, "a latent direction…"));
  const scale = h("input#walk-scale", { type: "number", value: 3, min: 0.5, max: 20, step: 0.5, style: "width:80px" });
  const scaleLabel = h("label", { hidden: true }, "± scale", scale);
  const note = h("p.muted#walk-note");
  select.addEventListener("change", async () => {
    scaleLabel.hidden = select.value === "seeds";
    if (select.value !== "load") return;
    select.disabled = true;
    note.textContent = "finding the model's directions…";
    try {
      const found = await get(`${path}/directions`);
      const options = [h("option", { value: "seeds" }, "the path from seed A to seed B"),
        ...found.main.map((d) => h("option", { value: d.id }, `direction ${d.id.slice(2)} (${(100 * d.explained_variance).toFixed(1)}% of the variance)`)),
        ...found.classes.map((d) => h("option", { value: d.id }, `toward class ${d.name}`))];
      fill(select, options);
      select.value = found.main[0]?.id || "seeds";
      note.textContent = `directions from ${found.source === "report" ? "the model's report" : "512 samples"}; the walk starts at seed A.`;
    } catch (err) {
      select.value = "seeds";
      note.textContent = `no directions: ${err.detail || err.message}`;
    } finally {
      select.disabled = false;
      scaleLabel.hidden = select.value === "seeds";
    }
  });
  const walk = (json) => {
    if (select.value === "seeds" || select.value === "load") return [`${path}/interpolate`, json];
    const body = { direction: select.value, seed: json.seed_a, steps: json.steps, scale: Number(scale.value) };
    if (json.label !== undefined) body.label = json.label;
    return [`${path}/traverse`, body];
  };
  return { control: [h("label", "Follow", select), scaleLabel], note, walk, select };
}
