// One rule for email addresses on every path (GraphQL's EmailAddress scalar, recipients, bulk rows,
// CSV, sign-up, invitations, sender settings), so one mailbox is one recipient with one identity hash.
//
// The rule:
// - surrounding white space is dropped; the address is `local@domain` with exactly one "@";
// - the domain is converted to its lower-case IDNA A-label form (UTS #46 through Node's WHATWG URL
//   implementation, url.domainToASCII): "José@Bücher.DE" and "josé@xn--bcher-kva.de" are one mailbox;
//   it must be a host name of at least two labels (letters, digits, hyphens; not an IP address);
// - the local part is an RFC 5321 dot-atom in ASCII (letters, digits and !#$%&'*+-/=?^_`{|}~, dots
//   between), lower-cased. Quoted local parts and internationalised local parts (SMTPUTF8, RFC 6531,
//   e.g. "josé@example.org") are refused: many receiving servers cannot take them, and a credential
//   whose email cannot be delivered is better refused before it is signed;
// - at most 64 octets before the "@" and 254 in all (RFC 5321 §4.5.3.1, with RFC 3696 erratum 1690).
import { domainToASCII } from "node:url";
import { textProblem } from "./text.js";

export const MAX_EMAIL_LENGTH = 254;
export const MAX_LOCAL_PART_LENGTH = 64;

const ATOM = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+";
const DOT_ATOM = new RegExp(`^${ATOM}(\\.${ATOM})*$`);
const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export type EmailCheck = { ok: true; email: string } | { ok: false; reason: string };

/**
 * Validates and normalises an email address by the rule above. Returns the normalised address
 * (ASCII, lower-case, at most 254 characters) or the reason it is refused, in words for the caller.
 */
export function normaliseEmail(input: string): EmailCheck {
  const notText = textProblem(input);
  if (notText) return { ok: false, reason: notText };
  const raw = input.trim();
  if (!raw) return { ok: false, reason: "it is empty" };
  const at = raw.lastIndexOf("@");
  if (at <= 0 || at === raw.length - 1) return { ok: false, reason: "it needs a name, an @ and a domain, like ada@example.org" };
  const local = raw.slice(0, at);
  const domainInput = raw.slice(at + 1);
  if (local.includes("@") || local.startsWith('"')) return { ok: false, reason: "quoted names before the @ are not accepted" };
  if (/[^\x20-\x7e]/.test(local)) {
    return { ok: false, reason: "only ASCII letters, digits and . ! # $ % & ' * + - / = ? ^ _ ` { | } ~ may come before the @ (internationalised addresses such as josé@example.org are not accepted)" };
  }
  if (!DOT_ATOM.test(local)) return { ok: false, reason: "the part before the @ has a space, a misplaced dot or a character that is not allowed" };
  if (local.length > MAX_LOCAL_PART_LENGTH) return { ok: false, reason: `at most ${MAX_LOCAL_PART_LENGTH} characters may come before the @` };
  const domain = domainInput.startsWith("[") ? "" : domainToASCII(domainInput);
  const labels = domain.split(".");
  if (!domain || labels.length < 2 || !labels.every((l) => LABEL.test(l)) || /^[0-9]+$/.test(labels.at(-1)!)) {
    return { ok: false, reason: "the part after the @ is not a domain name" };
  }
  const email = `${local.toLowerCase()}@${domain}`;
  if (email.length > MAX_EMAIL_LENGTH) return { ok: false, reason: `at most ${MAX_EMAIL_LENGTH} characters in all (with the domain in its ASCII form)` };
  return { ok: true, email };
}

/** The lower-case A-label form of a domain name (a sender domain), or null when it is not one. */
export function normaliseDomain(input: string): string | null {
  const check = normaliseEmail(`postmaster@${input}`);
  return check.ok ? check.email.slice("postmaster@".length) : null;
}
