// Train: choose an algorithm and frames; a form built from the estimator's parameter schema
// (GET /api/v1/estimators); the server's 422 errors are shown next to the field they name.

import { ApiError, get, post } from "./api.js";
import { fill, h } from "./dom.js";
import { frameLabel } from "./frames.js";

const FIRST = ["epochs", "batch_size", "seed"]; // shown first; the rest follow in the schema's order
// The training loop's own parameters, folded away under "Run control" (every algorithm has them).
const CONTROL = new Set(["max_runtime_secs", "stopping_rounds", "stopping_metric", "stopping_tolerance", "checkpoint",
  "device", "deterministic"]);

function fieldId(name) {
  return `param-${name}`;
}

function input(param, models) {
  const { name, type, default: value, choices, nullable } = param;
  const id = fieldId(name);
  if (type === "bool") return h("input", { id, name, type: "checkbox", checked: Boolean(value) });
  if (choices && choices.length) {
    return h("select", { id, name }, nullable ? h("option", { value: "" }, "(none)") : null,
      choices.map((c) => h("option", { value: String(c), selected: c === value }, String(c))));
  }
  if (type === "int" || type === "float") {
    return h("input", { id, name, type: "number", step: type === "int" ? "1" : "any", value: value ?? "",
      min: param.min ?? undefined, max: param.max ?? undefined, placeholder: nullable ? "none" : "" });
  }
  if (type === "dict" || type === "list") {
    return h("textarea", { id, name, rows: 2, placeholder: nullable ? "none (JSON)" : "JSON",
      value: value == null ? "" : JSON.stringify(value) });
  }
  const text = h("input", { id, name, type: "text", value: value ?? "", placeholder: nullable ? "none" : "" });
  if (name === "checkpoint" && models.length) {
    text.setAttribute("list", "checkpoint-models");
    return [text, h("datalist#checkpoint-models", models.map((m) => h("option", { value: m.id }, m.algo)))];
  }
  return text;
}

/** The value of one field as the API wants it, or undefined when it is the default (not sent). */
function valueOf(param, el) {
  const { type, default: dflt, nullable } = param;
  if (type === "bool") return el.checked === Boolean(dflt) ? undefined : el.checked;
  const raw = el.value.trim();
  let value;
  if (raw === "") value = nullable ? null : undefined;
  else if (type === "int" || type === "float") value = Number.isFinite(Number(raw)) ? Number(raw) : raw;
  else if (type === "dict" || type === "list") {
    try {
      value = JSON.parse(raw);
    } catch {
      throw new ApiError(422, `Parameter '${param.name}': not valid JSON.`);
    }
  } else value = raw;
  if (value === undefined) return undefined;
  return JSON.stringify(value) === JSON.stringify(dflt ?? null) ? undefined : value;
}

/** Which field a 422's detail names: a parameter, a frame, or null. */
export function fieldOf(detail, names) {
  const patterns = [/[Pp]arameter '([\w-]+)'/, /parameters\.(\w+)/, /^(\w+):/, /'([\w-]+)'/];
  for (const pattern of patterns) {
    const match = detail.match(pattern);
    if (match && (names.includes(match[1]) || ["training_frame", "validation_frame", "algo"].includes(match[1]))) return match[1];
  }
  return names.find((n) => new RegExp(`\\b${n}\\b`).test(detail)) || null;
}

