// Lint of the console (bin/test runs it): Vue's recommended rules and typescript-eslint's,
// applied to the .vue single-file components and the .ts modules alike.
import { defineConfigWithVueTs, vueTsConfigs } from "@vue/eslint-config-typescript";
import pluginVue from "eslint-plugin-vue";

export default defineConfigWithVueTs(
  { ignores: ["dist/**", "node_modules/**", "src/api/schema/**"] },
  pluginVue.configs["flat/recommended"],
  vueTsConfigs.recommended,
  {
    rules: {
      // Chinese labels are written in the templates themselves.
      "vue/multi-word-component-names": "off",
    },
  },
);
