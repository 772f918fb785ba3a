// What the demo data (demo/people.json, loaded by `certrenew demo-data`) says, for tests that must expect
// "every due holder" or "every certificate of an organisation" without hard-coding today's demo people:
// the expectations follow the file when demo holders are added or changed.
//
// demo-data confirms every certificate it loads (src/app/cmd_admin.c), and expiry is `days_to_expiry`
// days after loading; so a certificate is due for its first notice when 0 < days_to_expiry <= the window.
import { readFileSync } from 'node:fs';

import { PEOPLE } from './harness.mjs';

/** The parsed demo data file. */
export const DEMO = JSON.parse(readFileSync(PEOPLE, 'utf8'));

/** The notice window (renewal notices go out this many days before expiry; SPEC R1.1). */
export const NOTICE_WINDOW_DAYS = 30;

/** The demo people with the role `role` (holder, coordinator, officer). */
export function demoPeople(role) {
  return DEMO.people.filter((p) => !role || (p.roles || []).includes(role));
}

/** A demo person by GovID subject (throws when absent, so a renamed account fails loudly). */
export function demoPerson(sub) {
  const p = DEMO.people.find((x) => x.sub === sub);
  if (!p) throw new Error(`demo/people.json has no person ${sub}`);
  return p;
}

/**
 * The holders with at least one certificate expiring within `windowDays` (0 < days_to_expiry <= window),
 * optionally of one organisation (its code, e.g. 'CTT'); each { sub, name, email, org, certificates }
 * where certificates are only the ones within the window. In file order.
 */
export function dueHolders({ windowDays = NOTICE_WINDOW_DAYS, org } = {}) {
  return demoPeople('holder')
    .filter((p) => !org || p.org === org)
    .map((p) => ({
      sub: p.sub, name: p.name, email: p.email, org: p.org,
      certificates: (p.certificates || []).filter((c) => c.days_to_expiry > 0 && c.days_to_expiry <= windowDays),
    }))
    .filter((p) => p.certificates.length > 0);
}

/** How many certificates dueHolders(opts) holds together. */
export const dueCertCount = (opts) => dueHolders(opts).reduce((n, h) => n + h.certificates.length, 0);

/** The e-mail addresses of dueHolders(opts), sorted. */
export const dueEmails = (opts) => dueHolders(opts).map((h) => h.email).sort();
