// Vantage web UI: the new-job form, the live jobs list and the live job page.
// Plain ES2020 served as is (no build step). Pages work from their server-rendered HTML;
// this script keeps them current through the JSON API and its server-sent events, and shows
// every API problem (problem+json title and detail) inline.
"use strict";

const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);
// Every event kind the job log has: EventSource delivers named events only to their listeners.
const EVENT_KINDS = [
  "submitted", "claimed", "stage_started", "progress", "stage_succeeded", "succeeded",
  "failed", "cancelled", "cancel_requested", "retry_scheduled", "retried", "lease_expired",
];
const POLL_MS = 3000;
const MAX_STREAMS = 4; // browsers give a host ~6 HTTP/1.1 connections; leave some for the rest
const LOG_LINES = 100;

const $ = (selector, root = document) => root.querySelector(selector);

// --- small helpers -------------------------------------------------------------------------

function problemMessage(status, statusText, body) {
  if (body && typeof body === "object" && (body.title || body.detail)) {
    return [body.title, body.detail].filter(Boolean).join(" — ");
  }
  return `${status} ${statusText || ""}`.trim();
}

// An API error: its problem+json text, and its status (401 means: log in first).
class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

async function problemError(response) {
  let body = null;
  try {
    body = await response.json();
  } catch (_) {
    // Not JSON: the status line says enough.
  }
  return new ApiError(problemMessage(response.status, response.statusText, body), response.status);
}

async function api(method, url, body) {
  const init = { method, headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, init); // same origin: the token cookie goes along
  } catch (err) {
    throw new Error(`The server could not be reached (${err.message}).`);
  }
  if (!response.ok) throw await problemError(response);
  return response.status === 204 ? null : response.json();
}

function showText(element, text) {
  if (!element) return;
  element.textContent = text || "";
  element.hidden = !text;
}

// Show an error inline; a 401 also gets a link to the login page that comes back here.
function showError(element, err) {
  showText(element, err.message);
  if (err.status === 401) {
    const link = document.createElement("a");
    link.href = `/ui/login?next=${encodeURIComponent(window.location.pathname)}`;
    link.textContent = "Log in";
    element.append(" ", link);
  }
}

function setProgress(bar, text, percent) {
  const value = Math.max(0, Math.min(100, Math.floor(Number(percent) || 0)));
  if (bar) {
    bar.value = value;
    bar.textContent = `${value}%`;
    bar.dataset.percent = String(value);
  }
  if (text) text.textContent = `${value}%`;
}

function setState(badge, state) {
  if (!badge || !state) return;
  badge.textContent = state;
  badge.dataset.state = state;
  badge.className = badge.className.replace(/\bstate-\S+/g, "").trim() + ` state-${state}`;
}

function formatDuration(seconds) {
  if (typeof seconds !== "number" || !Number.isFinite(seconds)) return "—";
  const s = Math.max(seconds, 0);
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 60) return `${s.toFixed(1)} s`;
  let minutes = Math.floor(Math.round(s) / 60);
  const secs = Math.round(s) % 60;
  if (minutes < 60) return `${minutes} min ${String(secs).padStart(2, "0")} s`;
  const hours = Math.floor(minutes / 60);
  minutes %= 60;
  return `${hours} h ${String(minutes).padStart(2, "0")} min`;
}

function formatSize(bytes) {
  if (typeof bytes !== "number" || !Number.isFinite(bytes)) return "—";
  let value = bytes;
  let unit = "B";
  for (const larger of ["KiB", "MiB", "GiB", "TiB"]) {
    if (Math.abs(value) < 1024) break;
    value /= 1024;
    unit = larger;
  }
  return unit === "B" ? `${Math.round(value)} B` : `${value.toFixed(1)} ${unit}`;
}

