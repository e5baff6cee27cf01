// Drives the admin page in headless Chromium for one scenario and prints
// what it read as one line of JSON; test_admin_browser.py runs it and
// checks the daemon side (the proxy, keyctl) between scenarios.
//
//   node admin.mjs SCENARIO BASE_URL MASTER_KEY OUT_DIR [ARG]
//
// Scenarios: signin, create NAME, edit NAME MODELS, revoke NAME, usage,
// xss NAME, live, shot.  On failure: a screenshot OUT_DIR/SCENARIO.png,
// the error on stderr, exit 1.  A CSP violation, a page error or an
// alert() fails every scenario.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";

const [scenario, base, master, out, arg, arg2] = process.argv.slice(2);
const problems = [];

async function signIn(page, key) {
  await page.goto(base + "/admin/");
  await page.locator("#master").waitFor();
  // By keyboard: the field has the focus, Enter submits.
  await page.keyboard.type(key);
  await page.keyboard.press("Enter");
}

async function signedIn(page) {
  await signIn(page, master);
  await page.locator("#keys-table[data-loaded]").waitFor();
}

function row(page, name) {
  return page.locator("#keys-table tbody tr").filter({
    has: page.locator("td.name", { hasText: name }) });
}

async function keyDialog(page, fill) {
  for (const [id, v] of Object.entries(fill))
    await page.locator(id).fill(v);
  await page.locator("#key-save").click();
}

const scenarios = {
  async signin(page) {
    await signIn(page, "not-the-master-key-0123456789");
    await page.locator("#signin-error", { hasText: "Wrong master key" })
      .waitFor();
    const wrong = await page.locator("#signin-error").textContent();
    await page.locator("#master").fill("");
    await page.locator("#master").focus();
    await page.keyboard.type(master);
    await page.keyboard.press("Enter");
    await page.locator("#keys").waitFor();
    const stored = await page.evaluate(() =>
      sessionStorage.getItem("ollaguard-master") !== null);
    await page.locator("#signout").click();
    await page.locator("#signin").waitFor();
    const after = await page.evaluate(() =>
      sessionStorage.getItem("ollaguard-master"));
    // How long the page took to load from the daemon (no API call yet).
    await page.goto(base + "/admin/");
    const load = await page.evaluate(() => {
      const n = performance.getEntriesByType("navigation")[0];
      return n.loadEventEnd - n.startTime;
    });
    return { wrong, stored, cleared: after === null, load_ms: load };
  },

  async create(page) {
    await signedIn(page);
    await page.locator("#new-key").click();
    await keyDialog(page, { "#f-name": arg });
    await page.locator("#newkey-dialog").waitFor();
    const key = (await page.locator("#newkey").textContent()).trim();
    const warning = await page.locator("#newkey-dialog .warning")
      .textContent();
    await page.locator("#copy").click();
    await page.locator("#newkey-close").click();
    await row(page, arg).waitFor();
    return { key, warning };
  },

  async edit(page) {
    await signedIn(page);
    await row(page, arg).getByRole("button", { name: "Edit" }).click();
    await keyDialog(page, { "#f-models": arg2 });
    await page.locator("#key-dialog").waitFor({ state: "hidden" });
    await row(page, arg).locator("td", { hasText: arg2 }).first().waitFor();
    return { models: await row(page, arg).locator("td").nth(3)
      .textContent() };
  },

  async revoke(page) {
    await signedIn(page);
    await row(page, arg).getByRole("button", { name: "Revoke" }).click();
    await page.locator("#revoke-confirm").click();
    await row(page, arg).locator("td.state", { hasText: "revoked" })
      .waitFor();
    return { state: "revoked" };
  },

  async usage(page) {
    await signedIn(page);
    await page.locator("button.tab[data-tab=usage]").click();
    const totals = {};
    for (const by of ["key", "model"]) {
      await page.locator(`input[name=usage-by][value=${by}]`).check();
      await page.locator("#usage-col", { hasText: by === "key" ? "Key" :
        "Model" }).waitFor();
      await page.locator("#chart g.day rect").first().waitFor();
      totals[by] = await page.$$eval("#chart g.day", (gs) => {
        const o = {};
        for (const g of gs) {
          let sum = 0;
          for (const r of g.querySelectorAll("rect"))
            sum += Number(r.getAttribute("data-tokens"));
          if (Number(g.getAttribute("data-total")) !== sum)
            throw new Error("bar total differs from its parts");
          if (sum) o[g.getAttribute("data-day")] = sum;
        }
        return o;
      });
    }
    return totals;
  },

  async xss(page) {
    await signedIn(page);
    const cell = row(page, "onerror").locator("td.name");
    await cell.waitFor();
    return { text: await cell.textContent(),
      imgs: await page.locator("#keys-table img").count() };
  },

  async live(page) {
    await signedIn(page);
    await page.locator("button.tab[data-tab=live]").click();
    await page.locator("#busy-table tbody tr td", { hasText: arg })
      .first().waitFor({ timeout: 6000 });
    return { rows: await page.locator("#busy-table tbody tr").count() };
  },

  // The README's picture: the keys page, then the usage chart.
  async shot(page) {
    await signedIn(page);
    await page.screenshot({ path: out + "/admin-keys.png" });
    await page.locator("button.tab[data-tab=usage]").click();
    await page.locator("#chart g.day rect").first().waitFor();
    await page.screenshot({ path: out + "/admin-usage.png" });
    await page.setViewportSize({ width: 390, height: 800 });
    await page.locator("button.tab[data-tab=keys]").click();
    await page.locator("#keys-table[data-loaded]").waitFor();
    await page.screenshot({ path: out + "/admin-phone.png" });
    const wide = await page.evaluate(() =>
      document.documentElement.scrollWidth > window.innerWidth + 1);
    return { phone_overflows: wide };
  },
};

mkdirSync(out, { recursive: true });
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium" });
const page = await browser.newPage({ viewport: { width: 1100, height: 700 } });
page.setDefaultTimeout(5000);
page.on("console", (m) => {
  if (m.type() === "error" && !/status of 40[13]/.test(m.text()))
    problems.push("console: " + m.text());
});
page.on("pageerror", (e) => problems.push("page error: " + e.message));
page.on("dialog", (d) => { problems.push("dialog: " + d.message());
  d.dismiss(); });
page.on("request", (r) => {
  if (!r.url().startsWith(base)) problems.push("request to " + r.url());
});
let rc = 0;
try {
  const result = await scenarios[scenario](page);
  if (problems.length) throw new Error(problems.join("; "));
  console.log(JSON.stringify(result));
} catch (e) {
  rc = 1;
  console.error(`${scenario}: ${e.message}`);
  await page.screenshot({ path: `${out}/${scenario}.png`, fullPage: true })
    .catch(() => {});
}
await browser.close();
process.exit(rc);
