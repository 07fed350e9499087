import { runKeeper } from "./sessions/keeper.js";

// The entry point of a session keeper, the process `cadre-runtime sessions start` leaves behind
// as the owner of the session it started (see sessions/keeper.ts).
process.exitCode = await runKeeper();
