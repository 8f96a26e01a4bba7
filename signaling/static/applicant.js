/*
 * Applicant page: camera + microphone -> WebRTC -> verification server.
 * ES2017 only (async/await, no optional chaining, no classes fields, no modules) so that old
 * Android WebViews run it; no framework. Everything the server says arrives on the "control"
 * data channel as JSON: prompt, guidance, bitrate, progress, done, error.
 */
(function () {
  "use strict";

  var TEXT = {
    "zh-CN": {
      title: "视频面谈", intro_title: "开始前",
      intro_text: "本次面谈需要使用摄像头和麦克风，大约 1 分钟。请在光线充足、安静的地方进行。",
      intro_geo: "我们还会请求您的位置，用于核实经营地址（可拒绝）。",
      consent: "我同意录制本次面谈并用于贷款审核", start: "开始面谈", retry: "重试",
      agree: "同意 / 确认", decline: "不同意",
      connecting: "正在连接…", reconnecting: "网络中断，正在重新连接…",
      unsupported_title: "浏览器不支持", unsupported: "此浏览器不支持视频面谈。请用手机自带浏览器或微信打开此链接，或升级浏览器。",
      denied_title: "需要摄像头和麦克风权限", denied: "请在浏览器设置中允许本网站使用摄像头和麦克风，然后点“重试”。",
      nodevice_title: "未找到摄像头或麦克风", nodevice: "请确认设备有可用的摄像头和麦克风，且没有被其他应用占用。",
      link_title: "链接不可用", unknown_session: "面谈链接无效，请向贷款顾问索取新链接。",
      session_expired: "面谈链接已过期，请向贷款顾问索取新链接。", session_closed: "本次面谈已经结束。",
      busy_title: "服务器繁忙", busy: "当前排队人数较多，{s} 秒后自动重试。",
      budget_title: "尝试次数过多", failure_budget_spent: "验证失败次数过多，请在 {m} 分钟后再试。",
      elsewhere_title: "已在其他设备上打开", elsewhere: "此面谈已在其他页面或设备上进行。{s} 秒后重试。",
      lost_title: "连接已断开", lost: "无法连接服务器，请检查网络后点“重试”。",
      done_title: "面谈完成", done: "感谢您的配合！结果将由贷款顾问通知您。",
      no_media: "服务器没有收到画面或声音。",
      net_good: "网络良好", net_fair: "网络一般", net_poor: "网络较差",
      g_ok: "很好，请保持", g_no_video: "没有收到画面", g_no_audio: "没有收到声音，请检查麦克风",
      g_no_face: "请把脸放进椭圆框内", g_multiple_faces: "画面中只能有您一个人", g_too_dark: "光线太暗，请到明亮处",
      g_move_closer: "请靠近一些", g_center_face: "请把脸移到画面中间", g_weak_network: "网络较差，请靠近路由器或换个位置"
    },
    "en": {
      title: "Video interview", intro_title: "Before you start",
      intro_text: "This interview uses your camera and microphone and takes about a minute. Please find a bright, quiet place.",
      intro_geo: "We will also ask for your location to confirm your business address (you may decline).",
      consent: "I agree that this interview is recorded and used to review my loan application",
      start: "Start interview", retry: "Retry", connecting: "Connecting…",
      agree: "I agree / Confirm", decline: "I do not agree",
      reconnecting: "Connection lost, reconnecting…",
      unsupported_title: "Browser not supported", unsupported: "This browser cannot do video interviews. Open the link in your phone's own browser, or update your browser.",
      denied_title: "Camera and microphone needed", denied: "Allow this site to use the camera and microphone in your browser settings, then tap Retry.",
      nodevice_title: "No camera or microphone", nodevice: "Check that your device has a working camera and microphone that no other app is using.",
      link_title: "Link not usable", unknown_session: "This interview link is not valid. Please ask your loan officer for a new one.",
      session_expired: "This interview link has expired. Please ask your loan officer for a new one.", session_closed: "This interview has already finished.",
      busy_title: "Server busy", busy: "Many interviews are running right now. Retrying in {s} s.",
      budget_title: "Too many attempts", failure_budget_spent: "Too many failed attempts. Please try again in {m} minute(s).",
      elsewhere_title: "Open somewhere else", elsewhere: "This interview is already running on another page or device. Retrying in {s} s.",
      lost_title: "Disconnected", lost: "Cannot reach the server. Check your network and tap Retry.",
      done_title: "Interview complete", done: "Thank you! Your loan officer will tell you the result.",
      no_media: "The server received no picture or sound.",
      net_good: "Good network", net_fair: "Fair network", net_poor: "Poor network",
      g_ok: "Good, hold still", g_no_video: "No picture received", g_no_audio: "No sound received, check your microphone",
      g_no_face: "Put your face inside the oval", g_multiple_faces: "Only you should be in view", g_too_dark: "Too dark, please move to a brighter place",
      g_move_closer: "Please come a little closer", g_center_face: "Move your face to the centre", g_weak_network: "Weak network, move closer to your Wi-Fi or change place"
    }
  };

  var $ = function (id) { return document.getElementById(id); };
  var params = new URLSearchParams(location.search);
  var token = decodeURIComponent((location.hash || "").replace(/^#/, "")) || params.get("t") || "";
  var lang = params.get("lang") || "zh-CN";
  var codecPreference = params.get("codec");  // "h264" to prefer H.264 (test hook)
  var state = {
    phase: "intro", prompts: [], guidance: [], bitrate: null, errors: [], quality: "unknown", taps: [],
    connections: 0, peerId: null, done: false, sessionId: null
  };
  window.__interview = state;  // read by the browser tests

  var stream = null, pc = null, channel = null, peerId = null;
  var resumeKey = token ? sessionStorage.getItem("resume:" + token) : null;
  var iceServers = [], pendingCandidates = [], candidateTimer = null;
  var reconnectTimer = null, reconnectDelay = 1000, statsTimer = null, geoSent = null;
  var currentPrompt = null, currentBitrate = null;

  function t(key, vars) {
    var s = (TEXT[lang] && TEXT[lang][key]) || TEXT["zh-CN"][key] || key;
    Object.keys(vars || {}).forEach(function (k) { s = s.replace("{" + k + "}", vars[k]); });
    return s;
  }

  function applyLanguage() {
    document.documentElement.lang = lang;
    Array.prototype.forEach.call(document.querySelectorAll("[data-i18n]"), function (el) {
      el.textContent = t(el.getAttribute("data-i18n"));
    });
    $("lang").textContent = lang === "en" ? "中文" : "English";
    showPrompt(currentPrompt);
    showQuality(state.quality);
    if (state.guidance.length) showGuidance(state.guidance[state.guidance.length - 1]);
  }

  function message(titleKey, textKey, vars, retry) {
    $("message-title").textContent = t(titleKey);
    $("message-text").textContent = t(textKey, vars);
    $("retry").classList.toggle("hidden", !retry);
    $("message").classList.remove("hidden");
    if (!stream) { $("stage").classList.add("hidden"); $("intro").classList.add("hidden"); }
  }

  function clearMessage() { $("message").classList.add("hidden"); }

  function fail(code, detail) {
    state.errors.push(code + (detail ? ": " + detail : ""));
  }

  function showPrompt(p) {
    currentPrompt = p;
    // Scripted interviews: a confirmation is a tap *and* a spoken answer (server-side script).
    $("choices").classList.toggle("hidden", !(p && p.input === "tap_speak" && !p.tapped));
    if (!p) { $("prompt").textContent = ""; return; }
    $("prompt").textContent = (p.text && (p.text[lang] || p.text["zh-CN"])) || "";
  }

  function tap(choice) {
    if (!currentPrompt || currentPrompt.input !== "tap_speak") return;
    send({ type: "tap", step: currentPrompt.step, choice: choice });
    state.taps.push(currentPrompt.step + ":" + choice);
    currentPrompt.tapped = true;
    showPrompt(currentPrompt);
  }

  // A reviewer's text from the console's live watch: plain text only (never parsed as HTML).
  function showReviewerMessage(text) {
    if (typeof text !== "string" || !text) return;
    state.reviewerMessages = (state.reviewerMessages || []).concat([text.slice(0, 500)]);
    var el = $("reviewer-message");
    if (!el) {
      el = document.createElement("div");
      el.id = "reviewer-message";
      el.className = "reviewer-message";
      el.setAttribute("role", "status");
      $("stage").insertBefore(el, $("prompt"));
    }
    el.textContent = text.slice(0, 500);
  }

  function showGuidance(code) {
    var el = $("guidance");
    el.textContent = t("g_" + code);
    el.classList.toggle("ok", code === "ok");
    el.classList.remove("hidden");
  }

  function showQuality(q) {
    state.quality = q;
    $("net").className = "net net-" + q;
    $("net-label").textContent = q === "unknown" ? "" : t("net_" + q);
  }

  function supported() {
    return !!(window.RTCPeerConnection && navigator.mediaDevices && navigator.mediaDevices.getUserMedia &&
              window.fetch && window.Promise);
  }

  async function postJson(path, body, method) {
    var response = await fetch(path, {
      method: method || "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body), cache: "no-store", credentials: "omit"
    });
    var data = null;
    if (response.status !== 204) { try { data = await response.json(); } catch (e) { data = null; } }
    if (!response.ok) {
      var err = new Error((data && data.message) || ("HTTP " + response.status));
      err.status = response.status;
      err.code = data && data.code;
      err.retryAfter = parseInt(response.headers.get("Retry-After") || "0", 10);
      throw err;
    }
    return data;
  }

  // -- media ------------------------------------------------------------------------------------
  async function openCamera() {
    var constraints = {
      audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true, channelCount: 1 },
      video: { facingMode: "user", width: { ideal: 320, max: 480 }, height: { ideal: 240, max: 360 },
               frameRate: { ideal: 15, max: 15 } }
    };
    try {
      return await navigator.mediaDevices.getUserMedia(constraints);
    } catch (e) {
      if (e && e.name === "OverconstrainedError") {  // very old cameras: take what there is
        return navigator.mediaDevices.getUserMedia({ audio: true, video: { facingMode: "user" } });
      }
      throw e;
    }
  }

  function requestLocation() {
    if (!navigator.geolocation) { geoSent = { type: "geo_denied", reason: "unsupported" }; return; }
    navigator.geolocation.getCurrentPosition(function (pos) {
      geoSent = { type: "geo", latitude: pos.coords.latitude, longitude: pos.coords.longitude,
                  accuracy: pos.coords.accuracy, timestamp: pos.timestamp };
      send(geoSent);
    }, function (err) {
      geoSent = { type: "geo_denied", reason: err && err.code === 1 ? "denied" : "unavailable" };
      send(geoSent);
    }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
  }

  // -- signaling ----------------------------------------------------------------------------------
  function send(obj) {
    if (channel && channel.readyState === "open") {
      try { channel.send(JSON.stringify(obj)); return true; } catch (e) { return false; }
    }
    return false;
  }

  function flushCandidates() {
    candidateTimer = null;
    if (!peerId || !pendingCandidates.length) return;
    var batch = pendingCandidates.splice(0, 32);
    postJson("/v1/rtc/" + peerId + "/candidates", { resume_key: resumeKey, candidates: batch }, "PATCH")
      .catch(function (e) { fail("candidates", e.message); });
    if (pendingCandidates.length) candidateTimer = setTimeout(flushCandidates, 50);
  }

  function queueCandidate(c) {
    pendingCandidates.push(c ? { candidate: c.candidate, sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex }
                             : { candidate: null, sdpMid: null, sdpMLineIndex: null });
    if (!candidateTimer) candidateTimer = setTimeout(flushCandidates, 100);
  }

  function preferCodec(transceiver) {
    if (!codecPreference || !transceiver.setCodecPreferences || !window.RTCRtpReceiver ||
        !RTCRtpReceiver.getCapabilities) return;
    var caps = RTCRtpReceiver.getCapabilities("video");
    if (!caps) return;
    var wanted = codecPreference.toLowerCase();
    var first = caps.codecs.filter(function (c) { return c.mimeType.toLowerCase() === "video/" + wanted; });
    var rest = caps.codecs.filter(function (c) { return c.mimeType.toLowerCase() !== "video/" + wanted; });
    try { transceiver.setCodecPreferences(first.concat(rest)); } catch (e) { fail("codec", e.message); }
  }

  async function applyBitrate(cmd) {
    if (!pc) return;
    currentBitrate = cmd;
    var senders = pc.getSenders().filter(function (s) { return s.track && s.track.kind === "video"; });
    for (var i = 0; i < senders.length; i++) {
      var sender = senders[i];
      if (!sender.getParameters || !sender.setParameters) continue;
      var p = sender.getParameters();
      if (!p.encodings || !p.encodings.length) p.encodings = [{}];
      if (cmd.maxBitrate) p.encodings[0].maxBitrate = cmd.maxBitrate;
      if (cmd.scaleResolutionDownBy) p.encodings[0].scaleResolutionDownBy = cmd.scaleResolutionDownBy;
      if (cmd.maxFramerate) p.encodings[0].maxFramerate = cmd.maxFramerate;
      if (cmd.degradationPreference) p.degradationPreference = cmd.degradationPreference;
      try { await sender.setParameters(p); } catch (e) {
        try {  // older browsers reject degradationPreference: retry without it
          delete p.degradationPreference;
          await sender.setParameters(p);
        } catch (e2) { fail("setParameters", e2.message); }
      }
    }
  }

  function onControl(event) {
    var msg;
    try { msg = JSON.parse(event.data); } catch (e) { return; }
    if (!msg || typeof msg !== "object") return;
    if (msg.type === "welcome") {
      state.sessionId = msg.session;
    } else if (msg.type === "prompt") {
      state.prompts.push(msg.id);
      showPrompt(msg);
      if (msg.data && msg.data.request === "geolocation" && geoSent) send(geoSent);
    } else if (msg.type === "guidance") {
      state.guidance.push(msg.code);
      showGuidance(msg.code);
    } else if (msg.type === "bitrate") {
      state.bitrate = msg;
      if (msg.quality) showQuality(msg.quality);
      applyBitrate(msg);
    } else if (msg.type === "progress") {
      if (msg.total_s) $("progress-bar").style.width = Math.min(100, 100 * msg.elapsed_s / msg.total_s) + "%";
      if (msg.quality) showQuality(msg.quality);
    } else if (msg.type === "reviewer_message") {
      showReviewerMessage(msg.text);
    } else if (msg.type === "done") {
      finish();
    } else if (msg.type === "error") {
      fail(msg.code || "error", msg.message);
      if (msg.code === "no_media") showGuidance("no_video");
    }
  }

  function openChannel() {
    channel = pc.createDataChannel("control", { ordered: true });
    channel.onopen = function () {
      var settings = stream.getVideoTracks()[0] ? stream.getVideoTracks()[0].getSettings() : {};
      var tz = "";
      try { tz = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { tz = ""; }
      send({ type: "hello", lang: lang, ua: navigator.userAgent, timezone: tz,
             capture: { width: settings.width || 0, height: settings.height || 0, frameRate: settings.frameRate || 0 } });
      if (geoSent) send(geoSent);
      if (currentBitrate) applyBitrate(currentBitrate);
    };
    channel.onmessage = onControl;
  }

  async function sampleStats() {
    if (!pc || pc.connectionState === "closed") return;
    var report;
    try { report = await pc.getStats(); } catch (e) { return; }
    var out = { type: "stats" };
    report.forEach(function (s) {
      if (s.type === "outbound-rtp" && s.kind === "audio") out.audioPacketsSent = s.packetsSent;
      if (s.type === "outbound-rtp" && s.kind === "video") {
        out.videoFramesEncoded = s.framesEncoded; out.videoFramesSent = s.framesSent;
        out.videoBytesSent = s.bytesSent; out.videoWidth = s.frameWidth; out.videoHeight = s.frameHeight;
        out.qualityLimitation = s.qualityLimitationReason;
      }
      if (s.type === "outbound-rtp" && s.kind === "audio") out.audioBytesSent = s.bytesSent;
      if (s.type === "remote-inbound-rtp" && s.roundTripTime !== undefined) out.roundTripMs = s.roundTripTime * 1000;
      if (s.type === "candidate-pair" && s.nominated && s.availableOutgoingBitrate) out.availableOutgoingBitrate = s.availableOutgoingBitrate;
    });
    state.lastStats = out;
    send(out);
  }

  async function connect() {
    clearTimeout(reconnectTimer);
    if (state.done) return;
    state.phase = "connecting";
    if (pc) { try { pc.close(); } catch (e) { /* already closed */ } }
    peerId = null;
    pendingCandidates = [];
    pc = new RTCPeerConnection({ iceServers: iceServers, bundlePolicy: "max-bundle" });
    var myPc = pc;
    stream.getTracks().forEach(function (track) {
      var transceiver = pc.addTransceiver(track, { direction: "sendonly", streams: [stream] });
      if (track.kind === "video") preferCodec(transceiver);
    });
    openChannel();
    pc.onicecandidate = function (e) { if (myPc === pc) queueCandidate(e.candidate); };
    pc.onconnectionstatechange = function () {
      if (myPc !== pc) return;
      var s = pc.connectionState;
      if (s === "connected") {
        state.phase = "live"; state.connections += 1; reconnectDelay = 1000; clearMessage();
      } else if (s === "failed") {
        scheduleReconnect();
      } else if (s === "disconnected") {
        setTimeout(function () { if (myPc === pc && pc.connectionState !== "connected") scheduleReconnect(); }, 3000);
      }
    };
    var offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    var answer;
    try {
      answer = await postJson("/v1/rtc/offer", { token: token, sdp: pc.localDescription.sdp, type: "offer",
                                                 resume_key: resumeKey });
    } catch (e) {
      return handleSignalingError(e);
    }
    if (myPc !== pc) return;
    peerId = answer.peer_id; state.peerId = peerId;
    resumeKey = answer.resume_key;
    try { sessionStorage.setItem("resume:" + token, resumeKey); } catch (e) { /* private mode */ }
    await pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
    flushCandidates();
    clearInterval(statsTimer);
    statsTimer = setInterval(sampleStats, 2000);
  }

  function handleSignalingError(e) {
    fail(e.code || "signaling", e.message);
    if (e.status === 429 && e.code === "failure_budget_spent") {
      state.done = true;
      stopMedia();
      message("budget_title", "failure_budget_spent", { m: Math.max(1, Math.ceil((e.retryAfter || 60) / 60)) }, false);
    } else if (e.status === 503) {
      var s = e.retryAfter || 5;
      message("busy_title", "busy", { s: s }, false);
      reconnectTimer = setTimeout(connect, s * 1000);
    } else if (e.status === 409 && e.code === "already_connected") {
      message("elsewhere_title", "elsewhere", { s: 10 }, false);
      reconnectTimer = setTimeout(connect, 10000);
    } else if (e.status === 404 || e.status === 410 || e.status === 409) {
      state.done = true;
      stopMedia();
      message("link_title", e.code || "unknown_session", null, false);
    } else {
      scheduleReconnect();
    }
  }

  function scheduleReconnect() {
    if (state.done) return;
    state.phase = "reconnecting";
    $("prompt").textContent = t("reconnecting");
    showQuality("poor");
    clearTimeout(reconnectTimer);
    reconnectTimer = setTimeout(function () {
      connect().catch(function (e) { fail("reconnect", e.message); scheduleReconnect(); });
    }, reconnectDelay);
    reconnectDelay = Math.min(reconnectDelay * 2, 10000);
  }

  function stopMedia() {
    clearInterval(statsTimer);
    if (stream) stream.getTracks().forEach(function (track) { track.stop(); });
  }

  function finish() {
    state.done = true; state.phase = "done";
    clearTimeout(reconnectTimer);
    stopMedia();
    setTimeout(function () { if (pc) pc.close(); }, 500);
    try { sessionStorage.removeItem("resume:" + token); } catch (e) { /* ignore */ }
    $("stage").classList.add("hidden");
    message("done_title", "done", null, false);
  }

  async function start() {
    $("start").disabled = true;
    clearMessage();
    try {
      var info = await postJson("/v1/rtc/session", { token: token });
      iceServers = info.ice_servers || [];
      if (!params.get("lang") && info.locale) { lang = info.locale; applyLanguage(); }
    } catch (e) {
      fail(e.code || "session", e.message);
      if (e.status === 429 && e.code === "failure_budget_spent") {
        message("budget_title", "failure_budget_spent", { m: Math.max(1, Math.ceil((e.retryAfter || 60) / 60)) }, false);
      } else if (e.status === 404 || e.status === 410 || e.status === 409 || e.status === 400) {
        message("link_title", e.code === "invalid_request" ? "unknown_session" : (e.code || "unknown_session"), null, false);
      } else {
        message("lost_title", "lost", null, true);
        $("start").disabled = false;
      }
      return;
    }
    try {
      stream = await openCamera();
    } catch (e) {
      fail("camera", e && e.name);
      var denied = e && (e.name === "NotAllowedError" || e.name === "SecurityError");
      message(denied ? "denied_title" : "nodevice_title", denied ? "denied" : "nodevice", null, true);
      $("start").disabled = false;
      return;
    }
    $("preview").srcObject = stream;
    $("intro").classList.add("hidden");
    $("stage").classList.remove("hidden");
    $("prompt").textContent = t("connecting");
    requestLocation();
    try { await connect(); } catch (e) { fail("connect", e.message); scheduleReconnect(); }
  }

  // -- wiring -------------------------------------------------------------------------------------
  $("lang").addEventListener("click", function () { lang = lang === "en" ? "zh-CN" : "en"; applyLanguage(); });
  $("consent").addEventListener("change", function () { $("start").disabled = !this.checked; });
  $("agree").addEventListener("click", function () { tap("agree"); });
  $("decline").addEventListener("click", function () { tap("decline"); });
  $("start").addEventListener("click", function () { start(); });
  $("retry").addEventListener("click", function () {
    if (stream) { clearMessage(); connect().catch(function () { scheduleReconnect(); }); } else { start(); }
  });
  window.addEventListener("online", function () { if (state.phase === "reconnecting") { reconnectDelay = 500; scheduleReconnect(); } });
  window.addEventListener("pagehide", function () {
    if (peerId && resumeKey && !state.done && navigator.sendBeacon) {
      navigator.sendBeacon("/v1/rtc/" + peerId + "/hangup",
                           new Blob([JSON.stringify({ resume_key: resumeKey })], { type: "application/json" }));
    }
  });

  applyLanguage();
  if (!supported()) {
    state.phase = "unsupported";
    fail("unsupported");
    $("intro").classList.add("hidden");
    message("unsupported_title", "unsupported", null, false);
  } else if (!token) {
    state.phase = "no_token";
    $("intro").classList.add("hidden");
    message("link_title", "unknown_session", null, false);
  }
  if (params.get("autostart") === "1" && supported() && token) {  // kiosk / test hook
    $("consent").checked = true;
    start();
  }
})();
