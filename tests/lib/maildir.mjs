// Reading what a test SMTP server stored: a Maildir reader and a small, strict MIME decoder (RFC 5322
// headers with folding, RFC 2047 encoded words, RFC 2045 base64 / quoted-printable bodies, multipart).
// Written independently of the product's decoder so that a test does not check the product with itself.
// Strict on purpose: bytes that are not valid UTF-8 (e.g. an encoded word ending in the middle of a
// character, which RFC 2047 section 5 forbids) throw instead of turning into U+FFFD.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeCharset(bytes, charset) {
  const cs = (charset || 'us-ascii').toLowerCase();
  if (cs === 'utf-8' || cs === 'utf8') return utf8.decode(bytes);
  if (cs === 'us-ascii' || cs === 'ascii') {
    for (const b of bytes) if (b > 127) throw new Error('8-bit byte in a us-ascii text');
    return Buffer.from(bytes).toString('latin1');
  }
  return new TextDecoder(cs, { fatal: true }).decode(bytes);
}

/** Bytes of a base64 text (white space ignored); throws on anything else. */
export function base64Bytes(s) {
  const clean = s.replace(/[\r\n\t ]/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean) || clean.length % 4 !== 0) throw new Error('invalid base64');
  return Buffer.from(clean, 'base64');
}

/** Bytes of a quoted-printable text; header: RFC 2047 Q ('_' is a space). */
export function qpBytes(s, header = false) {
  const out = [];
  const text = header ? s : s.replace(/=\r?\n/g, ''); // soft line breaks
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '=' && /^[0-9A-Fa-f]{2}$/.test(text.slice(i + 1, i + 3))) {
      out.push(parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (header && ch === '_') {
      out.push(0x20);
    } else {
      out.push(ch.charCodeAt(0) & 0xff); // latin1 text: one char per byte (encoded words are ASCII)
    }
  }
  return Buffer.from(out);
}

/** RFC 2047: decodes the encoded words of a header value; white space between adjacent words is dropped. */
export function decodeWords(value) {
  const re = /=\?([^?\s]+)\?([BbQq])\?([^?\s]*)\?=/g;
  let out = '';
  let last = 0;
  let prevWasWord = false;
  let m;
  while ((m = re.exec(value))) {
    const between = value.slice(last, m.index);
    if (!(prevWasWord && /^\s*$/.test(between))) out += between;
    const charset = m[1].split('*')[0];
    const bytes = m[2].toUpperCase() === 'B' ? base64Bytes(m[3]) : qpBytes(m[3], true);
    out += decodeCharset(bytes, charset);
    last = re.lastIndex;
    prevWasWord = true;
  }
  return out + value.slice(last);
}

/** Splits a message (Buffer or string) into { headers: [[name, rawValue]], body: string (latin1 bytes) }. */
function split(raw) {
  const s = Buffer.isBuffer(raw) ? raw.toString('latin1') : Buffer.from(raw, 'utf8').toString('latin1');
  const m = /\r?\n\r?\n/.exec(s);
  const head = m ? s.slice(0, m.index) : s;
  const body = m ? s.slice(m.index + m[0].length) : '';
  const headers = [];
  for (const line of head.split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && headers.length) headers[headers.length - 1][1] += line; // unfold (RFC 5322 2.2.3)
    else if (line.includes(':')) {
      const i = line.indexOf(':');
      headers.push([line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim()]);
    }
  }
  return { headers, body };
}

/** 'text/plain; charset="UTF-8"' → { type: 'text/plain', params: { charset: 'UTF-8' } } */
export function parseContentType(v) {
  const value = v || 'text/plain; charset=us-ascii';
  const semi = value.indexOf(';');
  const type = (semi < 0 ? value : value.slice(0, semi)).trim().toLowerCase();
  const params = {};
  const re = /;\s*([^=\s;]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))/g;
  let m;
  while ((m = re.exec(value))) params[m[1].toLowerCase()] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3];
  return { type, params };
}

function entity(raw) {
  const { headers, body } = split(raw);
  const get = (name) => headers.find(([n]) => n === name)?.[1];
  const ct = parseContentType(get('content-type'));
  const cte = (get('content-transfer-encoding') || '7bit').toLowerCase();
  const e = { headers, ct, cte, parts: [] };
  if (ct.type.startsWith('multipart/')) {
    const b = ct.params.boundary;
    if (!b) throw new Error('multipart without boundary');
    const lines = body.split(/\r?\n/);
    let cur = null;
    let closed = false;
    for (const line of lines) {
      if (line === `--${b}--`) { if (cur) e.parts.push(entity(Buffer.from(cur.join('\r\n'), 'latin1'))); cur = null; closed = true; break; }
      if (line === `--${b}`) { if (cur) e.parts.push(entity(Buffer.from(cur.join('\r\n'), 'latin1'))); cur = []; continue; }
      if (cur) cur.push(line);
    }
    if (!closed) throw new Error(`multipart without its closing boundary --${b}--`);
  } else {
    let bytes;
    if (cte === 'base64') bytes = base64Bytes(body);
    else if (cte === 'quoted-printable') bytes = qpBytes(body);
    else bytes = Buffer.from(body, 'latin1');
    e.bytes = bytes;
    e.text = ct.type.startsWith('text/') ? decodeCharset(bytes, ct.params.charset) : null;
  }
  return e;
}

function leaves(e, out = []) {
  if (e.parts.length) for (const p of e.parts) leaves(p, out);
  else out.push(e);
  return out;
}

/**
 * Parses one message. Returns { raw, headers, header(name), headerAll(name), subject, from, to,
 * messageId, contentType, parts: [{ type, charset, cte, text }], text, html } where text/html are the
 * first text/plain and text/html parts with CRLF turned into LF.
 */
export function parseMessage(raw) {
  const e = entity(raw);
  const header = (name) => {
    const h = e.headers.find(([n]) => n === name.toLowerCase());
    return h ? decodeWords(Buffer.from(h[1], 'latin1').toString('utf8')) : undefined;
  };
  const headerAll = (name) => e.headers.filter(([n]) => n === name.toLowerCase())
    .map(([, v]) => decodeWords(Buffer.from(v, 'latin1').toString('utf8')));
  const parts = leaves(e).map((p) => ({ type: p.ct.type, charset: p.ct.params.charset, cte: p.cte, text: p.text }));
  const lf = (s) => (s == null ? s : s.replace(/\r\n/g, '\n'));
  return {
    raw: Buffer.isBuffer(raw) ? raw.toString('latin1') : raw,
    headers: e.headers,
    header,
    headerAll,
    subject: header('subject'),
    from: header('from'),
    to: header('to'),
    messageId: header('message-id'),
    contentType: e.ct,
    parts,
    text: lf(parts.find((p) => p.type === 'text/plain')?.text),
    html: lf(parts.find((p) => p.type === 'text/html')?.text),
  };
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
  return files.map(({ f }) => ({ file: f, ...parseMessage(readFileSync(f)) }));
}
