/**
 * Normalises an image reference the way containerd's tooling stores it:
 * "busybox" -> "docker.io/library/busybox:latest", "cadre-test/busybox:1" ->
 * "docker.io/cadre-test/busybox:1". A reference with a registry host is kept.
 */
export function normalizeImageRef(ref: string): string {
  const [first, ...rest] = ref.split("/");
  const hasDomain =
    rest.length > 0 &&
    first !== undefined &&
    (first.includes(".") || first.includes(":") || first === "localhost");
  let name = hasDomain ? ref : rest.length === 0 ? `docker.io/library/${ref}` : `docker.io/${ref}`;
  const lastPart = name.slice(name.lastIndexOf("/") + 1);
  if (!lastPart.includes(":") && !lastPart.includes("@")) name = `${name}:latest`;
  return name;
}
