// Builds the dashboard into dist/: src/main.js bundled (with
// lightweight-charts) by esbuild, plus index.html and style.css. dist/SOURCE_HASH
// records a hash of the sources, which the Go test TestDistUpToDate checks,
// so a change to src/ without a rebuild fails CI. `node build.mjs --check`
// only compares the hash.
import { build } from "esbuild";
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync, mkdirSync, rmSync, copyFileSync, readdirSync } from "node:fs";
import { join } from "node:path";

const here = new URL(".", import.meta.url).pathname;

// sourceHash must match sourceHash in ../static_test.go: sha256 over
// "<path>\n<sha256 hex of content>\n" for each source, in sorted order.
export function sourceHash() {
  const files = ["build.mjs", "package.json", "package-lock.json", ...readdirSync(join(here, "src")).map((f) => "src/" + f)].sort();
  const h = createHash("sha256");
  for (const f of files) {
    const c = readFileSync(join(here, f));
    h.update(f + "\n" + createHash("sha256").update(c).digest("hex") + "\n");
  }
  return h.digest("hex");
}

const hash = sourceHash();
if (process.argv.includes("--check")) {
  const got = readFileSync(join(here, "dist/SOURCE_HASH"), "utf8").trim();
  if (got !== hash) {
    console.error(`dist is stale (${got} != ${hash}); run: cd dashboard/web && npm ci && npm run build`);
    process.exit(1);
  }
  console.log("dist is up to date");
  process.exit(0);
}

rmSync(join(here, "dist"), { recursive: true, force: true });
mkdirSync(join(here, "dist"));
await build({
  entryPoints: [join(here, "src/main.js")],
  bundle: true,
  minify: true,
  format: "esm",
  target: "es2020",
  legalComments: "eof",
  outfile: join(here, "dist/app.js"),
  logLevel: "warning",
});
copyFileSync(join(here, "src/index.html"), join(here, "dist/index.html"));
copyFileSync(join(here, "src/style.css"), join(here, "dist/style.css"));
writeFileSync(join(here, "dist/SOURCE_HASH"), hash + "\n");
console.log("built dist/ (source hash " + hash.slice(0, 12) + ")");
