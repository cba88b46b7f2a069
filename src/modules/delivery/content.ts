// What an email says: built-in content per kind and language, which a tenant may override per credential
// template (email_templates). Merge fields are Mustache tags: HTML bodies escape every value, text
// bodies do not. A template is checked when saved: unknown fields and broken tags are refused.
import Mustache from "mustache";
import { formatDay } from "../../lib/calendar.js";

export const EMAIL_KINDS = [
  "credential_issued",
  "credential_reminder",
  "credential_expiring",
  "credential_revoked",
  "credential_suspended",
  "credential_reinstated",
] as const;
// Messages to the tenant's own staff, the notices of a rectification (GDPR Art. 16, which must say what
// happened and, to an old address, nothing more), privacy_request_link, sent at a person's own request
// (privacy/self-service.ts), and guardian_consent_request to a child's guardian (privacy/guardian.ts): ours,
// not overridable, so no tenant template can drop a link or reword them.
export type EmailKind =
  | (typeof EMAIL_KINDS)[number]
  | "invitation"
  | "data_subject_request_due"
  | "data_subject_request_filed"
  | "data_subject_request_refused"
  | "data_subject_request_extended"
  | "data_subject_request_completed"
  | "privacy_request_link"
  | "recipient_rectified"
  | "recipient_email_changed"
  | "guardian_consent_request"
  | "person_export_ready"
  | "password_reset";

export const MERGE_FIELDS = [
  "recipient.name",
  "recipient.email",
  "credential.name",
  "credential.validUntil",
  "credential.reason",
  "issuer.name",
  "links.view",
  "links.linkedin",
  "links.claim",
  "links.privacy",
  "links.badge",
  "reminder.number",
  "tenant.name",
  "invitation.role",
  "links.accept",
] as const;

export interface Content {
  subject: string;
  html: string;
  text: string;
}

const wrap = (body: string) =>
  `<!doctype html><html><body style="font-family:system-ui,sans-serif;line-height:1.5;color:#1a1a1a;max-width:560px;margin:auto">${body}</body></html>`;
const button = (href: string, label: string) =>
  `<a href="{{${href}}}" style="display:inline-block;padding:10px 18px;background:#1f4e79;color:#fff;border-radius:6px;text-decoration:none">${label}</a>`;

// The credential's badge, as its page shows it (?view=email: a look, not a download, so not counted).
// Square like every badge.png; with width/height a client that blocks images keeps the layout.
const badgeImage = `{{#links.badge}}<p><img src="{{links.badge}}" alt="{{credential.name}}" width="160" height="160" style="display:block;border:0;width:160px;height:160px"></p>{{/links.badge}}`;

type Defaults = Record<EmailKind, Content>;

