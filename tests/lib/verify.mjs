// Helpers for the identity-verification step 1 tests (issue 4, seed steps 6-11): reading the wizard's pages,
// the database (SQLite or PostgreSQL) and the codes mailed through the outbox (DEV /dev/mail viewer).
import assert from 'node:assert/strict';
import { elements, forms, startTags, textOf } from './harness.mjs';

export const P = '/ecmp/certrenewal';
export const STEP_LABELS = ['驗證帳戶', '驗證身份', '確認續期', '激活證書'];
export const CERT_LABELS = ['證書序號', '證書到期日', '證書狀態', '證書類型', '證書持有人', '電郵地址', '機構名稱',
  '部門/分部', '職務/職級/職位'];
export const QUALIFIED_LABELS = ['交易限額', '代理資格'];

/** Queries on a system's database (SQLite or PostgreSQL, through the harness), bounded; rows as objects.
    sql.dialect has the fragments that differ between the two. */
export function dbOf(sys) {
  const sql = (query) => sys.sql(query);
  sql.dialect = sys.dialect;
  return sql;
}
export const q = (s) => `'${String(s).replace(/'/g, "''")}'`;

const hasClass = (el, c) => (el.attrs.class || '').split(/\s+/).includes(c);

/** The csrf token carried by the page's forms (the logout form has it on every logged-in page). */
export function csrfOf(html) {
  const f = forms(html).find((x) => x.fields.csrf);
  assert.ok(f, 'the page has a form with a csrf token');
  return f.fields.csrf;
}

/** The certificate cards: { id, type, title, labels: [...], fields: {label: value} }. */
export function parseCerts(html) {
  return elements(html, 'article').filter((a) => hasClass(a, 'cert')).map((a) => {
    const dts = elements(a.inner, 'dt').map((d) => d.text);
    const dds = elements(a.inner, 'dd').map((d) => d.text);
    const fields = {};
    dts.forEach((l, i) => { fields[l] = dds[i]; });
    return { id: Number(a.attrs['data-cert']), type: a.attrs['data-type'], title: elements(a.inner, 'h3')[0]?.text,
      labels: dts, fields };
  });
}

/** The wizard header: [{ n, label, current, done }]. */
export function parseSteps(html) {
  const ol = elements(html, 'ol').find((o) => hasClass(o, 'steps'));
  if (!ol) return [];
  return elements(ol.inner, 'li').map((li) => ({
    n: Number(elements(li.inner, 'span').find((s) => hasClass(s, 'step-n'))?.text),
    label: elements(li.inner, 'span').find((s) => hasClass(s, 'step-label'))?.text,
    current: hasClass(li, 'current') && li.attrs['aria-current'] === 'step',
    done: hasClass(li, 'done'),
  }));
}

/** Asserts the header shows the four steps with `n` current (and the ones before done). */
export function assertStep(html, n, what = '') {
  const s = parseSteps(html);
  assert.deepEqual(s.map((x) => x.label), STEP_LABELS, `${what}: the four steps`);
  assert.deepEqual(s.filter((x) => x.current).map((x) => x.n), [n], `${what}: step ${n} is the current one`);
  assert.deepEqual(s.filter((x) => x.done).map((x) => x.n), Array.from({ length: n - 1 }, (_, i) => i + 1),
    `${what}: the steps before ${n} are done`);
}

/** The flash message: { text, ok } or null. */
export function flashOf(html) {
  const p = elements(html, 'p').find((x) => hasClass(x, 'flash'));
  return p ? { text: p.text, ok: hasClass(p, 'ok') } : null;
}

/** The address list of the emails page: [{ email, verified, href }]. */
export function emailRows(html) {
  return elements(html, 'li').filter((li) => hasClass(li, 'email-row')).map((li) => ({
    email: li.attrs['data-email'],
    text: li.text,
    verified: li.text.includes('已驗證'),
    href: startTags(li.inner, 'a').map((a) => a.href).find((h) => h && h.includes('/email?')) || null,
  }));
}

/** Does the page offer 「下一步」 (the emails/next form)? */
export const hasNext = (html) => forms(html).some((f) => f.attrs.action === `${P}/emails/next`);

/** The countdown of the email page: seconds (from data-seconds) or null. */
export function countdownOf(html) {
  const p = elements(html, 'p').find((x) => hasClass(x, 'countdown'));
  return p ? Number(p.attrs['data-seconds']) : null;
}

/** The message of an error page (<p class="message">) or ''. */
export function errorMessage(html) {
  return elements(html, 'p').find((x) => hasClass(x, 'message'))?.text || '';
}