// Follow a job's server-sent events after event `after`. `onEvent` gets each event's data;
// `onGone` is called once the stream is over: the job ended, or the stream failed (the caller
// then polls or reconnects, so a stream the server ended cannot spin reconnecting forever).
function follow(jobId, after, onEvent, onGone) {
  const url = `/jobs/${encodeURIComponent(jobId)}/events?after=${Number(after) || 0}`;
  const source = new EventSource(url);
  let open = true;
  const stop = () => {
    if (!open) return;
    open = false;
    source.close();
    onGone();
  };
  const handle = (message) => {
    let data;
    try {
      data = JSON.parse(message.data);
    } catch (_) {
      return;
    }
    onEvent(data);
    if (TERMINAL.has(data.state)) stop();
  };
  for (const kind of EVENT_KINDS) source.addEventListener(kind, handle);
  source.addEventListener("message", handle);
  source.addEventListener("error", stop);
  return { close: () => { open = false; source.close(); } };
}

// --- new job form ---------------------------------------------------------------------------

function upload(files, bar, text) {
  return new Promise((resolve, reject) => {
    const body = new FormData();
    for (const file of files) body.append("file", file, file.name);
    const request = new XMLHttpRequest();
    request.open("POST", "/uploads");
    request.setRequestHeader("Accept", "application/json");
    request.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) setProgress(bar, text, (100 * event.loaded) / event.total);
    });
    request.addEventListener("load", () => {
      let reply = null;
      try {
        reply = JSON.parse(request.responseText);
      } catch (_) {
        // Not JSON: reported below with the status line.
      }
      if (request.status >= 200 && request.status < 300 && reply && reply.input) {
        setProgress(bar, text, 100);
        resolve(reply.input);
      } else {
        const message = problemMessage(request.status, request.statusText, reply);
        reject(new ApiError(`Upload failed: ${message}`, request.status));
      }
    });
    request.addEventListener("error", () => reject(new Error("Upload failed: the server could not be reached.")));
    request.addEventListener("abort", () => reject(new Error("Upload cancelled.")));
    request.send(body);
  });
}

function initNewJob() {
  const form = $("#job-form");
  if (!form) return;
  const error = $("#form-error");
  const submit = $("#submit-job");
  const files = $("#upload-input");
  const source = $("#source-input");
  const email = $("#email-input");
  const webhook = $("#webhook-input");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showText(error, "");
    const chosen = Array.from(files.files || []);
    const named = source.value.trim();
    let problem = "";
    if (!chosen.length && !named) problem = "Choose a video or photos to upload, or give a source.";
    else if (chosen.length && named) problem = "Upload files or give a source, not both.";
    else if (email.value.trim() && !email.validity.valid) problem = "The e-mail address is not valid.";
    else if (webhook.value.trim() && (!webhook.validity.valid || !/^https?:\/\//i.test(webhook.value.trim()))) {
      problem = "The webhook must be an http(s) URL.";
    }
    if (problem) {
      showText(error, problem);
      return;
    }
    submit.disabled = true;
    try {
      let input = named;
      if (chosen.length) {
        $("#upload-status").hidden = false;
        input = await upload(chosen, $("#upload-progress"), $("#upload-percent"));
      }
      const notify = {};
      if (email.value.trim()) notify.email = email.value.trim();
      if (webhook.value.trim()) notify.webhook = webhook.value.trim();
      const params = { input, preset: $("#preset-select").value };
      for (const [id, name] of [["#max-frames-input", "max_frames"], ["#iterations-input", "iterations"]]) {
        const value = $(id).value.trim();
        if (value) params[name] = Number(value);
      }
      const body = { pipeline: "reconstruct", params };
      if (Object.keys(notify).length) body.notify = notify;
      const job = await api("POST", "/jobs", body);
      window.location.assign(`/ui/jobs/${encodeURIComponent(job.id)}`);
    } catch (err) {
      showError(error, err);
      submit.disabled = false;
    }
  });
}

// --- jobs list ------------------------------------------------------------------------------

