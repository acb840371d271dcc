// Screenshot of an MLflow experiment's metric charts (used by scripts/mlflow-screenshot.sh).
// Usage: node mlflow-screenshot.mjs <experiment charts URL> <out.png> [chart filter]
import { chromium } from "playwright-core";

const [url, out, filter] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
await page.goto(url);
await page.getByText("Model metrics").first().waitFor({ timeout: 60000 });
// Close the assistant side panel when the UI opens it.
const close = page.locator('button[aria-label="Close"]').last();
if (await close.isVisible().catch(() => false)) await close.click();
if (filter) await page.getByPlaceholder("Search metric charts").fill(filter);
// Wait until the charts have drawn (plotly's SVG), then a little longer for the last ones.
await page.locator(".js-plotly-plot").first().waitFor({ timeout: 60000 });
await page.waitForTimeout(3000);
await page.screenshot({ path: out });
await browser.close();
