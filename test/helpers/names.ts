// Names QA found displayed differently from what is signed (issue 10), and names in many scripts that
// must keep working: shared by the recipient, rectification and guardian-name tests.

/** [what it is, the name, what the refusal must say]. */
export const DECEPTIVE_NAMES: [string, string, RegExp][] = [
  ["an unterminated right-to-left override", "Ada \u202Eecalevol", /bidirectional.*U\+202E at character 5/],
  ["a right-to-left isolate", "Ada \u2067Lovelace\u2069", /bidirectional.*U\+2067 at character 5/],
  ["an invisible zero-width space", "\u200B", /at least one visible/],
  ["combining marks only", "\u0301\u0301\u0301", /at least one visible/],
  ["a Hangul filler, a letter that draws nothing", "\u3164", /at least one visible/],
  ["a blank braille pattern", "\u2800\u2800", /at least one visible/],
  ["a line separator", "Ada\u2028Lovelace", /one line.*U\+2028 at character 4/],
  ["tag characters", "Ada\u{E0041}\u{E0042}", /tag characters \(U\+E0041 at character 4\)/],
  // Attack QA: each shows as "AdaLovelace", which is not what is signed.
  ["a zero-width space inside", "Ada\u200BLovelace", /invisible.*U\+200B at character 4/],
  ["a zero-width joiner between Latin letters", "Ada\u200DLovelace", /invisible.*U\+200D at character 4/],
  ["a byte-order mark inside", "Ada\uFEFFLovelace", /invisible.*U\+FEFF at character 4/],
  ["a soft hyphen", "Ada\u00ADLovelace", /invisible.*U\+00AD at character 4/],
  ["a tower of combining marks (Zalgo)", `Z${"\u0336".repeat(150)}`, /more than 8 combining marks on one character \(at character 2\)/],
];

/** Names that are accepted, each stored and signed as its NFC form. */
export const GOOD_NAMES: [string, string][] = [
  ["Arabic", "فاطمة الزهراء"],
  ["Hebrew with points", "שָׁלוֹם כֹּהֵן"],
  ["CJK", "李小龍"],
  ["Devanagari", "अनुष्का शर्मा"],
  ["an emoji ZWJ sequence", "Sam \u{1F469}\u200D\u{1F4BB}"],
  ["a right-to-left mark between scripts", "Noor \u200F(نور)"],
  ["NFD with combining marks after a base letter", "Zoe\u0308 Nguye\u0302\u0303n"],
  ["a zero-width joiner in Devanagari (a half form)", "क्\u200Dष"],
  ["a zero-width non-joiner in Persian", "می\u200Cخواهم"],
  ["Vietnamese with stacked marks", "Nguyễn Thị Ánh"],
];