function updateRow(row, update) {
  if (update.state) {
    row.dataset.state = update.state;
    setState($(".job-state", row), update.state);
  }
  if (typeof update.progress === "number") {
    setProgress($(".job-progress", row), $(".job-percent", row), update.progress);
  }
  const stage = $(".job-stage", row);
  if (stage) stage.textContent = TERMINAL.has(update.state) ? "" : update.stage || stage.textContent;
}

function initJobList() {
  const table = $("#jobs-table");
  if (!table) return;
  const rows = new Map(Array.from(document.querySelectorAll(".job-row"), (row) => [row.dataset.jobId, row]));
  const streaming = new Set();
  for (const [id, row] of rows) {
    if (TERMINAL.has(row.dataset.state) || streaming.size >= MAX_STREAMS) continue;
    streaming.add(id);
    follow(id, row.dataset.lastEventId, (event) => updateRow(row, event), () => streaming.delete(id));
  }
  // Jobs without a stream (too many, or it failed) are polled through the JSON list.
  const poll = async () => {
    const waiting = Array.from(rows).some(([id, row]) => !TERMINAL.has(row.dataset.state) && !streaming.has(id));
    if (waiting) {
      try {
        const page = await api("GET", `/jobs?${table.dataset.query}`);
        for (const job of page.jobs) {
          const row = rows.get(job.id);
          if (row && !streaming.has(job.id)) {
            updateRow(row, { state: job.state, progress: job.progress, stage: job.current_stage });
          }
        }
      } catch (_) {
        // The server is away: the next tick tries again.
      }
    }
    window.setTimeout(poll, POLL_MS);
  };
  window.setTimeout(poll, POLL_MS);
}

// --- job page -------------------------------------------------------------------------------

function appendLog(log, event) {
  const last = log.lastElementChild;
  const stage = event.stage || "";
  let line;
  if (last && event.kind === "progress" && last.dataset.kind === "progress" && last.dataset.stage === stage) {
    line = last; // one line per run of progress reports, showing the latest
  } else {
    line = document.createElement("li");
    line.className = "log-line";
    for (const part of ["time", "span", "span", "span"]) line.append(document.createElement(part));
    line.children[1].className = "log-kind";
    line.children[2].className = "log-stage";
    line.children[3].className = "log-message";
    log.append(line);
  }
  const stick = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
  line.dataset.eventId = String(event.id);
  line.dataset.kind = event.kind;
  line.dataset.stage = stage;
  const at = new Date(event.at);
  line.children[0].dateTime = Number.isNaN(at.getTime()) ? "" : at.toISOString();
  line.children[0].textContent = Number.isNaN(at.getTime()) ? "" : at.toISOString().slice(11, 19);
  line.children[1].textContent = event.kind;
  line.children[2].textContent = stage;
  line.children[3].textContent = event.message || "";
  while (log.children.length > LOG_LINES) log.firstElementChild.remove();
  if (stick) log.scrollTop = log.scrollHeight;
}

// A stage's own progress from the job's weighted progress (weights are on the stage rows).
function updateStageProgress(stageName, jobPercent) {
  const rows = Array.from(document.querySelectorAll(".stage-row"));
  const total = rows.reduce((sum, row) => sum + Number(row.dataset.weight || 0), 0) || 1;
  let before = 0;
  for (const row of rows) {
    const weight = Number(row.dataset.weight || 0);
    if (row.dataset.stage === stageName) {
      const fraction = weight ? ((jobPercent / 100) * total - before) / weight : 0;
      setProgress($(".stage-progress", row), $(".stage-percent", row), 100 * fraction);
      return;
    }
    before += weight;
  }
}