const en: Defaults = {
  credential_issued: {
    subject: "{{issuer.name}} sent you a credential: {{credential.name}}",
    html: wrap(`<p>Hello {{recipient.name}},</p><p><strong>{{issuer.name}}</strong> has issued you <strong>{{credential.name}}</strong>.</p>
${badgeImage}<p>${button("links.view", "View your credential")}</p><p><a href="{{links.claim}}">Accept it</a>{{#links.linkedin}} · <a href="{{links.linkedin}}">Add it to your LinkedIn profile</a>{{/links.linkedin}}</p>
<p style="color:#666;font-size:13px">Anyone can verify this credential without trusting us: it is an Open Badges 3.0 Verifiable Credential.</p>
<p style="color:#666;font-size:13px"><a href="{{links.privacy}}">Your data and your rights</a>: ask for a copy, a correction or erasure.</p>`),
    text: "Hello {{recipient.name}},\n\n{{issuer.name}} has issued you {{credential.name}}.\n\nView your credential: {{links.view}}\nAccept it: {{links.claim}}\n{{#links.linkedin}}Add it to LinkedIn: {{links.linkedin}}\n{{/links.linkedin}}\n\nYour data and your rights (a copy, a correction, erasure): {{links.privacy}}\n",
  },
  credential_reminder: {
    subject: "Reminder: your credential {{credential.name}} is waiting",
    html: wrap(`<p>Hello {{recipient.name}},</p><p>{{issuer.name}} issued you <strong>{{credential.name}}</strong> and you have not opened it yet.</p>
<p>${button("links.view", "View your credential")}</p>`),
    text: "Hello {{recipient.name}},\n\n{{issuer.name}} issued you {{credential.name}} and you have not opened it yet.\n\nView it: {{links.view}}\n",
  },
  credential_expiring: {
    subject: "Your credential {{credential.name}} expires on {{credential.validUntil}}",
    html: wrap(`<p>Hello {{recipient.name}},</p><p>Your credential <strong>{{credential.name}}</strong> from {{issuer.name}} expires on {{credential.validUntil}}.</p>
<p>${button("links.view", "View your credential")}</p>`),
    text: "Hello {{recipient.name}},\n\nYour credential {{credential.name}} from {{issuer.name}} expires on {{credential.validUntil}}.\n\n{{links.view}}\n",
  },
  credential_revoked: {
    subject: "Your credential {{credential.name}} has been revoked",
    html: wrap(`<p>Hello {{recipient.name}},</p><p>{{issuer.name}} has revoked <strong>{{credential.name}}</strong>.</p><p>Reason: {{credential.reason}}</p>`),
    text: "Hello {{recipient.name}},\n\n{{issuer.name}} has revoked {{credential.name}}.\nReason: {{credential.reason}}\n",
  },
  credential_suspended: {
    subject: "Your credential {{credential.name}} is suspended",
    html: wrap(`<p>Hello {{recipient.name}},</p><p>{{issuer.name}} has suspended <strong>{{credential.name}}</strong> for now.</p><p><a href="{{links.view}}">View its status</a></p>`),
    text: "Hello {{recipient.name}},\n\n{{issuer.name}} has suspended {{credential.name}} for now.\n{{links.view}}\n",
  },
  credential_reinstated: {
    subject: "Your credential {{credential.name}} is valid again",
    html: wrap(`<p>Hello {{recipient.name}},</p><p>{{issuer.name}} has reinstated <strong>{{credential.name}}</strong>.</p><p><a href="{{links.view}}">View it</a></p>`),
    text: "Hello {{recipient.name}},\n\n{{issuer.name}} has reinstated {{credential.name}}.\n{{links.view}}\n",
  },
  password_reset: {
    subject: "Set your Laurel password",
    html: wrap(`<p>Hello {{recipient.name}},</p><p>Someone, we hope you, asked to set a new password for your Laurel account.</p>
<p>Use this link to choose one. It works once, until {{link.expiresAt}}, and signs you out everywhere else.</p><p>${button("links.accept", "Choose a new password")}</p>
<p style="color:#666;font-size:13px">If you did not ask, ignore this email: your password stays as it is.</p>`),
    text: "Hello {{recipient.name}},\n\nSomeone, we hope you, asked to set a new password for your Laurel account.\n\nOpen this link to choose one. It works once, until {{link.expiresAt}}, and signs you out everywhere else:\n{{links.accept}}\n\nIf you did not ask, ignore this email: your password stays as it is.\n",
  },
  invitation: {
    subject: "You are invited to join {{tenant.name}} on Laurel",
    html: wrap(`<p>Hello,</p><p>You have been invited to join <strong>{{tenant.name}}</strong> as {{invitation.role}}.</p><p>${button("links.accept", "Accept the invitation")}</p>`),
    text: "Hello,\n\nYou have been invited to join {{tenant.name}} as {{invitation.role}}.\n\nAccept: {{links.accept}}\n",
  },
  // Names no one: the request's kind and dates only (privacy/deadline-warnings.ts).
  data_subject_request_due: {
    subject: "A people's-rights request is due on {{request.dueOn}}",
    html: wrap(`<p>Hello,</p><p>{{request.title}} received {{request.receivedOn}} is due {{request.dueOn}}.</p><p>Its id, as Laurel's API shows it: <code>{{request.id}}</code>. See the list of requests in {{tenant.name}} on Laurel.</p>`),
    text: "Hello,\n\n{{request.title}} received {{request.receivedOn}} is due {{request.dueOn}}.\n\nIts id, as Laurel's API shows it: {{request.id}}\nSee the list of requests in {{tenant.name}} on Laurel.\n",
  },
  // Names no one: a person filed a request by their own link (privacy/deadline-warnings.ts tellOwnersOfRequest).
  data_subject_request_filed: {
    subject: "A people's-rights request was filed{{^request.done}}: due {{request.dueOn}}{{/request.done}}{{#request.done}} and carried out{{/request.done}}",
    html: wrap(`<p>Hello,</p><p>{{request.title}} was filed on {{request.receivedOn}} by the person, through the one-time link sent to their address on record. {{#request.done}}It took effect at once, as the person asked: nothing is left to do.{{/request.done}}{{^request.done}}It is due {{request.dueOn}}.{{/request.done}}</p><p>Its id, as Laurel's API shows it: <code>{{request.id}}</code>. See the list of requests in {{tenant.name}} on Laurel.</p>`),
    text: "Hello,\n\n{{request.title}} was filed on {{request.receivedOn}} by the person, through the one-time link sent to their address on record. {{#request.done}}It took effect at once, as the person asked: nothing is left to do.{{/request.done}}{{^request.done}}It is due {{request.dueOn}}.{{/request.done}}\n\nIts id, as Laurel's API shows it: {{request.id}}\nSee the list of requests in {{tenant.name}} on Laurel.\n",
  },
  // To the person (or a child's guardian): a refusal and its reasons, Art. 12(4) (privacy/service.ts).
  data_subject_request_completed: {
    subject: "{{tenant.name}} has carried out your request about your personal data",
    html: wrap(`<p>Hello,</p><p>{{tenant.name}} has carried out {{request.titleLower}} you made: {{request.action}}.</p>
<p style="color:#666;font-size:13px">If this is not what you asked for, reply to this email or contact {{tenant.name}}. You may also lodge a complaint with a data protection supervisory authority.</p>`),
    text: "Hello,\n\n{{tenant.name}} has carried out {{request.titleLower}} you made: {{request.action}}.\n\nIf this is not what you asked for, reply to this email or contact {{tenant.name}}. You may also lodge a complaint with a data protection supervisory authority.\n",
  },
  data_subject_request_extended: {
    subject: "{{tenant.name}} needs more time for your request about your personal data",
    html: wrap(`<p>Hello,</p><p>{{tenant.name}} needs more time to answer {{request.titleLower}} you made, and will answer by <strong>{{request.dueOn}}</strong>, for these reasons:</p><blockquote style="white-space:pre-line;border-left:3px solid #ccc;margin:0;padding-left:12px">{{credential.reason}}</blockquote>
<p>GDPR Art. 12(3) allows two further months where a request is complex or requests are many. You may lodge a complaint with a data protection supervisory authority.</p>`),
    text: "Hello,\n\n{{tenant.name}} needs more time to answer {{request.titleLower}} you made, and will answer by {{request.dueOn}}, for these reasons:\n\n{{credential.reason}}\n\nGDPR Art. 12(3) allows two further months where a request is complex or requests are many. You may lodge a complaint with a data protection supervisory authority.\n",
  },
  data_subject_request_refused: {
    subject: "{{tenant.name}} has answered your request about your personal data",
    html: wrap(`<p>Hello,</p><p>{{tenant.name}} will not carry out {{request.titleLower}} you made, for these reasons:</p><blockquote style="white-space:pre-line;border-left:3px solid #ccc;margin:0;padding-left:12px">{{credential.reason}}</blockquote>
<p>You may lodge a complaint with a data protection supervisory authority, and seek a judicial remedy (GDPR Art. 12(4)).</p>`),
    text: "Hello,\n\n{{tenant.name}} will not carry out {{request.titleLower}} you made, for these reasons:\n\n{{credential.reason}}\n\nYou may lodge a complaint with a data protection supervisory authority, and seek a judicial remedy (GDPR Art. 12(4)).\n",
  },
  // To the address on record, at the person's request: what they asked, the one-time link, its expiry.
  privacy_request_link: {
    subject: "Confirm your request to {{tenant.name}} about your personal data",
    html: wrap(`<p>Hello,</p><p>Someone, we hope you, asked {{tenant.name}} to <strong>{{request.action}}</strong>.</p>
<p>To confirm that it was you, use this link. It works once, until {{link.expiresAt}}.</p><p>${button("links.accept", "Confirm my request")}</p>
<p style="color:#666;font-size:13px">If you did not ask, ignore this email: nothing happens unless the link is used.</p>`),
    text: "Hello,\n\nSomeone, we hope you, asked {{tenant.name}} to {{request.action}}.\n\nTo confirm that it was you, open this link. It works once, until {{link.expiresAt}}:\n{{links.accept}}\n\nIf you did not ask, ignore this email: nothing happens unless the link is used.\n",
  },
  // To the corrected address: what was corrected, and each re-issued credential (privacy/rectification.ts).
  recipient_rectified: {
    subject: "{{issuer.name}} corrected your details and re-issued your credentials",
    html: wrap(`<p>Hello {{recipient.name}},</p><p>{{issuer.name}} has corrected {{#rectification.changedName}}your name{{#rectification.changedEmail}} and {{/rectification.changedEmail}}{{/rectification.changedName}}{{#rectification.changedEmail}}your email address{{/rectification.changedEmail}} in its records.</p>
{{#rectification.credentials.length}}<p>Each of your credentials was re-issued with the corrected details, at the same address:</p><ul>{{#rectification.credentials}}<li><a href="{{url}}">{{name}}</a></li>{{/rectification.credentials}}</ul>
<p>Copies you downloaded or shared before now show as revoked (superseded): download them again from the links above.</p>{{/rectification.credentials.length}}
<p style="color:#666;font-size:13px">If you did not ask for this correction, contact {{issuer.name}}.</p>`),
    text: "Hello {{recipient.name}},\n\n{{issuer.name}} has corrected {{#rectification.changedName}}your name{{#rectification.changedEmail}} and {{/rectification.changedEmail}}{{/rectification.changedName}}{{#rectification.changedEmail}}your email address{{/rectification.changedEmail}} in its records.\n{{#rectification.credentials.length}}\nEach of your credentials was re-issued with the corrected details, at the same address:\n{{#rectification.credentials}}  {{name}}: {{url}}\n{{/rectification.credentials}}\nCopies you downloaded or shared before now show as revoked (superseded): download them again from the links above.\n{{/rectification.credentials.length}}\nIf you did not ask for this correction, contact {{issuer.name}}.\n",
  },
  // To the old address when it changed: names no new address (account-takeover safety).
  recipient_email_changed: {
    subject: "{{issuer.name}} no longer writes to this address",
    html: wrap(`<p>Hello,</p><p>{{issuer.name}} has changed the email address it holds for you: messages about your credentials will no longer come here.</p><p>If you did not ask for this, contact {{issuer.name}} at once.</p>`),
    text: "Hello,\n\n{{issuer.name}} has changed the email address it holds for you: messages about your credentials will no longer come here.\n\nIf you did not ask for this, contact {{issuer.name}} at once.\n",
  },
  guardian_consent_request: {
    subject: "{{tenant.name}} asks for your consent",
    html: wrap(`<p>Hello {{guardian.name}},</p><p><strong>{{tenant.name}}</strong> asks for your consent, as a parent or guardian, before issuing credentials to {{recipient.name}}, a child in your care. This is what you are asked to agree to:</p>
<blockquote style="white-space:pre-line;border-left:3px solid #ccc;margin:0;padding-left:12px">{{consent.wording}}</blockquote>
<p>${button("links.accept", "Read and give consent")}</p><p style="color:#666;font-size:13px">The link works once, until {{consent.expiresOn}}. If you do not agree, do nothing: nothing is issued without your consent.</p>`),
    text: "Hello {{guardian.name}},\n\n{{tenant.name}} asks for your consent, as a parent or guardian, before issuing credentials to {{recipient.name}}, a child in your care. This is what you are asked to agree to:\n\n{{consent.wording}}\n\nRead and give consent: {{links.accept}}\n\nThe link works once, until {{consent.expiresOn}}. If you do not agree, do nothing: nothing is issued without your consent.\n",
  },
  // To the person (or a child's guardian) once their export is built: the signed link (privacy/export.ts).
  person_export_ready: {
    subject: "Your personal data from {{tenant.name}} is ready",
    html: wrap(`<p>Hello,</p><p>{{tenant.name}} has prepared a copy of the personal data it holds about you, as you asked: one ZIP file with a JSON document, the same as CSV files, each of your credentials as published, and a README explaining every field.</p>
<p>${button("links.accept", "Download my data")}</p><p style="color:#666;font-size:13px">The link works until {{request.dueOn}}. Anyone holding it can download the file: do not forward this email.</p>`),
    text: "Hello,\n\n{{tenant.name}} has prepared a copy of the personal data it holds about you, as you asked: one ZIP file with a JSON document, the same as CSV files, each of your credentials as published, and a README explaining every field.\n\nDownload it: {{links.accept}}\n\nThe link works until {{request.dueOn}}. Anyone holding it can download the file: do not forward this email.\n",
  },
};

