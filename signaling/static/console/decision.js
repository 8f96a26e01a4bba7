// Approve / reject with a required note and an explicit confirm: from the queue that is
// row -> approve|reject -> confirm, three clicks (typing the note is not a click).
import { api, clear, el, explain, formatWhen } from './console.js';

const LABELS = { approve: 'Approve', reject: 'Reject' };

export function renderDecisions(list, decisions) {
  clear(list);
  (decisions || []).forEach((d) => list.append(el('li', {},
    el('span', { class: `decision decision-${d.decision}` }, d.decision), ` by ${d.author} · ${formatWhen(d.at)}`,
    d.note ? el('blockquote', {}, d.note) : null)));
}

/** Wire the decision panel for session `id`; `onDecided(result)` runs after a success;
 * `shownVerdict()` is the verdict id the page shows as current (sent with the decision, so
 * a decision made on a page someone else has decided on since is refused). */
export function setupDecision(id, onDecided, shownVerdict = () => null) {
  const form = document.getElementById('decision-form');
  const note = document.getElementById('decision-note');
  const error = document.getElementById('decision-error');
  const question = document.getElementById('decision-question');
  const confirm = document.getElementById('decision-confirm');
  const result = document.getElementById('decision-result');
  const buttons = { approve: document.getElementById('decide-approve'), reject: document.getElementById('decide-reject') };
  let chosen = null;

  function choose(decision) {
    chosen = decision;
    Object.entries(buttons).forEach(([k, b]) => b.setAttribute('aria-pressed', String(k === decision)));
    question.textContent = decision === 'approve'
      ? 'Approve: the applicant passes verification.'
      : 'Reject: the applicant fails verification.';
    confirm.textContent = `Confirm ${LABELS[decision].toLowerCase()}`;
    confirm.className = `primary ${decision}`;
    error.hidden = true;
    form.hidden = false;
    note.focus();
  }

  function cancel() {
    chosen = null;
    form.hidden = true;
    Object.values(buttons).forEach((b) => b.setAttribute('aria-pressed', 'false'));
  }

  buttons.approve.addEventListener('click', () => choose('approve'));
  buttons.reject.addEventListener('click', () => choose('reject'));
  document.getElementById('decision-cancel').addEventListener('click', cancel);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const text = note.value.trim();
    if (!chosen) return;
    if (!text) {
      error.textContent = 'A note is required: say what you checked and why.';
      error.hidden = false;
      note.focus();
      return;
    }
    confirm.disabled = true;
    try {
      const response = await api(`sessions/${encodeURIComponent(id)}/decision`,
        { method: 'POST', body: { decision: chosen, note: text, verdict_id: shownVerdict() } });
      form.hidden = true;
      note.value = '';
      Object.values(buttons).forEach((b) => { b.disabled = true; });
      const word = { approve: 'approved', pass: 'approved', reject: 'rejected' }[response.decision] || response.decision;
      result.textContent = `Decision recorded: ${word}. The loan system is notified (event ${response.event_id}).`;
      result.hidden = false;
      result.dataset.decision = response.decision;
      result.dataset.eventId = response.event_id;
      if (onDecided) await onDecided(response);
    } catch (err) {
      error.textContent = explain(err);
      error.hidden = false;
    } finally {
      confirm.disabled = false;
    }
  });
}
