import { createHmac, timingSafeEqual } from "node:crypto";

/**
 * Whether an SSH host key is one that a known_hosts file lists for the host: the check ssh makes
 * with StrictHostKeyChecking, which dockerode's SSH support (ssh2) leaves to its caller. Plain and
 * hashed (`|1|salt|hash`) host names, `[host]:port` for ports other than 22, several names per
 * line; a line marked `@revoked` that matches refuses the key, `@cert-authority` lines are not
 * used (host certificates are not supported), and so are wildcard patterns.
 */
export function knownHostKey(
  knownHostsText: string,
  host: string,
  port: number,
  key: Buffer,
): "known" | "revoked" | "unknown" {
  const name = port === 22 ? host : `[${host}]:${port}`;
  let known = false;
  for (const raw of knownHostsText.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const fields = line.split(/\s+/);
    const marker = fields[0]?.startsWith("@") ? fields.shift() : undefined;
    const [names, , blob] = fields;
    if (!names || !blob || marker === "@cert-authority") continue;
    if (!names.split(",").some((pattern) => namesHost(pattern, name))) continue;
    const listed = Buffer.from(blob, "base64");
    if (listed.length !== key.length || !timingSafeEqual(listed, key)) continue;
    if (marker === "@revoked") return "revoked";
    known = true;
  }
  return known ? "known" : "unknown";
}

function namesHost(pattern: string, name: string): boolean {
  if (!pattern.startsWith("|1|")) return pattern === name;
  const [, , salt, hash] = pattern.split("|");
  if (!salt || !hash) return false;
  const expected = Buffer.from(hash, "base64");
  const actual = createHmac("sha1", Buffer.from(salt, "base64")).update(name).digest();
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
