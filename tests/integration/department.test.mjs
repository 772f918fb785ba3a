// Department coordinator's page (SPEC R2.1, R2.3; issue 3): a coordinator sees and decides only their own
// organisation's expiring certificates, one by one or in bulk; forged ids, missing CSRF tokens and other
// roles change nothing. The database is read (sys.sql: SQLite or PostgreSQL) to check what really changed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startSystem, CookieJar, login, forms, elements, startTags, run, CERTRENEW, WONG, CHAN, LEI, TEST_TIMEOUT,
} from '../lib/harness.mjs';
import { dueHolders, demoPerson } from '../lib/demo.mjs';

let sys;
before(async () => {
  sys = await startSystem();
}, { timeout: 120_000 });
// stop() throws on a crash or a sanitizer report, which fails this file.
after(async () => { if (sys) await sys.stop(); });

const T = { timeout: TEST_TIMEOUT };
const CTT_NAME = 'Direccao dos Servicos de Correios e Telecomunicacoes';
/** renewal.horizon_days by default (src/config/config.c): what a coordinator decides on. */
const HORIZON_DAYS = 60;

/** Runs SQL on the portal's database (bounded); returns the rows as objects. */
const sql = (query) => sys.sql(query);
const q = (s) => `'${String(s).replace(/'/g, "''")}'`;

function certsOf(sub) {
  return sql(`SELECT c.id, c.serial_hex AS serial, c.type, coalesce(f.decision, '') AS decision, f.decided_by
    FROM certificates c JOIN people p ON p.id = c.holder_id LEFT JOIN confirmations f ON f.cert_id = c.id
    WHERE p.govid_sub = ${q(sub)} ORDER BY c.id`);
}
const personId = (sub) => sql(`SELECT id FROM people WHERE govid_sub = ${q(sub)}`)[0].id;

/** Everything a decision could touch: the confirmations and the audit log. */
function snapshot() {
  return {
    confirmations: sql('SELECT cert_id, decision, decided_by, decided_at FROM confirmations ORDER BY cert_id'),
    audit: sql('SELECT count(*) AS n, coalesce(max(id), 0) AS last FROM audit_log WHERE action NOT IN (\'login\', \'logout\')')[0],
  };
}

/** The table rows of the department page: { id, state, holder, type, typeLabel, serial, expiry, decision, form }. */
function parseRows(html) {
  return elements(html, 'tr').filter((tr) => tr.attrs['data-cert']).map((tr) => {
    const td = elements(tr.inner, 'td');
    const cell = (cls) => td.find((c) => (c.attrs.class || '').split(/\s+/).includes(cls));
    const rowForm = forms(tr.inner)[0];
    return {
      id: Number(tr.attrs['data-cert']),
      state: tr.attrs['data-state'],
      holder: cell('holder')?.text,
      type: cell('type')?.attrs['data-type'],
      typeLabel: cell('type')?.text,
      serial: cell('serial')?.text,
      expiry: cell('expiry')?.text,
      decision: cell('decision')?.text,
      checkbox: startTags(tr.inner, 'input').find((i) => i.type === 'checkbox'),
      form: rowForm,
      buttons: rowForm ? startTags(rowForm.inner, 'button') : [],
    };
  });
}

function bulkCsrf(html) {
  const f = forms(html).find((x) => x.attrs.id === 'bulk');
  assert.ok(f, 'the page has the bulk form');
  assert.equal(f.attrs.action, '/department/decide');
  assert.equal((f.attrs.method || '').toLowerCase(), 'post');
  assert.ok(f.fields.csrf, 'the bulk form carries the csrf token');
  return f.fields.csrf;
}

async function coordinator() {
  const jar = new CookieJar();
  await login(jar, LEI.sub, sys.base);
  const page = await jar.fetch(`${sys.base}/department`);
  assert.equal(page.status, 200, `GET /department as coordinator\n${page.html.slice(0, 500)}`);
  return { jar, page, csrf: bulkCsrf(page.html) };
}

const decide = (jar, form) => jar.fetch(`${sys.base}/department/decide`, { form });

function assertRefused(res, status, what) {
  assert.equal(res.status, status, `${what}: status\n${res.html.slice(0, 400)}`);
  assert.equal(res.location, null, `${what}: no redirect`);
}

