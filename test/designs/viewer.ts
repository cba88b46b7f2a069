// A viewer of a tenant (invited and accepted through the API), for permission tests of designs.
import { expect } from "vitest";
import { AcceptInvitationDocument, InviteMemberDocument } from "../../src/sdk/generated.js";
import type { LaurelClient } from "../../src/sdk/index.js";
import type { TestApp } from "../helpers/app.js";
import { uniqueEmail } from "../helpers/factories.js";
import type { EngagementTenant } from "../engagement/setup.js";
import { tokenSentTo } from "../helpers/sealed.js";

/** Invites a new member with role viewer into `t` and returns their signed-in client. */
export async function viewerOf(app: TestApp, t: EngagementTenant): Promise<LaurelClient> {
  const email = uniqueEmail("viewer");
  expect((await t.owner.request(InviteMemberDocument, { input: { email, role: "viewer" } })).inviteMember.__typename).toBe("Invitation");
  const row = { token: await tokenSentTo(app, email) };
  const accepted = await app.client().request(AcceptInvitationDocument, { input: { token: row!.token, name: "Vic Viewer", password: "a long enough password" } });
  if (accepted.acceptInvitation.__typename !== "AcceptInvitationPayload") throw new Error(JSON.stringify(accepted));
  return app.client(accepted.acceptInvitation.token!);
}
