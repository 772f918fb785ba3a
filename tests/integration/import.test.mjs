// Operator imports (SPEC R2.2): `certrenew import-certs` and `certrenew import-confirmations`.
//
// Certificates are made at run time with the openssl command (a throwaway CA in a temp dir), so no
// key is committed. Every refused import must name each bad line (FILE:LINE: reason) or file and
// write nothing: the tests compare table counts before and after (sys.sqlText, either backend), and end by
// importing the same certificates correctly, which would fail had a refusal left anything behind.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { System, CERTRENEW, TEST_TIMEOUT } from '../lib/harness.mjs';

const T = { timeout: TEST_TIMEOUT };
const CMD_TIMEOUT = 60_000;
const SANITIZER_RE = /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: (Address|Leak|Undefined)/;

let sys;
let dir; // certificates and CSV files

// ---------------------------------------------------------------- helpers

function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: CMD_TIMEOUT, cwd: dir, ...opts });
  if (r.error) throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** Runs certrenew; returns { status, stdout, stderr } and fails on a sanitizer report. */
function certrenew(...args) {
  const r = spawnSync(CERTRENEW, args, { env: sys.env, encoding: 'utf8', timeout: CMD_TIMEOUT, cwd: dir });
  if (r.error) throw new Error(`certrenew ${args.join(' ')}: ${r.error.message}`);
  const out = `${r.stdout}${r.stderr}`;
  assert.doesNotMatch(out, SANITIZER_RE, `sanitizer report from certrenew ${args.join(' ')}\n${out}`);
  return r;
}

function sql(query) {
  return sys.sqlText(query).trim();
}

function counts() {
  return {
    certificates: Number(sql('select count(*) from certificates')),
    people: Number(sql('select count(*) from people')),
    organisations: Number(sql('select count(*) from organisations')),
    confirmations: Number(sql('select count(*) from confirmations')),
    audit: Number(sql('select count(*) from audit_log')),
  };
}

function auditOk() {
  const r = certrenew('audit-verify');
  assert.equal(r.status, 0, `audit-verify: ${r.stdout}${r.stderr}`);
  assert.match(r.stdout, /audit log OK/);
}

let serialSeq = 0x3a0000;
/**
 * A certificate from the test CA. opts: { email (SAN), subjectEmail, der, bundle, badDates }.
 * Returns { file, serial (as `openssl x509 -serial` prints it), pem }.
 */
function makeCert(name, opts = {}) {
  const base = path.join(dir, name);
  const subj = `/CN=${name}${opts.subjectEmail ? `/emailAddress=${opts.subjectEmail}` : ''}`;
  sh('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', `${base}.key`, '-subj', subj, '-out', `${base}.csr`]);
  if (opts.badDates) {
    // notAfter before notBefore: only `openssl ca` lets us write such dates.
    sh('openssl', ['ca', '-batch', '-config', 'ca.cnf', '-cert', 'ca.pem', '-keyfile', 'ca.key', '-in', `${base}.csr`,
      '-out', `${base}.pem`, '-startdate', '20300101000000Z', '-enddate', '20200101000000Z', '-notext']);
  } else {
    serialSeq += 0x101;
    const ext = `${base}.ext`;
    writeFileSync(ext, opts.email ? `subjectAltName=email:${opts.email}\n` : 'basicConstraints=CA:FALSE\n');
    sh('openssl', ['x509', '-req', '-in', `${base}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key',
      '-set_serial', `0x${serialSeq.toString(16)}c0ffee`, '-days', '400', '-extfile', ext, '-out', `${base}.pem`]);
  }
  const serial = sh('openssl', ['x509', '-in', `${base}.pem`, '-noout', '-serial']).trim().replace(/^serial=/, '');
  let file = `${base}.pem`;
  if (opts.der) {
    file = `${base}.der`;
    sh('openssl', ['x509', '-in', `${base}.pem`, '-outform', 'DER', '-out', file]);
  } else if (opts.withKey) {
    // A key block in front of the certificate: the reader skips what is not a CERTIFICATE.
    file = `${base}-with-key.pem`;
    writeFileSync(file, readFileSync(`${base}.key`, 'utf8') + readFileSync(`${base}.pem`, 'utf8'));
  }
  return { file, serial, pem: readFileSync(`${base}.pem`, 'utf8'), name };
}

const HEADER = 'serial,type,sub,name,name_zh,id_number,email,org_code,org_name,department,position,tx_limit,proxy,signing_account';

/** A holders row; fields may be overridden. Values are quoted when needed (RFC 4180). */
function row(cert, over = {}) {
  const r = {
    serial: cert.serial,
    type: 'qualified',
    sub: `govid-${cert.name}`,
    name: `${cert.name.toUpperCase()}, Test`,
    name_zh: '測試員',
    id_number: '1234567(8)',
    email: `${cert.name}@test.gov.mo`,
    org_code: 'TST',
    org_name: 'Test "Bureau", Macao',
    department: '資訊處',
    position: 'Officer',
    tx_limit: '',
    proxy: '',
    signing_account: '',
    ...over,
  };
  const q = (v) => (/[",\r\n]/.test(String(v)) ? `"${String(v).replace(/"/g, '""')}"` : String(v));
  return HEADER.split(',').map((k) => q(r[k])).join(',');
}