test('no session: the page redirects to the start page, a post is refused', T, async () => {
  const anon = new CookieJar();
  const res = await anon.fetch(`${sys.base}/department`);
  assert.equal(res.status, 302);
  assert.equal(new URL(res.location).pathname, '/');
  const before = snapshot();
  const wong = certsOf(WONG.sub);
  const post = await decide(anon, { decision: 'declined', cert: String(wong[0].id) });
  assertRefused(post, 403, 'POST without a session');
  assert.deepEqual(snapshot(), before, 'nothing changed');
});

test('a holder gets 403 on the page and on a post, and has no department tile', T, async () => {
  const jar = new CookieJar();
  await login(jar, WONG.sub, sys.base);
  const home = await jar.fetch(`${sys.base}/home`);
  assert.equal(home.status, 200);
  assert.ok(!startTags(home.html, 'a').some((a) => a.href === '/department'), 'no /department link for a holder');
  const res = await jar.fetch(`${sys.base}/department`);
  assert.equal(res.status, 403);
  assert.match(res.html, /此頁面只供部門確認人員使用/);

  // Even with his own valid CSRF token (from the logout form), a holder cannot decide.
  const csrf = forms(home.html).find((f) => f.attrs.action === '/logout').fields.csrf;
  const before = snapshot();
  const post = await decide(jar, { csrf, decision: 'declined', cert: String(certsOf(WONG.sub)[0].id) });
  assertRefused(post, 403, 'holder POST');
  assert.deepEqual(snapshot(), before, 'nothing changed');
});

test('the coordinator sees their organisation\'s certificates and no other', T, async () => {
  const jar = new CookieJar();
  await login(jar, LEI.sub, sys.base);
  const home = await jar.fetch(`${sys.base}/home`);
  const tile = elements(home.html, 'a').find((a) => a.attrs.href === '/department');
  assert.ok(tile, 'the coordinator\'s home has a /department tile');
  assert.match(tile.text, /部門確認續期/);

  const page = await jar.fetch(`${sys.base}/department`);
  assert.equal(page.status, 200);
  assert.match(elements(page.html, 'h1')[0].text, /部門確認續期/);
  assert.ok(page.html.includes(CTT_NAME), 'the organisation\'s name is shown');
  const rows = parseRows(page.html);
  // LEI coordinates CTT: the page holds exactly the certificates of CTT's demo holders within the horizon
  // (derived from demo/people.json), among them WONG's; none of another organisation's (CHAN is DSF).
  const lei = demoPerson(LEI.sub);
  const mine = dueHolders({ org: lei.org, windowDays: HORIZON_DAYS });
  assert.ok(mine.some((h) => h.sub === WONG.sub), 'WONG is one of them');
  const expected = mine.flatMap((h) => certsOf(h.sub).map((c) => ({ ...c, holder: h.name })));
  assert.equal(expected.length, mine.reduce((n, h) => n + h.certificates.length, 0), 'the demo certificates are loaded');
  const wong = certsOf(WONG.sub);
  assert.equal(wong.length, demoPerson(WONG.sub).certificates.length);
  const others = dueHolders({ windowDays: HORIZON_DAYS }).filter((h) => h.org !== lei.org);
  assert.ok(others.some((h) => h.sub === CHAN.sub), 'CHAN is of another organisation');
  assert.deepEqual(rows.map((r) => r.id).sort((a, b) => a - b), expected.map((c) => c.id).sort((a, b) => a - b),
    `exactly the certificates of ${mine.map((h) => h.name).join(', ')}`);
  for (const h of others) {
    for (const c of certsOf(h.sub)) assert.ok(!page.html.includes(c.serial), `${h.name}'s serial ${c.serial} is not on the page`);
    assert.ok(!page.html.includes(h.name), `${h.name} is not on the page`);
  }
  const labels = { qualified: '政府機關合格證書', encryption: '政府機關加密證書', cloudsign: '政府“雲簽”帳戶' };
  for (const r of rows) {
    const c = expected.find((x) => x.id === r.id);
    assert.equal(r.holder, c.holder);
    assert.equal(r.type, c.type);
    assert.equal(r.typeLabel, labels[c.type]);
    assert.equal(r.serial, c.serial);
    assert.match(r.expiry, /^\d{4}-\d{2}-\d{2}$/);
    assert.equal(r.state, 'confirmed', 'demo data is confirmed');
    assert.equal(r.decision, '已確認');
    assert.equal(r.checkbox?.name, `sel_${r.id}`);
    assert.equal(r.checkbox?.form, 'bulk');
    assert.equal(r.form?.fields.cert, String(r.id));
    assert.ok(r.form?.fields.csrf);
    assert.deepEqual(r.buttons.map((b) => `${b.name}=${b.value}`), ['decision=confirmed', 'decision=declined']);
  }
  assert.ok(page.html.includes('確認續期') && page.html.includes('不續期'), 'the buttons\' labels');
});

