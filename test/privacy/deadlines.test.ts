// Deadlines of people's rights requests (src/modules/privacy/deadlines.ts): pure functions, so every
// case is an instant, a zone and a holiday list, with the deadline written out as an instant.
import { DateTime } from "luxon";
import { describe, expect, it } from "vitest";
import { erasureDeadline, oneMonthDeadline, requestDeadline, workingDaysLeft } from "../../src/modules/privacy/deadlines.js";

const none = new Set<string>();
const at = (iso: string) => new Date(iso);
const erasure = (iso: string, zone = "UTC", holidays: string[] = []) => erasureDeadline(at(iso), zone, new Set(holidays)).toISOString();
const month = (iso: string, zone = "UTC") => oneMonthDeadline(at(iso), zone).toISOString();

describe("the erasure deadline: the end of the seventh working day in the tenant's zone", () => {
  it("counts a working day of receipt as the first: Monday 09:00 is due at the end of the next Tuesday", () => {
    expect(erasure("2026-03-02T09:00:00Z")).toBe("2026-03-10T23:59:59.999Z");
    expect(erasure("2026-03-02T00:00:00Z")).toBe("2026-03-10T23:59:59.999Z");
    expect(erasure("2026-03-02T23:59:59.999Z")).toBe("2026-03-10T23:59:59.999Z");
  });

  it("starts counting on the next working day for a request received on a Saturday or a Sunday", () => {
    expect(erasure("2026-03-07T10:00:00Z")).toBe("2026-03-17T23:59:59.999Z");
    expect(erasure("2026-03-08T22:00:00Z")).toBe("2026-03-17T23:59:59.999Z");
  });

  it("starts counting on the next working day for a request received on a holiday, and skips holidays on the way", () => {
    expect(erasure("2026-03-02T09:00:00Z", "UTC", ["2026-03-02"])).toBe("2026-03-11T23:59:59.999Z");
    expect(erasure("2026-03-02T09:00:00Z", "UTC", ["2026-03-04", "2026-03-05"])).toBe("2026-03-12T23:59:59.999Z");
    // A holiday on a Saturday changes nothing.
    expect(erasure("2026-03-02T09:00:00Z", "UTC", ["2026-03-07"])).toBe("2026-03-10T23:59:59.999Z");
  });

  it("crosses the year end over Christmas and New Year holidays", () => {
    const holidays = ["2026-12-25", "2026-12-28", "2027-01-01"];
    expect(erasure("2026-12-24T16:00:00Z", "Europe/London", holidays)).toBe("2027-01-06T23:59:59.999Z");
    expect(erasure("2026-12-24T16:00:00Z", "Europe/London")).toBe("2027-01-01T23:59:59.999Z");
  });

  it("counts a Friday 23:30 request in the tenant's zone as Friday's, though it is Saturday in UTC", () => {
    // New York, Friday 6 March 2026 23:30 EST; clocks go forward on 8 March, so the deadline is EDT.
    expect(erasure("2026-03-06T23:30:00-05:00", "America/New_York")).toBe("2026-03-17T03:59:59.999Z");
    // The same instant for a UTC tenant is a Saturday request: counted from Monday 9, due Tuesday 17.
    expect(erasure("2026-03-06T23:30:00-05:00", "UTC")).toBe("2026-03-17T23:59:59.999Z");
  });

  it("counts in India's half-hour zone (Asia/Kolkata), a Friday 23:30 request included", () => {
    expect(erasure("2026-05-01T23:30:00+05:30", "Asia/Kolkata")).toBe("2026-05-11T18:29:59.999Z");
    expect(erasure("2026-05-01T23:30:00+05:30", "Asia/Kolkata", ["2026-05-04"])).toBe("2026-05-12T18:29:59.999Z");
  });

  it("counts in Pacific/Auckland: a Monday 00:30 request is Monday's (Sunday in UTC), across the April clock change", () => {
    // New Zealand leaves daylight time on Sunday 5 April 2026 (+13 -> +12).
    expect(erasure("2026-04-06T00:30:00+12:00", "Pacific/Auckland")).toBe("2026-04-14T11:59:59.999Z");
    expect(erasure("2026-04-03T10:00:00+13:00", "Pacific/Auckland")).toBe("2026-04-13T11:59:59.999Z");
  });

  it("always ends at 23:59:59.999 local on a working day, the seventh counted from the day of receipt", () => {
    const zones = ["UTC", "Europe/Berlin", "America/New_York", "America/Santiago", "Asia/Kolkata", "Pacific/Auckland", "Australia/Lord_Howe", "Pacific/Chatham"];
    const holidays = new Set(["2026-03-09", "2026-04-03", "2026-10-26", "2026-12-25"]);
    const isWorking = (d: DateTime) => d.weekday <= 5 && !holidays.has(d.toISODate()!);
    for (let i = 0; i < 1000; i++) {
      const zone = zones[i % zones.length]!;
      const received = new Date(Date.UTC(2026, 0, 1) + ((i * 7_919_993_117) % (365 * 86_400_000)));
      const deadline = DateTime.fromJSDate(erasureDeadline(received, zone, holidays), { zone });
      expect(deadline.toFormat("HH:mm:ss.SSS"), `${zone} ${received.toISOString()}`).toBe("23:59:59.999");
      expect(isWorking(deadline)).toBe(true);
      let counted = 0;
      for (let d = DateTime.fromJSDate(received, { zone }).startOf("day"); d <= deadline; d = d.plus({ days: 1 })) if (isWorking(d)) counted++;
      expect(counted, `${zone} ${received.toISOString()}`).toBe(7);
    }
  });
});

