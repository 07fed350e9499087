import { ContainerdClient } from "./containerd/client.js";
import { type KataProviderOptions, resolveOptions } from "./options.js";

/** How long containerd has to answer each question, in ms. */
const answerWithinMs = 10_000;

/**
 * Why sessions of `options` cannot run against this host's containerd (not reachable, or the
 * sessions' image not in its namespace), or undefined when they can: the skip reason of the
 * conformance suites and reliability targets for this provider.
 */
export async function kataUnavailableReason(
  options: KataProviderOptions = {},
): Promise<string | undefined> {
  const { address, namespace, image } = resolveOptions(options);
  const client = new ContainerdClient({ address, namespace });
  try {
    await client.version(answerWithinMs);
    await bounded(client.getImage(image), "containerd image get");
    return undefined;
  } catch (error) {
    return `containerd at ${address} with image ${image} is not usable: ${(error as Error).message} (run scripts/services.sh up)`;
  } finally {
    client.close();
  }
}

async function bounded<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what} gave no answer within ${answerWithinMs} ms`)),
      answerWithinMs,
    );
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
