// The peer in `npm run bench:peer`: PostGraphile v5 (amber preset) over Laurel's own migrated database,
// in a process of its own, served by grafserv's node adaptor. It connects as Laurel's login role and,
// like Laurel's tenant transaction (src/db/tenant-transaction.ts), sets the member role and the claims
// per transaction. It authenticates nobody: the tenant is whatever the x-tenant-id header says.
//
// Runs on plain node (type stripping, no tsx), as a deployment would: it imports packages only.
// Environment: PEER_DATABASE_URL (the login role), PEER_MEMBER_ROLE, PEER_POOL_SIZE, PORT (0: any).
import { createServer } from "node:http";
import { postgraphile } from "postgraphile";
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { makePgService } from "postgraphile/adaptors/pg";
import { grafserv } from "postgraphile/grafserv/node";
import { jsonPgSmartTags } from "postgraphile/utils";

const connectionString = required("PEER_DATABASE_URL");
const member = required("PEER_MEMBER_ROLE");

// Two smart tags, the least that lets PostGraphile serve Laurel's schema as it is:
// - credentials.status has no index of its own (Laurel filters on it within the tenant's rows), and
//   PostGraphile offers no condition on an unindexed column unless told the column may be filtered;
// - the enum privacy_choice and the table privacy_choices both want the GraphQL name PrivacyChoice.
const smartTags = jsonPgSmartTags({
  version: 1,
  config: {
    class: { credentials: { attribute: { status: { tags: { isIndexed: true } } } } },
    type: { privacy_choice: { tags: { name: "PrivacyChoiceKind" } } },
  },
});

const preset: GraphileConfig.Preset = {
  extends: [PostGraphileAmberPreset],
  plugins: [smartTags],
  // Reads only: no create/update/delete mutations, and Laurel's database functions stay out of the schema.
  disablePlugins: ["PgMutationCreatePlugin", "PgMutationUpdateDeletePlugin", "PgMutationPayloadEdgePlugin", "PgProceduresPlugin"],
  pgServices: [
    makePgService({
      connectionString,
      schemas: ["public"],
      poolConfig: { max: Number(process.env.PEER_POOL_SIZE ?? 16), application_name: "postgraphile" },
      pubsub: false,
      // Introspect as the member role, so only what it may read (grants, column grants) is exposed.
      pgSettingsForIntrospection: { role: member },
      // The same settings Laurel's tenant transaction makes (an API key has no user: app.user_id is '').
      pgSettings: (ctx) => ({
        role: member,
        "app.tenant_id": ctx.http?.getHeader("x-tenant-id") ?? "",
        "app.user_id": "",
        statement_timeout: "15000",
        jit: "off",
      }),
    }),
  ],
  grafserv: { graphiql: false, watch: false },
  grafast: { explain: false },
};

const pgl = postgraphile(preset);
await pgl.getSchema(); // introspect and build before the first request
const serv = pgl.createServ(grafserv);
const server = createServer();
serv.addTo(server).catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
server.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => {
  const address = server.address();
  if (address && typeof address === "object") console.log(`PostGraphile is listening on http://127.0.0.1:${address.port}`);
});
process.on("SIGTERM", () => {
  server.close();
  server.closeAllConnections();
  void Promise.resolve(pgl.release()).then(() => process.exit(0));
});

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}