const fr: Defaults = {
  credential_issued: {
    subject: "{{issuer.name}} vous a délivré un titre : {{credential.name}}",
    html: wrap(`<p>Bonjour {{recipient.name}},</p><p><strong>{{issuer.name}}</strong> vous a délivré <strong>{{credential.name}}</strong>.</p>
${badgeImage}<p>${button("links.view", "Voir votre titre")}</p><p><a href="{{links.claim}}">L'accepter</a>{{#links.linkedin}} · <a href="{{links.linkedin}}">L'ajouter à votre profil LinkedIn</a>{{/links.linkedin}}</p>
<p style="color:#666;font-size:13px">Chacun peut vérifier ce titre sans nous faire confiance : c'est un Open Badge 3.0 vérifiable.</p>
<p style="color:#666;font-size:13px"><a href="{{links.privacy}}">Vos données et vos droits</a> : en obtenir une copie, les faire corriger ou effacer.</p>`),
    text: "Bonjour {{recipient.name}},\n\n{{issuer.name}} vous a délivré {{credential.name}}.\n\nVoir votre titre : {{links.view}}\nL'accepter : {{links.claim}}\n{{#links.linkedin}}L'ajouter à LinkedIn : {{links.linkedin}}\n{{/links.linkedin}}\n\nVos données et vos droits (copie, correction, effacement) : {{links.privacy}}\n",
  },
  credential_reminder: {
    subject: "Rappel : votre titre {{credential.name}} vous attend",
    html: wrap(`<p>Bonjour {{recipient.name}},</p><p>{{issuer.name}} vous a délivré <strong>{{credential.name}}</strong>, que vous n'avez pas encore ouvert.</p>
<p>${button("links.view", "Voir votre titre")}</p>`),
    text: "Bonjour {{recipient.name}},\n\n{{issuer.name}} vous a délivré {{credential.name}}, que vous n'avez pas encore ouvert.\n\n{{links.view}}\n",
  },
  credential_expiring: {
    subject: "Votre titre {{credential.name}} expire le {{credential.validUntil}}",
    html: wrap(`<p>Bonjour {{recipient.name}},</p><p>Votre titre <strong>{{credential.name}}</strong> délivré par {{issuer.name}} expire le {{credential.validUntil}}.</p>
<p>${button("links.view", "Voir votre titre")}</p>`),
    text: "Bonjour {{recipient.name}},\n\nVotre titre {{credential.name}} délivré par {{issuer.name}} expire le {{credential.validUntil}}.\n\n{{links.view}}\n",
  },
  credential_revoked: {
    subject: "Votre titre {{credential.name}} a été révoqué",
    html: wrap(`<p>Bonjour {{recipient.name}},</p><p>{{issuer.name}} a révoqué <strong>{{credential.name}}</strong>.</p><p>Motif : {{credential.reason}}</p>`),
    text: "Bonjour {{recipient.name}},\n\n{{issuer.name}} a révoqué {{credential.name}}.\nMotif : {{credential.reason}}\n",
  },
  credential_suspended: {
    subject: "Votre titre {{credential.name}} est suspendu",
    html: wrap(`<p>Bonjour {{recipient.name}},</p><p>{{issuer.name}} a suspendu <strong>{{credential.name}}</strong> pour le moment.</p><p><a href="{{links.view}}">Voir son état</a></p>`),
    text: "Bonjour {{recipient.name}},\n\n{{issuer.name}} a suspendu {{credential.name}} pour le moment.\n{{links.view}}\n",
  },
  credential_reinstated: {
    subject: "Votre titre {{credential.name}} est de nouveau valide",
    html: wrap(`<p>Bonjour {{recipient.name}},</p><p>{{issuer.name}} a rétabli <strong>{{credential.name}}</strong>.</p><p><a href="{{links.view}}">Le voir</a></p>`),
    text: "Bonjour {{recipient.name}},\n\n{{issuer.name}} a rétabli {{credential.name}}.\n{{links.view}}\n",
  },
  password_reset: {
    subject: "Choisissez votre mot de passe Laurel",
    html: wrap(`<p>Bonjour {{recipient.name}},</p><p>Quelqu'un, vous nous l'espérons, a demandé un nouveau mot de passe pour votre compte Laurel.</p>
<p>Utilisez ce lien pour le choisir. Il ne sert qu'une fois, jusqu'au {{link.expiresAt}}, et vous déconnecte partout ailleurs.</p><p>${button("links.accept", "Choisir un nouveau mot de passe")}</p>
<p style="color:#666;font-size:13px">Si vous n'avez rien demandé, ignorez ce message : votre mot de passe ne change pas.</p>`),
    text: "Bonjour {{recipient.name}},\n\nQuelqu'un, vous nous l'espérons, a demandé un nouveau mot de passe pour votre compte Laurel.\n\nOuvrez ce lien pour le choisir. Il ne sert qu'une fois, jusqu'au {{link.expiresAt}}, et vous déconnecte partout ailleurs :\n{{links.accept}}\n\nSi vous n'avez rien demandé, ignorez ce message : votre mot de passe ne change pas.\n",
  },
  invitation: {
    subject: "Invitation à rejoindre {{tenant.name}} sur Laurel",
    html: wrap(`<p>Bonjour,</p><p>Vous êtes invité·e à rejoindre <strong>{{tenant.name}}</strong> en tant que {{invitation.role}}.</p><p>${button("links.accept", "Accepter l'invitation")}</p>`),
    text: "Bonjour,\n\nVous êtes invité·e à rejoindre {{tenant.name}} en tant que {{invitation.role}}.\n\nAccepter : {{links.accept}}\n",
  },
  data_subject_request_due: {
    subject: "Une demande relative aux données personnelles est due le {{request.dueOn}}",
    html: wrap(`<p>Bonjour,</p><p>{{request.title}} reçue le {{request.receivedOn}} est due le {{request.dueOn}}.</p><p>Son identifiant, tel que l'API de Laurel l'affiche : <code>{{request.id}}</code>. Voir la liste des demandes de {{tenant.name}} sur Laurel.</p>`),
    text: "Bonjour,\n\n{{request.title}} reçue le {{request.receivedOn}} est due le {{request.dueOn}}.\n\nSon identifiant, tel que l'API de Laurel l'affiche : {{request.id}}\nVoir la liste des demandes de {{tenant.name}} sur Laurel.\n",
  },
  data_subject_request_filed: {
    subject: "Une demande relative aux données personnelles a été déposée{{^request.done}} : due le {{request.dueOn}}{{/request.done}}{{#request.done}} et exécutée{{/request.done}}",
    html: wrap(`<p>Bonjour,</p><p>{{request.title}} a été déposée le {{request.receivedOn}} par la personne, au moyen du lien à usage unique envoyé à son adresse enregistrée. {{#request.done}}Elle a pris effet immédiatement, comme la personne l'a demandé : il ne reste rien à faire.{{/request.done}}{{^request.done}}Elle est due le {{request.dueOn}}.{{/request.done}}</p><p>Son identifiant, tel que l'API de Laurel l'affiche : <code>{{request.id}}</code>. Voir la liste des demandes de {{tenant.name}} sur Laurel.</p>`),
    text: "Bonjour,\n\n{{request.title}} a été déposée le {{request.receivedOn}} par la personne, au moyen du lien à usage unique envoyé à son adresse enregistrée. {{#request.done}}Elle a pris effet immédiatement, comme la personne l'a demandé : il ne reste rien à faire.{{/request.done}}{{^request.done}}Elle est due le {{request.dueOn}}.{{/request.done}}\n\nSon identifiant, tel que l'API de Laurel l'affiche : {{request.id}}\nVoir la liste des demandes de {{tenant.name}} sur Laurel.\n",
  },
  data_subject_request_completed: {
    subject: "{{tenant.name}} a donné suite à votre demande concernant vos données personnelles",
    html: wrap(`<p>Bonjour,</p><p>{{tenant.name}} a donné suite à {{request.titleLower}} que vous avez faite : {{request.action}}.</p>
<p style="color:#666;font-size:13px">Si ce n'est pas ce que vous avez demandé, répondez à ce message ou contactez {{tenant.name}}. Vous pouvez aussi introduire une réclamation auprès d'une autorité de contrôle.</p>`),
    text: "Bonjour,\n\n{{tenant.name}} a donné suite à {{request.titleLower}} que vous avez faite : {{request.action}}.\n\nSi ce n'est pas ce que vous avez demandé, répondez à ce message ou contactez {{tenant.name}}. Vous pouvez aussi introduire une réclamation auprès d'une autorité de contrôle.\n",
  },
  data_subject_request_extended: {
    subject: "{{tenant.name}} a besoin de plus de temps pour votre demande concernant vos données personnelles",
    html: wrap(`<p>Bonjour,</p><p>{{tenant.name}} a besoin de plus de temps pour répondre à {{request.titleLower}} que vous avez faite, et répondra au plus tard le <strong>{{request.dueOn}}</strong>, pour les raisons suivantes :</p><blockquote style="white-space:pre-line;border-left:3px solid #ccc;margin:0;padding-left:12px">{{credential.reason}}</blockquote>
<p>Le RGPD (art. 12(3)) permet deux mois supplémentaires lorsqu'une demande est complexe ou que les demandes sont nombreuses. Vous pouvez introduire une réclamation auprès d'une autorité de contrôle.</p>`),
    text: "Bonjour,\n\n{{tenant.name}} a besoin de plus de temps pour répondre à {{request.titleLower}} que vous avez faite, et répondra au plus tard le {{request.dueOn}}, pour les raisons suivantes :\n\n{{credential.reason}}\n\nLe RGPD (art. 12(3)) permet deux mois supplémentaires lorsqu'une demande est complexe ou que les demandes sont nombreuses. Vous pouvez introduire une réclamation auprès d'une autorité de contrôle.\n",
  },
  data_subject_request_refused: {
    subject: "{{tenant.name}} a répondu à votre demande concernant vos données personnelles",
    html: wrap(`<p>Bonjour,</p><p>{{tenant.name}} ne donnera pas suite à {{request.titleLower}} que vous avez faite, pour les raisons suivantes :</p><blockquote style="white-space:pre-line;border-left:3px solid #ccc;margin:0;padding-left:12px">{{credential.reason}}</blockquote>
<p>Vous pouvez introduire une réclamation auprès d'une autorité de contrôle et former un recours juridictionnel (RGPD art. 12(4)).</p>`),
    text: "Bonjour,\n\n{{tenant.name}} ne donnera pas suite à {{request.titleLower}} que vous avez faite, pour les raisons suivantes :\n\n{{credential.reason}}\n\nVous pouvez introduire une réclamation auprès d'une autorité de contrôle et former un recours juridictionnel (RGPD art. 12(4)).\n",
  },
  privacy_request_link: {
    subject: "Confirmez votre demande à {{tenant.name}} concernant vos données personnelles",
    html: wrap(`<p>Bonjour,</p><p>Quelqu'un, vous nous l'espérons, a demandé à {{tenant.name}} de <strong>{{request.action}}</strong>.</p>
<p>Pour confirmer que c'était vous, utilisez ce lien. Il ne sert qu'une fois, jusqu'au {{link.expiresAt}}.</p><p>${button("links.accept", "Confirmer ma demande")}</p>
<p style="color:#666;font-size:13px">Si vous n'avez rien demandé, ignorez ce message : rien ne se passe tant que le lien n'est pas utilisé.</p>`),
    text: "Bonjour,\n\nQuelqu'un, vous nous l'espérons, a demandé à {{tenant.name}} de {{request.action}}.\n\nPour confirmer que c'était vous, ouvrez ce lien. Il ne sert qu'une fois, jusqu'au {{link.expiresAt}} :\n{{links.accept}}\n\nSi vous n'avez rien demandé, ignorez ce message : rien ne se passe tant que le lien n'est pas utilisé.\n",
  },
  recipient_rectified: {
    subject: "{{issuer.name}} a corrigé vos coordonnées et vous a délivré à nouveau vos titres",
    html: wrap(`<p>Bonjour {{recipient.name}},</p><p>{{issuer.name}} a corrigé {{#rectification.changedName}}votre nom{{#rectification.changedEmail}} et {{/rectification.changedEmail}}{{/rectification.changedName}}{{#rectification.changedEmail}}votre adresse e-mail{{/rectification.changedEmail}} dans ses registres.</p>
{{#rectification.credentials.length}}<p>Chacun de vos titres a été délivré à nouveau avec les données corrigées, à la même adresse :</p><ul>{{#rectification.credentials}}<li><a href="{{url}}">{{name}}</a></li>{{/rectification.credentials}}</ul>
<p>Les copies téléchargées ou partagées auparavant apparaissent désormais comme révoquées (remplacées) : téléchargez-les de nouveau depuis les liens ci-dessus.</p>{{/rectification.credentials.length}}
<p style="color:#666;font-size:13px">Si vous n'avez pas demandé cette correction, contactez {{issuer.name}}.</p>`),
    text: "Bonjour {{recipient.name}},\n\n{{issuer.name}} a corrigé {{#rectification.changedName}}votre nom{{#rectification.changedEmail}} et {{/rectification.changedEmail}}{{/rectification.changedName}}{{#rectification.changedEmail}}votre adresse e-mail{{/rectification.changedEmail}} dans ses registres.\n{{#rectification.credentials.length}}\nChacun de vos titres a été délivré à nouveau avec les données corrigées, à la même adresse :\n{{#rectification.credentials}}  {{name}} : {{url}}\n{{/rectification.credentials}}\nLes copies téléchargées ou partagées auparavant apparaissent désormais comme révoquées (remplacées) : téléchargez-les de nouveau depuis les liens ci-dessus.\n{{/rectification.credentials.length}}\nSi vous n'avez pas demandé cette correction, contactez {{issuer.name}}.\n",
  },
  recipient_email_changed: {
    subject: "{{issuer.name}} ne vous écrit plus à cette adresse",
    html: wrap(`<p>Bonjour,</p><p>{{issuer.name}} a changé l'adresse e-mail qu'il détient pour vous : les messages concernant vos titres n'arriveront plus ici.</p><p>Si vous ne l'avez pas demandé, contactez {{issuer.name}} sans attendre.</p>`),
    text: "Bonjour,\n\n{{issuer.name}} a changé l'adresse e-mail qu'il détient pour vous : les messages concernant vos titres n'arriveront plus ici.\n\nSi vous ne l'avez pas demandé, contactez {{issuer.name}} sans attendre.\n",
  },
  guardian_consent_request: {
    subject: "{{tenant.name}} demande votre consentement",
    html: wrap(`<p>Bonjour {{guardian.name}},</p><p><strong>{{tenant.name}}</strong> demande votre consentement, en tant que parent ou tuteur, avant de délivrer des titres à {{recipient.name}}, enfant dont vous avez la charge. Voici ce à quoi vous consentiriez :</p>
<blockquote style="white-space:pre-line;border-left:3px solid #ccc;margin:0;padding-left:12px">{{consent.wording}}</blockquote>
<p>${button("links.accept", "Lire et consentir")}</p><p style="color:#666;font-size:13px">Le lien sert une fois, jusqu'au {{consent.expiresOn}}. Si vous n'êtes pas d'accord, ne faites rien : rien n'est délivré sans votre consentement.</p>`),
    text: "Bonjour {{guardian.name}},\n\n{{tenant.name}} demande votre consentement, en tant que parent ou tuteur, avant de délivrer des titres à {{recipient.name}}, enfant dont vous avez la charge. Voici ce à quoi vous consentiriez :\n\n{{consent.wording}}\n\nLire et consentir : {{links.accept}}\n\nLe lien sert une fois, jusqu'au {{consent.expiresOn}}. Si vous n'êtes pas d'accord, ne faites rien : rien n'est délivré sans votre consentement.\n",
  },
  person_export_ready: {
    subject: "Vos données personnelles chez {{tenant.name}} sont prêtes",
    html: wrap(`<p>Bonjour,</p><p>{{tenant.name}} a préparé une copie des données personnelles qu'elle détient sur vous, comme vous l'avez demandé : un fichier ZIP avec un document JSON, les mêmes données en CSV, chacun de vos titres tel que publié et un README qui explique chaque champ.</p>
<p>${button("links.accept", "Télécharger mes données")}</p><p style="color:#666;font-size:13px">Le lien fonctionne jusqu'au {{request.dueOn}}. Toute personne qui le détient peut télécharger le fichier : ne transférez pas ce message.</p>`),
    text: "Bonjour,\n\n{{tenant.name}} a préparé une copie des données personnelles qu'elle détient sur vous, comme vous l'avez demandé : un fichier ZIP avec un document JSON, les mêmes données en CSV, chacun de vos titres tel que publié et un README qui explique chaque champ.\n\nTéléchargez-le : {{links.accept}}\n\nLe lien fonctionne jusqu'au {{request.dueOn}}. Toute personne qui le détient peut télécharger le fichier : ne transférez pas ce message.\n",
  },
};