function renderReport(report) {
  const container = $("#report-figures");
  const spec = JSON.parse($("#report-spec").textContent);
  const lookup = (path) => path.split(".").reduce((value, key) => (value && typeof value === "object" ? value[key] : undefined), report);
  const format = (value, unit) => {
    if (value === null || value === undefined || typeof value === "object") return null;
    if (typeof value !== "number" || !Number.isFinite(value) || unit === "text") return String(value);
    switch (unit) {
      case "int": return Math.round(value).toLocaleString("en-US");
      case "db": return `${value.toFixed(2)} dB`;
      case "ratio": return value.toFixed(3);
      case "px": return `${value.toFixed(2)} px`;
      case "fps": return `${value.toFixed(2)} fps`;
      case "seconds": return formatDuration(value);
      case "bytes": return formatSize(value);
      default: return String(value);
    }
  };
  const groups = [];
  for (const section of spec) {
    const rows = [];
    for (const figure of section.figures) {
      const text = format(lookup(figure.path), figure.unit);
      if (text !== null) rows.push([figure.label, text]);
    }
    if (!rows.length) continue;
    const group = document.createElement("div");
    group.className = "figure-group";
    const title = document.createElement("h3");
    title.textContent = section.title;
    const list = document.createElement("dl");
    for (const [label, text] of rows) {
      const dt = document.createElement("dt");
      dt.textContent = label;
      const dd = document.createElement("dd");
      dd.textContent = text;
      list.append(dt, dd);
    }
    group.append(title, list);
    groups.push(group);
  }
  container.replaceChildren(...groups);
  $("#report").hidden = groups.length === 0;
}

function artifactUrl(jobId, artifact) {
  // Only same-origin paths from the API; anything else is rebuilt from the name.
  const url = String(artifact.url || "");
  if (url.startsWith("/") && !url.startsWith("//")) return url;
  return `/jobs/${encodeURIComponent(jobId)}/artifacts/${encodeURIComponent(artifact.name)}`;
}

async function loadArtifacts(page) {
  const jobId = page.dataset.jobId;
  let artifacts = [];
  try {
    const response = await fetch(`/jobs/${encodeURIComponent(jobId)}/artifacts`, { headers: { Accept: "application/json" } });
    if (response.ok) artifacts = await response.json();
  } catch (_) {
    // No artifacts route or no server: the sections stay hidden.
  }
  if (!Array.isArray(artifacts)) artifacts = [];
  const items = artifacts.filter((artifact) => artifact && typeof artifact.name === "string").map((artifact) => {
    const item = document.createElement("li");
    const link = document.createElement("a");
    link.href = artifactUrl(jobId, artifact);
    link.download = artifact.name;
    link.textContent = artifact.name;
    link.dataset.artifact = artifact.name;
    item.append(link);
    if (typeof artifact.size_bytes === "number") {
      const size = document.createElement("span");
      size.className = "muted small";
      size.textContent = ` ${formatSize(artifact.size_bytes)}`;
      item.append(size);
    }
    return item;
  });
  $("#downloads-list").replaceChildren(...items);
  $("#downloads").hidden = items.length === 0;
  const names = new Set(artifacts.map((artifact) => artifact && artifact.name));
  if (page.dataset.state === "succeeded" && names.has("scene.sog")) {
    const frame = $("#viewer-frame");
    if (!frame.getAttribute("src")) frame.src = frame.dataset.src;
    $("#viewer").hidden = false;
  }
  const report = artifacts.find((artifact) => artifact && artifact.name === "report.json");
  if (report && !page.dataset.report) {
    try {
      const response = await fetch(artifactUrl(jobId, report), { headers: { Accept: "application/json" } });
      if (response.ok) {
        renderReport(await response.json());
        page.dataset.report = "client";
      }
    } catch (_) {
      // The report stays hidden; the download link is still there.
    }
  }
}

