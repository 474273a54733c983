// The dashboard's logic: polls the API every 2 s, draws a card per live stream (vital
// signs, bitrate sparkline, preview through hls.js (LL-HLS, with --hls) or HTTP-FLV through
// mpegts.js, controls) and the recordings (play in the page, FLV ones as MP4 through
// ?format=mp4; download). Controls: record, kick, reconnect request. Asks for the API token once when the API
// answers 401 and trades it for an HttpOnly cookie (POST /api/session).
"use strict";

const POLL_MS = 2000;
const SPARK_SAMPLES = 150; // 5 minutes at one sample per poll
const AUTO_PREVIEWS = 4;
const $ = (id) => document.getElementById(id);
const cards = new Map(); // "app/stream" -> card state
let authorized = false;
let autoStarted = 0;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) if (c != null) node.append(c);
  return node;
}

function enc(path) {
  return path.split("/").map(encodeURIComponent).join("/");
}

function bytes(n) {
  if (n == null) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + " " + units[i];
}

function bits(n) {
  if (n >= 1e6) return (n / 1e6).toFixed(2) + " Mbit/s";
  return Math.round(n / 1e3) + " kbit/s";
}

function duration(s) {
  if (s == null) return "–";
  s = Math.floor(s);
  const h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60, sec = s % 60;
  return (h ? h + "h " : "") + (h || m ? m + "m " : "") + sec + "s";
}

async function api(method, path, body) {
  const response = await fetch(path, { method, body, credentials: "same-origin", cache: "no-store" });
  if (response.status === 401) { needToken(); throw new Error("unauthorized"); }
  if (!response.ok) throw new Error(method + " " + path + ": " + response.status);
  return response.json();
}

function needToken() {
  authorized = false;
  $("login").hidden = false;
  $("status").textContent = "token needed";
}

$("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  const response = await fetch("/api/session", { method: "POST", body: $("token").value, credentials: "same-origin" });
  if (response.ok) {
    $("token").value = "";
    $("login-error").textContent = "";
    $("login").hidden = true;
    poll();
  } else {
    $("login-error").textContent = "wrong token";
  }
});

$("logout").addEventListener("click", async () => {
  await fetch("/api/session", { method: "DELETE", credentials: "same-origin" });
  location.reload();
});

// ---- live previews ----------------------------------------------------------------

function startPreview(card) {
  stopPreview(card);
  card.button.hidden = true;
  card.note.textContent = "connecting…";
  // The server's low-latency HLS when it serves the stream (--hls), else HTTP-FLV.
  const player = (card.hls && hlsPlayer(card)) || flvPlayer(card);
  if (!player) return;
  card.video.play().then(() => { card.note.textContent = ""; }, () => {});
  card.player = player;
}

// The preview stopped: try again in a while if the stream is still listed.
function previewStopped(card, why) {
  card.note.textContent = "preview stopped (" + why + ")";
  stopPreview(card);
  card.button.hidden = false;
  card.retry = setTimeout(() => { if (cards.get(card.key) === card) startPreview(card); }, 5000);
}

// hls.js (LL-HLS on), or the browser's own HLS (Safari); null when neither can play.
function hlsPlayer(card) {
  const url = "/hls/" + enc(card.app) + "/" + enc(card.stream) + "/index.m3u8";
  if (window.Hls && Hls.isSupported()) {
    const hls = new Hls({ lowLatencyMode: true, backBufferLength: 10 });
    hls.on(Hls.Events.ERROR, (event, data) => { if (data.fatal) previewStopped(card, data.details); });
    hls.loadSource(url);
    hls.attachMedia(card.video);
    card.video.dataset.player = "hls";
    return hls;
  }
  if (card.video.canPlayType("application/vnd.apple.mpegurl")) {
    card.video.src = url;
    card.video.dataset.player = "hls";
    return { destroy() { card.video.removeAttribute("src"); card.video.load(); } };
  }
  return null;
}

function flvPlayer(card) {
  if (!window.mpegts || !mpegts.getFeatureList().mseLivePlayback) {
    card.note.textContent = "this browser cannot play HTTP-FLV";
    return null;
  }
  const url = "/live/" + enc(card.app) + "/" + enc(card.stream) + ".flv";
  const player = mpegts.createPlayer({ type: "flv", isLive: true, url },
    { enableStashBuffer: false, liveBufferLatencyChasing: true, lazyLoad: false });
  player.attachMediaElement(card.video);
  // The server ends the FLV body when the publisher leaves; try again while the stream is live.
  player.on(mpegts.Events.ERROR, (type, detail) => previewStopped(card, detail));
  player.on(mpegts.Events.LOADING_COMPLETE, () => previewStopped(card, "stream ended"));
  player.load();
  card.video.dataset.player = "flv";
  return player;
}

