// The certificate and key Laurel serves HTTPS with (LAUREL_TLS_CERT, LAUREL_TLS_KEY): read and checked
// before anything listens, so a wrong path, a file that is not PEM or a key of another certificate is one
// start-up line, not a stack trace or a handshake that fails for every client later.
import { createPrivateKey, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { StartupError } from "../config.js";

export interface TlsCredentials {
  /** PEM: the server's certificate first, then any intermediates. */
  cert: Buffer;
  /** PEM: its private key. */
  key: Buffer;
  /** The certificate's subject and expiry, for the start-up log. */
  subject: string;
  validTo: Date;
}

/**
 * Reads and checks the PEM files named by config.tls.
 * @throws StartupError naming the variable and file: unreadable, not a certificate or an unencrypted
 *   private key, or a key that does not belong to the certificate.
 */
export function readTlsCredentials(files: { certFile: string; keyFile: string }): TlsCredentials {
  const cert = readPem("LAUREL_TLS_CERT", files.certFile);
  const key = readPem("LAUREL_TLS_KEY", files.keyFile);
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(cert);
  } catch {
    throw new StartupError(`LAUREL_TLS_CERT ${files.certFile} holds no PEM certificate ("-----BEGIN CERTIFICATE-----")`);
  }
  let privateKey: ReturnType<typeof createPrivateKey>;
  try {
    privateKey = createPrivateKey(key);
  } catch (error) {
    const encrypted = /passphrase/i.test((error as Error).message);
    throw new StartupError(
      encrypted
        ? `LAUREL_TLS_KEY ${files.keyFile} is encrypted: give Laurel the key without a passphrase (openssl pkey -in <file> -out <new file>) and keep that file readable by Laurel alone`
        : `LAUREL_TLS_KEY ${files.keyFile} holds no PEM private key ("-----BEGIN PRIVATE KEY-----")`,
    );
  }
  if (!certificate.checkPrivateKey(privateKey)) {
    throw new StartupError(`LAUREL_TLS_KEY ${files.keyFile} is not the private key of the certificate in LAUREL_TLS_CERT ${files.certFile} (${certificate.subject.replace(/\n/g, ", ")})`);
  }
  return { cert, key, subject: certificate.subject.replace(/\n/g, ", "), validTo: new Date(certificate.validTo) };
}

function readPem(variable: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : code === "EISDIR" ? "is a directory" : (error as Error).message;
    throw new StartupError(`${variable} ${file} cannot be read: ${why}`);
  }
}