function writeCsv(name, lines, { crlf = false, bom = false } = {}) {
  const file = path.join(dir, name);
  const nl = crlf ? '\r\n' : '\n';
  writeFileSync(file, (bom ? '\ufeff' : '') + lines.join(nl) + nl);
  return file;
}

/** Expects a refusal: exit 1, each pattern on stderr, "nothing imported", and no table changed. */
function expectRefused(args, patterns, { lines } = {}) {
  const before = counts();
  const r = certrenew(...args);
  assert.equal(r.status, 1, `expected exit 1\n${r.stdout}${r.stderr}`);
  for (const p of patterns) assert.match(r.stderr, p);
  assert.match(r.stderr, /nothing imported/);
  if (lines !== undefined) {
    const reported = r.stderr.split('\n').filter((l) => l && !/^certrenew: /.test(l));
    assert.equal(reported.length, lines, `expected ${lines} reported line(s):\n${r.stderr}`);
  }
  assert.deepEqual(counts(), before, 'nothing written');
  return r;
}

// ---------------------------------------------------------------- fixtures

let good; // certificates of the first, good import
let fresh; // certificates used by the refused imports, finally imported correctly

before(async () => {
  sys = await System.prepare({ demoData: false });
  {
    dir = mkdtempSync(path.join(os.tmpdir(), 'certrenew-import-'));
    mkdirSync(path.join(dir, 'newcerts'));
    writeFileSync(path.join(dir, 'index.txt'), '');
    writeFileSync(path.join(dir, 'serial'), '7A01\n');
    writeFileSync(path.join(dir, 'ca.cnf'), [
      '[ca]', 'default_ca = d', '[d]', 'dir = .', 'database = index.txt', 'new_certs_dir = newcerts',
      'serial = serial', 'default_md = sha256', 'policy = p', 'unique_subject = no', '[p]', 'commonName = supplied', '',
    ].join('\n'));
    sh('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
      '-keyout', 'ca.key', '-out', 'ca.pem', '-subj', '/CN=certrenew import test CA', '-days', '30']);

    good = {
      pem: makeCert('alpha', { email: 'alpha@test.gov.mo', withKey: true }),
      der: makeCert('bravo', { email: 'Bravo@Test.gov.mo', der: true }),
      b1: makeCert('charlie', { subjectEmail: 'charlie@test.gov.mo' }),
      b2: makeCert('delta'), // no e-mail in the certificate: nothing to compare
    };
    good.bundle = path.join(dir, 'bundle.pem');
    writeFileSync(good.bundle, good.b1.pem + good.b2.pem);
    fresh = {
      e1: makeCert('echo', { email: 'echo@test.gov.mo' }),
      e2: makeCert('foxtrot', { email: 'foxtrot@test.gov.mo', der: true }),
    };
  }
}, { timeout: 120_000 });

