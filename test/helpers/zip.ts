// Reading a ZIP Laurel wrote (a person's or a tenant's export) back into memory, as any unzip tool would:
// every entry's CRC-32 is checked too, which yauzl leaves to its caller.
import { crc32 } from "node:zlib";
import yauzl from "yauzl";

/** The ZIP's files by path; rejects a ZIP whose entry does not match its CRC-32. */
export function unzip(bytes: Buffer): Promise<Map<string, Buffer>> {
  return new Promise((resolve, reject) => {
    const files = new Map<string, Buffer>();
    yauzl.fromBuffer(bytes, { lazyEntries: true }, (error, zip) => {
      if (error) return reject(error);
      zip.on("entry", (entry: yauzl.Entry) => {
        zip.openReadStream(entry, (e, stream) => {
          if (e) return reject(e);
          const chunks: Buffer[] = [];
          stream.on("data", (c: Buffer) => chunks.push(c));
          stream.on("end", () => {
            const body = Buffer.concat(chunks);
            // yauzl does not check CRC-32s; an unzip tool does: the one in the header is the whole file's.
            if (crc32(body) !== entry.crc32) return reject(new Error(`${entry.fileName}: CRC-32 ${entry.crc32} in the ZIP, ${crc32(body)} of its bytes`));
            files.set(entry.fileName, body);
            zip.readEntry();
          });
        });
      });
      zip.on("end", () => resolve(files));
      zip.on("error", reject);
      zip.readEntry();
    });
  });
}

