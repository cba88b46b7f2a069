// A printable certificate (PDF) of a credential, for people who file paper: what the signed credential
// says, its status today, where to verify it, and the signed credential itself attached to the file,
// so the PDF carries its own proof. Like the public page it names no one: the credential holds only a
// salted hash of the recipient's email.
import PDFDocument from "pdfkit";
import type { PublicCredential } from "./public.js";
import { statusLabel } from "../../public/credential-page.js";
import { formatDay } from "../../lib/calendar.js";

export interface CertificateOptions {
  /** IANA zone the dates are printed in: the issuing tenant's. Default UTC. */
  timeZone?: string;
  recipientName?: string | null;
  locale?: string;
}

export function certificatePdf(credential: PublicCredential, verifyUrl: string, options: CertificateOptions = {}): Promise<Buffer> {
  const vc = credential.document as Record<string, any>;
  const achievement = (vc.credentialSubject?.achievement ?? {}) as { name?: string; description?: string; criteria?: { narrative?: string } };
  const issuer = (vc.issuer ?? {}) as { name?: string; url?: string };
  const name = String(vc.name ?? achievement.name ?? "Credential");
  const status = statusLabel(credential);
  const day = (value: unknown) => (value ? (formatDay(new Date(String(value)), options.timeZone ?? "UTC") ?? String(value)) : null);
  const doc = new PDFDocument({
    size: "A4",
    layout: "landscape",
    margin: 56,
    info: { Title: name, Author: issuer.name ?? "Laurel", Subject: "Open Badges 3.0 credential", Creator: "Laurel" },
  });
  const chunks: Buffer[] = [];
  doc.on("data", (c: Buffer) => chunks.push(c));
  const done = new Promise<Buffer>((resolve) => doc.on("end", () => resolve(Buffer.concat(chunks))));
  const width = doc.page.width - 112;
  doc.rect(28, 28, doc.page.width - 56, doc.page.height - 56).lineWidth(2).stroke("#1f4e79");
  doc.moveDown(2).fillColor("#555").fontSize(14).text(issuer.name ?? "", { align: "center", width });
  doc.moveDown(1).fillColor("#1a1a1a").font("Helvetica-Bold").fontSize(32).text(name, { align: "center", width });
  if (vc.description ?? achievement.description) {
    doc.moveDown(0.8).font("Helvetica").fontSize(13).fillColor("#333").text(String(vc.description ?? achievement.description), { align: "center", width });
  }
  if (achievement.criteria?.narrative) {
    doc.moveDown(0.8).fontSize(11).fillColor("#555").text(`Criteria: ${achievement.criteria.narrative}`, { align: "center", width });
  }
  const expires = day(vc.validUntil);
  doc.moveDown(1.5).fontSize(12).fillColor("#1a1a1a")
    .text(`Issued ${day(vc.validFrom)}${expires ? ` · Expires ${expires}` : ""} · Status: ${status.text}`, { align: "center", width });
  if (status.tone !== "valid") {
    doc.save().rotate(-20, { origin: [doc.page.width / 2, doc.page.height / 2] }).fontSize(72).fillColor("#b00020").opacity(0.18)
      .text(status.text.toUpperCase(), 0, doc.page.height / 2 - 40, { align: "center", width: doc.page.width }).restore();
  }
  doc.opacity(1).fontSize(10).fillColor("#555")
    .text(`Verify this credential at ${verifyUrl}, or present ${String(vc.id)}`, 56, doc.page.height - 110, { align: "center", width })
    .text("The signed Open Badges 3.0 credential is attached to this PDF (credential.json).", { align: "center", width });
  doc.file(Buffer.from(JSON.stringify(vc, null, 2)), {
    name: "credential.json",
    type: "application/ld+json",
    description: "The signed Open Badges 3.0 Verifiable Credential",
    hidden: false,
  });
  doc.end();
  return done;
}