test('confirming one certificate by its row button records it and audits it', T, async () => {
  const wong = certsOf(WONG.sub);
  const target = wong[0];
  // Make it undecided first, so the page shows 待確認 and the confirmation row is really written.
  sql(`DELETE FROM confirmations WHERE cert_id = ${target.id}`);
  const { jar, page } = await coordinator();
  const row = parseRows(page.html).find((r) => r.id === target.id);
  assert.equal(row.state, 'pending');
  assert.equal(row.decision, '待確認');

  const lei = personId(LEI.sub);
  const auditBefore = snapshot().audit;
  const res = await decide(jar, { ...row.form.fields, decision: 'confirmed' });
  assert.equal(res.status, 302, res.html.slice(0, 400));
  const loc = new URL(res.location);
  assert.equal(loc.pathname, '/department');
  assert.equal(loc.searchParams.get('done'), '1');

  const after = certsOf(WONG.sub).find((c) => c.id === target.id);
  assert.equal(after.decision, 'confirmed');
  assert.equal(after.decided_by, `person:${lei}`);
  const audit = sql(`SELECT actor, action, object, ip, detail FROM audit_log WHERE id > ${auditBefore.last} AND action NOT IN ('login', 'logout') ORDER BY id`);
  assert.deepEqual(audit, [{ actor: `person:${lei}`, action: 'confirm', object: `cert:${target.id}`, ip: '127.0.0.1', detail: '' }]);

  const shown = await jar.fetch(res.location);
  assert.equal(shown.status, 200);
  assert.equal(parseRows(shown.html).find((r) => r.id === target.id).decision, '已確認');
  const flash = elements(shown.html, 'p').find((p) => (p.attrs.class || '').includes('flash'));
  assert.ok(flash, 'a result message');
  assert.match(flash.text, /已確認續期之證書數目：\s*1/);
});

test('declining in bulk with two sel_ fields declines both, with one audit row each', T, async () => {
  const wong = certsOf(WONG.sub);
  const [a, b, c] = wong;
  const { jar, csrf } = await coordinator();
  const auditBefore = snapshot().audit;
  const res = await decide(jar, { csrf, decision: 'declined', [`sel_${a.id}`]: '1', [`sel_${b.id}`]: '1' });
  assert.equal(res.status, 302, res.html.slice(0, 400));
  assert.equal(new URL(res.location).searchParams.get('done'), '2');
  const now = certsOf(WONG.sub);
  assert.equal(now.find((x) => x.id === a.id).decision, 'declined');
  assert.equal(now.find((x) => x.id === b.id).decision, 'declined');
  assert.equal(now.find((x) => x.id === c.id).decision, c.decision, 'the unticked one is unchanged');
  const audit = sql(`SELECT action, object FROM audit_log WHERE id > ${auditBefore.last} AND action NOT IN ('login', 'logout') ORDER BY id`);
  assert.deepEqual(audit.map((r) => r.action), ['decline', 'decline']);
  assert.deepEqual(audit.map((r) => r.object).sort(), [`cert:${a.id}`, `cert:${b.id}`].sort());

  const shown = await jar.fetch(res.location);
  const rows = parseRows(shown.html);
  assert.equal(rows.find((r) => r.id === a.id).decision, '已拒絕');
  assert.equal(rows.find((r) => r.id === b.id).decision, '已拒絕');
  assert.match(shown.html, /已設定為不續期之證書數目：\s*<strong[^>]*>2</);
});

