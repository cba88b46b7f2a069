// Merge fields in template texts. Only a template's credential description is per recipient: it takes
// Mustache tags ({{recipientName}}, {{<custom field>}}, and sections such as {{#course}} for {{course}}{{/course}}
// around optional fields), checked when saved and rendered once per credential. The achievement's
// own texts are shared by every credential of a version (and published at its Achievement URL and as
// the OB 2.0 BadgeClass), so they take none.
import Mustache from "mustache";

/** The recipient's name, always available to a credential description; no custom field may take it. */
export const RECIPIENT_NAME = "recipientName";

/** Whether a text holds anything a reader could take for a merge field. */
export function hasMergeTags(text: string | null | undefined): boolean {
  return Boolean(text && text.includes("{{"));
}

type Token = [string, string, number, number, Token[]?];

/**
 * Problems with a per-recipient text, as messages: tags that do not parse, partials, and names that are
 * neither recipientName nor one of `fieldNames`. Empty when the text can be saved.
 */
export function mergeTextProblems(text: string, fieldNames: string[]): string[] {
  let tokens: Token[];
  try {
    tokens = Mustache.parse(text) as Token[];
  } catch (error) {
    return [`Cannot read the merge fields: ${(error as Error).message}`];
  }
  const known = new Set([RECIPIENT_NAME, ...fieldNames]);
  const problems: string[] = [];
  const walk = (list: Token[]) => {
    for (const [type, value, , , children] of list) {
      if (type === ">") problems.push(`Partials ({{> ${value}}}) are not supported`);
      else if (["name", "&", "{", "#", "^"].includes(type) && !known.has(value)) {
        problems.push(`Unknown merge field {{${value}}}: use ${[...known].map((n) => `{{${n}}}`).join(", ")}`);
      }
      if (children) walk(children);
    }
  };
  walk(tokens);
  return [...new Set(problems)];
}

/**
 * Renders a per-recipient text for one credential: each field's value as written (no escaping: the
 * result is JSON text, not HTML); a field without a value, optional and left empty, renders as empty.
 */
export function renderMergeText(text: string, values: Record<string, string>): string {
  return Mustache.render(text, values, {}, { escape: (v: unknown) => String(v) }).trim();
}
