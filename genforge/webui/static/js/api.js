// The REST client of the UI: every request carries the API key (X-API-Key) when the server has one.
// The key is asked for once (on the first 401) and kept in sessionStorage for this tab.
//
// Images, downloads and the job event stream go through fetch() too, never <img src> or EventSource,
// because those cannot send a header: images become blob: URLs, and Server-Sent Events are read from a
// streamed fetch response (see events()).

const KEY = "genforge.apiKey";

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
    this.detail = detail;
  }
}

export function apiKey() {
  return sessionStorage.getItem(KEY);
}

function withKey(extra) {
  const headers = new Headers(extra || {});
  const key = apiKey();
  if (key) headers.set("X-API-Key", key);
  return headers;
}

async function detailOf(response) {
  const text = await response.text();
  try {
    const body = JSON.parse(text);
    if (typeof body.detail === "string") return body.detail;
    return JSON.stringify(body.detail ?? body);
  } catch {
    return text || `${response.status} ${response.statusText}`;
  }
}

let pendingKey = null;

/** Show the key dialog (once, however many requests wait for it); resolves when a key was entered. */
export function askKey(message) {
  if (pendingKey) return pendingKey;
  const dialog = document.getElementById("key-dialog");
  const form = document.getElementById("key-form");
  const input = document.getElementById("key-input");
  document.getElementById("key-error").textContent = apiKey() ? message || "invalid API key." : "";
  input.value = "";
  pendingKey = new Promise((resolve) => {
    const done = (event) => {
      event.preventDefault();
      const key = input.value.trim();
      if (!key) return;
      sessionStorage.setItem(KEY, key);
      form.removeEventListener("submit", done);
      dialog.close();
      pendingKey = null;
      resolve(key);
    };
    form.addEventListener("submit", done);
    dialog.addEventListener("cancel", (event) => event.preventDefault()); // the page needs a key to work
  });
  if (!dialog.open) dialog.showModal();
  input.focus();
  return pendingKey;
}

/** fetch() with the key; a 401 asks for the key and retries; other errors throw ApiError(status, detail). */
export async function request(path, { method = "GET", json, body, headers, signal } = {}) {
  for (;;) {
    const sent = withKey(headers);
    let payload = body;
    if (json !== undefined) {
      sent.set("Content-Type", "application/json");
      payload = JSON.stringify(json);
    }
    const response = await fetch(path, { method, headers: sent, body: payload, signal, cache: "no-store" });
    if (response.status === 401) {
      await askKey(await detailOf(response));
      continue;
    }
    if (!response.ok) throw new ApiError(response.status, await detailOf(response));
    return response;
  }
}

export const get = async (path, options) => (await request(path, options)).json();
export const post = async (path, json) => (await request(path, { method: "POST", json })).json();
export const del = (path) => request(path, { method: "DELETE" });

const urls = new Map(); // element -> blob URL, revoked when replaced

/** Load an image through fetch (with the key) into ``img``; resolves true, or false on a 404. */
export async function loadImage(img, path, options = {}) {
  try {
    const blob = await (await request(path, options)).blob();
    const url = URL.createObjectURL(blob);
    if (urls.has(img)) URL.revokeObjectURL(urls.get(img));
    urls.set(img, url);
    await new Promise((resolve) => {
      img.onload = resolve;
      img.onerror = resolve;
      img.src = url;
    });
    return true;
  } catch (error) {
    if (error instanceof ApiError && error.status === 404 && !options.strict) return false;
    throw error;
  }
}

/** Fetch ``path`` (with the key) and save it under ``filename`` through a temporary link. */
export async function download(path, filename, options = {}) {
  const response = await request(path, options);
  const disposition = response.headers.get("Content-Disposition") || "";
  const name = (disposition.match(/filename="?([^";]+)"?/) || [])[1] || filename;
  const url = URL.createObjectURL(await response.blob());
  const link = Object.assign(document.createElement("a"), { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

/** Read a Server-Sent Events stream with fetch (so that the key travels as a header); calls
 *  ``onEvent(name, data)`` for each event until the stream ends or ``signal`` aborts. */
export async function events(path, onEvent, signal) {
  const response = await request(path, { headers: { Accept: "text/event-stream" }, signal });
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n?/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) continue; // keep-alive comment
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") name = text;
        else if (field === "data") data.push(text);
      }
      if (data.length) onEvent(name, JSON.parse(data.join("\n")));
    }
  }
}