export const BUILT_IN: Record<string, Defaults> = { en, fr };
export const BUILT_IN_LOCALES = Object.keys(BUILT_IN);

/** fr-CA → ["fr-ca", "fr"]: the most specific language first. */
export function localeChain(locale: string | null | undefined): string[] {
  const l = (locale ?? "").toLowerCase();
  const parts = l.split("-");
  const chain: string[] = [];
  for (let i = parts.length; i > 0; i--) if (parts[0]) chain.push(parts.slice(0, i).join("-"));
  return chain;
}

/** The built-in content for a kind in the best language we have, English last. */
export function builtInContent(kind: EmailKind, locale: string | null | undefined): { locale: string; content: Content } {
  for (const l of [...localeChain(locale), "en"]) {
    const defaults = BUILT_IN[l];
    if (defaults) return { locale: l, content: defaults[kind] };
  }
  return { locale: "en", content: en[kind] };
}

/** A people's-rights request's kind as a sentence begins with it, per built-in language. */
const REQUEST_TITLES: Record<string, Record<string, string>> = {
  en: {
    access: "An access request", portability: "A portability request", rectification: "A rectification request",
    erasure: "An erasure request", restriction: "A restriction request", objection: "An objection request",
    consent_withdrawal: "A consent withdrawal request",
  },
  fr: {
    access: "Une demande d'accès", portability: "Une demande de portabilité", rectification: "Une demande de rectification",
    erasure: "Une demande d'effacement", restriction: "Une demande de limitation du traitement", objection: "Une demande d'opposition",
    consent_withdrawal: "Une demande de retrait du consentement",
  },
};

