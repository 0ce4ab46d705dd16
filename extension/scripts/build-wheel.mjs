// Builds the colablink wheel that the VSIX carries into extension/wheel/, replacing any old one.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const outDir = join(root, "extension", "wheel");
const venvPython = join(root, ".venv", "bin", "python");
const python = process.env.PYTHON ?? (existsSync(venvPython) ? venvPython : "python3");

rmSync(outDir, { recursive: true, force: true });
execFileSync(
  python,
  ["-m", "pip", "wheel", "--quiet", "--disable-pip-version-check", "--no-deps", root, "--wheel-dir", outDir],
  { stdio: "inherit" },
);
const wheels = readdirSync(outDir).filter((name) => name.startsWith("colablink-") && name.endsWith(".whl"));
if (wheels.length !== 1) {
  throw new Error(`expected one colablink wheel in ${outDir}, found ${wheels.length}`);
}
console.log(`wheel: extension/wheel/${wheels[0]}`);