function stopPreview(card) {
  clearTimeout(card.retry);
  if (card.player) {
    try { card.player.destroy(); } catch (e) { /* already gone */ }
    card.player = null;
  }
}

// ---- live streams -----------------------------------------------------------------

function makeCard(s) {
  const key = s.app + "/" + s.stream;
  const video = el("video", { class: "preview", "data-stream": key, muted: "", playsinline: "", autoplay: "" });
  video.muted = true;
  const note = el("span", { class: "note" });
  const fields = {};
  const dl = el("dl");
  for (const [name, label] of [["codecs", "codecs"], ["resolution", "resolution"], ["fps", "frame rate"],
    ["bitrate", "bitrate"], ["publisher", "publisher"], ["uptime", "uptime"], ["players", "players"],
    ["recording", "recording"], ["push", "push"]]) {
    fields[name] = el("dd", { class: name });
    dl.append(el("dt", {}, label), fields[name]);
  }
  const spark = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  spark.setAttribute("class", "spark");
  spark.setAttribute("viewBox", "0 0 " + SPARK_SAMPLES + " 32");
  spark.setAttribute("preserveAspectRatio", "none");
  const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
  spark.append(line);
  const card = { key, app: s.app, stream: s.stream, hls: s.hls === true, video, note, fields, line, samples: [],
    player: null, last: null };
  card.button = el("button", { onclick: () => startPreview(card) }, "▶ preview");
  const record = el("button", { class: "record", onclick: () => control(card, card.recording ? "record/stop" : "record/start") }, "record");
  const kick = el("button", { class: "danger kick", onclick: () => {
    if (confirm("Disconnect the publisher of " + key + "?")) control(card, "kick");
  } }, "kick");
  // Enhanced RTMP reconnect request: the publisher is asked to reconnect (to this server).
  const reconnect = el("button", { class: "reconnect", onclick: () => {
    if (card.conn_id != null && confirm("Ask the publisher of " + key + " to reconnect?")) {
      api("POST", "/api/connections/" + card.conn_id + "/reconnect").then(() => setTimeout(poll, 300),
        (e) => { $("status").textContent = String(e.message || e); });
    }
  } }, "reconnect");
  card.recordButton = record;
  card.controls = el("div", { class: "controls" }, record, kick, reconnect);
  card.node = el("article", { class: "card", "data-stream": key },
    el("div", { class: "preview-box" }, video, card.button, note),
    el("div", { class: "body" }, el("h3", {}, key), dl, spark, card.controls));
  if (autoStarted < AUTO_PREVIEWS) {
    autoStarted++;
    card.auto = true;
    startPreview(card);
  }
  return card;
}

async function control(card, action) {
  try {
    await api("POST", "/api/streams/" + enc(card.app) + "/" + enc(card.stream) + "/" + action);
    setTimeout(poll, 300);
  } catch (e) {
    $("status").textContent = String(e.message || e);
  }
}

function updateCard(card, s, pushes, now) {
  const f = card.fields;
  card.conn_id = s.publisher_conn_id;
  f.codecs.textContent = [s.video_codec, s.audio_codec].filter(Boolean).join(" + ") || "–";
  f.resolution.textContent = s.width && s.height ? s.width + "x" + s.height : "–";
  if (card.last && s.video_frames >= card.last.frames && now > card.last.at) {
    const fps = (s.video_frames - card.last.frames) * 1000 / (now - card.last.at);
    f.fps.textContent = fps.toFixed(1) + " fps";
  }
  else f.fps.textContent = "–";
  card.last = { frames: s.video_frames, at: now };
  f.bitrate.textContent = bits(s.bitrate_bps || 0);
  card.samples.push(s.bitrate_bps || 0);
  if (card.samples.length > SPARK_SAMPLES) card.samples.shift();
  const max = Math.max(1, ...card.samples);
  const offset = SPARK_SAMPLES - card.samples.length;
  card.line.setAttribute("points", card.samples
    .map((v, i) => (offset + i) + "," + (31 - (v / max) * 30).toFixed(1)).join(" "));
  f.publisher.textContent = s.publisher_addr || "–";
  f.uptime.textContent = duration(s.uptime_s);
  f.players.textContent = String(s.players) + (s.player_dropped_frames ? " (" + s.player_dropped_frames + " frames dropped)" : "");
  f.recording.textContent = s.recording && s.recording_file
    ? s.recording_file.split("/").pop() + " (" + bytes(s.recording_bytes) + ")" : (s.recording ? "starting" : "off");
  const mine = pushes.filter((p) => p.app === s.app && p.stream === s.stream);
  f.push.textContent = mine.length ? mine.map((p) => (p.connected ? "connected " : "retrying ")
    + p.url + (p.retries ? " (" + p.retries + " retries)" : "")).join("; ") : "none";
  card.recording = s.recording;
  card.recordButton.textContent = s.recording ? "stop recording" : "start recording";
  card.controls.hidden = !authorized;
}

