// The operator dashboard's script, served as it is (no build step). It calls only the operator API on this
// origin with the admin key the operator entered, which it keeps in sessionStorage (this tab only). Every value
// from the API reaches the page as text (textContent, attributes), never as markup.
'use strict';

const API = document.body.dataset.api;
const KEY_STORE = 'skiff.adminKey';
const POLL_MS = 2000;
const PAGE_SIZE = 25;
const RETRYABLE = ['failed', 'dead'];

const $ = (id) => document.getElementById(id);
const state = {
  key: sessionStorage.getItem(KEY_STORE),
  queues: [],
  statuses: [],
  // The job listing: which queue and status, the cursor of the page shown and those of the newer pages before it.
  list: { queue: null, status: 'failed', name: '', cursor: null, newer: [], next: null },
  detail: null, // { queue, id }
  rendered: { queues: '', jobs: '', detail: '' },
  timer: null,
};

class AuthError extends Error {}

// ---- the operator API ------------------------------------------------------------------------------------

async function call(method, path, body) {
  const headers = { 'x-api-key': state.key, accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(API + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' });
  const data = await res.json().catch(() => null);
  if (res.status === 401 || res.status === 403) throw new AuthError(data?.detail ?? 'The key was refused.');
  if (!res.ok) throw new Error(data?.detail ?? data?.title ?? `The API answered ${res.status}.`);
  return data;
}

const queuePath = (queue) => `/${encodeURIComponent(queue)}`;
const jobPath = (queue, id) => `${queuePath(queue)}/jobs/${encodeURIComponent(id)}`;

// ---- small DOM helpers -----------------------------------------------------------------------------------

function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'text') el.textContent = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  el.append(...children.filter((c) => c !== null && c !== undefined));
  return el;
}

/** Replaces a container's children and puts the focus back on the element that had it (same data-focus). */
function replace(container, ...children) {
  const focused = document.activeElement?.dataset?.focus;
  container.replaceChildren(...children);
  if (focused !== undefined) container.querySelector(`[data-focus="${CSS.escape(focused)}"]`)?.focus();
}

function say(text, isError = false) {
  const message = $('message');
  message.textContent = text;
  message.classList.toggle('error', isError);
}

function fail(err) {
  if (err instanceof AuthError) return signOut(err.message);
  say(err.message, true);
}

const when = (iso) => (iso === null ? '—' : new Date(iso).toLocaleString());
const ago = (ms) => (ms < 1000 ? `${ms} ms` : ms < 120_000 ? `${Math.round(ms / 1000)} s` : `${Math.round(ms / 60_000)} min`);
const json = (value) => (value === null || value === undefined ? '—' : JSON.stringify(value, null, 2));
const dedupeText = (dedupe) => (dedupe === null ? '—' : `${dedupe.mode}: ${dedupe.key}`);

function confirmAction(text, label) {
  const dialog = $('confirm');
  $('confirm-text').textContent = text;
  $('confirm-yes').textContent = label;
  return new Promise((resolve) => {
    const done = (answer) => {
      $('confirm-yes').removeEventListener('click', yes);
      $('confirm-no').removeEventListener('click', no);
      dialog.removeEventListener('close', no);
      if (dialog.open) dialog.close();
      resolve(answer);
    };
    const yes = () => done(true);
    const no = () => done(false);
    $('confirm-yes').addEventListener('click', yes);
    $('confirm-no').addEventListener('click', no);
    dialog.addEventListener('close', no); // Escape
    dialog.showModal();
    $('confirm-no').focus();
  });
}

// ---- sign in / out ---------------------------------------------------------------------------------------

function signOut(reason) {
  state.key = null;
  sessionStorage.removeItem(KEY_STORE);
  clearTimeout(state.timer);
  $('main').hidden = true;
  $('forget').hidden = true;
  $('login').hidden = false;
  $('key').value = '';
  $('key').focus();
  say(reason ?? 'Enter an admin key.', reason !== undefined);
}

async function signIn() {
  $('login').hidden = true;
  $('main').hidden = false;
  $('forget').hidden = false;
  say('Loading…');
  await tick();
}

// ---- queues ----------------------------------------------------------------------------------------------

