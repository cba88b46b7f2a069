// Every word the self-service flow shows a person (privacy-routes.ts pages, self-service.ts confirmations),
// one table per language, as delivery/content.ts keeps the emails. A page speaks one language: the
// holder's when it is French ("fr", "fr-CA", ...), else English. French actions never start with a vowel,
// so "de <action>" needs no elision, here and in the emails that carry them.
import type { DataSubjectRequestKind } from "../../generated/prisma/enums.js";

export type SelfServiceLanguage = "en" | "fr";

/** The language of a holder's pages and emails: French for any "fr…" locale, else English. */
export function languageOf(locale: string | null | undefined): SelfServiceLanguage {
  return (locale ?? "").trim().toLowerCase().startsWith("fr") ? "fr" : "en";
}

/** Before any holder is known (a link that does not check out): the browser's first language, French or English. */
export function languageOfBrowser(acceptLanguage: string | null | undefined): SelfServiceLanguage {
  return languageOf((acceptLanguage ?? "").split(",")[0]);
}

type Kinds<T> = Record<DataSubjectRequestKind, T>;

export interface SelfServiceTexts {
  /** For luxon and Intl: how dates are written. */
  dateLocale: string;
  /** What each request asks the organisation to do, as the page, the email and the confirmation say it. */
  actions: Kinds<string>;
  /** Appended to an action when a guardian asks for a child. */
  /** After the action, for a guardian: names the child (a parent may have several; Art. 7 and 8 want it specific). */
  forChild: (name: string | null) => string;
  /** The ask form's choices. */
  labels: Kinds<string>;
  ask: {
    title: string;
    intro: (organisation: string) => string;
    willDo: (organisation: string, action: string) => string;
    correction: string;
    name: string;
    email: string;
    submit: string;
  };
  /** The form's own problems, by field; other problems keep their (English) message in English pages only. */
  problems: { kind: string; correction: string; correctName: string | null; correctEmail: string | null };
  sent: { title: string; message: string };
  confirm: {
    title: (organisation: string) => string;
    asking: (organisation: string, action: string) => string;
    rightName: (name: string) => string;
    rightEmail: (email: string) => string;
    guardianWithdrawal: string;
    erasureFinal: string;
    atOnce: string;
    inTime: string;
    button: string;
  };
  guardianErasure: { title: string; paragraphs: string[]; button: string };
  done: {
    title: string;
    message: (day: string, what: string, guardianConsentWithdrawn: boolean) => string;
    what: Partial<Kinds<string>>;
    recordedTitle: string;
    recorded: (day: string, due: string) => string;
  };
  /** A refusal's page, by its code; a code not listed shows `other`. */
  refusals: Record<string, { title: string; message: string }>;
  other: { title: string; message: string };
  next: { backToForm: string; askAgain: string };
}

