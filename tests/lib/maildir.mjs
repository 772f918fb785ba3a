// Reading what a test SMTP server stored: a Maildir reader that parses each message with Python's standard
// `email` package (tests/lib/readmail.py), so that a test never checks the product's mail with the
// product's own code. Strict on purpose: a message Python reads with defects, or bytes that are not valid
// text in their charset (e.g. an encoded word ending in the middle of a character, which RFC 2047
// section 5 forbids), throw instead of turning into U+FFFD.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const PYTHON = process.env.CR_PYTHON || '/usr/bin/python3';
const READMAIL = path.join(path.dirname(fileURLToPath(import.meta.url)), 'readmail.py');

/**
 * Parses message files. Returns, per file, { file, raw, headers, header(name), headerAll(name), subject,
 * from, to, messageId, contentType, parts: [{ type, charset, cte, text }], text, html }: headers are
 * [lower-case name, raw value unfolded]; header() and headerAll() decode RFC 2047; text/html are the first
 * text/plain and text/html parts with CRLF turned into LF.
 */
export function readMessages(files) {
  if (files.length === 0) return [];
  let out;
  try {
    out = execFileSync(PYTHON, [READMAIL, ...files], { encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    throw new Error(`${READMAIL} failed: ${e.stderr || e.message}`);
  }
  return JSON.parse(out).map((m, i) => {
    const headerAll = (name) => m.decoded[name.toLowerCase()] || [];
    const header = (name) => headerAll(name)[0];
    return {
      file: files[i],
      raw: readFileSync(files[i]).toString('latin1'),
      headers: m.headers,
      header,
      headerAll,
      subject: header('subject'),
      from: header('from'),
      to: header('to'),
      messageId: header('message-id'),
      contentType: m.content_type,
      parts: m.parts,
      text: m.text,
      html: m.html,
    };
  });
}

/** Every message of a Maildir (new/ and cur/), parsed, oldest first; each also has `file`. */
export function readMaildir(dir) {
  const files = [];
  for (const sub of ['new', 'cur']) {
    let names = [];
    try { names = readdirSync(path.join(dir, sub)); } catch { continue; }
    for (const n of names) {
      const f = path.join(dir, sub, n);
      files.push({ f, t: statSync(f).mtimeMs, n });
    }
  }
  files.sort((a, b) => a.t - b.t || a.n.localeCompare(b.n));
  return readMessages(files.map(({ f }) => f));
}