function sparkline(throughput) {
  const NS = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(NS, 'svg');
  const w = throughput.length - 1 || 1;
  const top = Math.max(1, ...throughput.map((t) => Math.max(t.processed, t.failed)));
  const processed = throughput.reduce((n, t) => n + t.processed, 0);
  const failed = throughput.reduce((n, t) => n + t.failed, 0);
  svg.setAttribute('viewBox', `0 0 ${w} 20`);
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.setAttribute('class', 'spark');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', `Last hour: ${processed} processed, ${failed} failed (peak ${top} a minute)`);
  const line = (cls, points) => {
    const el = document.createElementNS(NS, cls === 'base' ? 'line' : 'polyline');
    el.setAttribute('class', cls);
    if (cls === 'base') Object.entries({ x1: 0, y1: 19.5, x2: w, y2: 19.5 }).forEach(([k, v]) => el.setAttribute(k, v));
    else el.setAttribute('points', points);
    svg.append(el);
  };
  const points = (field) => throughput.map((t, i) => `${i},${(19 - (t[field] / top) * 18).toFixed(2)}`).join(' ');
  line('base');
  line('processed', points('processed'));
  if (failed > 0) line('failed', points('failed'));
  return svg;
}

function renderQueues() {
  const view = JSON.stringify([state.queues, state.list.queue, state.list.status]);
  if (view === state.rendered.queues) return;
  state.rendered.queues = view;
  const head = h('tr', {}, h('th', { scope: 'col', text: 'Queue' }),
    ...state.statuses.map((s) => h('th', { scope: 'col', class: 'num', text: s.replace('_', ' ') })),
    h('th', { scope: 'col', text: 'Oldest waiting' }), h('th', { scope: 'col', text: 'Workers' }),
    h('th', { scope: 'col', text: 'Last hour' }), h('th', { scope: 'col', text: 'Actions' }));
  replace($('queues').tHead, head);
  replace($('queues').tBodies[0], ...state.queues.map((q) => h('tr', {},
    h('th', { scope: 'row' }, q.name, q.paused ? h('span', { class: 'tag', text: 'paused' }) : null),
    ...state.statuses.map((s) => {
      const n = q.counts[s];
      const selected = state.list.queue === q.name && state.list.status === s;
      return h('td', { class: 'num' }, h('button', {
        type: 'button', class: `count${n > 0 ? ' nonzero' : ''}${selected ? ' selected' : ''}`, text: String(n),
        'aria-label': `Show ${s.replace('_', ' ')} jobs of ${q.name} (${n})`, 'aria-pressed': String(selected),
        dataset: { focus: `count:${q.name}:${s}`, count: `${q.name}:${s}` },
        onclick: () => showList(q.name, s),
      }));
    }),
    h('td', { text: q.oldest_waiting_ms > 0 ? ago(q.oldest_waiting_ms) : '—' }),
    h('td', { title: q.workers.map((w) => `${w.consumer} (${w.host ?? '?'} pid ${w.pid ?? '?'}): ${w.running} running`).join('\n') || undefined, text: String(q.workers.length) }),
    h('td', {}, sparkline(q.throughput)),
    h('td', {}, h('div', { class: 'controls' },
      q.paused
        ? h('button', { type: 'button', text: 'Resume', 'aria-label': `Resume ${q.name}`, dataset: { focus: `pause:${q.name}` }, onclick: () => act(`${queuePath(q.name)}/resume`, () => `${q.name} resumed.`) })
        : h('button', { type: 'button', text: 'Pause', 'aria-label': `Pause ${q.name}`, dataset: { focus: `pause:${q.name}` }, onclick: () => act(`${queuePath(q.name)}/pause`, () => `${q.name} paused: workers start nothing new.`) }),
      h('button', { type: 'button', class: 'danger', text: 'Drain', 'aria-label': `Drain ${q.name}`, dataset: { focus: `drain:${q.name}` }, onclick: () => drain(q) }),
    )),
  )));
}

async function drain(q) {
  const waiting = q.counts.queued + q.counts.waiting + q.counts.deferred + q.counts.retrying;
  if (!(await confirmAction(`Delete every waiting job of ${q.name} (about ${waiting}: queued, waiting on their group, deferred and retrying)? Running jobs go on.`, 'Delete waiting jobs'))) return;
  await repeat(`${queuePath(q.name)}/drain`, {}, 'deleted', (n) => `${n} waiting jobs of ${q.name} deleted.`);
}