const en: SelfServiceTexts = {
  dateLocale: "en-GB",
  actions: {
    access: "send you a copy of the personal data it holds about you (access, GDPR Art. 15)",
    portability: "send you your data as machine-readable files you can take elsewhere (portability, Art. 20)",
    rectification: "correct your name or email address, and re-issue your credentials with it (rectification, Art. 16)",
    restriction: "keep your data but stop using it while a question is settled (restriction, Art. 18)",
    objection: "stop reminders, engagement tracking and sharing your data with its partners (objection, Art. 21)",
    consent_withdrawal: "stop recording when you open its emails and view your credentials (withdrawal of consent, Art. 7(3))",
    erasure: "erase your personal data and withdraw your credentials, which then stop verifying (erasure, Art. 17)",
  },
  forChild: (name) => `, for ${name ?? "the child"} in your care`,
  labels: {
    access: "A copy of my data",
    portability: "My data as files I can take elsewhere",
    rectification: "Correct my name or email address",
    restriction: "Keep my data but stop using it for now",
    objection: "Stop reminders, tracking and sharing with partners",
    consent_withdrawal: "Stop recording when I open emails or view my credentials",
    erasure: "Erase my data and withdraw my credentials",
  },
  ask: {
    title: "Your data and your rights",
    intro: (org) =>
      `Choose what you want ${org} to do. We will email a link to the address this credential was sent to: the request is made only when that link is used, so only its holder can make it.`,
    willDo: (org, action) => `${org} will ${action}.`,
    correction: "For a correction: what is right",
    name: "Name",
    email: "Email address",
    submit: "Email me the link",
  },
  problems: {
    kind: "Choose what you are asking for",
    correction: "Say what is wrong: give the right name, email address, or both",
    correctName: null,
    correctEmail: null,
  },
  sent: {
    title: "Check your inbox",
    message: "We have emailed a link to the address this credential was sent to. Your request is made when you open that link and confirm; it works once, for 24 hours.",
  },
  confirm: {
    title: (org) => `Confirm your request to ${org}`,
    asking: (org, action) => `You are asking ${org} to ${action}.`,
    rightName: (name) => `The right name, you say: ${name}`,
    rightEmail: (email) => `The right email address, you say: ${email}`,
    guardianWithdrawal: "This also withdraws your consent as the child's parent or guardian: nothing more is issued to them or emailed to them.",
    erasureFinal: "Once carried out this cannot be undone: the credentials will stop verifying and their pages will say they were withdrawn.",
    atOnce: "This takes effect as soon as you confirm.",
    inTime: "The organisation must answer within the time the law gives it; you will hear from it by email.",
    button: "Confirm my request",
  },
  guardianErasure: {
    title: "Erase your child's data",
    paragraphs: [
      "Using this link asks the organisation to erase everything Laurel holds about your child: their credentials are revoked and their pages removed.",
      "It is done within seven working days.",
    ],
    button: "Ask for erasure",
  },
  done: {
    title: "Done",
    message: (day, what, withdrawn) =>
      `Your request was received and carried out on ${day}: ${what}${withdrawn ? "; your consent as the child's parent or guardian is withdrawn" : ""}.`,
    what: {
      restriction: "your data is now only stored: no emails, reminders, partner notices or tracking",
      objection: "no more reminders, tracking, partner notices naming you or analytics about you",
      consent_withdrawal: "opening emails and viewing credentials are no longer recorded against your name",
    },
    recordedTitle: "Your request is recorded",
    recorded: (day, due) => `Your request was received on ${day}. The organisation must answer it by ${due}.`,
  },
  refusals: {
    LINK_INVALID: {
      title: "This link is not valid",
      message: "Open it exactly as it arrived in the email. If it still does not work, ask again from your credential's page.",
    },
    LINK_USED: {
      title: "This link has already been used",
      message: "It works once. If you confirmed your request with it, the request is recorded and the organisation will answer you by email. To ask for something else, use the form again.",
    },
    LINK_EXPIRED: { title: "This link has expired", message: "Ask again: we will email you a new link." },
    ALREADY_ERASED: { title: "Nothing left to ask about", message: "This person's data has been erased: nothing of theirs is left." },
    TOO_MANY_LINKS: { title: "Enough links for today", message: "At most 5 links a day are sent to one person: use one already sent, or try again tomorrow." },
    NOT_FOUND: { title: "Not found", message: "There is no credential at this address: check the link you followed." },
    PAYLOAD_TOO_LARGE: { title: "Too long", message: "What you sent is too long. Go back to the form and try again." },
    RATE_LIMITED: { title: "Slow down", message: "Too many requests: try again in a moment." },
  },
  other: { title: "This did not work", message: "Your request could not be made. Try again later, or write to the organisation." },
  next: { backToForm: "Back to the form", askAgain: "Ask again" },
};

