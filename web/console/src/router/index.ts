import { createRouter, createWebHistory } from "vue-router";

import Home from "../views/Home.vue";

export const router = createRouter({
  history: createWebHistory(),
  routes: [{ path: "/", name: "home", component: Home, meta: { title: "工作台" } }],
});

router.afterEach((to) => {
  const title = typeof to.meta.title === "string" ? to.meta.title : "工作台";
  document.title = `${title} · 惠工`;
});
