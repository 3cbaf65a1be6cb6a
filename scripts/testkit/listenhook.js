// Test-only: injected by testkit.ListenerPage's proxy into podium-server's listener page,
// never served by podium-server itself. It presses Play, records what the page plays, and
// posts that back with the page's WebRTC figures once the presenter has come and gone.
"use strict";
(() => {
  const me = document.currentScript;
  const secs = Number(me.dataset.secs || 30);
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  // Keep every PeerConnection the page makes, to read its stats as the page does.
  const pcs = [];
  const Native = window.RTCPeerConnection;
  window.RTCPeerConnection = function (...args) {
    const pc = new Native(...args);
    pcs.push(pc);
    return pc;
  };
  window.RTCPeerConnection.prototype = Native.prototype;

  // The delay behind live: what the jitter buffer holds plus half the round trip.
  async function stats() {
    const pc = pcs[pcs.length - 1];
    if (!pc || pc.connectionState !== "connected") return null;
    let jb = null, rtt = 0, lost = 0, got = 0;
    (await pc.getStats()).forEach((s) => {
      if (s.type === "inbound-rtp" && s.kind === "audio") {
        if (s.jitterBufferEmittedCount > 0) jb = s.jitterBufferDelay / s.jitterBufferEmittedCount;
        lost = s.packetsLost || 0; got = s.packetsReceived || 0;
      }
      if (s.type === "candidate-pair" && s.nominated && s.currentRoundTripTime) rtt = s.currentRoundTripTime;
    });
    return { delay: jb === null ? null : jb + rtt / 2, packetsLost: lost, packetsReceived: got };
  }

  window.addEventListener("DOMContentLoaded", async () => {
    const began = Date.now();
    const audio = document.getElementById("audio");
    const state = document.getElementById("state");
    const live = () => state.classList.contains("live");
    const via = () => document.getElementById("via").textContent;
    document.getElementById("play").click();
    // WebRTC gives the element a stream; HLS gives it a source that plays, which
    // captureStream taps once it has begun.
    // (A WebRTC stream counts once connected: ICE that never connects gives the element a
    // stream that stays silent, and the page then goes to HLS.)
    const playing = () => (audio.srcObject && via().includes("WebRTC")) || (!audio.srcObject && audio.currentSrc && !audio.paused && audio.currentTime > 0);
    while (!playing() && Date.now() - began < secs * 1000) await sleep(20);
    if (!playing()) return;
    const hls = !audio.srcObject;
    const stream = hls ? audio.captureStream() : audio.srcObject;
    const rec = new MediaRecorder(stream, { mimeType: "audio/webm;codecs=opus", audioBitsPerSecond: 128000 });
    const chunks = [];
    rec.ondataavailable = (e) => e.data.size && chunks.push(e.data);
    const delays = [];
    let everLive = false, seenVia = "";
    rec.onstop = async () => {
      const blob = new Blob(chunks);
      const final = await stats().catch(() => null);
      await fetch("/.test/stats", { method: "POST", body: JSON.stringify({
        state: document.getElementById("statetext").textContent, everLive, via: seenVia, final, delays, bytes: blob.size }) });
      await fetch("/.test/audio", { method: "POST", body: await blob.arrayBuffer() });
    };
    rec.start(500);
    fetch("/.test/started", { method: "POST" }).catch(() => {});
    // Record until the presenter has come and gone (and an HLS player, seconds behind, has
    // played out the end), or the time is up.
    const done = () => everLive && !live() && !(hls && via().includes("HLS"));
    while (Date.now() - began < secs * 1000 && !done()) {
      await sleep(250);
      if (live()) everLive = true;
      if (live() && via()) seenVia = via();
      // The page's own figure for HLS; for WebRTC, the same one read from the connection.
      const m = /Delay behind live: ([0-9.]+) s/.exec(document.getElementById("info").textContent);
      const st = hls ? { delay: m ? Number(m[1]) : null } : await stats().catch(() => null);
      if (st && st.delay !== null && live()) delays.push(st.delay);
    }
    await sleep(300);
    rec.stop();
  });
})();