async function retryAll() {
  const { queue, status } = state.list;
  const n = state.queues.find((q) => q.name === queue)?.counts[status] ?? 0;
  if (!(await confirmAction(`Retry every ${status} job of ${queue} (about ${n})?`, 'Retry all'))) return;
  await repeat(`${queuePath(queue)}/retry`, { status }, 'retried', (count) => `${count} ${status} jobs of ${queue} queued again.`);
}

/** A bulk action the API does in bounded batches: call again while it says some remain. */
async function repeat(path, body, field, message) {
  let total = 0;
  try {
    for (let round = 0; round < 1000; round++) {
      const answer = await call('POST', path, body);
      total += answer[field];
      if (answer.remaining === 0 || answer[field] === 0) break;
    }
    say(message(total));
  } catch (err) {
    fail(err);
  }
  await tick();
}

async function act(path, message, method = 'POST') {
  try {
    const answer = await call(method, path);
    say(message(answer));
  } catch (err) {
    fail(err);
  }
  await tick();
}

// ---- jobs by status --------------------------------------------------------------------------------------

function showList(queue, status) {
  Object.assign(state.list, { queue, status, cursor: null, newer: [] });
  renderQueues();
  refreshList().then(() => $('jobs').scrollIntoView({ block: 'nearest' }));
}

function syncControls() {
  const { queue, status, name } = state.list;
  const fill = (select, values, current) => {
    if ([...select.options].map((o) => o.value).join() !== values.join()) select.replaceChildren(...values.map((v) => h('option', { value: v, text: v.replace('_', ' ') })));
    select.value = current;
  };
  fill($('job-queue'), state.queues.map((q) => q.name), queue);
  fill($('job-status'), state.statuses, status);
  if (document.activeElement !== $('job-name')) $('job-name').value = name;
  $('retry-all').hidden = !RETRYABLE.includes(status);
  $('retry-all').textContent = `Retry all ${status}`;
}

async function refreshList() {
  const { queue, status, name, cursor } = state.list;
  if (queue === null) return;
  syncControls();
  const query = new URLSearchParams({ status, limit: String(PAGE_SIZE) });
  if (name !== '') query.set('name', name);
  if (cursor !== null) query.set('cursor', cursor);
  let page;
  try {
    page = await call('GET', `${queuePath(queue)}/jobs?${query}`);
  } catch (err) {
    return fail(err);
  }
  state.list.next = page.next_cursor;
  renderList(page.jobs);
}

function renderList(jobs) {
  const { queue, status, newer, next } = state.list;
  $('newer').disabled = newer.length === 0;
  $('older').disabled = next === null;
  const view = JSON.stringify([queue, status, jobs, state.detail]);
  if (view === state.rendered.jobs) return;
  state.rendered.jobs = view;
  const page = newer.length + 1;
  $('jobs-caption').textContent = `${status.replace('_', ' ')} jobs of ${queue}, newest first — page ${page}${jobs.length === 0 ? ' (none)' : ''}. Enter or click a row for its detail.`;
  replace($('jobs').tBodies[0], ...jobs.map((job, i) => {
    const open = () => openDetail(queue, job.id);
    const row = h('tr', {
      tabindex: '0', class: state.detail?.id === job.id ? 'open' : undefined, 'aria-label': `Job ${job.id}, ${job.name}, ${job.status}`,
      dataset: { focus: `job:${job.id}`, job: job.id },
      onclick: open,
      onkeydown: (e) => {
        if (e.key === 'Enter' || e.key === ' ') {
          e.preventDefault();
          open();
        } else if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
          e.preventDefault();
          (e.key === 'ArrowDown' ? row.nextElementSibling : row.previousElementSibling)?.focus();
        }
      },
    },
    h('td', { class: 'mono', text: job.id }),
    h('td', { text: job.name }),
    h('td', { class: `status-${job.status}`, text: job.status.replace('_', ' ') }),
    h('td', { class: `priority-${job.priority}`, text: job.priority }),
    h('td', { class: 'key', title: job.group ?? undefined, text: job.group ?? '—' }),
    h('td', { class: 'key', title: job.dedupe === null ? undefined : dedupeText(job.dedupe), text: dedupeText(job.dedupe) }),
    h('td', { class: 'num', text: `${job.attempt} / ${job.max_tries}` }),
    h('td', { text: when(job.entered_at) }),
    h('td', { class: 'error-text', text: job.error ?? '' }));
    row.setAttribute('aria-rowindex', String(i + 2));
    return row;
  }));
}

