// A tab loads the wasm module and shows a node id made from crypto.getRandomValues; two
// tabs (separate contexts) get different ids.
import { check, launch, serveWeb } from "./lib.mjs";

const web = await serveWeb();
const browser = await launch();
try {
  const ids = [];
  for (let i = 0; i < 2; i++) {
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    const start = Date.now();
    await page.goto(`${web.url}/www/index.html`);
    await page.waitForSelector("body[data-ready=true]", { timeout: 15000 });
    const id = await page.textContent("#node-id");
    check(/^[0-9a-f]{64}$/.test(id), `node id ${id}`);
    check(errors.length === 0, `page errors: ${errors}`);
    console.log(`tab ${i}: node ${id.slice(0, 16)}… ready in ${Date.now() - start} ms`);
    ids.push(id);
  }
  check(ids[0] !== ids[1], "two tabs made the same identity");
  console.log("identity: ok");
} finally {
  await browser.close();
  web.close();
}