describe("the one-month deadline of every other kind (GDPR Art. 12(3))", () => {
  it("is the end of the same day a month later, in UTC", () => {
    expect(month("2026-03-10T12:00:00Z")).toBe("2026-04-10T23:59:59.999Z");
    expect(month("2026-12-15T00:00:00Z")).toBe("2027-01-15T23:59:59.999Z");
  });

  it("ends on the month's last day when the next month has no such day", () => {
    expect(month("2026-01-31T10:00:00Z")).toBe("2026-02-28T23:59:59.999Z");
    expect(month("2028-01-31T10:00:00Z")).toBe("2028-02-29T23:59:59.999Z");
    expect(month("2026-03-31T10:00:00Z")).toBe("2026-04-30T23:59:59.999Z");
    expect(month("2026-01-29T10:00:00Z")).toBe("2026-02-28T23:59:59.999Z");
  });

  it("is not moved by weekends or holidays", () => {
    // 7 March 2026 is a Saturday.
    expect(month("2026-02-07T10:00:00Z")).toBe("2026-03-07T23:59:59.999Z");
    expect(requestDeadline("access", at("2026-02-07T10:00:00Z"), "UTC", new Set(["2026-03-07"])).toISOString()).toBe("2026-03-07T23:59:59.999Z");
  });

  it("takes the day of receipt and the end of day in the tenant's zone, across daylight-saving changes", () => {
    // Berlin: received in CET (+01), due in CEST (+02).
    expect(month("2026-03-10T12:00:00+01:00", "Europe/Berlin")).toBe("2026-04-10T21:59:59.999Z");
    // Auckland: 31 January 12:30 UTC is already 1 February there; due at the end of 1 March NZDT (+13).
    expect(month("2026-01-31T12:30:00Z", "Pacific/Auckland")).toBe("2026-03-01T10:59:59.999Z");
    expect(month("2026-01-31T12:30:00Z", "UTC")).toBe("2026-02-28T23:59:59.999Z");
    expect(month("2026-03-31T20:00:00+05:30", "Asia/Kolkata")).toBe("2026-04-30T18:29:59.999Z");
    // Santiago: the day after clocks go forward at midnight (6 September 2026) has no 00:00; the deadline is still 23:59:59.999.
    expect(month("2026-08-06T12:00:00-04:00", "America/Santiago")).toBe("2026-09-07T02:59:59.999Z");
  });

  it("applies to every kind but erasure", () => {
    const received = at("2026-03-02T09:00:00Z");
    for (const kind of ["access", "portability", "rectification", "restriction", "objection", "consent_withdrawal"] as const) {
      expect(requestDeadline(kind, received, "UTC", none).toISOString(), kind).toBe("2026-04-02T23:59:59.999Z");
    }
    expect(requestDeadline("erasure", received, "UTC", none).toISOString()).toBe("2026-03-10T23:59:59.999Z");
  });
});

describe("working days left before an erasure deadline", () => {
  const deadline = at("2026-03-10T23:59:59.999Z"); // Tuesday

  it("counts today and the deadline's day when they are working days", () => {
    expect(workingDaysLeft(deadline, at("2026-03-02T09:00:00Z"), "UTC", none)).toBe(7);
    expect(workingDaysLeft(deadline, at("2026-03-09T10:00:00Z"), "UTC", none)).toBe(2);
    expect(workingDaysLeft(deadline, at("2026-03-10T23:00:00Z"), "UTC", none)).toBe(1);
    expect(workingDaysLeft(deadline, at("2026-03-07T10:00:00Z"), "UTC", none)).toBe(2);
  });

  it("skips holidays, and is 0 once the deadline has passed", () => {
    expect(workingDaysLeft(deadline, at("2026-03-07T10:00:00Z"), "UTC", new Set(["2026-03-09"]))).toBe(1);
    expect(workingDaysLeft(deadline, at("2026-03-11T00:00:00Z"), "UTC", none)).toBe(0);
  });

  it("reads today in the tenant's zone", () => {
    const kolkata = erasureDeadline(at("2026-05-01T23:30:00+05:30"), "Asia/Kolkata", none); // end of Monday 11 May IST
    // 18:40 UTC on Monday 11 May is 00:10 on Tuesday in Kolkata: past the deadline there.
    expect(workingDaysLeft(kolkata, at("2026-05-11T18:40:00Z"), "Asia/Kolkata", none)).toBe(0);
    // 18:00 UTC on Sunday 10 May is 23:30 Sunday in Kolkata: Monday is left.
    expect(workingDaysLeft(kolkata, at("2026-05-10T18:00:00Z"), "Asia/Kolkata", none)).toBe(1);
  });
});