// ---- one job ---------------------------------------------------------------------------------------------

async function openDetail(queue, id) {
  state.detail = { queue, id };
  state.rendered.detail = '';
  await refreshDetail();
  if (state.detail !== null) $('detail-title').focus();
}

async function refreshDetail() {
  if (state.detail === null) return;
  const { queue, id } = state.detail;
  let job;
  try {
    job = await call('GET', jobPath(queue, id));
  } catch (err) {
    closeDetail();
    return fail(err);
  }
  if (state.detail?.id !== id) return;
  renderDetail(queue, job);
}

function closeDetail() {
  const id = state.detail?.id;
  state.detail = null;
  state.rendered.detail = '';
  $('detail').hidden = true;
  document.querySelector(`#jobs tr[data-job="${CSS.escape(id ?? '')}"]`)?.focus();
}

function renderDetail(queue, job) {
  const view = JSON.stringify(job);
  if (view === state.rendered.detail) return;
  state.rendered.detail = view;
  $('detail').hidden = false;
  $('detail-title').textContent = `Job ${job.id} (${job.name}) in ${queue}`;
  const fields = [
    ['Status', job.status.replace('_', ' ') + (job.dead ? ' (dead letter)' : ''), 'status'], ['Attempt', `${job.attempt} of ${job.max_tries}`],
    ['Enqueued', when(job.enqueued_at)], ['Scheduled for', when(job.scheduled_for)],
    ['Started', when(job.started_at)], ['Finished', when(job.finished_at)],
    ['Progress', job.progress === null ? '—' : String(job.progress)], ['Owner', job.owner ?? '—'],
    ['Priority', job.priority, 'priority'],
    ['Group', job.group === null ? '—' : `${job.group} (at most ${job.group_concurrency} at once)`, 'group'],
    // Whether the key still resolves to this job: it lets go when the job starts (debounce) or ends, or when
    // another job held it as this one was retried.
    ['Dedupe key', job.dedupe === null ? '—' : `${dedupeText(job.dedupe)} (${job.holds_dedupe ? 'resolves to this job' : 'resolves to it no more'})`, 'dedupe'],
  ];
  $('detail-fields').replaceChildren(...fields.flatMap(([k, v, field]) => [h('dt', { text: k }), h('dd', {
    text: v, class: field === 'status' ? `status-${job.status}` : undefined, dataset: field === undefined ? undefined : { field },
  })]));
  $('detail-payload').textContent = json(job.payload);
  $('detail-result').textContent = json(job.result);
  $('detail-error-pane').hidden = job.error === null;
  // The stack repeats the message on its first line only when the handler threw an Error.
  $('detail-error').textContent = job.error !== null && job.stack?.includes(job.error) ? job.stack : [job.error, job.stack].filter((x) => x !== null).join('\n\n');
  replace($('detail-attempts'), ...job.attempts.map((a) => h('li', { class: `outcome-${a.outcome}` },
    h('strong', { text: `Attempt ${a.attempt}: ${a.outcome}` }),
    ` — ${a.worker ?? 'no worker'}, ${when(a.started_at)} → ${a.ended_at === null ? 'now' : when(a.ended_at)}`,
    a.started_at !== null && a.ended_at !== null ? ` (${ago(Date.parse(a.ended_at) - Date.parse(a.started_at))})` : '')));
  if (job.attempts.length === 0) $('detail-attempts').replaceChildren(h('li', { text: 'Not started yet.' }));
  $('detail-logs').tBodies[0].replaceChildren(...(job.logs.length === 0
    ? [h('tr', {}, h('td', { colspan: '4', text: 'No log lines.' }))]
    : job.logs.map(({ t, level, msg, ...rest }) => h('tr', {},
      h('td', { text: typeof t === 'number' || typeof t === 'string' ? when(new Date(t).toISOString()) : '—' }),
      h('td', { class: `level-${level}`, text: String(level ?? '') }),
      h('td', { text: String(msg ?? '') }),
      h('td', { class: 'mono', text: Object.keys(rest).length === 0 ? '' : JSON.stringify(rest) })))));
  const applies = {
    retry: job.status === 'failed' || job.dead,
    abort: ['queued', 'deferred', 'retrying', 'in_progress'].includes(job.status),
    promote: job.status === 'deferred' || job.status === 'retrying',
    delete: job.status !== 'in_progress',
  };
  for (const button of $('detail-actions').querySelectorAll('[data-action]')) button.disabled = !applies[button.dataset.action];
}

