// The page frame of a live watch (/console/live/<id>): sign-in check and header. The WebRTC
// receive, the evidence feed and the message box are wired by live_watch.js.
import { explain, initShell, requireUser, sessionIdFromPath, showStatus } from './console.js';

async function start() {
  initShell(await requireUser());
  document.getElementById('live-title').textContent = `Live interview ${sessionIdFromPath()}`;
}

start().catch((err) => showStatus(explain(err), 'error'));
