// The one date reader every path uses (src/lib/calendar.ts), on the inputs importers get wrong.
import { describe, expect, it } from "vitest";
import { calendarDay, formatDay, isTimeZone, parseDateInput, representable } from "../../src/lib/calendar.js";

const read = (text: string, zone = "UTC", edge: "start" | "end" = "start") => {
  const r = parseDateInput(text, zone, edge);
  return r.ok ? r.date.toISOString() : r.message;
};

describe("parseDateInput", () => {
  it("takes calendar dates and offset date-times, and nothing else", () => {
    expect(read("2028-02-29")).toBe("2028-02-29T00:00:00.000Z");
    expect(read("2026-01-01t09:30:00.5z")).toBe("2026-01-01T09:30:00.500Z");
    expect(read("2026-01-01T09:30+05:30")).toBe("2026-01-01T04:00:00.000Z");
    expect(read("2026-02-29")).toBe("No such date: 2026-02-29");
    expect(read("2026-04-31")).toBe("No such date: 2026-04-31");
    expect(read("2026-01-01T24:00:00Z")).toBe("No such date: 2026-01-01T24:00:00Z");
    expect(read("2026-12-31T23:59:60Z")).toBe("No such date: 2026-12-31T23:59:60Z");
    for (const text of ["03/04/2026", "4 March 2026", "20260304", "2026-W10-3", "2026-063", "1741046400", "20260", "+020260-03-04", "2026-3-4"]) {
      expect(read(text), text).toMatch(/Not an ISO 8601 date/);
    }
    expect(read("2026-03-04T10:00:00")).toMatch(/offset or Z/);
    expect(read("2026-03-04 10:00")).toMatch(/offset or Z/);
  });

  it("keeps to 1900-2199, by the year as written on either side of UTC", () => {
    expect(read("1900-01-01", "Asia/Tokyo")).toBe("1899-12-31T15:00:00.000Z");
    expect(read("2199-12-31", "Pacific/Pago_Pago", "end")).toBe("2200-01-01T10:59:59.999Z");
    expect(read("1899-12-31T23:59:59Z")).toMatch(/Out of range/);
    expect(read("2200-01-01")).toMatch(/Out of range/);
  });

  it("reads a date alone as a day in the zone given, whose midnight may not exist", () => {
    // Chile moves its clocks from 00:00 to 01:00 on 6 September 2026: the day starts at 01:00.
    expect(read("2026-09-06", "America/Santiago")).toBe("2026-09-06T04:00:00.000Z");
    expect(read("2026-09-06", "America/Santiago", "end")).toBe("2026-09-07T02:59:59.999Z");
    expect(read("2026-03-08", "America/New_York", "end")).toBe("2026-03-09T03:59:59.999Z"); // a 23-hour day
  });
});

describe("zones and display", () => {
  it("knows IANA zones, not offsets", () => {
    expect(["UTC", "Asia/Kolkata", "America/Argentina/Buenos_Aires", "Etc/GMT-14"].every(isTimeZone)).toBe(true);
    expect(["+05:30", "Mars/Base", "", "UTC+1", "../etc/passwd"].some(isTimeZone)).toBe(false);
  });

  it("writes the day of an instant as people there would, and never fails on a bad instant", () => {
    const instant = new Date("2025-12-31T23:30:00Z");
    expect(formatDay(instant, "Australia/Sydney")).toBe("1 January 2026");
    expect(formatDay(instant, "America/Los_Angeles")).toBe("31 December 2025");
    expect(formatDay(instant, "Asia/Kolkata", "fr")).toBe("1 janvier 2026");
    expect(formatDay(instant, "Not/AZone")).toBe("31 December 2025");
    expect(formatDay(instant, "UTC", "not a locale!")).toBe("31 December 2025");
    expect(calendarDay(instant, "Australia/Adelaide")).toEqual({ year: 2026, month: 1, day: 1, iso: "2026-01-01" });
    expect(formatDay(new Date(Number.NaN), "UTC")).toBeNull();
    expect(representable(new Date("+020260-03-04T00:00:00Z"))).toBeNull();
    expect(representable(new Date("2026-03-04T00:00:00Z"))?.toISOString()).toBe("2026-03-04T00:00:00.000Z");
  });
});