async function jobAction(action) {
  if (state.detail === null) return;
  const { queue, id } = state.detail;
  if (action === 'delete' && !(await confirmAction(`Delete job ${id} and its record?`, 'Delete job'))) return;
  const path = action === 'delete' ? jobPath(queue, id) : `${jobPath(queue, id)}/${action}`;
  const done = {
    retry: (a) => (a.retried === 1 ? `Job ${id} queued again.` : `Job ${id} was not failed: nothing to retry.`),
    abort: (a) => (a.aborted === 1 ? `Job ${id} aborted.` : a.aborting === 1 ? `Job ${id} is being stopped.` : `Job ${id} had finished: nothing to abort.`),
    promote: (a) => (a.promoted === 1 ? `Job ${id} queued to run now.` : `Job ${id} was not waiting on a date.`),
    delete: (a) => (a.deleted === 1 ? `Job ${id} deleted.` : a.running === 1 ? `Job ${id} is running: abort it first.` : `Job ${id} was already gone.`),
  }[action];
  await act(path, done, action === 'delete' ? 'DELETE' : 'POST');
  if (action === 'delete' && !document.querySelector('#message.error')) closeDetail();
}

// ---- polling ---------------------------------------------------------------------------------------------

async function tick() {
  clearTimeout(state.timer);
  if (state.key === null) return;
  try {
    const { queues } = await call('GET', '');
    state.queues = queues;
    state.statuses = queues.length > 0 ? Object.keys(queues[0].counts) : [];
    if (state.list.queue === null || !queues.some((q) => q.name === state.list.queue)) state.list.queue = queues[0]?.name ?? null;
    renderQueues();
    if ($('message').textContent === 'Loading…') say(`${queues.length} queue${queues.length === 1 ? '' : 's'}.`);
    // Only the newest page follows the queue live: an older one would shift under the reader.
    if (state.list.newer.length === 0 || state.rendered.jobs === '') await refreshList();
    await refreshDetail();
  } catch (err) {
    fail(err);
  }
  if (state.key !== null) state.timer = setTimeout(tick, POLL_MS);
}

// ---- wiring ----------------------------------------------------------------------------------------------

$('login').addEventListener('submit', (e) => {
  e.preventDefault();
  state.key = $('key').value.trim();
  if (state.key === '') return;
  sessionStorage.setItem(KEY_STORE, state.key);
  signIn();
});
$('forget').addEventListener('click', () => signOut());
$('job-queue').addEventListener('change', (e) => showList(e.target.value, state.list.status));
$('job-status').addEventListener('change', (e) => showList(state.list.queue, e.target.value));
$('job-name').addEventListener('change', (e) => {
  state.list.name = e.target.value.trim();
  showList(state.list.queue, state.list.status);
});
$('retry-all').addEventListener('click', retryAll);
$('newer').addEventListener('click', () => {
  state.list.cursor = state.list.newer.pop() ?? null;
  refreshList();
});
$('older').addEventListener('click', () => {
  if (state.list.next === null) return;
  state.list.newer.push(state.list.cursor);
  state.list.cursor = state.list.next;
  refreshList();
});
$('find').addEventListener('submit', (e) => {
  e.preventDefault();
  if (state.list.queue !== null) openDetail(state.list.queue, $('find-id').value.trim());
});
$('detail-close').addEventListener('click', closeDetail);
for (const button of $('detail-actions').querySelectorAll('[data-action]')) button.addEventListener('click', () => jobAction(button.dataset.action));

if (state.key === null) signOut();
else signIn();
