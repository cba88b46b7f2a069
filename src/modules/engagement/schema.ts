// engagementSummary: what recipients and others did with a tenant's credentials, counted.
import { builder } from "../../builder.js";
import { badInput } from "../../errors.js";
import { queryBoundProblem } from "../../lib/calendar.js";
import { isUuid } from "../common/caller.js";
import { ENGAGEMENT_TYPES, engagementSummary, type EngagementCount } from "./service.js";

const EngagementTypeEnum = builder.enumType("EngagementType", {
  values: Object.fromEntries(ENGAGEMENT_TYPES.map((t) => [t.toUpperCase(), { value: t }])),
});

export const EngagementCountRef = builder.objectRef<EngagementCount>("EngagementCount").implement({
  description: "Events of one type in the range: by people, and by machines (mail proxies, link scanners, bots).",
  fields: (t) => ({
    type: t.field({ type: EngagementTypeEnum, resolve: (c) => c.type }),
    people: t.exposeInt("people"),
    machines: t.exposeInt("machines"),
  }),
});

const MAX_RANGE_DAYS = 400;

builder.queryField("engagementSummary", (t) =>
  t.field({
    type: [EngagementCountRef],
    description:
      "Engagement with the tenant's credentials in [from, to) (1970 to 2200), optionally for one template: raw event counts. " +
      "Refused with SUPPRESSION_IN_FORCE while the tenant's minimumGroupSize is above 1.",
    deprecationReason: "Use engagementTimeSeries (its totals) or engagementBreakdown, which apply minimumGroupSize",
    authScopes: { $all: { tenant: true, permission: "analytics" } },
    args: {
      from: t.arg({ type: "DateTime", required: true }),
      to: t.arg({ type: "DateTime", required: true }),
      templateId: t.arg.globalID(),
    },
    resolve: (_root, { from, to, templateId }, ctx) => {
      const bound = queryBoundProblem("from", from) ?? queryBoundProblem("to", to);
      if (bound) throw badInput(bound);
      if (to <= from) throw badInput("to must be after from");
      if (to.getTime() - from.getTime() > MAX_RANGE_DAYS * 86_400_000) throw badInput(`The range may span at most ${MAX_RANGE_DAYS} days`);
      if (templateId && (templateId.typename !== "Template" || !isUuid(templateId.id))) throw badInput("templateId must be a Template's id");
      return engagementSummary(ctx.db, ctx.tenantId!, { from, to, templateId: templateId?.id });
    },
  }),
);
