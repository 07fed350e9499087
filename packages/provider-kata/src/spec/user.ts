import { PolicyValidationError } from "@cadre/agent-runtime-contract";
import type { OciUser } from "./oci-types.js";

function lookup(file: string | undefined, name: string): string[] | undefined {
  for (const line of file?.split("\n") ?? []) {
    const fields = line.split(":");
    if (fields[0] === name) return fields;
  }
  return undefined;
}

/**
 * Turns "uid", "uid:gid", "name" or "name:group" into numeric ids with the image's etc/passwd and
 * etc/group, as the OCI runtime needs numbers. A numeric uid without a passwd entry gets gid 0.
 */
export function resolveUser(
  spec: string,
  files: { passwd?: string; group?: string },
  providerId: string,
): OciUser {
  const [userPart = "0", groupPart] = spec.split(":");
  let uid: number;
  let gid = 0;
  if (/^\d+$/.test(userPart)) {
    uid = Number(userPart);
    const entry = files.passwd
      ?.split("\n")
      .map((l) => l.split(":"))
      .find((f) => f[2] === userPart);
    if (entry?.[3]) gid = Number(entry[3]);
  } else {
    const entry = lookup(files.passwd, userPart);
    if (!entry) {
      throw notInImage(`user "${userPart}"`, "/etc/passwd", "uid", providerId);
    }
    uid = Number(entry[2]);
    gid = Number(entry[3]);
  }
  if (groupPart !== undefined) {
    if (/^\d+$/.test(groupPart)) gid = Number(groupPart);
    else {
      const entry = lookup(files.group, groupPart);
      if (!entry) {
        throw notInImage(`group "${groupPart}"`, "/etc/group", "gid", providerId);
      }
      gid = Number(entry[2]);
    }
  }
  return { uid, gid };
}

function notInImage(
  name: string,
  file: string,
  numeric: string,
  providerId: string,
): PolicyValidationError {
  return new PolicyValidationError(
    [{ path: "user", message: `${name} is not in the image's ${file}; use a numeric ${numeric}` }],
    { providerId },
  );
}
