import { main } from "./cli/main.js";

process.exitCode = await main(process.argv.slice(2));
// Providers release their connections in close(); should a library still hold the event loop
// open, leave anyway once the exit code is known.
setTimeout(() => process.exit(), 2000).unref();