function drawStreams(list, pushes) {
  const now = Date.now();
  const live = list.filter((s) => s.publishing);
  const seen = new Set();
  for (const s of live) {
    const key = s.app + "/" + s.stream;
    seen.add(key);
    let card = cards.get(key);
    if (!card) {
      card = makeCard(s);
      cards.set(key, card);
      $("streams").append(card.node);
    }
    updateCard(card, s, pushes, now);
  }
  for (const [key, card] of cards) {
    if (!seen.has(key)) {
      stopPreview(card);
      if (card.auto) autoStarted--;
      card.node.remove();
      cards.delete(key);
    }
  }
  $("no-streams").hidden = live.length > 0;
  $("stream-count").textContent = "(" + live.length + ")";
}

// ---- recordings -------------------------------------------------------------------

// FLV recordings play as MP4 made by the playback server while it sends them.
function playableUrl(r) {
  const url = "/recordings/" + enc(r.path);
  return r.format === "mp4" ? url : url + "?format=mp4";
}

function playRecording(r) {
  closeRecording();
  const video = $("recording-player");
  $("recording-panel").hidden = false;
  $("recording-title").textContent = r.path;
  video.dataset.path = r.path;
  video.src = playableUrl(r);
  video.play().catch(() => {});
}

function closeRecording() {
  const video = $("recording-player");
  video.removeAttribute("src");
  video.load();
  delete video.dataset.path;
  $("recording-panel").hidden = true;
}

$("recording-close").addEventListener("click", closeRecording);

function drawRecordings(data) {
  const list = $("recordings");
  const items = data.recordings.map((r) => {
    const url = "/recordings/" + enc(r.path);
    const info = [r.format.toUpperCase(), bytes(r.bytes), r.duration_s != null ? duration(r.duration_s) : null,
      r.in_progress ? "recording…" : null, r.modified.replace("T", " ").replace(/\.\d+/, "")].filter(Boolean).join(" · ");
    return el("li", { class: "recording", "data-path": r.path, "data-format": r.format },
      el("span", { class: "name" }, r.path),
      el("span", { class: "muted" }, info),
      el("button", { class: "play", onclick: () => playRecording(r) }, "play"),
      el("a", { href: url, download: r.path.split("/").pop() }, "download"),
      r.format === "flv" ? el("a", { href: playableUrl(r), download: r.path.split("/").pop().replace(/\.flv(\.part)?$/, ".mp4") }, "as MP4") : null);
  });
  list.replaceChildren(...items);
  $("no-recordings").hidden = items.length > 0;
  $("recording-count").textContent = "(" + data.total + ")";
}

// ---- polling ----------------------------------------------------------------------

let polling = false;
async function poll() {
  if (polling) return;
  polling = true;
  try {
    const [streams, pushes, recordings] = await Promise.all([
      api("GET", "/api/streams"), api("GET", "/api/pushes"), api("GET", "/recordings?per_page=100")]);
    authorized = true;
    $("login").hidden = true;
    drawStreams(streams.streams, pushes.pushes);
    drawRecordings(recordings);
    $("status").textContent = "updated " + new Date().toLocaleTimeString();
  } catch (e) {
    if (authorized) $("status").textContent = "cannot reach the server (" + (e.message || e) + ")";
  } finally {
    polling = false;
  }
}

// Offer "forget token" only when the server has one.
fetch("/api/session", { credentials: "same-origin" }).then((r) => r.json())
  .then((info) => { $("logout").hidden = !info.token_required; }, () => {});
poll();
setInterval(poll, POLL_MS);