const fr: SelfServiceTexts = {
  dateLocale: "fr",
  actions: {
    access: "vous envoyer une copie des données personnelles qu'elle détient sur vous (accès, RGPD art. 15)",
    portability: "vous envoyer vos données dans des fichiers lisibles par machine (portabilité, art. 20)",
    rectification: "corriger votre nom ou votre adresse e-mail et vous délivrer à nouveau vos titres (rectification, art. 16)",
    restriction: "conserver vos données sans plus les utiliser le temps de régler une question (limitation, art. 18)",
    objection: "cesser les rappels, le suivi et le partage de vos données avec ses partenaires (opposition, art. 21)",
    consent_withdrawal: "cesser d'enregistrer l'ouverture de ses e-mails et la consultation de vos titres (retrait du consentement, art. 7(3))",
    erasure: "procéder à l'effacement de vos données personnelles et au retrait de vos titres, qui ne seront plus vérifiables (effacement, art. 17)",
  },
  forChild: (name) => (name ? `, pour ${name}, enfant dont vous avez la charge` : ", pour l'enfant dont vous avez la charge"),
  labels: {
    access: "Une copie de mes données",
    portability: "Mes données dans des fichiers que je peux emporter ailleurs",
    rectification: "Corriger mon nom ou mon adresse e-mail",
    restriction: "Garder mes données mais cesser de les utiliser pour l'instant",
    objection: "Arrêter les rappels, le suivi et le partage avec des partenaires",
    consent_withdrawal: "Ne plus enregistrer quand j'ouvre les e-mails ou consulte mes titres",
    erasure: "Effacer mes données et retirer mes titres",
  },
  ask: {
    title: "Vos données et vos droits",
    intro: (org) =>
      `Choisissez ce que vous demandez à ${org}. Nous enverrons un lien par e-mail à l'adresse à laquelle ce titre a été envoyé : la demande n'est faite que lorsque ce lien est utilisé, si bien que seul son titulaire peut la faire.`,
    willDo: (_org, action) => `L'organisation va ${action}.`,
    correction: "Pour une correction : ce qui est juste",
    name: "Nom",
    email: "Adresse e-mail",
    submit: "M'envoyer le lien par e-mail",
  },
  problems: {
    kind: "Choisissez ce que vous demandez",
    correction: "Dites ce qui est faux : donnez le nom juste, l'adresse e-mail juste, ou les deux",
    correctName: "Ce nom ne peut pas être enregistré : écrivez-le sur une seule ligne, en 200 caractères au plus, tel qu'il doit s'afficher.",
    correctEmail: "Cette adresse e-mail n'est pas valide.",
  },
  sent: {
    title: "Consultez votre messagerie",
    message: "Nous avons envoyé un lien à l'adresse à laquelle ce titre a été envoyé. Votre demande est faite lorsque vous ouvrez ce lien et confirmez ; il ne sert qu'une fois, pendant 24 heures.",
  },
  confirm: {
    title: (org) => `Confirmez votre demande à ${org}`,
    asking: (org, action) => `Vous demandez à ${org} de ${action}.`,
    rightName: (name) => `Le nom juste, selon vous : ${name}`,
    rightEmail: (email) => `L'adresse e-mail juste, selon vous : ${email}`,
    guardianWithdrawal: "Cela retire aussi votre consentement de parent ou de tuteur de l'enfant : plus rien ne lui est délivré ni envoyé par e-mail.",
    erasureFinal: "Une fois effectué, cela ne peut pas être annulé : les titres ne seront plus vérifiables et leurs pages indiqueront qu'ils ont été retirés.",
    atOnce: "Cela prend effet dès que vous confirmez.",
    inTime: "L'organisation doit répondre dans le délai que la loi lui donne ; elle vous répondra par e-mail.",
    button: "Confirmer ma demande",
  },
  guardianErasure: {
    title: "Effacer les données de votre enfant",
    paragraphs: [
      "Utiliser ce lien demande à l'organisation d'effacer tout ce que Laurel détient sur votre enfant : ses titres sont révoqués et leurs pages retirées.",
      "C'est fait dans un délai de sept jours ouvrés.",
    ],
    button: "Demander l'effacement",
  },
  done: {
    title: "C'est fait",
    message: (day, what, withdrawn) =>
      `Votre demande a été reçue et exécutée le ${day} : ${what}${withdrawn ? " ; votre consentement de parent ou de tuteur est retiré" : ""}.`,
    what: {
      restriction: "vos données sont désormais seulement conservées : ni e-mails, ni rappels, ni notifications aux partenaires, ni suivi",
      objection: "plus de rappels, de suivi, de notifications aux partenaires vous nommant ni de statistiques vous concernant",
      consent_withdrawal: "l'ouverture des e-mails et la consultation des titres ne sont plus enregistrées à votre nom",
    },
    recordedTitle: "Votre demande est enregistrée",
    recorded: (day, due) => `Votre demande a été reçue le ${day}. L'organisation doit y répondre au plus tard le ${due}.`,
  },
  refusals: {
    LINK_INVALID: {
      title: "Ce lien n'est pas valide",
      message: "Ouvrez-le tel qu'il est arrivé dans l'e-mail. S'il ne fonctionne toujours pas, faites une nouvelle demande depuis la page de votre titre.",
    },
    LINK_USED: {
      title: "Ce lien a déjà été utilisé",
      message: "Il ne sert qu'une fois. Si vous avez confirmé votre demande avec lui, elle est enregistrée et l'organisation vous répondra par e-mail. Pour demander autre chose, utilisez de nouveau le formulaire.",
    },
    LINK_EXPIRED: { title: "Ce lien a expiré", message: "Faites une nouvelle demande : nous vous enverrons un nouveau lien par e-mail." },
    ALREADY_ERASED: { title: "Plus rien à demander", message: "Les données de cette personne ont été effacées : il n'en reste rien." },
    TOO_MANY_LINKS: { title: "Assez de liens pour aujourd'hui", message: "Cinq liens au plus sont envoyés par jour à une même personne : utilisez un lien déjà reçu, ou réessayez demain." },
    NOT_FOUND: { title: "Introuvable", message: "Il n'y a pas de titre à cette adresse : vérifiez le lien que vous avez suivi." },
    PAYLOAD_TOO_LARGE: { title: "Trop long", message: "Ce que vous avez envoyé est trop long. Revenez au formulaire et réessayez." },
    RATE_LIMITED: { title: "Doucement", message: "Trop de demandes : réessayez dans un instant." },
  },
  other: { title: "Cela n'a pas fonctionné", message: "Votre demande n'a pas pu être faite. Réessayez plus tard, ou écrivez à l'organisation." },
  next: { backToForm: "Revenir au formulaire", askAgain: "Faire une nouvelle demande" },
};

const TEXTS: Record<SelfServiceLanguage, SelfServiceTexts> = { en, fr };

/** The texts of one language. */
export function selfServiceTexts(language: SelfServiceLanguage): SelfServiceTexts {
  return TEXTS[language];
}
