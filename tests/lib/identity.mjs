// Helpers for the step 2 「驗證身份」 tests (SPEC R6, seed steps 12-14): a holder taken through step 1 to
// 「下一步」, the photo upload (multipart, as the page's form sends it), 「確定使用照片」, and hand-made files for
// the upload checks (a PNG header claiming 100000×100000 pixels, a two-page TIFF, a JPEG carrying GPS EXIF,
// the signatures of formats that are refused).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

import { CookieJar, login, ROOT, textOf } from './harness.mjs';
import { P, Wizard, flashOf, errorMessage } from './verify.mjs';

export const FACES = path.join(ROOT, 'sim', 'faces');
export const FIXTURES = path.join(ROOT, 'tests', 'fixtures', 'faces');
export const face = (name) => readFileSync(path.join(FACES, name));
export const fixture = (name) => readFileSync(path.join(FIXTURES, name));

/** A logged-in Wizard for `sub` (its csrf token read from /home). */
export async function holder(sys, sub) {
  const jar = new CookieJar();
  await login(jar, sub, sys.base);
  const w = new Wizard(sys, jar);
  const home = await w.get('/home');
  assert.equal(home.status, 200, 'GET /home');
  return w;
}

/**
 * Step 1 for a logged-in holder: 開始鑑別, consent, every address verified with the code read from /dev/mail.
 * Returns the application id; 下一步 is left to the caller (it is what step 2 tests look at).
 */
export async function step1(w) {
  const app = await w.start();
  await w.consent(app);
  const { rows } = await w.emails(app);
  assert.ok(rows.length > 0, 'the application has addresses');
  for (let i = 0; i < rows.length; i++) {
    const { code } = await w.sendAndRead(app, i, rows[i].email);
    const r = await w.check(app, i, code);
    assert.equal(r.status, 302, `verify address ${i}\n${textOf(r.html).slice(0, 300)}`);
  }
  const { next } = await w.emails(app);
  assert.equal(next, true, '下一步 is offered');
  return app;
}

/** login + step 1 + 下一步; returns { w, app, next } (next: the raw 下一步 response). */
export async function toIdentity(sys, sub) {
  const w = await holder(sys, sub);
  const app = await step1(w);
  const next = await w.next(app);
  return { w, app, next };
}

/** 「上傳近照」: the page's multipart form (csrf, app, the file part `photo`), to the form's action. */
export function upload(w, app, data, { filename = 'photo.jpg', type = 'image/jpeg', csrf = w.csrf, formApp = app } = {}) {
  const fd = new FormData();
  if (csrf !== null) fd.append('csrf', csrf);
  fd.append('app', String(formApp));
  fd.append('photo', new Blob([data], { type }), filename);
  return w.jar.fetch(w.url(`${P}/identity/photo?app=${app}`), { method: 'POST', body: fd, timeout: 30_000 });
}

/** 「確定使用照片」. */
export const faceCheck = (w, app, csrf = w.csrf) => w.post(`${P}/identity/face`, { csrf, app: String(app) });

/** The preview of the current photo (raw bytes in res.bytes). */
export async function preview(w, app) {
  const jar = w.jar;
  const url = w.url(`${P}/identity/photo?app=${app}`);
  const res = await fetch(url, { headers: { cookie: jar.header(url) }, redirect: 'manual', signal: AbortSignal.timeout(15_000) });
  res.bytes = Buffer.from(await res.arrayBuffer());
  return res;
}

/** The message a page shows: its flash, else the error page's message. */
export const shownMessage = (html) => flashOf(html)?.text ?? errorMessage(html);

// ------------------------------------------------------------------ hand-made files

function pngChunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(td) >>> 0);
  return Buffer.concat([len, td, crc]);
}

/** A PNG whose IHDR (correct CRC) claims w×h RGB pixels, followed by an IDAT of garbage. */
export function pngClaiming(w, h) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  return Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), pngChunk('IHDR', ihdr),
    pngChunk('IDAT', Buffer.from('garbage garbage garbage, not zlib at all'.repeat(20))), pngChunk('IEND', Buffer.alloc(0))]);
}

/** A valid little-endian TIFF of `pages` pages, each side×side 8-bit grey, uncompressed. */
export function tiffPages(pages = 2, side = 96) {
  const entries = 9;
  const ifdSize = 2 + entries * 12 + 4;
  const pixels = side * side;
  const pageSize = ifdSize + pixels;
  const buf = Buffer.alloc(8 + pages * pageSize);
  buf.write('II', 0, 'latin1');
  buf.writeUInt16LE(42, 2);
  buf.writeUInt32LE(8, 4);
  for (let p = 0; p < pages; p++) {
    const ifd = 8 + p * pageSize;
    const strip = ifd + ifdSize;
    let o = ifd;
    buf.writeUInt16LE(entries, o); o += 2;
    const put = (tag, type, value) => {
      buf.writeUInt16LE(tag, o); buf.writeUInt16LE(type, o + 2); buf.writeUInt32LE(1, o + 4);
      if (type === 3) buf.writeUInt16LE(value, o + 8); else buf.writeUInt32LE(value, o + 8);
      o += 12;
    };
    put(256, 3, side); // ImageWidth
    put(257, 3, side); // ImageLength
    put(258, 3, 8); // BitsPerSample
    put(259, 3, 1); // Compression: none
    put(262, 3, 1); // Photometric: BlackIsZero
    put(273, 4, strip); // StripOffsets
    put(277, 3, 1); // SamplesPerPixel
    put(278, 3, side); // RowsPerStrip
    put(279, 4, pixels); // StripByteCounts
    buf.writeUInt32LE(p + 1 < pages ? ifd + pageSize : 0, o); // next IFD
    for (let i = 0; i < pixels; i++) buf[strip + i] = (i * 7 + p * 50) & 0xff;
  }
  return buf;
}

