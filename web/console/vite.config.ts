import vue from "@vitejs/plugin-vue";
import { defineConfig } from "vite";

// The console is served by the front door (nginx) from dist/; in development `npx vite` forwards
// the APIs to a running front door, so the session cookie stays same-origin.
export default defineConfig({
  plugins: [vue()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    chunkSizeWarningLimit: 1500,
    rollupOptions: {
      output: {
        // Element Plus changes far less often than our views: a chunk of its own stays cached.
        manualChunks: { "element-plus": ["element-plus"], vue: ["vue", "vue-router", "pinia"] },
      },
    },
  },
  server: {
    proxy: { "/api": "http://127.0.0.1:8100", "/dashboard": "http://127.0.0.1:8100" },
  },
});