after(async () => {
  if (sys && sys.stop) await sys.stop().catch(() => {});
  if (dir && !process.env.CR_KEEP_VAR) rmSync(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------- import-certs

test('import-certs loads PEM, DER and a PEM bundle with their holder rows', T, () => {
  const { pem, der, b1, b2 } = good;
  const holders = writeCsv('holders-good.csv', [
    HEADER,
    row(pem, { serial: pem.serial.toLowerCase().replace(/(..)(?=.)/g, '$1:') }),
    row(der, { email: 'bravo@test.gov.mo', type: 'cloudsign', signing_account: 'acct-bravo' }),
    row(b1, { sub: 'govid-shared', name: 'SHARED Holder', org_code: 'OTH', org_name: 'Other' }),
    row(b2, { sub: 'govid-shared', name: 'SHARED Holder', org_code: 'OTH', org_name: 'Other', type: 'encryption' }),
  ], { crlf: true, bom: true });
  const before = counts();
  const r = certrenew('import-certs', '--holders', holders, pem.file, der.file, good.bundle);
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  assert.match(r.stdout, /imported 4 certificates of 3 holders in 2 organisations/);

  const now = counts();
  assert.equal(now.certificates, before.certificates + 4);
  assert.equal(now.people, before.people + 3);
  assert.equal(now.organisations, before.organisations + 2);
  assert.equal(Number(sql("select count(*) from audit_log where action = 'import_cert'")), 4);

  // Serials normalised; the DER is the file's; dates come from the certificate.
  const s = der.serial.toLowerCase();
  assert.equal(sql(`select type || '|' || signing_account || '|' || email from certificates where serial_hex = '${s}'`),
    'cloudsign|acct-bravo|bravo@test.gov.mo');
  assert.equal(sql(`select ${sys.dialect.hex('der')} from certificates where serial_hex = '${s}'`),
    readFileSync(der.file).toString('hex'));
  const notAfter = sh('openssl', ['x509', '-in', path.join(dir, 'bravo.pem'), '-noout', '-enddate']).trim().replace(/^notAfter=/, '');
  assert.equal(Number(sql(`select not_after from certificates where serial_hex = '${s}'`)), Date.parse(notAfter) / 1000);
  assert.equal(sql(`select count(*) from certificates where serial_hex = '${pem.serial.toLowerCase()}'`), '1');
  assert.equal(sql("select p.name || '|' || o.name from people p join organisations o on o.id = p.org_id where p.govid_sub = 'govid-alpha'"),
    'ALPHA, Test|Test "Bureau", Macao');
  assert.equal(sql("select count(*) from certificates c join people p on p.id = c.holder_id where p.govid_sub = 'govid-shared'"), '2');
  auditOk();
});

test('a second import of the same certificates is refused as duplicate', T, () => {
  const { pem, der } = good;
  const holders = writeCsv('holders-again.csv', [HEADER, row(pem), row(der, { email: 'bravo@test.gov.mo' })]);
  expectRefused(['import-certs', '--holders', holders, pem.file, der.file], [
    new RegExp(`holders-again\\.csv:2: duplicate serial ${pem.serial.toLowerCase()}: already in the database`),
    new RegExp(`holders-again\\.csv:3: duplicate serial ${der.serial.toLowerCase()}: already in the database`),
  ], { lines: 2 });
});

test('unknown type is reported with its line', T, () => {
  const { e1, e2 } = fresh;
  const holders = writeCsv('h-type.csv', [HEADER, row(e1), row(e2, { type: 'root' })]);
  expectRefused(['import-certs', '--holders', holders, e1.file, e2.file],
    [/h-type\.csv:3: unknown type 'root'/], { lines: 1 });
});

test('cloudsign without signing_account is refused', T, () => {
  const { e1, e2 } = fresh;
  const holders = writeCsv('h-cloud.csv', [HEADER, row(e1, { type: 'cloudsign' }), row(e2)]);
  expectRefused(['import-certs', '--holders', holders, e1.file, e2.file],
    [/h-cloud\.csv:2: cloudsign needs signing_account/], { lines: 1 });
});

test('a duplicate serial in the CSV and twice among the certificate files', T, () => {
  const { e1, e2 } = fresh;
  const holders = writeCsv('h-dup.csv', [HEADER, row(e1), row(e2), row(e1, { serial: e1.serial.toLowerCase() })]);
  expectRefused(['import-certs', '--holders', holders, e1.file, e2.file, e1.file], [
    new RegExp(`h-dup\\.csv:4: duplicate serial ${e1.serial.toLowerCase()} \\(also on line 2\\)`),
    new RegExp(`${e1.name}\\.pem: duplicate serial ${e1.serial.toLowerCase()} \\(also in .*${e1.name}\\.pem\\)`),
  ], { lines: 2 });
});

test('a file that is not a certificate', T, () => {
  const { e1, e2 } = fresh;
  const junk = path.join(dir, 'notes.txt');
  writeFileSync(junk, 'serial,this is not a certificate\n');
  const holders = writeCsv('h-junk.csv', [HEADER, row(e1), row(e2)]);
  expectRefused(['import-certs', '--holders', holders, e1.file, junk, e2.file],
    [/notes\.txt: not a certificate/], { lines: 1 });
});

test('a certificate not matching its CSV row (e-mail)', T, () => {
  const { e1, e2 } = fresh;
  const holders = writeCsv('h-mismatch.csv', [HEADER, row(e1), row(e2, { email: 'someone.else@test.gov.mo' })]);
  expectRefused(['import-certs', '--holders', holders, e1.file, e2.file],
    [/h-mismatch\.csv:3: certificate not matching its CSV row: email someone\.else@test\.gov\.mo .*foxtrot@test\.gov\.mo/],
    { lines: 1 });
});

test('wrong field count is reported with its line', T, () => {
  const { e1, e2 } = fresh;
  const holders = writeCsv('h-fields.csv', [HEADER, row(e1), `${row(e2)},extra`]);
  expectRefused(['import-certs', '--holders', holders, e1.file, e2.file], [
    /h-fields\.csv:3: wrong field count: 15 fields, the header has 14/,
    // the certificate of that row is then without a holder row
    new RegExp(`${e2.name}\\.der: no holder row for serial ${e2.serial.toLowerCase()}`),
  ], { lines: 2 });
});

test('a certificate without a CSV row, and a CSV row without a certificate', T, () => {
  const { e1, e2 } = fresh;
  const holders = writeCsv('h-missing.csv', [HEADER, row(e1), row(e2)]);
  expectRefused(['import-certs', '--holders', holders, e1.file], [
    new RegExp(`h-missing\\.csv:3: no certificate file with serial ${e2.serial.toLowerCase()}`),
  ], { lines: 1 });
  const h2 = writeCsv('h-norow.csv', [HEADER, row(e1)]);
  expectRefused(['import-certs', '--holders', h2, e1.file, e2.file], [
    new RegExp(`${e2.name}\\.der: no holder row for serial ${e2.serial.toLowerCase()} in .*h-norow\\.csv`),
  ], { lines: 1 });
});

test('bad date: notAfter not after notBefore', T, () => {
  const { e1 } = fresh;
  const bad = makeCert('golf', { badDates: true });
  const holders = writeCsv('h-date.csv', [HEADER, row(e1), row(bad)]);
  expectRefused(['import-certs', '--holders', holders, e1.file, bad.file],
    [/golf\.pem: bad date: notAfter 2020-01-01T00:00:00Z is not after notBefore 2030-01-01T00:00:00Z/], { lines: 1 });
});

test('every bad line of one file is reported, each with its number and reason', T, () => {
  const { e1, e2 } = fresh;
  const junk = path.join(dir, 'empty.crt');
  writeFileSync(junk, '');
  const holders = writeCsv('h-many.csv', [
    HEADER,
    row(e1, { type: 'Qualified!' }), // 2
    'only,three,fields', // 3
    row(e2, { email: 'nobody@test.gov.mo', id_number: '' }), // 4
    row(e1), // 5: duplicate of line 2
  ]);
  expectRefused(['import-certs', '--holders', holders, e1.file, e2.file, junk], [
    /empty\.crt: not a certificate \(empty file\)/,
    /h-many\.csv:2: unknown type 'Qualified!'/,
    /h-many\.csv:3: wrong field count: 3 fields/,
    /h-many\.csv:4: missing id_number; certificate not matching its CSV row/,
    /h-many\.csv:5: duplicate serial .* \(also on line 2\)/,
  ], { lines: 5 });
});

test('malformed CSV and a wrong header are refused with the line', T, () => {
  const { e1 } = fresh;
  const broken = path.join(dir, 'h-broken.csv');
  writeFileSync(broken, `${HEADER}\n${row(e1)}\n"unterminated,${'x,'.repeat(12)}x\n`);
  expectRefused(['import-certs', '--holders', broken, e1.file], [/h-broken\.csv:3: unterminated quoted field/]);
  const header = writeCsv('h-header.csv', ['serial,type,holder', row(e1)]);
  expectRefused(['import-certs', '--holders', header, e1.file], [/h-header\.csv:1: header must be serial,type,sub/]);
});

test('after all the refusals, the same certificates import cleanly', T, () => {
  const { e1, e2 } = fresh;
  const holders = writeCsv('h-fresh.csv', [HEADER, row(e1), row(e2, { email: 'FOXTROT@test.gov.mo' })]);
  const before = counts();
  const r = certrenew('import-certs', '--holders', holders, e1.file, e2.file);
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  const now = counts();
  assert.equal(now.certificates, before.certificates + 2);
  assert.equal(now.people, before.people + 2);
  assert.equal(now.organisations, before.organisations, 'organisation TST already there: updated, not added');
  auditOk();
});

test('import-certs usage errors exit 2', T, () => {
  assert.equal(certrenew('import-certs').status, 2);
  assert.equal(certrenew('import-certs', good.pem.file).status, 2);
  assert.equal(certrenew('import-certs', '--holders', 'x.csv').status, 2);
  const help = certrenew('import-certs', '--help');
  assert.equal(help.status, 0);
  assert.match(help.stdout, /--holders HOLDERS\.csv CERTFILE/);
});

// ---------------------------------------------------------------- import-confirmations

function decisions() {
  return sql("select c.serial_hex || '=' || f.decision || '/' || f.decided_by from confirmations f join certificates c on c.id = f.cert_id order by 1")
    .split('\n').filter(Boolean);
}

test('import-confirmations confirms and declines in one go', T, () => {
  const { pem, der } = good;
  const spaced = der.serial.replace(/(..)(?=.)/g, '$1 ');
  const file = writeCsv('decisions.csv', [
    'serial,decision,decided_by',
    `${pem.serial.toUpperCase()},confirmed,DSF coordinator`,
    `"${spaced.toLowerCase()}",declined,`,
  ], { crlf: true });
  const before = counts();
  const r = certrenew('import-confirmations', file);
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  assert.match(r.stdout, /2 decisions imported \(1 confirmed, 1 declined\)/);
  assert.deepEqual(decisions(), [
    `${pem.serial.toLowerCase()}=confirmed/DSF coordinator`,
    `${der.serial.toLowerCase()}=declined/operator`,
  ].sort());
  assert.equal(counts().confirmations, before.confirmations + 2);
  const audit = sql("select action || '|' || object || '|' || actor || '|' || detail from audit_log where action in ('confirm', 'decline') order by id").split('\n');
  assert.equal(audit.length, 2);
  assert.match(audit[0], new RegExp(`^confirm\\|cert:\\d+\\|operator\\|import .*decisions\\.csv:2$`));
  assert.match(audit[1], new RegExp(`^decline\\|cert:\\d+\\|operator\\|import .*decisions\\.csv:3$`));
  auditOk();

  // A later file replaces a decision.
  const again = writeCsv('decisions-2.csv', ['serial,decision', `${der.serial},confirmed`]);
  assert.equal(certrenew('import-confirmations', again).status, 0);
  assert.ok(decisions().includes(`${der.serial.toLowerCase()}=confirmed/operator`));
});

test('import-confirmations refuses a file with one bad line and writes nothing', T, () => {
  const { b1, b2 } = good;
  const cases = [
    ['c-decision.csv', [`${b1.serial},confirmed`, `${b2.serial},maybe`], /c-decision\.csv:3: bad decision 'maybe'/],
    ['c-unknown.csv', [`${b1.serial},confirmed`, 'DEADBEEF01,declined'], /c-unknown\.csv:3: unknown serial deadbeef01/],
    ['c-dup.csv', [`${b1.serial},confirmed`, `${b1.serial.toLowerCase()},declined`],
      new RegExp(`c-dup\\.csv:3: duplicate serial ${b1.serial.toLowerCase()} \\(also on line 2\\)`)],
    ['c-fields.csv', [`${b1.serial},confirmed`, `${b2.serial},declined,someone,extra`],
      /c-fields\.csv:3: wrong field count: 4 fields, the header has 2/],
    ['c-serial.csv', [`${b1.serial},confirmed`, 'not-a-serial,declined'], /c-serial\.csv:3: bad serial 'not-a-serial'/],
  ];
  for (const [name, rows, pattern] of cases) {
    const file = writeCsv(name, ['serial,decision', ...rows]);
    expectRefused(['import-confirmations', file], [pattern], { lines: 1 });
  }
  assert.ok(!decisions().some((d) => d.startsWith(b1.serial.toLowerCase())), 'good line of a refused file not applied');
});

test('import-confirmations reports every bad line of a file', T, () => {
  const { b1, b2 } = good;
  const file = writeCsv('c-many.csv', [
    'serial,decision,decided_by',
    `${b1.serial},confirmed,ok`, // 2: fine
    `${b2.serial},yes,x`, // 3
    'ffff0000ffff,declined,x', // 4
    `${b1.serial},declined,x`, // 5
    'short', // 6
    '', // empty line: skipped, still counted
    'zz,nope,x', // 8
  ]);
  expectRefused(['import-confirmations', file], [
    /c-many\.csv:3: bad decision 'yes'/,
    /c-many\.csv:4: unknown serial ffff0000ffff/,
    /c-many\.csv:5: duplicate serial .* \(also on line 2\)/,
    /c-many\.csv:6: wrong field count: 1 fields, the header has 3/,
    /c-many\.csv:8: bad serial 'zz'.*; bad decision 'nope'/,
  ], { lines: 5 });
  const empty = writeCsv('c-empty.csv', []);
  expectRefused(['import-confirmations', empty], [/c-empty\.csv: empty file/]);
  const nofile = certrenew('import-confirmations', path.join(dir, 'missing.csv'));
  assert.equal(nofile.status, 1);
  assert.match(nofile.stderr, /missing\.csv: cannot read/);
  assert.equal(certrenew('import-confirmations').status, 2);
});

test('an import never migrates: a database with an older schema is refused, naming `certrenew init`', T, () => {
  // Its own SQLite database (whatever the suite's backend), first empty (version 0), then one
  // version behind this binary.
  const db = path.join(dir, 'older-schema.db');
  const env = { ...sys.env, CERTRENEW_DATABASE_URL: `sqlite:${db}` };
  const run = (...args) => {
    const r = spawnSync(CERTRENEW, args, { env, encoding: 'utf8', timeout: CMD_TIMEOUT, cwd: dir });
    if (r.error) throw new Error(`certrenew ${args.join(' ')}: ${r.error.message}`);
    assert.doesNotMatch(`${r.stdout}${r.stderr}`, SANITIZER_RE);
    return r;
  };
  const lite = (q) => sh('sqlite3', [db, q]).trim();
  const headerOnly = writeCsv('c-header-only.csv', ['serial,decision']);
  const holders = writeCsv('h-header-only.csv', [HEADER]);

  for (const args of [['import-confirmations', headerOnly], ['import-certs', '--holders', holders, good.pem.file]]) {
    const r = run(...args);
    assert.notEqual(r.status, 0, `${args[0]} on an empty database must fail\n${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /schema is version 0, this certrenew needs version \d+: run `certrenew init`/);
    assert.match(r.stderr, /nothing imported/);
  }
  assert.equal(lite("select count(*) from sqlite_master where name = 'certificates'"), '0', 'not migrated');

  const init = run('init');
  assert.equal(init.status, 0, `${init.stdout}${init.stderr}`);
  const ok = run('import-confirmations', headerOnly);
  assert.equal(ok.status, 0, `${ok.stdout}${ok.stderr}`);
  assert.match(ok.stdout, /0 decisions imported/);

  const newest = Number(lite('select max(version) from schema_version'));
  lite(`delete from schema_version where version = ${newest}`);
  const older = run('import-confirmations', headerOnly);
  assert.notEqual(older.status, 0);
  assert.match(older.stderr, new RegExp(`schema is version ${newest - 1}, this certrenew needs version ${newest}: run \`certrenew init\``));
  assert.equal(lite('select max(version) from schema_version'), String(newest - 1), 'not migrated');
});
