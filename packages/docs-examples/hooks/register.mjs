// `node --import ./hooks/register.mjs example.mjs`: examples that import the Kata provider get
// it with this host's stand-in options (kata-on-this-host.mjs); everything else is untouched.
import { register } from "node:module";

register("./resolve.mjs", import.meta.url);