function initJobPage() {
  const page = $("#job");
  if (!page) return;
  const jobId = page.dataset.jobId;
  const log = $("#job-log");
  const cancel = $("#cancel-job");
  const retry = $("#retry-job");
  const actionError = $("#action-error");
  let lastEventId = Number(page.dataset.lastEventId) || 0;
  let stream = null;

  const refreshStages = async () => {
    try {
      const response = await fetch(`/ui/jobs/${encodeURIComponent(jobId)}/stages`);
      if (!response.ok) return;
      const fragment = document.createElement("template");
      fragment.innerHTML = await response.text(); // rendered and escaped by the server
      const timeline = fragment.content.querySelector("#stage-timeline");
      if (timeline) $("#stage-timeline").replaceWith(timeline);
    } catch (_) {
      // The next event or reload brings it up to date.
    }
  };

  const showState = (state) => {
    page.dataset.state = state;
    setState($("#job-state"), state);
    cancel.hidden = !(state === "queued" || state === "running");
    retry.hidden = !(state === "failed" || state === "cancelled");
  };

  const showJob = (job) => {
    showState(job.state);
    setProgress($("#job-progress"), $("#job-percent"), job.progress);
    $("#job-stage").textContent = TERMINAL.has(job.state) ? "" : job.current_stage || "";
    $("#job-message").textContent = job.message || "";
    showText($("#job-error"), job.error || "");
  };

  const readJob = async () => {
    try {
      showJob(await api("GET", `/jobs/${encodeURIComponent(jobId)}`));
    } catch (_) {
      return;
    }
    await refreshStages();
    if (TERMINAL.has(page.dataset.state)) loadArtifacts(page);
  };

  let reloading = null;
  const reload = () => {
    // Events come in bursts (a stage ends, the next starts): one read answers them all.
    reloading = reloading || new Promise((resolve) => window.setTimeout(resolve, 150))
      .then(readJob)
      .finally(() => { reloading = null; });
    return reloading;
  };

  const onEvent = (event) => {
    lastEventId = Math.max(lastEventId, Number(event.id) || 0);
    appendLog(log, event);
    showState(event.state);
    setProgress($("#job-progress"), $("#job-percent"), event.progress);
    if (TERMINAL.has(event.state)) $("#job-stage").textContent = "";
    else if (event.stage) $("#job-stage").textContent = event.stage;
    if (event.message && event.kind !== "progress") $("#job-message").textContent = event.message;
    if (event.kind === "progress" && event.stage) updateStageProgress(event.stage, event.progress);
    else reload(); // a stage or job changed state: take the record as it is now
  };

  const watch = () => {
    if (stream || TERMINAL.has(page.dataset.state)) return;
    stream = follow(jobId, lastEventId, onEvent, async () => {
      stream = null;
      await reload();
      // The stream failed while the job goes on: reconnect after a pause.
      if (!TERMINAL.has(page.dataset.state)) window.setTimeout(watch, POLL_MS);
    });
  };

  const act = async (action) => {
    showText(actionError, "");
    cancel.disabled = retry.disabled = true;
    try {
      showJob(await api("POST", `/jobs/${encodeURIComponent(jobId)}/${action}`));
      await refreshStages();
      watch();
    } catch (err) {
      showError(actionError, err);
    } finally {
      cancel.disabled = retry.disabled = false;
    }
  };
  cancel.addEventListener("click", () => act("cancel"));
  retry.addEventListener("click", () => act("retry"));

  log.scrollTop = log.scrollHeight;
  watch();
  loadArtifacts(page);
}

// --- login -----------------------------------------------------------------------------------

function initLogin() {
  const form = $("#login-form");
  if (!form) return;
  const error = $("#login-error");
  form.addEventListener("submit", async (event) => {
    // Posting through fetch keeps a refused token on this page, said inline; the cookie that
    // POST /login sets applies all the same (same origin).
    event.preventDefault();
    showText(error, "");
    try {
      const response = await fetch(form.action, { method: "POST", body: new URLSearchParams(new FormData(form)) });
      if (!response.ok) throw await problemError(response);
      window.location.assign(response.url);
    } catch (err) {
      showText(error, err.message);
    }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  const page = document.body.dataset.page;
  if (page === "new-job") initNewJob();
  else if (page === "jobs") initJobList();
  else if (page === "job") initJobPage();
  else if (page === "login") initLogin();
});