export async function trainPage(view, query, signal) {
  const [estimators, frames, models] = await Promise.all([
    get("/api/v1/estimators", { signal }), get("/api/v1/frames", { signal }), get("/api/v1/models", { signal })]);
  let algo = query.get("algo") || (estimators.find((e) => e.algo === "gan") || estimators[0]).algo;
  const training = h("select#training-frame", frames.map((f) =>
    h("option", { value: f.id, selected: f.id === query.get("frame") }, frameLabel(f))));
  const validation = h("select#validation-frame", h("option", { value: "" }, "(none)"),
    frames.map((f) => h("option", { value: f.id }, frameLabel(f))));
  const frameErrors = { training_frame: h("p.error#error-training_frame"), validation_frame: h("p.error#error-validation_frame") };
  const algoError = h("p.error#error-algo");
  const generalError = h("div.error-box#train-error", { role: "alert" });
  const form = h("form#param-form", { novalidate: true });
  const cards = h("div.algos");
  const start = h("button.primary#start-training", { type: "submit", form: "param-form" }, "Start training");

  function estimator() {
    return estimators.find((e) => e.algo === algo);
  }

  function renderCards() {
    fill(cards, estimators.map((e) => h(`div.algo${e.algo === algo ? ".active" : ""}#algo-${e.algo}`,
      { role: "button", tabindex: "0", dataset: { algo: e.algo },
        onclick: () => { algo = e.algo; renderCards(); renderForm(); } },
      h("b", `${e.algo} · ${e.name}`), h("span", e.description))));
  }

  function field(p, same) {
    return h(`div.field#field-${p.name}`, { dataset: { param: p.name } },
      p.type === "bool" ? h("label.check", input(p, same), p.name) : h("label", { for: fieldId(p.name) }, p.name),
      p.type === "bool" ? null : input(p, same),
      h("span.help", p.help, p.min != null || p.max != null ? ` [${p.min ?? "…"}, ${p.max ?? "…"}]` : ""),
      h(`p.error#error-${p.name}`));
  }

  function renderForm() {
    const params = [...estimator().parameters].sort((a, b) =>
      (FIRST.includes(a.name) ? FIRST.indexOf(a.name) : 99) - (FIRST.includes(b.name) ? FIRST.indexOf(b.name) : 99));
    const same = models.filter((m) => m.algo === algo);
    // What every algorithm shares (stopping, time limit, device, checkpoint) folds away under "Run control".
    const own = params.filter((p) => !CONTROL.has(p.name));
    const control = params.filter((p) => !own.includes(p));
    fill(form, h("div.form-grid", own.map((p) => field(p, same))),
      control.length ? h("details.advanced#run-control", h("summary", "Run control: early stopping, time limit, device, checkpoint"),
        h("div.form-grid", control.map((p) => field(p, same)))) : null);
    clearErrors();
  }

  function clearErrors() {
    for (const el of view.querySelectorAll("p.error")) el.textContent = "";
    for (const el of view.querySelectorAll(".field.invalid")) el.classList.remove("invalid");
    generalError.textContent = "";
  }

  function showError(detail) {
    const names = estimator().parameters.map((p) => p.name);
    const field = fieldOf(detail, names);
    const text = detail.replace(/^parameters:\s*/, "");
    if (field && names.includes(field)) {
      const holder = form.querySelector(`#field-${field}`);
      holder.classList.add("invalid");
      const details = holder.closest("details");
      if (details) details.open = true;
      form.querySelector(`#error-${field}`).textContent = text;
      form.querySelector(`#${fieldId(field)}`)?.focus();
      generalError.textContent = `The server refused the job: see the ${field} field.`;
    } else if (field && frameErrors[field]) {
      frameErrors[field].textContent = text;
    } else if (field === "algo") {
      algoError.textContent = text;
    } else {
      generalError.textContent = detail;
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors();
    const parameters = {};
    try {
      for (const p of estimator().parameters) {
        const value = valueOf(p, form.querySelector(`#${fieldId(p.name)}`));
        if (value !== undefined) parameters[p.name] = value;
      }
      if (!training.value) throw new ApiError(422, "training_frame: choose a frame (import one on the Frames page).");
      start.disabled = true;
      const job = await post("/api/v1/jobs", { algo, training_frame: training.value,
        validation_frame: validation.value || null, parameters });
      location.hash = `#/jobs/${job.id}`;
    } catch (error) {
      if (error instanceof ApiError && error.status === 422) showError(error.detail);
      else generalError.textContent = error.detail || error.message;
    } finally {
      start.disabled = false;
    }
  });

  view.append(
    h("h1", "Train a model"),
    h("div.panel", h("h2", "Algorithm"), cards, algoError),
    h("div.panel", h("h2", "Data"),
      frames.length ? h("div.row",
        h("label", "Training frame", training, frameErrors.training_frame),
        h("label", "Validation frame", validation, frameErrors.validation_frame))
        : h("p.empty", "No frames yet: ", h("a", { href: "#/frames" }, "import or upload one"), " first.")),
    h("div.panel", h("h2", "Parameters"), h("p.muted", "Defaults are filled in; only the values you change are sent."),
      form, h("div.actions", start, h("button", { type: "button", onclick: renderForm }, "Reset to defaults")), generalError));
  renderCards();
  renderForm();
}
