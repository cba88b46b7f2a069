// Shaping analytics answers: safe integers from SQL sums, suppression under minimumGroupSize, keys
// (global ids, never a person's) and labels. Result shapes the GraphQL types in schema.ts expose.
import { encodeGlobalID } from "@pothos/plugin-relay";
import type { EngagementType } from "../engagement/ingest.js";
import { NIL_UUID } from "../common/nodes.js";
import type { Labels, TemplateJson } from "./sql.js";
import { isEventCellSuppressed } from "./stages.js";

const MAX_INT = 2 ** 31 - 1;

/** A count from SQL (int8 in JSON, bigint, string) as a GraphQL Int; throws past 2^31 - 1 rather than round. */
export function toCount(value: unknown): number {
  const n = typeof value === "bigint" ? Number(value) : Number(value ?? 0);
  if (!Number.isSafeInteger(n) || n < 0 || n > MAX_INT) throw new Error(`analytics count out of range: ${String(value)}`);
  return n;
}

export function rate(numerator: number, denominator: number): number | null {
  return denominator === 0 ? null : numerator / denominator;
}

export interface TypeCount {
  type: EngagementType;
  events: number | null;
  credentials: number | null;
  suppressed: boolean;
}

/** An event cell: hidden when its credentials (the distinct count it can prove) are below k, unless it is empty. */
export function typeCount(type: EngagementType, events: number, credentials: number, k: number): TypeCount {
  return isEventCellSuppressed(events, credentials, k) ? { type, events: null, credentials: null, suppressed: true } : { type, events, credentials, suppressed: false };
}

/** Raw per-type sums, zeros for types without rows, in `types` order. */
export class TypeSums {
  private readonly sums = new Map<string, { events: number; credentials: number }>();
  add(type: string, events: unknown, credentials: unknown): void {
    const s = this.sums.get(type) ?? { events: 0, credentials: 0 };
    s.events = toCount(s.events + toCount(events));
    s.credentials = toCount(s.credentials + toCount(credentials));
    this.sums.set(type, s);
  }
  get(type: string): { events: number; credentials: number } {
    return this.sums.get(type) ?? { events: 0, credentials: 0 };
  }
  counts(types: readonly EngagementType[], k: number): TypeCount[] {
    return types.map((t) => typeCount(t, this.get(t).events, this.get(t).credentials, k));
  }
}

/** A group key as callers see it: a Template / BulkJob global id ("" for none), or the value itself. */
export function keyOf(kind: "template" | "bulkJob" | null, value: string): string {
  if (kind === null) return value;
  if (value === NIL_UUID || value === "") return "";
  return encodeGlobalID(kind === "template" ? "Template" : "BulkJob", value);
}

export function labelOf(kind: "template" | "bulkJob" | null, value: string, labels: Labels): string | null {
  if (kind === "bulkJob" && value === NIL_UUID) return "Issued one by one (no bulk job)";
  return labels[value] ?? null;
}

/** A templates row (to_jsonb, snake_case) as the Prisma model the Template node resolves from. */
export function templateRow(json: TemplateJson | undefined): Record<string, unknown> | null {
  if (!json) return null;
  const row: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(json)) {
    if (key === "label") continue;
    const camel = key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
    row[camel] = key.endsWith("_at") && typeof value === "string" ? new Date(value) : value;
  }
  return row;
}

export interface TemplateRef {
  /** The Template node's row (null for events without a template). */
  template: Record<string, unknown> | null;
  /** The template's current name. */
  label: string | null;
}

export function templateRefOf(uuid: string | null, templates: Record<string, TemplateJson>): TemplateRef {
  const json = uuid ? templates[uuid] : undefined;
  return { template: templateRow(json), label: json ? String(json.label) : null };
}
