// How the routes outside GraphQL refuse: programs get one JSON shape, { "error": { "code", "message" } }
// (a few add detail beside them, e.g. UNPRINTABLE_TEXT's fields), with the status; a person's browser gets
// a short page with the same status, saying what to do next. Which one is the caller's Accept header's.
import type { IncomingMessage, ServerResponse } from "node:http";
import { messagePage, sendPage, type NextStep, type PageLanguage } from "./html.js";

/** A browser navigating: its Accept header names text/html. */
export const acceptsHtml = (req: IncomingMessage) => /text\/html/i.test(String(req.headers.accept ?? ""));

/** A program that said it reads JSON. */
export const asksForJson = (req: IncomingMessage) => /application\/json/i.test(String(req.headers.accept ?? ""));

export interface Refusal {
  status: number;
  /** What a program branches on: stable, upper snake case. */
  code: string;
  /** One sentence a person can act on. */
  message: string;
  /** Further fields of the JSON error object, beside code and message. */
  details?: Record<string, unknown>;
}

/** The code of a refusal that names none, from its status. */
export function codeForStatus(status: number): string {
  return CODES[status] ?? (status >= 500 ? "INTERNAL_SERVER_ERROR" : "BAD_REQUEST");
}

const CODES: Record<number, string> = {
  400: "BAD_REQUEST",
  401: "UNAUTHENTICATED",
  403: "FORBIDDEN",
  404: "NOT_FOUND",
  405: "METHOD_NOT_ALLOWED",
  410: "GONE",
  413: "PAYLOAD_TOO_LARGE",
  422: "UNPROCESSABLE",
  429: "RATE_LIMITED",
  500: "INTERNAL_SERVER_ERROR",
  503: "SERVICE_UNAVAILABLE",
};

const TITLES: Record<PageLanguage, Record<number, string>> = {
  en: { 400: "This did not work", 403: "This link is not valid", 404: "Not found", 405: "Not here", 410: "No longer available", 413: "Too much at once", 422: "This cannot be done", 429: "Slow down", 500: "Something went wrong", 503: "Back in a moment" },
  fr: { 400: "Cela n'a pas fonctionné", 403: "Ce lien n'est pas valide", 404: "Introuvable", 405: "Pas ici", 410: "Plus disponible", 413: "Trop à la fois", 422: "Impossible", 429: "Doucement", 500: "Une erreur s'est produite", 503: "De retour dans un instant" },
};

/** The page's title for a refusal of this status, in `lang`. */
export function refusalTitle(status: number, lang: PageLanguage = "en"): string {
  return TITLES[lang][status] ?? TITLES[lang][status >= 500 ? 500 : 400]!;
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", "x-content-type-options": "nosniff", ...headers });
  res.end(JSON.stringify(body));
}

export interface RefuseOptions {
  /** A page (true) or JSON (false): the route's reading of the caller. */
  html: boolean;
  /** The page's heading; by default one for the status. */
  title?: string;
  /** The page's words for a person, when they should differ from the JSON message (another language). */
  pageMessage?: string;
  lang?: PageLanguage;
  /** Where the page sends the person next: the form again, a new link, the credential. */
  next?: NextStep[];
  headers?: Record<string, string>;
}

/** Answers a refusal as a page or as { error: { code, message, ...details } }; true, as route handlers return. */
export function refuse(res: ServerResponse, refusal: Refusal, options: RefuseOptions): true {
  if (options.html) {
    const title = options.title ?? refusalTitle(refusal.status, options.lang);
    sendPage(res, messagePage(title, options.pageMessage ?? refusal.message, { lang: options.lang, next: options.next }), refusal.status, options.headers);
  } else {
    sendJson(res, refusal.status, { error: { code: refusal.code, message: refusal.message, ...refusal.details } }, options.headers);
  }
  return true;
}
