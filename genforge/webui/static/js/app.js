// The web UI's entry point: a hash router over the pages (Frames, Train, Jobs, Models, Leaderboard).

import { get } from "./api.js";
import { clear, h } from "./dom.js";
import { framesPage } from "./frames.js";
import { jobPage, jobsPage } from "./jobs.js";
import { leaderboardPage } from "./leaderboard.js";
import { modelPage, modelsPage } from "./models.js";
import { trainPage } from "./train.js";

const view = document.getElementById("view");
let current = null; // AbortController of the page on screen: aborted when the user navigates away

function parse() {
  const [path, query] = (location.hash.replace(/^#/, "") || "/frames").split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { page: parts[0] || "frames", id: parts[1] || null, query: new URLSearchParams(query || "") };
}

async function route() {
  if (current) current.abort();
  current = new AbortController();
  const { signal } = current;
  const { page, id, query } = parse();
  for (const link of document.querySelectorAll("#nav a")) link.classList.toggle("active", link.dataset.page === page);
  clear(view);
  view.dataset.page = page;
  const pages = {
    frames: () => framesPage(view, id, signal),
    train: () => trainPage(view, query, signal),
    jobs: () => (id ? jobPage(view, id, signal) : jobsPage(view, signal)),
    models: () => (id ? modelPage(view, id, signal) : modelsPage(view, signal)),
    leaderboard: () => leaderboardPage(view, id, signal),
  };
  try {
    await (pages[page] || (() => view.append(h("p.error", `No page ${page}.`))))();
  } catch (error) {
    if (signal.aborted || error.name === "AbortError") return;
    console.error(error);
    view.append(h("p.error-box.page-error", error.detail || error.message || String(error)));
  }
}

async function serverInfo() {
  const info = await get("/api/v1/info");
  const active = (info.jobs?.running || 0) + (info.jobs?.queued || 0);
  document.getElementById("server-info").textContent =
    `genforge ${info.version}${info.auth ? " · key set" : ""}${active ? ` · ${active} job(s) active` : ""}`;
}

window.addEventListener("hashchange", route);
serverInfo().catch(() => {}).finally(route); // the first request asks for the API key when the server has one
