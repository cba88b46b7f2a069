// A signing thread: receives unsigned credentials and a key, returns them signed (see sign-pool.ts).
import { parentPort } from "node:worker_threads";
import { createDocumentLoader } from "./document-loader.js";
import { signCredential, type SigningKey } from "./proofs.js";

const loader = createDocumentLoader();

parentPort!.on("message", async (message: { id: number; credentials: Record<string, unknown>[]; key: SigningKey }) => {
  try {
    const signed = [];
    for (const credential of message.credentials) signed.push(await signCredential(credential, message.key, loader));
    parentPort!.postMessage({ id: message.id, signed });
  } catch (error) {
    parentPort!.postMessage({ id: message.id, error: (error as Error).message });
  }
});
