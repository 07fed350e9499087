type Drain = () => Promise<void>;

const handledSignals = ["SIGINT", "SIGTERM"] as const;
type HandledSignal = (typeof handledSignals)[number];

/**
 * One set of process listeners for every pool in the process: on beforeExit, SIGINT and SIGTERM
 * each registered drain runs. A signal listener replaces Node's default "exit on signal", so
 * when ours is the only listener left it re-raises the signal after the drains, and the process
 * dies of it as it would have.
 */
const drains = new Set<Drain>();
let installed = false;

function runDrains(): Promise<unknown> {
  return Promise.allSettled([...drains].map((drain) => drain()));
}

const onBeforeExit = () => {
  if (drains.size > 0) void runDrains();
};

const onSignal = (signal: HandledSignal) => {
  // Counted before the drains, which may remove our listener.
  const othersListen = process.listenerCount(signal) > 1;
  void runDrains().then(() => {
    if (othersListen) return;
    uninstall();
    process.kill(process.pid, signal);
  });
};
const signalListeners: Record<HandledSignal, () => void> = {
  SIGINT: () => onSignal("SIGINT"),
  SIGTERM: () => onSignal("SIGTERM"),
};

function install(): void {
  if (installed) return;
  installed = true;
  process.on("beforeExit", onBeforeExit);
  for (const signal of handledSignals) process.on(signal, signalListeners[signal]);
}

function uninstall(): void {
  if (!installed) return;
  installed = false;
  process.off("beforeExit", onBeforeExit);
  for (const signal of handledSignals) process.off(signal, signalListeners[signal]);
}

/** Runs `drain` when the process is about to exit or is told to; returns the removal. */
export function onProcessExit(drain: Drain): () => void {
  drains.add(drain);
  install();
  return () => {
    drains.delete(drain);
    if (drains.size === 0) uninstall();
  };
}