/** The GPS latitude text written into the EXIF below (searched for in what the portal keeps). */
export const GPS_MARK = 'GPSMARK-22.1987N';

/**
 * `jpeg` with an APP1 Exif segment right after SOI: IFD0 with Make, an ImageDescription holding GPS_MARK and
 * a GPS IFD pointer; the GPS IFD with GPSLatitudeRef 'N', GPSLatitude 22/1 11/1 5532/100 and a processing
 * method text holding GPS_MARK too.
 */
export function jpegWithGps(jpeg) {
  assert.equal(jpeg.readUInt16BE(0), 0xffd8, 'a JPEG');
  const t = Buffer.alloc(512);
  // TIFF header, little endian; offsets are from its start.
  t.write('II', 0, 'latin1'); t.writeUInt16LE(42, 2); t.writeUInt32LE(8, 4);
  const mark = Buffer.from(`${GPS_MARK}\0`, 'latin1');
  const make = Buffer.from('certrenew-test\0', 'latin1');
  // IFD0 at 8: 3 entries.
  let o = 8;
  const ifd0Size = 2 + 3 * 12 + 4;
  const gpsIfd = 8 + ifd0Size;
  const gpsSize = 2 + 4 * 12 + 4;
  let data = gpsIfd + gpsSize; // where out-of-line values go
  const entry = (tag, type, count, value) => {
    t.writeUInt16LE(tag, o); t.writeUInt16LE(type, o + 2); t.writeUInt32LE(count, o + 4); t.writeUInt32LE(value, o + 8);
    o += 12;
  };
  const out = (b) => { const at = data; b.copy(t, at); data += b.length + (b.length & 1); return at; };
  t.writeUInt16LE(3, o); o += 2;
  entry(0x010e, 2, mark.length, out(mark)); // ImageDescription
  entry(0x010f, 2, make.length, out(make)); // Make
  entry(0x8825, 4, 1, gpsIfd); // GPSInfo
  t.writeUInt32LE(0, o);
  // GPS IFD.
  o = gpsIfd;
  t.writeUInt16LE(4, o); o += 2;
  entry(0x0000, 1, 4, 0x00000302); // GPSVersionID 2.3.0.0 (inline bytes 02 03 00 00)
  t.writeUInt32LE(0x00000302, o - 4);
  entry(0x0001, 2, 2, 0x4e); // GPSLatitudeRef "N\0" inline
  const lat = Buffer.alloc(24);
  [[22, 1], [11, 1], [5532, 100]].forEach(([n, d], i) => { lat.writeUInt32LE(n, i * 8); lat.writeUInt32LE(d, i * 8 + 4); });
  entry(0x0002, 5, 3, out(lat)); // GPSLatitude
  const method = Buffer.concat([Buffer.from('ASCII\0\0\0', 'latin1'), mark]);
  entry(0x001b, 7, method.length, out(method)); // GPSProcessingMethod
  t.writeUInt32LE(0, o);
  const tiff = t.subarray(0, data);
  const body = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff]);
  const seg = Buffer.alloc(4);
  seg.writeUInt16BE(0xffe1, 0);
  seg.writeUInt16BE(body.length + 2, 2);
  return Buffer.concat([jpeg.subarray(0, 2), seg, body, jpeg.subarray(2)]);
}

/** The JPEG markers before the scan: [{ marker, offset, length }] (SOI excluded), stopping at SOS. */
export function jpegSegments(buf) {
  const segs = [];
  let o = 2;
  while (o + 4 <= buf.length && buf[o] === 0xff) {
    const marker = buf[o + 1];
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7)) { o += 2; continue; }
    const length = buf.readUInt16BE(o + 2);
    segs.push({ marker, offset: o, length });
    if (marker === 0xda) break;
    o += 2 + length;
  }
  return segs;
}

/** First bytes of formats that are refused as unsupported, each padded to a plausible size. */
export const REFUSED_SIGNATURES = {
  heic: Buffer.concat([Buffer.from('000000186674797068656963000000006d69663168656963', 'hex'), Buffer.alloc(4000, 7)]),
  webp: Buffer.concat([Buffer.from('RIFF', 'latin1'), Buffer.from([0xa0, 0x0f, 0, 0]), Buffer.from('WEBPVP8 ', 'latin1'),
    Buffer.alloc(4000, 7)]),
  gif: Buffer.concat([Buffer.from('GIF89a', 'latin1'), Buffer.from([64, 0, 64, 0, 0, 0, 0]), Buffer.alloc(4000, 7)]),
  pdf: Buffer.from(`%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n${'%'.repeat(4000)}\n%%EOF\n`, 'latin1'),
};
