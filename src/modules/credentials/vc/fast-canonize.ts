// RDFC-1.0 canonicalization with the JSON-LD → RDF step cached by document shape. Converting JSON-LD to
// RDF costs ~3.8 ms a credential here (context processing and expansion) while canonicalizing the
// resulting ~30 quads costs ~0.2 ms, and every credential of a template has the same shape. So: replace
// each string value with a placeholder, convert that skeleton once, and for each document put the
// real values back into the cached quads. Values whose meaning depends on the context's vocabulary
// (they come out inside a longer IRI, e.g. achievementType "Badge") stay part of the shape instead.
// Each new shape is checked once against the library's own conversion; a mismatch disables the
// cache for that shape, so the output is always what jsonld would produce.
import jsonld from "jsonld";
import * as rdfCanonize from "rdf-canonize";
import type { DocumentLoader } from "./document-loader.js";

const PLACEHOLDER = /laurel-ph-(\d+)-x/g;
const KEEP_KEYS = new Set(["@context", "type", "@type"]);
const MAX_SHAPES = 500;

interface Shape {
  quads: RdfQuad[] | null; // null: this shape must take the slow path
}

const shapes = new Map<string, Shape>();
/** Counters for benchmarks and diagnostics. */
export const canonizeStats = { cached: 0, newShapes: 0, slowShapes: 0, slowPath: 0 };
/** Leaf paths that must stay literal in shapes (learned: their values affect the RDF beyond a value). */
const vocabularyPaths = new Set<string>();

function abstract(value: unknown, path: string, values: string[]): unknown {
  if (typeof value === "string") {
    if (vocabularyPaths.has(path.replace(/\[\d+\]/g, "[]"))) return value;
    values.push(value);
    const n = values.length - 1;
    return /^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(value) ? `urn:x:laurel-ph-${n}-x` : `laurel-ph-${n}-x`;
  }
  if (Array.isArray(value)) return value.map((v, i) => abstract(v, `${path}[${i}]`, values));
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = KEEP_KEYS.has(k) ? v : abstract(v, `${path}.${k}`, values);
    return out;
  }
  return value;
}

function pathsOf(value: unknown, path: string, out: Map<number, string>, counter: { n: number }) {
  if (typeof value === "string") {
    if (!vocabularyPaths.has(path.replace(/\[\d+\]/g, "[]"))) out.set(counter.n++, path.replace(/\[\d+\]/g, "[]"));
  } else if (Array.isArray(value)) value.forEach((v, i) => pathsOf(v, `${path}[${i}]`, out, counter));
  else if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) if (!KEEP_KEYS.has(k)) pathsOf(v, `${path}.${k}`, out, counter);
  }
}

const fill = (text: string, values: string[]) =>
  text.includes("laurel-ph-") ? text.replace(/urn:x:laurel-ph-(\d+)-x|laurel-ph-(\d+)-x/g, (_m, a, b) => values[Number(a ?? b)]!) : text;

function substitute(quads: RdfQuad[], values: string[]): RdfQuad[] {
  const term = (t: RdfTerm): RdfTerm => (t.termType === "BlankNode" || !t.value.includes("laurel-ph-") ? t : { ...t, value: fill(t.value, values) });
  // Two placeholders may stand for the same IRI (the issuer is also the achievement's creator): the
  // real document merges those nodes, so identical quads collapse into one, as in any RDF dataset.
  const seen = new Set<string>();
  const out: RdfQuad[] = [];
  const keyOf = (t: RdfTerm) => `${t.termType}|${t.value}|${t.datatype?.value ?? ""}|${t.language ?? ""}`;
  for (const q of quads) {
    const next = { subject: term(q.subject), predicate: q.predicate, object: term(q.object), graph: q.graph };
    const key = `${keyOf(next.subject)} ${keyOf(next.predicate)} ${keyOf(next.object)} ${keyOf(next.graph)}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push(next);
    }
  }
  return out;
}

const toRdfOptions = (documentLoader: DocumentLoader) => ({ base: null, safe: true, rdfDirection: "i18n-datatype", produceGeneralizedRdf: false, documentLoader });

// New shapes are learned one at a time: learning changes vocabularyPaths, which every key depends on.
let learning: Promise<unknown> = Promise.resolve();

export async function canonizeFast(input: object, documentLoader: DocumentLoader): Promise<string> {
  const canonOptions = { algorithm: "RDFC-1.0" };
  let values: string[] = [];
  let skeleton = abstract(input, "", values) as object;
  let key = JSON.stringify(skeleton);
  let shape = shapes.get(key);
  if (!shape) {
    const turn = learning.then(() => learnShape(input, documentLoader));
    learning = turn.catch(() => undefined);
    return turn;
  }
  if (!shape.quads) {
    canonizeStats.slowPath++;
    return rdfCanonize.canonize(await jsonld.toRDF(input, toRdfOptions(documentLoader)), canonOptions);
  }
  canonizeStats.cached++;
  return rdfCanonize.canonize(substitute(shape.quads, values), canonOptions);
}

async function learnShape(input: object, documentLoader: DocumentLoader): Promise<string> {
  const canonOptions = { algorithm: "RDFC-1.0" };
  let values: string[] = [];
  let skeleton = abstract(input, "", values) as object;
  let key = JSON.stringify(skeleton);
  let shape = shapes.get(key);
  if (shape) return canonizeFast(input, documentLoader); // learned while this call waited its turn
  let quads: RdfQuad[] | null = null;
  const real = await jsonld.toRDF(input, toRdfOptions(documentLoader)); // also rejects bad input first
  for (let attempt = 0; attempt < 20 && !quads; attempt++) {
    // A placeholder the conversion refuses (a relative IRI where the vocabulary expected a term) or
    // finds inside a longer IRI means that value is read against the vocabulary: keep such leaves
    // literal in the shape and convert again.
    const vocabulary = new Set<number>();
    try {
      const converted = await jsonld.toRDF(skeleton, toRdfOptions(documentLoader));
      for (const q of converted) {
        for (const t of [q.subject, q.object]) {
          if (t.termType !== "NamedNode") continue;
          for (const m of t.value.matchAll(PLACEHOLDER)) if (t.value !== `urn:x:${m[0]}`) vocabulary.add(Number(m[1]));
        }
      }
      if (!vocabulary.size) quads = converted;
    } catch (error) {
      const found = /laurel-ph-(\d+)-x/.exec(JSON.stringify((error as { details?: unknown }).details ?? {}));
      if (!found) break;
      vocabulary.add(Number(found[1]));
    }
    if (quads) break;
    const paths = new Map<number, string>();
    pathsOf(input, "", paths, { n: 0 });
    for (const n of vocabulary) vocabularyPaths.add(paths.get(n)!);
    values = [];
    skeleton = abstract(input, "", values) as object;
    key = JSON.stringify(skeleton);
  }
  const expected = await rdfCanonize.canonize(real, canonOptions);
  const same = quads !== null && expected === (await rdfCanonize.canonize(substitute(quads, values), canonOptions));
  shape = { quads: same ? quads : null };
  canonizeStats.newShapes++;
  if (!same) canonizeStats.slowShapes++;
  if (shapes.size >= MAX_SHAPES) shapes.delete(shapes.keys().next().value!);
  shapes.set(key, shape);
  return expected;
}