/**
 * "An erasure request", "Une demande d'effacement": a data subject request's kind (the enum value,
 * e.g. "consent_withdrawal") as the subject of a sentence ({{request.title}}), in the best built-in
 * language for `locale`, English last; an unknown kind reads "A request (kind)".
 */
export function requestTitle(kind: string, locale: string | null | undefined): string {
  for (const l of [...localeChain(locale), "en"]) {
    const title = REQUEST_TITLES[l]?.[kind];
    if (title) return title;
  }
  return `A request (${kind.replaceAll("_", " ")})`;
}

/**
 * A date as an email writes it ({{credential.validUntil}}): the calendar day in the tenant's IANA
 * `timeZone`, spelt in the recipient's `locale` ("30 June 2026", "30 juin 2026"; a bare "en" writes the
 * day first, like the credential's page). Empty for no date or an unreadable one.
 */
export function emailDay(date: Date | null | undefined, timeZone: string, locale: string | null | undefined): string {
  const tag = !locale || locale.toLowerCase() === "en" ? "en-GB" : locale;
  return formatDay(date, timeZone, tag) ?? "";
}

/** A merge value: text, or a list of items a section repeats ({{#rectification.credentials}}). */
export type MergeValue = string | number | null | undefined | readonly Record<string, string>[];
export type MergeValues = Record<string, Record<string, MergeValue>>;

