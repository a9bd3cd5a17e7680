// Bundles the splat viewer (src/viewer.js with Spark and three.js) into one minified ES module,
// src/vantage/web/static/dist/viewer.js, which the API serves and standalone pages inline.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = path.dirname(fileURLToPath(import.meta.url));
const outfile = path.resolve(here, "../src/vantage/web/static/dist/viewer.js");

const started = performance.now();
const result = await build({
  entryPoints: [path.join(here, "src/viewer.js")],
  outfile,
  bundle: true,
  minify: true,
  format: "esm",
  target: "es2020",
  legalComments: "eof", // three.js and Spark are MIT: their notices travel with the bundle
  metafile: true,
  logLevel: "warning",
});
const bytes = result.metafile.outputs[path.relative(process.cwd(), outfile)]?.bytes;
const size = bytes ? ` (${(bytes / 1e6).toFixed(1)} MB)` : "";
const elapsed = Math.round(performance.now() - started);
console.log(`viewer bundle: ${path.relative(process.cwd(), outfile)}${size} in ${elapsed} ms`);
