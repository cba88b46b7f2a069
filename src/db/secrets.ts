// Which columns Prisma must never select: the runtime role may write them but not read them (column grants).
/** Secret columns the runtime role may write but never read; Prisma must never select them. */
export const OMIT_SECRETS = {
  apiKey: { secretHash: true },
  session: { secretHash: true },
  invitation: { secretHash: true, inviteeEmailSealed: true, emailCheck: true },
  emailOutbox: { payloadSealed: true, contentSealed: true, legacyPayload: true, legacyContent: true },
  webhookEndpoint: { secretSealed: true },
} as const;