// Escaping is Mustache's for HTML; text bodies must come out as written.
const renderText = (template: string, view: MergeValues) => Mustache.render(template, view, {}, { escape: (v: unknown) => String(v) });

// Escapes what HTML needs and no more: Mustache's default also encodes "/" and "=", mangling URLs.
const HTML_ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
const escapeHtml = (v: unknown) => String(v).replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);

export function render(content: Content, view: MergeValues): Content {
  return {
    subject: renderText(content.subject, view).replace(/[\r\n]+/g, " ").trim(),
    html: Mustache.render(content.html, view, {}, { escape: escapeHtml }),
    text: renderText(content.text, view),
  };
}

/** Problems with a template a tenant wants to save: tags that do not parse, fields we do not know. */
export function checkTemplate(content: Content): { field: keyof Content; message: string }[] {
  const problems: { field: keyof Content; message: string }[] = [];
  const known = new Set<string>(MERGE_FIELDS);
  for (const field of ["subject", "html", "text"] as const) {
    let tokens: unknown[];
    try {
      tokens = Mustache.parse(content[field]);
    } catch (error) {
      problems.push({ field, message: `Cannot read this template: ${(error as Error).message}` });
      continue;
    }
    for (const name of fieldNames(tokens)) {
      if (!known.has(name)) problems.push({ field, message: `Unknown merge field {{${name}}}; use one of ${MERGE_FIELDS.join(", ")}` });
    }
  }
  return problems;
}

function fieldNames(tokens: unknown[]): string[] {
  const names: string[] = [];
  for (const token of tokens as [string, string, number, number, unknown[]?][]) {
    const [type, value, , , children] = token;
    if (type === "name" || type === "&" || type === "{" || type === "#" || type === "^") names.push(value);
    if (children) names.push(...fieldNames(children));
  }
  return names;
}
