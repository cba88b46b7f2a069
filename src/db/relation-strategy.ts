// How Prisma loads a query's relations: one statement with LATERAL joins (relationJoins) wherever it is
// safe, separate statements where it is not. A list page with its relations is then one round trip
// (issue 11: 7 statements for a page of 50 credentials with recipient and template before).
//
// The join strategy is not safe everywhere. For every nested relation Prisma writes
// `(SELECT "t1".* FROM <table> AS "t1" WHERE ...)`, and PostgreSQL checks SELECT on every column a `*`
// names, so a relation into a table whose secret columns the member role may not read (api_keys'
// secret_hash, say: column grants) would fail with "permission denied". And it rebuilds rows with
// JSONB_BUILD_OBJECT, so a `json` column (a signed document, kept byte for byte as issued) would come
// back re-serialised as jsonb (keys re-ordered). Queries reaching either take the query strategy.
// PostgreSQL's planner pulls these subqueries up, so the columns a `*` names but nothing uses are never
// fetched or de-TOASTed: a row's signed document is read only when asked for.
import type { PothosPrismaDatamodel } from "@pothos/plugin-prisma";
import { getDatamodel } from "../generated/pothos-types.js";
import { OMIT_SECRETS } from "./secrets.js";

export type RelationLoadStrategy = "join" | "query";

/** Prisma operations that take `relationLoadStrategy` (Prisma 7, preview feature relationJoins). */
const WITH_STRATEGY = new Set(["findUnique", "findUniqueOrThrow", "findFirst", "findFirstOrThrow", "findMany", "create", "update", "upsert", "delete"]);

interface ModelShape {
  /** relation field → the model it leads to */
  relations: Map<string, string>;
  /** scalar fields whose text must come back as stored (`@db.Json`) */
  exactJson: Set<string>;
}

/**
 * Decides a query's strategy from its arguments (shapes: Prisma's `select` / `include` / `_count` trees).
 * `columnGranted`: models whose tables the runtime role may read only some columns of;
 * `exactJson`: `Model.field` names of `json` (not jsonb) columns.
 */
export function strategyChooser(datamodel: PothosPrismaDatamodel, columnGranted: ReadonlySet<string>, exactJson: ReadonlySet<string>) {
  const models = new Map<string, ModelShape>();
  for (const [name, model] of Object.entries(datamodel.datamodel.models)) {
    const shape: ModelShape = { relations: new Map(), exactJson: new Set() };
    for (const field of model.fields) {
      if (field.kind === "object") shape.relations.set(field.name, field.type);
      else if (exactJson.has(`${name}.${field.name}`)) shape.exactJson.add(field.name);
    }
    models.set(name, shape);
  }

  /** Whether a selection tree on `model`, reached through a relation (`nested`), needs the query strategy. */
  function needsQuery(model: string, tree: unknown, nested: boolean): boolean {
    if (!tree || typeof tree !== "object") return false;
    const shape = models.get(model);
    if (!shape) return true;
    const { select, include, _count } = tree as { select?: Record<string, unknown>; include?: Record<string, unknown>; _count?: unknown };
    if (select && needsQueryIn(shape, select, nested)) return true;
    if (include && needsQueryIn(shape, include, nested)) return true;
    return _count !== undefined && needsQueryIn(shape, { _count }, nested);
  }

  function needsQueryIn(shape: ModelShape, fields: Record<string, unknown>, nested: boolean): boolean {
    if (nested) for (const field of shape.exactJson) if (fields[field]) return true;
    for (const [name, value] of Object.entries(fields)) {
      if (!value) continue;
      if (name === "_count") {
        const counted = (typeof value === "object" && (value as { select?: Record<string, unknown> }).select) || {};
        for (const relation of Object.keys(counted)) {
          const target = shape.relations.get(relation);
          if (!target || columnGranted.has(target)) return true;
        }
        continue;
      }
      const target = shape.relations.get(name);
      if (!target) continue;
      if (columnGranted.has(target)) return true;
      const targetShape = models.get(target);
      if (!targetShape) return true;
      // A relation given as `true`, or with `include`, brings every scalar of its rows.
      if ((value === true || !(value as { select?: unknown }).select) && targetShape.exactJson.size > 0) return true;
      if (needsQuery(target, value, true)) return true;
    }
    return false;
  }

  return {
    /**
     * The strategy for `operation` on `model` with `args`: "join" unless a nested relation reaches a
     * column-granted table or an exact `json` column; undefined for operations that take none.
     */
    choose(model: string, operation: string, args: unknown): RelationLoadStrategy | undefined {
      if (!WITH_STRATEGY.has(operation)) return undefined;
      return needsQuery(model, args, false) ? "query" : "join";
    },
  };
}

/** Model names (PascalCase) of the delegates in OMIT_SECRETS: their tables have column grants. */
export const COLUMN_GRANTED_MODELS: ReadonlySet<string> = new Set(Object.keys(OMIT_SECRETS).map((d) => d[0]!.toUpperCase() + d.slice(1)));

/** `json` columns (`@db.Json` in prisma/schema.prisma): signed documents, kept as issued. */
export const EXACT_JSON_FIELDS: ReadonlySet<string> = new Set(["Credential.legacyDocument", "CredentialDocument.legacyDocument"]);

const defaultChooser = strategyChooser(getDatamodel(), COLUMN_GRANTED_MODELS, EXACT_JSON_FIELDS);

/**
 * The client every unit of work gets: each model delegate's operations that take a
 * relationLoadStrategy get the chosen one, unless the caller named one. Everything else passes through.
 */
export function withRelationStrategy<C extends object>(client: C, chooser = defaultChooser): C {
  const delegates = new Map<string | symbol, unknown>();
  return new Proxy(client, {
    get(target, key) {
      // The client's own methods ($disconnect, $on, ...) run on the client itself (they use private fields).
      const value = Reflect.get(target, key) as unknown;
      if (typeof value === "function") {
        let bound = delegates.get(key);
        if (!bound) delegates.set(key, (bound = (value as (...a: unknown[]) => unknown).bind(target)));
        return bound;
      }
      if (typeof key !== "string" || key.startsWith("$") || !value || typeof value !== "object") return value;
      let delegate = delegates.get(key);
      if (!delegate) {
        const model = key[0]!.toUpperCase() + key.slice(1);
        const original = value as Record<string, (args?: unknown) => unknown>;
        delegate = new Proxy(original, {
          get(d, op, r) {
            const fn = Reflect.get(d, op, r) as unknown;
            if (typeof op !== "string" || typeof fn !== "function" || !WITH_STRATEGY.has(op)) return fn;
            return (args?: Record<string, unknown>) => {
              if (args && args.relationLoadStrategy) return (fn as (a: unknown) => unknown).call(d, args);
              const relationLoadStrategy = chooser.choose(model, op, args);
              return (fn as (a: unknown) => unknown).call(d, { ...args, relationLoadStrategy });
            };
          },
        });
        delegates.set(key, delegate);
      }
      return delegate;
    },
  });
}
