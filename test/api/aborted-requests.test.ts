// Clients that hang up mid-request (a phone losing signal, a scanner, an attacker) end only their own
// request: the server keeps answering everyone else.
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../helpers/app.js";

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(async () => app?.close());

/** Sends the headers and a fraction of the promised body, then closes the socket. */
function abortMidBody(path: string, contentType: string): Promise<void> {
  const { port } = new URL(app.server.url);
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), "127.0.0.1", () => {
      socket.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: ${contentType}\r\nContent-Length: 100000\r\n\r\n` + "token=abc".repeat(20));
      setTimeout(() => socket.destroy(), 50);
    });
    socket.on("close", () => resolve());
    socket.on("error", () => resolve());
  });
}

describe("a request abandoned mid-body", () => {
  it("does not take the server down, whichever public endpoint it hit", async () => {
    const id = "00000000-0000-4000-8000-000000000000";
    for (const [path, type] of [
      [`/issuers/${id}/credentials/${id}/claim`, "application/x-www-form-urlencoded"],
      ["/webhooks/resend", "application/json"],
      ["/verify", "application/json"],
      ["/graphql", "application/json"],
    ] as const) {
      await abortMidBody(path, type);
    }
    await new Promise((r) => setTimeout(r, 200));
    expect((await fetch(`${app.server.url}/healthz`)).status).toBe(200);
    expect((await app.post({ query: "{ __typename }" })).json).toEqual({ data: { __typename: "Query" } });
  });
});
