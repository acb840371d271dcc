// Browser test of the ranker's pages (driven by scripts/test-ranker-browser.sh).
//   node test-ranker-browser.mjs make-images <dir> [count]   small PNGs + one broken file
//   node test-ranker-browser.mjs run <url> [--screenshot <out.png>]
// playwright-core is loaded from $RATEME_NODE_DIR (scripts/browser-env.sh installs it there).
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { createRequire } from "node:module";

// ------------------------------------------------------------------ test images

// A minimal PNG encoder (8-bit RGB, no filtering), with zlib from node's standard library.
const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function pngChunk(type, data) {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(data.length);
  const typed = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(typed));
  return Buffer.concat([head, typed, crc]);
}

function encodePng(width, height, pixel) {
  const raw = Buffer.alloc((width * 3 + 1) * height);
  let o = 0;
  for (let y = 0; y < height; y++) {
    raw[o++] = 0; // filter: none
    for (let x = 0; x < width; x++) {
      const [r, g, b] = pixel(x, y);
      raw[o++] = r;
      raw[o++] = g;
      raw[o++] = b;
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type: RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk("IHDR", ihdr),
    pngChunk("IDAT", zlib.deflateSync(raw)),
    pngChunk("IEND", Buffer.alloc(0)),
  ]);
}

function hsl(h, s, l) {
  const f = (n) => {
    const k = (n + h / 30) % 12;
    const a = s * Math.min(l, 1 - l);
    return Math.round(255 * (l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1))));
  };
  return [f(0), f(8), f(4)];
}

// Discs of different colours and sizes on grey gradients, landscape, portrait and square
// (the demo data's look), and one file that is no image at all.
function makeImages(dir, count) {
  fs.mkdirSync(dir, { recursive: true });
  const sizes = [[320, 240], [240, 320], [280, 280]];
  for (let i = 0; i < count; i++) {
    const [w, hgt] = sizes[i % sizes.length];
    const disc = hsl((360 * i) / count, 0.65, 0.5);
    const radius = Math.min(w, hgt) * (0.18 + 0.22 * ((i * 7) % count) / count);
    const cx = w * (0.35 + 0.3 * ((i * 5) % count) / count);
    const cy = hgt * (0.4 + 0.2 * ((i * 3) % count) / count);
    const png = encodePng(w, hgt, (x, y) => {
      const d = Math.hypot(x - cx, y - cy);
      if (d < radius - 1) return disc;
      const g = Math.round(200 - 60 * (y / hgt));
      if (d < radius + 1) return disc.map((c) => Math.round((c + g) / 2)); // soft edge
      return [g, g, g + 8];
    });
    fs.writeFileSync(path.join(dir, `disc-${String(i + 1).padStart(2, "0")}.png`), png);
  }
  fs.writeFileSync(path.join(dir, "broken.png"), "this is not a PNG file\n");
}

// ------------------------------------------------------------------ the browser test