/** The /dev/mail rows: { id, kind, to, subject, href }, newest first. */
export function mailRows(html) {
  return elements(html, 'tr').filter((tr) => tr.attrs['data-id']).map((tr) => {
    const a = elements(tr.inner, 'a')[0];
    return {
      id: Number(tr.attrs['data-id']),
      kind: tr.attrs['data-kind'],
      to: elements(tr.inner, 'td').find((td) => hasClass(td, 'to'))?.text,
      subject: a?.text,
      href: a?.attrs.href,
    };
  });
}

async function get(url) {
  const res = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(15_000) });
  res.html = await res.text();
  return res;
}

/**
 * The newest code mailed to `to`, read as a tester would: /dev/mail, then the decoded message.
 * Returns { id, code, body, subject, count } (count: code mails to that address).
 */
export async function readCode(base, to) {
  const list = await get(`${base}/dev/mail`);
  assert.equal(list.status, 200, 'GET /dev/mail');
  const rows = mailRows(list.html).filter((r) => r.kind === 'code' && r.to === to);
  assert.ok(rows.length > 0, `a code mail to ${to} is listed on /dev/mail`);
  const msg = await get(new URL(rows[0].href, base).toString());
  assert.equal(msg.status, 200, `GET ${rows[0].href}`);
  const body = elements(msg.html, 'pre').find((p) => hasClass(p, 'mail-body'))?.text || '';
  const m = /驗證碼 : (\d{6})\b/.exec(body);
  assert.ok(m, `the mail body has 「驗證碼 : NNNNNN」\n${body}`);
  return { id: rows[0].id, code: m[1], body, subject: elements(msg.html, 'h1')[0]?.text, count: rows.length };
}

/** A six-digit code that is not `code`. */
export const wrongCode = (code) => String((Number(code) + 1) % 1_000_000).padStart(6, '0');

/**
 * The step driven over HTTP by one logged-in jar. Each method returns the raw response (redirects not followed).
 */
export class Wizard {
  constructor(sys, jar) {
    this.sys = sys;
    this.jar = jar;
    this.csrf = null;
  }

  url(p) { return `${this.sys.base}${p}`; }

  async get(p) {
    const r = await this.jar.fetch(this.url(p));
    if (r.status === 200 && !this.csrf && /name="csrf"/.test(r.html)) this.csrf = csrfOf(r.html);
    return r;
  }

  post(p, form) { return this.jar.fetch(this.url(p), { form }); }

  /** GET the verify list; returns { res, set, certs }. */
  async list() {
    const res = await this.get(`${P}/verify`);
    assert.equal(res.status, 200, `GET ${P}/verify\n${res.html.slice(0, 400)}`);
    const f = forms(res.html).find((x) => x.attrs.action === `${P}/start`);
    return { res, set: f?.fields.set, certs: parseCerts(res.html), form: f };
  }

  /** 開始鑑別 from the list; returns the application id (asserts the redirect to consent). */
  async start() {
    const { set } = await this.list();
    assert.ok(set, 'the list carries the set');
    const r = await this.post(`${P}/start`, { csrf: this.csrf, set });
    assert.equal(r.status, 302, `POST start\n${r.html.slice(0, 400)}`);
    const u = new URL(r.location);
    assert.equal(u.pathname, `${P}/consent`, `start redirects to the consent (${r.location})`);
    return Number(u.searchParams.get('app'));
  }

  async consent(app) {
    const r = await this.post(`${P}/consent`, { csrf: this.csrf, app: String(app), agree: '1' });
    assert.equal(r.status, 302, `POST consent\n${r.html.slice(0, 400)}`);
    assert.equal(r.location, this.url(`${P}/emails?app=${app}`));
    return r;
  }

  send(app, i) { return this.post(`${P}/email/send`, { csrf: this.csrf, app: String(app), i: String(i) }); }

  check(app, i, code) {
    return this.post(`${P}/email/verify`, { csrf: this.csrf, app: String(app), i: String(i), code });
  }

  next(app) { return this.post(`${P}/emails/next`, { csrf: this.csrf, app: String(app) }); }

  /** The emails page's rows (asserts 200). */
  async emails(app) {
    const r = await this.get(`${P}/emails?app=${app}`);
    assert.equal(r.status, 200, `GET emails\n${r.html.slice(0, 400)}`);
    return { res: r, rows: emailRows(r.html), next: hasNext(r.html) };
  }

  /** 獲取驗證碼 then the code from /dev/mail. */
  async sendAndRead(app, i, to) {
    const r = await this.send(app, i);
    assert.equal(r.status, 302, `POST email/send\n${textOf(r.html).slice(0, 400)}`);
    assert.equal(r.location, this.url(`${P}/email?app=${app}&i=${i}&msg=code_sent`));
    return readCode(this.sys.base, to);
  }
}
