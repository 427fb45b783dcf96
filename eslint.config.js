// ESLint flat config for the SPA demo's browser modules (spa_demo/static): the recommended
// rules and the browser's globals. `npm run lint` runs it with prettier's check.
import js from "@eslint/js";
import globals from "globals";

export default [
  { ignores: ["node_modules/", ".venv/"] },
  {
    files: ["spa_demo/static/**/*.js"],
    ...js.configs.recommended,
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "module",
      globals: globals.browser,
    },
  },
  {
    files: ["eslint.config.js"],
    ...js.configs.recommended,
    languageOptions: { sourceType: "module", globals: globals.node },
  },
];
