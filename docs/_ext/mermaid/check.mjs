// Parses every ```mermaid block in docs/ with Mermaid itself, as the browser will.
// Usage (from the repository root): npm ci --prefix docs/_ext/mermaid && node docs/_ext/mermaid/check.mjs
import fs from "node:fs";
import path from "node:path";
import { JSDOM } from "jsdom";

const dom = new JSDOM("<!doctype html><html><body></body></html>", { pretendToBeVisual: true });
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import("mermaid");
mermaid.initialize({ startOnLoad: false });

function* markdownFiles(dir) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!entry.name.startsWith("_") && entry.name !== "node_modules") yield* markdownFiles(full);
    } else if (entry.name.endsWith(".md")) {
      yield full;
    }
  }
}

let count = 0;
let bad = 0;
for (const file of markdownFiles("docs")) {
  const text = fs.readFileSync(file, "utf8");
  for (const match of text.matchAll(/```mermaid\n([\s\S]*?)```/g)) {
    count++;
    try {
      const parsed = await mermaid.parse(match[1]);
      console.log(`ok ${file} (${parsed.diagramType})`);
    } catch (error) {
      bad++;
      console.log(`FAIL ${file}: ${String(error.message || error).split("\n").slice(0, 3).join(" | ")}`);
    }
  }
}
if (count === 0) {
  console.log("no mermaid diagram found: the check would be vacuous");
  process.exit(1);
}
console.log(`${count} diagrams, ${bad} failed`);
process.exit(bad ? 1 : 0);