async function run(base, screenshotPath) {
  const require = createRequire(path.join(process.env.RATEME_NODE_DIR || ".", "package.json"));
  const { chromium } = require("playwright-core");
  const url = (p) => new URL(p, base).toString();
  const api = async (p, init) => {
    const res = await fetch(url(p), init);
    const text = await res.text();
    if (!res.ok) throw new Error(`${p}: HTTP ${res.status} ${text.slice(0, 200)}`);
    return JSON.parse(text);
  };

  let passed = 0;
  let failed = 0;
  const failures = [];
  async function check(name, fn) {
    const t0 = Date.now();
    try {
      await fn();
      passed++;
      console.log(`ok   ${name} (${Date.now() - t0} ms)`);
    } catch (err) {
      failed++;
      failures.push(name);
      console.log(`FAIL ${name}: ${(err && err.message) || err}`);
    }
  }
  function assert(cond, message) {
    if (!cond) throw new Error(message);
  }

  const browser = await chromium.launch({
    executablePath: process.env.RATEME_CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  const jsErrors = [];
  page.on("pageerror", (err) => jsErrors.push(`page error: ${err.message}`));
  page.on("console", (msg) => {
    if (msg.type() === "error") jsErrors.push(`console: ${msg.text()}`);
  });
  // An image that failed to decode logs a console error too; the broken file is never shown.

  // What the test did, to know what the scores must say.
  const votes = []; // {items, winner}
  let keysUsed = new Set();
  let mu0 = 0;
  let state0 = null;

  const comparisons = async () => (await api("/api/state")).comparisons;
  const shownIds = () => page.$$eval("#stage .card", (cards) => cards.map((c) => Number(c.dataset.id)));
  const shown = () => page.evaluate(() => Number(document.body.dataset.shown || 0));

  async function waitForImages(n) {
    await page.waitForFunction((n) => {
      const cards = document.querySelectorAll("#stage .card");
      if (cards.length !== n || document.body.dataset.busy !== "0") return false;
      return [...cards].every((c) => {
        const img = c.querySelector("img");
        return img && img.complete && img.naturalWidth > 0;
      });
    }, n);
  }

  /** Does `act` and waits until the page shows a new set of images. */
  async function andWaitForNext(act) {
    const before = await shown();
    await act();
    await page.waitForFunction((b) => Number(document.body.dataset.shown) > b && document.body.dataset.busy === "0", before);
  }

  const wins = (id) => votes.filter((v) => v.winner === id).length;
  const losses = (id) => votes.filter((v) => v.winner != null && v.winner !== id && v.items.includes(id)).length;

  /** Which side to pick so that winners stay unbeaten and losers stay beaten (clear scores). */
  function chooseSide(items, preferred) {
    const ok = (side) => losses(items[side]) === 0 && wins(items[1 - side]) === 0;
    if (ok(preferred)) return preferred;
    if (ok(1 - preferred)) return 1 - preferred;
    return preferred;
  }

  async function keyVote(key) {
    const items = await shownIds();
    assert(items.length === 2, `expected two images, saw ${items.length}`);
    const winner = key === "ArrowLeft" ? items[0] : items[1];
    const before = await comparisons();
    await andWaitForNext(() => page.keyboard.press(key));
    votes.push({ items, winner });
    keysUsed.add(key);
    const after = await comparisons();
    assert(after === before + 1, `${key}: comparisons ${before} -> ${after}, expected +1`);
    await waitForImages(2);
  }

  try {
    await check("server state before voting", async () => {
      const deadline = Date.now() + 60000;
      let st = await api("/api/state");
      while (st.loading && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200));
        st = await api("/api/state");
      }
      state0 = st;
      assert(!st.loading, "still loading after 60 s");
      assert(st.images === 13, `images = ${st.images}, expected 13 (12 PNGs and broken.png)`);
      assert(st.active === 12, `active = ${st.active}, expected 12`);
      const bad = st.unreadable || [];
      assert(bad.length === 1 && bad[0].name === "broken.png" && bad[0].problem,
        `unreadable = ${JSON.stringify(bad)}, expected broken.png with its problem`);
      assert(st.comparisons === 0, `comparisons = ${st.comparisons}, expected 0`);
      assert(st.planned > 0, `planned = ${st.planned}`);
      assert(["active", "original", "random", "elimination"].includes(st.mode), `mode = ${st.mode}`);
      assert(st.mu0 === 0, `mu0 = ${st.mu0}, expected 0 (the original app's)`);
      mu0 = st.mu0;
    });

    await check("comparison view shows two images that fit the viewport", async () => {
      await page.goto(url("/"));
      await waitForImages(2);
      const text = await page.textContent("#progress-text");
      assert(/^0 \/ \d+$/.test(text.trim()), `progress "${text}"`);
      const boxes = await page.$$eval("#stage .card img", (imgs) => imgs.map((i) => i.getBoundingClientRect().toJSON()));
      for (const b of boxes) {
        assert(b.bottom <= 800 && b.right <= 1280 && b.width > 200, `image box ${JSON.stringify(b)} does not fit 1280×800`);
      }
      // The image keeps its aspect ratio: object-fit contain.
      const fit = await page.$eval("#stage .card img", (i) => getComputedStyle(i).objectFit);
      assert(fit === "contain", `object-fit ${fit}`);
    });

    await check("vote by click", async () => {
      const items = await shownIds();
      const side = chooseSide(items, 0);
      const before = await comparisons();
      await andWaitForNext(() => page.click(`#stage .card[data-id="${items[side]}"] .imgbox`));
      votes.push({ items, winner: items[side] });
      const after = await comparisons();
      assert(after === before + 1, `comparisons ${before} -> ${after}, expected +1`);
      await page.waitForFunction((n) => document.querySelector("#progress-text").textContent.startsWith(`${n} /`), after);
      await waitForImages(2);
    });

    await check("vote by ArrowLeft and ArrowRight", async () => {
      for (let i = 0; i < 8 && keysUsed.size < 2; i++) {
        const items = await shownIds();
        const preferred = keysUsed.has("ArrowLeft") ? 1 : 0;
        const side = keysUsed.size === 0 ? chooseSide(items, preferred) : preferred;
        // Once one key was used, use the other even if that makes a winner lose.
        await keyVote(side === 0 ? "ArrowLeft" : "ArrowRight");
      }
      assert(keysUsed.size === 2, `keys used: ${[...keysUsed]}`);
    });

    await check("a double click and a held key vote once", async () => {
      let items = await shownIds();
      let side = chooseSide(items, 0);
      let before = await comparisons();
      await andWaitForNext(() => page.dblclick(`#stage .card[data-id="${items[side]}"] .imgbox`));
      votes.push({ items, winner: items[side] });
      await page.waitForTimeout(300); // a second vote would have landed by now
      let after = await comparisons();
      assert(after === before + 1, `double click: comparisons ${before} -> ${after}, expected +1`);
      await waitForImages(2);
      items = await shownIds();
      side = chooseSide(items, 1);
      const key = side === 0 ? "ArrowLeft" : "ArrowRight";
      before = after;
      await andWaitForNext(async () => {
        await page.keyboard.down(key);
        await page.keyboard.down(key); // auto-repeat
        await page.keyboard.down(key);
        await page.keyboard.up(key);
      });
      votes.push({ items, winner: items[side] });
      await page.waitForTimeout(300);
      after = await comparisons();
      assert(after === before + 1, `held ${key}: comparisons ${before} -> ${after}, expected +1`);
      await waitForImages(2);
    });

    await check("typing in the rater field does not vote", async () => {
      const before = await comparisons();
      const ids = await shownIds();
      await page.fill("#rater", "browser-test");
      for (const key of ["ArrowLeft", "ArrowRight", "ArrowDown", "1", "Backspace", "Backspace"]) {
        await page.press("#rater", key);
      }
      await page.press("#rater", "Enter"); // leaves the field; the name is kept
      assert((await page.inputValue("#rater")) === "browser-tes", "the rater field did not take the typing");
      await page.waitForTimeout(300);
      assert((await comparisons()) === before, "typing in the rater field voted or undid");
      assert(JSON.stringify(await shownIds()) === JSON.stringify(ids), "typing in the rater field changed the images");
      const saved = await page.evaluate(() => localStorage.getItem("rateme.ranker.rater"));
      assert(saved === "browser-tes", `rater remembered as ${saved}`);
    });

    await check("skip with ArrowDown", async () => {
      const before = await comparisons();
      const items = await shownIds();
      await andWaitForNext(() => page.keyboard.press("ArrowDown"));
      votes.push({ items, winner: null });
      const after = await comparisons();
      assert(after === before, `skip changed comparisons ${before} -> ${after}`);
      await waitForImages(2);
    });

    await check("undo with Backspace", async () => {
      // Undo a real vote: comparisons go back and the undone pair is shown again.
      const items = await shownIds();
      const side = chooseSide(items, 0);
      await keyVote(side === 0 ? "ArrowLeft" : "ArrowRight");
      const undoneVote = votes.pop();
      const before = await comparisons();
      await andWaitForNext(() => page.keyboard.press("Backspace"));
      const toast = page.locator(".toast", { hasText: "Undone" });
      await toast.first().waitFor();
      const toastText = await toast.first().textContent();
      const winnerName = await page.$eval(`#stage .card[data-id="${undoneVote.winner}"] .name`, (e) => e.textContent).catch(() => null);
      assert(winnerName && toastText.includes(winnerName), `toast "${toastText}" does not name the undone winner ${winnerName}`);
      const after = await comparisons();
      assert(after === before - 1, `undo: comparisons ${before} -> ${after}, expected -1`);
      const again = await shownIds();
      assert(JSON.stringify(again) === JSON.stringify(undoneVote.items),
        `after undo the page shows ${again}, expected the undone ${undoneVote.items}`);
      await waitForImages(2);
    });

    await check("rankings view shows the votes", async () => {
      const st = await api("/api/state");
      const effective = votes.filter((v) => v.winner != null).length;
      assert(st.comparisons === effective, `comparisons ${st.comparisons}, expected ${effective}`);
      await page.goto(url("/rankings"));
      await page.waitForSelector("#rows tr[data-id]");
      const rows = await page.$$eval("#rows tr[data-id]", (trs) => trs.map((tr) => ({
        id: Number(tr.dataset.id),
        mu: Number(tr.querySelector("td.score").dataset.value),
        online: Number(tr.querySelector("td.mu").dataset.value),
        up: Number(tr.querySelector("td.up").textContent),
        down: Number(tr.querySelector("td.down").textContent),
        state: tr.querySelector("td.state").textContent.trim(),
        thumb: tr.querySelector("td.thumb img").getAttribute("src"),
      })));
      assert(rows.length === 12, `${rows.length} rows, expected the 12 readable images`);
      for (let i = 1; i < rows.length; i++) assert(rows[i - 1].mu >= rows[i].mu, "rows not sorted by the fitted score");
      assert(await page.isHidden("#rows td.mu"), "online TrueSkill columns shown before asked for");
      const winners = new Set(votes.filter((v) => v.winner != null).map((v) => v.winner));
      let unbeaten = 0;
      for (const r of rows) {
        assert(r.up === wins(r.id) && r.down === losses(r.id),
          `image ${r.id}: up/down ${r.up}/${r.down}, expected ${wins(r.id)}/${losses(r.id)}`);
        // Both the fitted score and the online mu.
        for (const [what, m] of [["score", r.mu], ["online mu", r.online]]) {
          if (winners.has(r.id) && losses(r.id) === 0) {
            unbeaten++;
            assert(m > mu0, `unbeaten winner ${r.id} has ${what} ${m} <= mu0 ${mu0}`);
          }
          if (losses(r.id) > 0 && wins(r.id) === 0) assert(m < mu0, `beaten image ${r.id} has ${what} ${m} >= mu0`);
          if (!winners.has(r.id) && losses(r.id) === 0) assert(m === mu0, `unvoted image ${r.id} has ${what} ${m}`);
        }
      }
      assert(unbeaten > 0, "no unbeaten winner to check");
      // Thumbnails load.
      await page.waitForFunction(() => [...document.querySelectorAll("#rows td.thumb img")]
        .slice(0, 3).every((i) => i.complete && i.naturalWidth > 0));
      // The unreadable file is listed apart, with its problem.
      const bad = await page.$$eval("#unreadable-rows tr", (trs) => trs.map((tr) => tr.textContent));
      assert(!(await page.isHidden("#unreadable")) && bad.length === 1 && bad[0].includes("broken.png"),
        `unreadable section: ${JSON.stringify(bad)}`);
    });

    await check("rankings sort by score − 3σ, and by the online μ when shown", async () => {
      const sorted = async (cell) => {
        const values = await page.$$eval(`#rows td.${cell}`, (tds) => tds.map((td) => Number(td.dataset.value)));
        for (let i = 1; i < values.length; i++) assert(values[i - 1] >= values[i], `${cell} not sorted: ${values}`);
      };
      await page.click('th[data-sort="fit_conservative"] button');
      await sorted("score-conservative");
      assert((await page.getAttribute('th[data-sort="fit_conservative"]', "aria-sort")) === "descending", "aria-sort");
      await page.check("#show-online");
      assert(await page.isVisible("#rows td.mu"), "online TrueSkill columns not shown");
      await page.click('th[data-sort="mu"] button');
      await sorted("mu");
      await page.uncheck("#show-online"); // hides them and goes back to the fitted score
      assert(await page.isHidden("#rows td.mu"), "online TrueSkill columns still shown");
      await sorted("score");
    });

    await check("exclude and include from the rankings view", async () => {
      const id = Number(await page.getAttribute("#rows tr[data-id]:last-child", "data-id"));
      await page.click(`#rows tr[data-id="${id}"] button[data-act="exclude"]`);
      await page.waitForSelector(`#rows tr[data-id="${id}"] .badge.excluded`);
      let st = await api("/api/state");
      assert(st.active === 11, `after exclude: active ${st.active}`);
      await page.click(`#rows tr[data-id="${id}"] button[data-act="include"]`);
      await page.waitForSelector(`#rows tr[data-id="${id}"] .badge.active`);
      st = await api("/api/state");
      assert(st.active === 12, `after include: active ${st.active}`);
    });

    await check("best of four: vote with key 1", async () => {
      await page.goto(url("/"));
      await waitForImages(2);
      await page.check("#quad");
      await waitForImages(4);
      const items = await shownIds();
      assert(new Set(items).size === 4, `four different images expected: ${items}`);
      const mu = async (id) => (await api("/api/rankings")).rows.find((r) => r.id === id).mu;
      const muBefore = await mu(items[0]);
      const before = await comparisons();
      await andWaitForNext(() => page.keyboard.press("1"));
      const after = await comparisons();
      assert(after === before + 1, `comparisons ${before} -> ${after}, expected +1`);
      const muAfter = await mu(items[0]);
      assert(muAfter > muBefore, `winner's mu ${muBefore} -> ${muAfter}`);
      await waitForImages(4);
      await page.uncheck("#quad");
      await waitForImages(2);
    });

    await check("export rankings CSV download", async () => {
      await page.click("#export-menu summary");
      const [download] = await Promise.all([
        page.waitForEvent("download"),
        page.click("#export-rankings-csv"),
      ]);
      const file = await download.path();
      const lines = fs.readFileSync(file, "utf8").split(/\r?\n/).filter((l) => l.length);
      assert(lines[0].startsWith("Image,ELO,Uncertainty,Upvotes,Downvotes,"), `header "${lines[0]}"`);
      assert(lines.length >= 13, `${lines.length - 1} rows`);
      assert(download.suggestedFilename().endsWith(".csv"), `file name ${download.suggestedFilename()}`);
      await page.keyboard.press("Escape");
    });

    await check("import the exported comparisons CSV (append)", async () => {
      await page.click("#export-menu summary");
      const [download] = await Promise.all([
        page.waitForEvent("download"),
        page.click("#export-comparisons-csv"),
      ]);
      const csv = fs.readFileSync(await download.path(), "utf8");
      const lines = csv.split(/\r?\n/).filter((l) => l.length);
      assert(lines[0] === "Winner,Loser", `header "${lines[0]}"`);
      const rows = lines.length - 1;
      assert(rows >= votes.filter((v) => v.winner != null).length, `${rows} rows`);
      await page.keyboard.press("Escape");
      const before = await comparisons();
      await page.click("#import-menu summary");
      await page.setInputFiles("#import-file", { name: "comparisons.csv", mimeType: "text/csv", buffer: Buffer.from(csv) });
      await page.check('input[name="import-mode"][value="append"]');
      await page.click("#import-submit");
      await page.waitForFunction(() => /^(Imported|Import failed)/.test(document.querySelector("#import-result").textContent));
      const result = await page.textContent("#import-result");
      assert(result.startsWith(`Imported ${rows} rows`), `"${result}", expected ${rows} rows imported`);
      const after = await comparisons();
      assert(after === before + rows, `comparisons ${before} -> ${after}, expected +${rows}`);
      await page.keyboard.press("Escape");
      await waitForImages(2);
    });

    if (screenshotPath) {
      await check(`screenshot ${path.basename(screenshotPath)}`, async () => {
        await page.evaluate(() => localStorage.setItem("rateme.ranker.rater", "alice"));
        await page.goto(url("/"));
        await waitForImages(2);
        await page.mouse.move(0, 0);
        await page.waitForFunction(() => !document.querySelector(".toast"), null, { timeout: 10000 });
        await page.waitForTimeout(300);
        fs.mkdirSync(path.dirname(screenshotPath), { recursive: true });
        await page.screenshot({ path: screenshotPath });
      });
    }

    await check("no JavaScript errors", async () => {
      assert(jsErrors.length === 0, jsErrors.join("; "));
    });
  } finally {
    if (failed) {
      const shot = path.join(process.env.TMPDIR || "/tmp", "ranker-browser-failure.png");
      await page.screenshot({ path: shot }).then(() => console.log(`page at the end: ${shot}`)).catch(() => {});
    }
    await browser.close();
  }
  if (failures.length) console.log(`failed: ${failures.join(", ")}`);
  console.log(`browser: ${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

// ------------------------------------------------------------------ the model prior

/** `runner rank --prior <run>` on a fresh session: the rankings view shows the prior. */
async function prior(base, count) {
  const require = createRequire(path.join(process.env.RATEME_NODE_DIR || ".", "package.json"));
  const { chromium } = require("playwright-core");
  const url = (p) => new URL(p, base).toString();
  const browser = await chromium.launch({
    executablePath: process.env.RATEME_CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
  });
  let ok = true;
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const errors = [];
    page.on("pageerror", (err) => errors.push(err.message));
    await page.goto(url("/rankings"));
    await page.waitForSelector("#rows tr[data-id]");
    const summary = await page.textContent("#summary");
    const shown = await page.isVisible("#rows td.prior");
    const rows = await page.$$eval("#rows tr[data-id]", (trs) => trs.map((tr) => ({
      prior: tr.querySelector("td.prior").dataset.value,
      score: Number(tr.querySelector("td.score").dataset.value),
      title: tr.querySelector("td.prior").title,
    })));
    const problems = [];
    if (!/prior: \S+ \(r \d\.\d\d\)/.test(summary)) problems.push(`summary "${summary}" does not name the prior`);
    if (!shown) problems.push("the Prior column is hidden");
    if (rows.length !== count) problems.push(`${rows.length} rows, expected ${count}`);
    if (rows.some((r) => r.prior === "" || !r.title.startsWith("model score"))) problems.push("an image without its prior");
    // No votes yet: the fitted score is the prior.
    if (rows.some((r) => Math.abs(Number(r.prior) - r.score) > 1e-9)) problems.push("score differs from the prior before any vote");
    if (errors.length) problems.push(`JavaScript errors: ${errors.join("; ")}`);
    if (problems.length) {
      ok = false;
      console.log(`FAIL the rankings view shows the model prior: ${problems.join("; ")}`);
    } else {
      console.log(`ok   the rankings view shows the model prior (${summary.trim()})`);
    }
  } finally {
    await browser.close();
  }
  process.exit(ok ? 0 : 1);
}

// ------------------------------------------------------------------ main

const [command, ...args] = process.argv.slice(2);
if (command === "make-images") {
  makeImages(args[0], Number(args[1] || 12));
} else if (command === "prior") {
  await prior(args[0], Number(args[1]));
} else if (command === "run") {
  const shotAt = args.indexOf("--screenshot");
  await run(args[0], shotAt >= 0 ? args[shotAt + 1] : null);
} else {
  console.error("usage: make-images <dir> [count] | run <url> [--screenshot <out.png>] | prior <url> <count>");
  process.exit(2);
}