test('a forged id of another organisation is refused, logged, and changes nothing', T, async () => {
  const { jar, csrf } = await coordinator();
  const chan = certsOf(CHAN.sub);
  const wong = certsOf(WONG.sub);
  const lei = personId(LEI.sub);
  const before = snapshot();

  const single = await decide(jar, { csrf, decision: 'declined', cert: String(chan[0].id) });
  assertRefused(single, 403, 'CHAN\'s certificate by row form');
  assert.match(single.html, /不屬於貴機構/);
  assert.deepEqual(snapshot(), before, 'nothing changed (single)');

  // Mixed with a legitimate id: the legitimate one comes first, and is rolled back too.
  const mixed = await decide(jar, {
    csrf, decision: 'declined', [`sel_${wong[2].id}`]: '1', [`sel_${chan[0].id}`]: '1',
  });
  assertRefused(mixed, 403, 'bulk with CHAN\'s certificate');
  assert.deepEqual(snapshot(), before, 'nothing changed (mixed bulk)');
  assert.deepEqual(certsOf(CHAN.sub), chan, 'CHAN\'s certificates untouched');

  // Ids that do not exist at all are refused the same way.
  const unknown = await decide(jar, { csrf, decision: 'confirmed', cert: '999999' });
  assertRefused(unknown, 403, 'unknown id');
  assert.deepEqual(snapshot(), before, 'nothing changed (unknown id)');

  const log = sys.portal.output;
  assert.ok(log.includes(`coordinator person ${lei}`) && log.includes(`refused certificate ${chan[0].id}`),
    `the refusal is logged with the coordinator and the id\n${log.split('\n').filter((l) => /dept/.test(l)).join('\n')}`);
});

test('a missing or wrong CSRF token is refused and changes nothing', T, async () => {
  const { jar, csrf } = await coordinator();
  const wong = certsOf(WONG.sub);
  const before = snapshot();
  const bad = `${csrf[0] === 'A' ? 'B' : 'A'}${csrf.slice(1)}`;
  for (const [what, form] of [
    ['no csrf', { decision: 'confirmed', cert: String(wong[1].id) }],
    ['empty csrf', { csrf: '', decision: 'confirmed', cert: String(wong[1].id) }],
    ['wrong csrf', { csrf: bad, decision: 'confirmed', [`sel_${wong[1].id}`]: '1' }],
  ]) {
    assertRefused(await decide(jar, form), 403, what);
  }
  // Another coordinator session's token does not work either.
  const other = await coordinator();
  if (other.csrf !== csrf) {
    assertRefused(await decide(jar, { csrf: other.csrf, decision: 'confirmed', cert: String(wong[1].id) }), 403, 'other session');
  }
  assert.deepEqual(snapshot(), before, 'nothing changed');
});

test('malformed forms are refused; an empty selection gets a clear message', T, async () => {
  const { jar, csrf } = await coordinator();
  const id = String(certsOf(WONG.sub)[1].id);
  const before = snapshot();
  for (const [what, form] of [
    ['signed id', { csrf, decision: 'confirmed', cert: `+${id}` }],
    ['negative id', { csrf, decision: 'confirmed', cert: `-${id}` }],
    ['leading zero', { csrf, decision: 'confirmed', cert: `0${id}` }],
    ['zero', { csrf, decision: 'confirmed', cert: '0' }],
    ['exponent', { csrf, decision: 'confirmed', cert: `${id}e0` }],
    ['spaces', { csrf, decision: 'confirmed', cert: ` ${id}` }],
    ['over 2^53', { csrf, decision: 'confirmed', cert: '9007199254740993' }],
    ['huge', { csrf, decision: 'confirmed', cert: '99999999999999999999999' }],
    ['bad sel name', { csrf, decision: 'confirmed', sel_x1: '1' }],
    ['bad sel value', { csrf, decision: 'confirmed', [`sel_${id}`]: 'on' }],
    ['unknown decision', { csrf, decision: 'maybe', cert: id }],
    ['no decision', { csrf, cert: id }],
  ]) {
    const res = await decide(jar, form);
    assertRefused(res, 400, what);
  }
  assert.deepEqual(snapshot(), before, 'nothing changed');

  const empty = await decide(jar, { csrf, decision: 'confirmed' });
  assert.equal(empty.status, 302);
  const shown = await jar.fetch(empty.location);
  assert.equal(shown.status, 200);
  const flash = elements(shown.html, 'p').find((p) => (p.attrs.class || '').includes('flash'));
  assert.ok(flash, 'a message for the empty selection');
  assert.match(flash.text, /^未選取任何證書/);
  assert.ok(!flash.inner.includes('flash-count'), 'no count in an error message');
  assert.deepEqual(snapshot(), before, 'nothing changed (empty selection)');
});

