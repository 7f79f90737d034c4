// Frames: built-in and uploaded datasets; upload with the server's validation errors; preview and counts.

import { del, get, loadImage, post, request } from "./api.js";
import { fill, fmt, h, toast, when } from "./dom.js";

const ACCEPT = ".csv,.zip,.npz,.npy,.gz,.parquet,.idx,.ubyte,.idx3-ubyte,.idx1-ubyte";

export function frameLabel(f) {
  return `${f.name} · ${f.rows} images · ${f.height}×${f.width}×${f.channels}`;
}

export async function framesPage(view, selected, signal) {
  const [frames, datasets] = await Promise.all([get("/api/v1/frames", { signal }), get("/api/v1/datasets", { signal })]);
  const uploadError = h("div.error-box#upload-error", { role: "alert" });
  const builtin = h("select#builtin-select", datasets.filter((d) => d.available).map((d) =>
    h("option", { value: d.name, title: d.description }, `${d.name}${d.rows ? ` (${d.rows} images)` : ""}`)));
  const importButton = h("button#builtin-import", { type: "button" }, "Import");
  importButton.addEventListener("click", async () => {
    uploadError.textContent = "";
    importButton.disabled = true;
    importButton.textContent = "Importing…";
    try {
      const frame = await post("/api/v1/frames", { source: builtin.value });
      toast(`Imported ${frame.name}: ${frame.rows} images`);
      location.hash = `#/frames/${frame.id}`;
    } catch (error) {
      uploadError.textContent = error.detail || error.message;
    } finally {
      importButton.disabled = false;
      importButton.textContent = "Import";
    }
  });

  const form = h("form#upload-form", { novalidate: true },
    h("div.row",
      h("label", "File (CSV, zip of images, .npz/.npy, IDX, Parquet)",
        h("input#upload-file", { type: "file", name: "file", accept: ACCEPT })),
      h("label", "Name", h("input#upload-name", { type: "text", name: "name", placeholder: "the file name" })),
      h("label", "Resize to", h("input", { type: "number", name: "image_size", min: 1, max: 1024, placeholder: "keep", style: "width:90px" })),
      h("label", "Channels", h("select", { name: "channels" }, h("option", { value: "" }, "keep"),
        h("option", { value: "1" }, "1 (grey)"), h("option", { value: "3" }, "3 (RGB)"))),
      h("label", "Unreadable images", h("select", { name: "on_error" }, h("option", { value: "raise" }, "refuse the file"),
        h("option", { value: "skip" }, "skip them"))),
      h("button#upload-submit.primary", { type: "submit" }, "Upload")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    uploadError.textContent = "";
    const file = form.elements.file.files[0];
    if (!file) {
      uploadError.textContent = "file: choose a file to upload.";
      return;
    }
    const body = new FormData();
    for (const [key, value] of new FormData(form)) if (value !== "" && !(value instanceof File)) body.append(key, value);
    body.append("file", file, file.name);
    const button = form.querySelector("#upload-submit");
    button.disabled = true;
    button.textContent = "Uploading…";
    try {
      const frame = await (await request("/api/v1/frames", { method: "POST", body })).json();
      toast(`Uploaded ${frame.name}: ${frame.rows} images${frame.skipped ? `, ${frame.skipped} skipped` : ""}`);
      form.reset();
      location.hash = `#/frames/${frame.id}`;
    } catch (error) {
      uploadError.textContent = error.detail || error.message;
    } finally {
      button.disabled = false;
      button.textContent = "Upload";
    }
  });

  const table = h("table#frames-table",
    h("thead", h("tr", ["Name", "Kind", "Images", "Size (H×W×C)", "Classes", "Created"].map((c) => h("th", c)))),
    h("tbody", frames.map((f) => {
      const tr = h("tr.clickable", { dataset: { id: f.id }, onclick: () => { location.hash = `#/frames/${f.id}`; } },
        h("td", h("b", f.name), h("div.muted.mono", f.id)), h("td", f.kind), h("td.num", f.rows),
        h("td", `${f.height}×${f.width}×${f.channels}`), h("td.num", f.class_names ? f.class_names.length : "–"),
        h("td", when(f.created)));
      if (f.id === selected) tr.classList.add("selected");
      return tr;
    })));
  const detail = h("div.panel#frame-detail");
  view.append(
    h("h1", "Frames"),
    h("div.panel", h("h2", "Add a dataset"),
      h("div.row", h("label", "Built-in dataset", builtin), importButton),
      h("h3", "or upload a file"), form, uploadError),
    h("div.grid-side",
      h("div.panel", h("h2", "Frames on this server"),
        frames.length ? table : h("p.empty", "No frames yet: import a built-in dataset or upload a file.")),
      detail));
  const shown = frames.find((f) => f.id === selected) || frames[0];
  if (shown) await showFrame(detail, shown.id, signal);
  else detail.append(h("p.empty", "Select a frame to see its images."));
}

async function showFrame(panel, id, signal) {
  const frame = await get(`/api/v1/frames/${encodeURIComponent(id)}`, { signal });
  const img = h("img.grid#frame-preview", { alt: `the first images of ${frame.name}` });
  const counts = Object.entries(frame.class_counts || {});
  const most = Math.max(1, ...counts.map(([, n]) => n));
  fill(panel, 
    h("h2", frame.name),
    h("dl.kv", h("dt", "id"), h("dd.mono", frame.id), h("dt", "source"), h("dd", frame.source),
      h("dt", "images"), h("dd#frame-rows", frame.rows), h("dt", "size"), h("dd", `${frame.height}×${frame.width}×${frame.channels}`),
      frame.skipped ? [h("dt", "skipped"), h("dd", `${frame.skipped} unreadable images`)] : null),
    h("h3", "Preview"), img,
    h("h3", counts.length ? `Class counts (${counts.length} classes)` : "Class counts"),
    counts.length ? h("div.counts#class-counts", counts.map(([name, n]) => [
      h("span", name), h("div", h("div.cbar", { style: `width:${(100 * n) / most}%` })), h("span.num", fmt(n))]))
      : h("p.empty", "No labels in this frame."),
    h("div.actions",
      h("a", { href: `#/train?frame=${encodeURIComponent(frame.id)}` }, h("button.primary#train-on-frame", { type: "button" }, "Train on this frame")),
      h("button.danger#delete-frame", { type: "button", onclick: async () => {
        if (!confirm(`Delete the frame ${frame.name}?`)) return;
        try {
          await del(`/api/v1/frames/${encodeURIComponent(frame.id)}`);
          toast("Frame deleted");
          location.hash = "#/frames";
        } catch (error) {
          toast(error.detail || error.message);
        }
      } }, "Delete")));
  await loadImage(img, `/api/v1/frames/${encodeURIComponent(frame.id)}/preview.png?n=64`, { signal });
}
