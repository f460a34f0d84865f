// One self-contained file, dist/widget.js: an IIFE with its CSS inlined as a string (the
// widget injects it into its own shadow root), so a shop embeds it with one script tag.
import { defineConfig } from "vitest/config";

export default defineConfig({
  build: {
    target: "es2020",
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: false,
    lib: {
      entry: "src/main.ts",
      name: "AftersalesChatWidget",
      formats: ["iife"],
      fileName: () => "widget.js",
    },
  },
  test: {
    environment: "happy-dom",
    include: ["test/**/*.test.ts"],
  },
});