test('query parameters are never reflected; holder names are escaped', T, async () => {
  const { jar } = await coordinator();
  const res = await jar.fetch(`${sys.base}/department?error=%3Cscript%3Ex&done=%3Cb%3E&decision=%3Ci%3E`);
  assert.equal(res.status, 200);
  assert.ok(!/<script|<b>|<i>|%3C/i.test(res.html), 'nothing of the query comes back');
  assert.ok(!elements(res.html, 'p').some((p) => (p.attrs.class || '').includes('flash')), 'no flash for unknown codes');
  const forged = await jar.fetch(`${sys.base}/department?done=5&decision=declined%22`);
  assert.ok(!elements(forged.html, 'p').some((p) => (p.attrs.class || '').includes('flash')), 'no flash for a bad decision');

  const wongId = personId(WONG.sub);
  const evil = '<img src=x>"WONG&\'';
  sql(`UPDATE people SET name = ${q(evil)} WHERE id = ${wongId}`);
  try {
    const page = await jar.fetch(`${sys.base}/department`);
    assert.equal(page.status, 200);
    assert.ok(!page.html.includes('<img'), 'no raw markup from the database');
    assert.ok(page.html.includes('&lt;img src&#61;x&gt;&quot;WONG&amp;&#39;'), 'the name is escaped');
    assert.equal(parseRows(page.html)[0].holder, evil);
  } finally {
    sql(`UPDATE people SET name = ${q(WONG.name)} WHERE id = ${wongId}`);
  }
});

test('the page carries no inline script or event handlers', T, async () => {
  const { page } = await coordinator();
  for (const s of startTags(page.html, 'script')) assert.ok(s.src, 'every <script> has src');
  assert.ok(!/\son[a-z]+\s*=/i.test(page.html), 'no inline event handlers');
  assert.ok(!/\sstyle\s*=/i.test(page.html), 'no inline style');
});

test('a coordinator of another organisation sees only theirs, and cannot decide for CTT', T, async () => {
  const chanId = personId(CHAN.sub);
  const dsf = sql(`SELECT org_id FROM people WHERE id = ${chanId}`)[0].org_id;
  sql(`INSERT INTO staff_roles (person_id, role, org_id) VALUES (${chanId}, 'coordinator', ${dsf})`);
  const jar = new CookieJar();
  await login(jar, CHAN.sub, sys.base);
  const page = await jar.fetch(`${sys.base}/department`);
  assert.equal(page.status, 200);
  const rows = parseRows(page.html);
  const dsfHolders = dueHolders({ org: demoPerson(CHAN.sub).org, windowDays: HORIZON_DAYS });
  assert.deepEqual(rows.map((r) => r.id).sort((a, b) => a - b),
    dsfHolders.flatMap((h) => certsOf(h.sub).map((c) => c.id)).sort((a, b) => a - b), 'exactly DSF\'s certificates');
  assert.ok(!page.html.includes(WONG.name) && !page.html.includes(CTT_NAME), 'nothing of CTT');
  for (const h of dueHolders({ org: demoPerson(LEI.sub).org, windowDays: HORIZON_DAYS })) {
    assert.ok(!page.html.includes(h.name), `${h.name} (CTT) is not on the page`);
  }
  const before = snapshot();
  const res = await decide(jar, { csrf: bulkCsrf(page.html), decision: 'declined', cert: String(certsOf(WONG.sub)[0].id) });
  assertRefused(res, 403, 'DSF coordinator deciding for CTT');
  assert.deepEqual(snapshot(), before, 'nothing changed');
});

test('the audit chain still verifies after all the decisions', T, async () => {
  const out = run(CERTRENEW, ['audit-verify'], sys.env);
  assert.match(out, /audit log OK/);
  const n = sql("SELECT count(*) AS n FROM audit_log WHERE action IN ('confirm', 'decline')")[0].n;
  assert.equal(n, 3, 'one confirm and two declines were audited, nothing for refused posts');
});
