import { type Browser, chromium } from 'playwright-core';

/**
 * Debian's Chromium, headless, with the flags this offline machine needs. Playwright gives
 * every launch a fresh temporary profile. Never downloads a browser of its own.
 */
export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--use-gl=swiftshader',
      '--enable-unsafe-swiftshader',
    ],
  });
}
