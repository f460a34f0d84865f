// Entry point of dist/widget.js: mounts the widget configured by its own script tag,
// <script src=".../widget.js" data-server="..." data-shopper-token="..." defer>.

import { ChatWidget, HOST_ID, readConfig } from "./widget";

// document.currentScript is set only while this script runs, so it is read now.
const script = document.currentScript instanceof HTMLScriptElement ? document.currentScript : null;

function start(): void {
  if (document.getElementById(HOST_ID)) return; // the script was included twice
  new ChatWidget(document, readConfig(script, location.href)).mount();
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
