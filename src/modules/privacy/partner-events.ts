// What partners hear about people's requests: that one closed, or that one's deadline is near. Only the
// request's global id, kind, state and dates: never the person's name, email or attributes.
import { encodeGlobalID } from "@pothos/plugin-relay";
import type { Db } from "../../db/tenant-transaction.js";
import type { DataSubjectRequestKind, DataSubjectRequestState } from "../../generated/prisma/enums.js";
import { emitPartnerEvents } from "../jobs/enqueue.js";

interface RequestFacts {
  id: string;
  kind: DataSubjectRequestKind;
  state: DataSubjectRequestState;
  receivedAt: Date;
  deadlineAt: Date;
  completedAt: Date | null;
}

/** data_subject_request.completed, in the transaction that closed the request (completed, refused or cancelled). */
export async function emitRequestClosed(db: Db, request: RequestFacts): Promise<void> {
  await emitPartnerEvents(db, "data_subject_request.completed", [
    { requestId: encodeGlobalID("DataSubjectRequest", request.id), kind: request.kind, state: request.state, completedAt: request.completedAt?.toISOString() ?? null },
  ]);
}

/** data_subject_request.due_soon, for the requests the daily job warns about. */
export async function emitRequestsDueSoon(db: Db, requests: RequestFacts[]): Promise<void> {
  await emitPartnerEvents(db, "data_subject_request.due_soon", requests.map((r) => ({
    requestId: encodeGlobalID("DataSubjectRequest", r.id), kind: r.kind, state: r.state,
    receivedAt: r.receivedAt.toISOString(), deadlineAt: r.deadlineAt.toISOString(),
  })));
}
