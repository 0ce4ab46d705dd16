import js from "@eslint/js";
import globals from "globals";
import tseslint from "typescript-eslint";

export default tseslint.config(
  {
    ignores: [
      "out/**",
      "dist/**",
      "node_modules/**",
      "extension/test/e2e/node_modules/**",
      "extension/test/e2e/node24/**",
      "extension/test/e2e/.work/**",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.strict,
  {
    files: ["extension/**/*.ts"],
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
    },
  },
  {
    // Build scripts and the end-to-end harness run under Node, not in the extension host.
    files: ["extension/scripts/**", "extension/test/e2e/**"],
    languageOptions: { globals: globals.node },
  },
  {
    // The Jupyter extension's stand-in is a plain CommonJS extension, as VS Code loads it.
    files: ["extension/test/e2e/jupyter-standin/**"],
    languageOptions: { sourceType: "commonjs" },
    rules: { "@typescript-eslint/no-require-imports": "off" },
  },
);
