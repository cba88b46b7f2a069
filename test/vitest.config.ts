import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";
import { TEST_ROLE_ENV } from "./helpers/env.js";

export default defineConfig({
  root: fileURLToPath(new URL("..", import.meta.url)),
  resolve: {
    // Node loads graphql's CommonJS entry for dependencies (Pothos, yoga); make the test files and
    // src/ that vite transforms load the same copy, or graphql-js sees two "realms".
    alias: [{ find: /^graphql$/, replacement: fileURLToPath(new URL("../node_modules/graphql/index.js", import.meta.url)) }],
  },
  test: {
    include: ["test/**/*.test.ts"],
    // loadConfig(process.env) and child processes see the test roles, never a deployment's laurel_* roles.
    env: { ...TEST_ROLE_ENV },
    globalSetup: ["test/helpers/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 90_000,
    pool: "forks",
    maxWorkers: 2,
  },
});
