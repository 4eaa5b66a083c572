// The page's identities in one browser profile (web/www/identity.js): two tabs open at
// once are different nodes (each holds a Web Lock on its key), a reloaded tab is the same
// node, and a tab opened after one closed takes the freed identity (and its IndexedDB).
import { check, launch, serveWeb } from "./lib.mjs";

const web = await serveWeb();
const browser = await launch();
try {
  const context = await browser.newContext();
  const open = async () => {
    const page = await context.newPage();
    await page.goto(`${web.url}/www/index.html`);
    await page.waitForSelector("body[data-ready=true]", { timeout: 15000 });
    return page;
  };
  const id = (page) => page.evaluate(() => window.quorate.node.nodeId());
  const first = await open();
  const second = await open();
  const [a, b] = [await id(first), await id(second)];
  check(a !== b, "two tabs open at once got the same identity");
  await second.reload();
  await second.waitForSelector("body[data-ready=true]", { timeout: 15000 });
  check((await id(second)) === b, "a reload changed the identity");
  await first.close();
  const third = await open();
  check((await id(third)) === a, "a new tab did not take the identity a closed tab freed");
  console.log(`identities ${a.slice(0, 8)}… ${b.slice(0, 8)}…: distinct at once, kept on reload, reused after close`);
  console.log("identity-reuse: ok");
} finally {
  await browser.close();
  web.close();
}
