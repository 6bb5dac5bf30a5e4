// Reads $FUNCTIONS, a JSON array of function names, and prints them as words for a shell loop.
// Names become image names and shell words: lower-case letters, digits and dashes only.
const text = process.env.FUNCTIONS ?? '';
let names;
try {
  names = JSON.parse(text);
} catch {
  names = undefined;
}
if (!Array.isArray(names) || !names.every((name) => typeof name === 'string' && /^[a-z][a-z0-9-]*$/.test(name))) {
  console.error(`FUNCTIONS must be a JSON array of function names, not ${text}`);
  process.exit(1);
}
console.log(names.join(' '));
